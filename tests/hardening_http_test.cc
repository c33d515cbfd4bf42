// The HTTP API under hostile clients (issue 16): slow connections cannot take every worker, a
// 1 GB body is refused before it is read, every error has a JSON body, wrong methods get 405,
// an unknown brand 404, invalid UTF-8 in a parameter never makes invalid JSON, and extreme
// from/to are refused instead of overflowing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "engine/json_writer.h"
#include "engine/state_store.h"
#include "pipeline/http_api.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/window_queries.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kMinute = 60'000;
constexpr int64_t kStart = 1767225600000;  // 2026-01-01T00:00:00Z

class HardeningHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = brandpulse_test::MakeTempDirectory("hardening-http");
    spec_.name = "http";
    spec_.state_directory = (work_ / "state").string();
    WindowSpec window;
    window.name = "1m";
    window.size_ms = kMinute;
    spec_.windows = {window};
    BrandSpec brand;
    brand.id = "acme";
    brand.name = "Acme";
    spec_.watchlist.brands = {brand};
    auto store = StateStore::Open(StateOptions{spec_.state_directory});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    StateStore::Commit commit = (*store)->NewCommit();
    WindowMetrics metrics;
    metrics.AddMention(1, 0);
    commit.MergeWindow(WindowKey{"acme", kMinute, kStart}, metrics);
    commit.SetMeta("max_event_time", std::to_string(kStart + 30'000));
    ASSERT_TRUE((*store)->Write(commit).ok());
    store_ = std::move(*store);
    queries_ = std::make_unique<WindowQueries>(*store_, spec_);
    HttpApiOptions options;
    options.port = 0;
    Restart(options);
  }
  // (Re)starts the API with `options` (port 0: a free one).
  void Restart(HttpApiOptions options) {
    api_.reset();
    options.on_reload = [] {};
    auto api = HttpApi::Start(options, [this](const auto& use) {
      use(*queries_);
      return Status::Ok();
    });
    ASSERT_TRUE(api.ok()) << api.status().ToString();
    api_ = std::move(*api);
  }
  void TearDown() override {
    api_.reset();
    queries_.reset();
    store_.reset();
    fs::remove_all(work_);
  }

  // An open TCP connection that sends `bytes` and then nothing.
  int Connect(const std::string& bytes) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(api_->port()));
    ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    if (!bytes.empty()) EXPECT_EQ(::send(fd, bytes.data(), bytes.size(), 0), ssize_t(bytes.size()));
    return fd;
  }

  httplib::Client Client() {
    httplib::Client client("127.0.0.1", api_->port());
    client.set_read_timeout(10, 0);
    return client;
  }

  fs::path work_;
  PipelineSpec spec_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<WindowQueries> queries_;
  std::unique_ptr<HttpApi> api_;
};

bool IsJsonError(const std::string& body) {
  return body.starts_with("{\"error\":") && body.find("\"code\":") != std::string::npos &&
         IsValidUtf8(body);
}

TEST_F(HardeningHttpTest, SlowConnectionsDoNotBlockOthers) {
  // Eight connections that send half a request line and stall: with two workers these blocked
  // the API completely.
  std::vector<int> slow;
  for (int i = 0; i < 8; ++i) slow.push_back(Connect("GET /api/v1/bra"));
  auto start = std::chrono::steady_clock::now();
  auto answer = Client().Get("/api/v1/brands");
  ASSERT_TRUE(answer) << "the API did not answer beside slow connections";
  EXPECT_EQ(answer->status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
  for (int fd : slow) ::close(fd);
}

TEST_F(HardeningHttpTest, HugeBodyIsRefusedWithoutBeingRead) {
  // Content-Length says 1 GB; the server answers 413 from the headers alone.
  int fd = Connect(
      "POST /api/v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n"
      "Content-Type: application/json\r\n\r\n{");
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string response;
  char buffer[4096];
  while (response.find("}") == std::string::npos) {
    ssize_t count = ::recv(fd, buffer, sizeof(buffer), 0);
    if (count <= 0) break;
    response.append(buffer, static_cast<size_t>(count));
  }
  ::close(fd);
  EXPECT_NE(response.find("413"), std::string::npos) << response;
  EXPECT_NE(response.find("{\"error\":"), std::string::npos) << response;
}

TEST_F(HardeningHttpTest, ErrorsAreJsonWithTheRightStatus) {
  httplib::Client client = Client();
  auto wrong_method = client.Delete("/api/v1/brands");
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_TRUE(IsJsonError(wrong_method->body)) << wrong_method->body;
  auto post_query = client.Post("/api/v1/series", "", "application/json");
  ASSERT_TRUE(post_query);
  EXPECT_EQ(post_query->status, 405);
  auto get_reload = client.Get("/api/v1/reload");
  ASSERT_TRUE(get_reload);
  EXPECT_EQ(get_reload->status, 405);
  EXPECT_TRUE(IsJsonError(get_reload->body)) << get_reload->body;

  auto unknown_path = client.Get("/nothing/here");
  ASSERT_TRUE(unknown_path);
  EXPECT_EQ(unknown_path->status, 404);
  EXPECT_TRUE(IsJsonError(unknown_path->body)) << unknown_path->body;

  auto unknown_brand = client.Get("/api/v1/series?brand=acne&window=1m");
  ASSERT_TRUE(unknown_brand);
  EXPECT_EQ(unknown_brand->status, 404) << unknown_brand->body;
  EXPECT_NE(unknown_brand->body.find("did you mean 'acme'"), std::string::npos)
      << unknown_brand->body;
  auto unknown_terms = client.Get("/api/v1/top-terms?brand=nobody");
  ASSERT_TRUE(unknown_terms);
  EXPECT_EQ(unknown_terms->status, 404) << unknown_terms->body;
}

TEST_F(HardeningHttpTest, InvalidUtf8AndHugeParametersMakeValidShortJson) {
  httplib::Client client = Client();
  auto bad = client.Get("/api/v1/top?metric=%FF%FE%C3");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_TRUE(IsJsonError(bad->body)) << bad->body;
  std::string long_value(6000, 'x');
  auto long_param = client.Get("/api/v1/top?metric=" + long_value);
  ASSERT_TRUE(long_param);
  EXPECT_EQ(long_param->status, 400);
  EXPECT_TRUE(IsJsonError(long_param->body));
  EXPECT_LT(long_param->body.size(), 1000u) << "the parameter was echoed whole";
}

TEST_F(HardeningHttpTest, ExtremeRangesAreRefused) {
  httplib::Client client = Client();
  for (const char* query : {"from=-9223372036854775808&to=now", "to=9223372036854775807",
                            "from=-100000000000000000d", "last=100000000000d",
                            "from=0&to=99999999999999999"}) {
    auto answer = client.Get(fmt::format("/api/v1/top?{}", query));
    ASSERT_TRUE(answer) << query;
    if (answer->status == 200) {
      // Clamped: the range said is the range used, inside years 1970..9999.
      EXPECT_EQ(answer->body.find("\"from\":\"-"), std::string::npos) << query << answer->body;
      EXPECT_NE(answer->body.find("\"from\":\"1970-01-01T00:00:00.000Z\""), std::string::npos)
          << query << answer->body;
    } else {
      EXPECT_EQ(answer->status, 400) << query;
      EXPECT_TRUE(IsJsonError(answer->body)) << answer->body;
    }
  }
}

// Resident memory of this process (the server runs in it), in KiB.
long RssKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  }
  return -1;
}

// Reads what the server sends until it closes or `limit` passes; `closed` tells which.
std::string ReadUntilClosed(int fd, std::chrono::milliseconds limit, bool* closed) {
  timeval timeout{0, 100'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string response;
  char buffer[4096];
  *closed = false;
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    ssize_t count = ::recv(fd, buffer, sizeof(buffer), 0);
    if (count > 0) {
      response.append(buffer, static_cast<size_t>(count));
    } else if (count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      *closed = true;
      break;
    }
  }
  return response;
}

// Sends `bytes` until the server stops taking them (it may refuse and close early); gives up on
// a send blocked for 2 s.
bool SendWhileAccepted(int fd, const std::string& bytes) {
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t count = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (count <= 0) return false;
    sent += static_cast<size_t>(count);
  }
  return true;
}

// Sends one byte a second on each of `fds` (one request line, trickled) until `stop`.
class Trickler {
 public:
  explicit Trickler(std::vector<int> fds) : fds_(std::move(fds)) {
    thread_ = std::thread([this] {
      const std::string request = "GET /api/v1/brands HTTP/1.1\r\nHost: trickle\r\nX-Slow: ";
      size_t at = 0;
      while (!stop_.load()) {
        for (int fd : fds_) {
          char byte = at < request.size() ? request[at] : 'x';
          ::send(fd, &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        ++at;
        for (int i = 0; i < 10 && !stop_.load(); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      }
    });
  }
  ~Trickler() {
    stop_ = true;
    thread_.join();
    for (int fd : fds_) ::close(fd);
  }

 private:
  std::vector<int> fds_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(HardeningHttpTest, TricklingAndIdleClientsDoNotDelayANormalOne) {
  // 64 clients that send one byte a second (never silent long enough for a read timeout) and
  // 64 that connect and send nothing. With a pool of threads that each hold a connection until
  // its request is read, the normal request below waited behind them.
  std::vector<int> trickling;
  for (int i = 0; i < 64; ++i) trickling.push_back(Connect(""));
  Trickler trickler(trickling);
  std::vector<int> idle;
  for (int i = 0; i < 64; ++i) idle.push_back(Connect(""));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a byte or two each
  for (int round = 0; round < 3; ++round) {
    httplib::Client client("127.0.0.1", api_->port());
    client.set_connection_timeout(2, 0);
    client.set_read_timeout(2, 0);
    const auto start = std::chrono::steady_clock::now();
    auto answer = client.Get("/api/v1/series?brand=acme&window=1m");
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(answer) << "no answer within 2 s beside 64 trickling and 64 idle clients";
    EXPECT_EQ(answer->status, 200) << answer->body;
    EXPECT_LT(took, std::chrono::milliseconds(1500));
  }
  for (int fd : idle) ::close(fd);
}

TEST_F(HardeningHttpTest, ATricklingRequestIsCutAtItsDeadline) {
  HttpApiOptions options;
  options.port = 0;
  options.request_deadline_ms = 1500;
  Restart(options);
  int fd = Connect("");
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  {
    Trickler trickler({::dup(fd)});
    ReadUntilClosed(fd, std::chrono::seconds(6), &closed);
  }
  const auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  EXPECT_TRUE(closed) << "a client trickling a byte a second kept its connection for 6 s";
  EXPECT_GE(took, std::chrono::milliseconds(1400));
  EXPECT_LT(took, std::chrono::milliseconds(3500));
}

// docs/limits.md: a connection silent for read_timeout_ms in the middle of a request is closed
// (libmicrohttpd counts whole seconds); other clients are answered meanwhile. With the timeout
// not applied the half request holds its connection until the request deadline (60 s here).
TEST_F(HardeningHttpTest, AHalfRequestThatGoesSilentIsClosedAfterTheReadTimeout) {
  HttpApiOptions options;
  options.port = 0;
  options.read_timeout_ms = 1000;
  options.idle_timeout_ms = 30'000;
  options.request_deadline_ms = 60'000;
  Restart(options);
  const auto start = std::chrono::steady_clock::now();
  int fd = Connect("GET /api/v1/brands HTTP/1.1\r\nHost: x\r\n");  // no blank line: half a head
  auto answer = Client().Get("/api/v1/brands");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200) << "another client was not served beside the silent one";
  bool closed = false;
  std::string response = ReadUntilClosed(fd, std::chrono::seconds(5), &closed);
  const auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  EXPECT_TRUE(closed) << "a half request silent for 5 s kept its connection";
  EXPECT_FALSE(response.starts_with("HTTP/1.1 200")) << response.substr(0, 200);
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::milliseconds(3500));
}

// docs/limits.md: after an answer, a keep-alive connection that sends nothing more is closed
// after idle_timeout_ms, while other clients are answered.
TEST_F(HardeningHttpTest, AnIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  HttpApiOptions options;
  options.port = 0;
  options.read_timeout_ms = 30'000;
  options.idle_timeout_ms = 1000;
  options.request_deadline_ms = 60'000;
  Restart(options);
  int fd = Connect("GET /api/v1/brands HTTP/1.1\r\nHost: x\r\n\r\n");
  bool closed = false;
  std::string response = ReadUntilClosed(fd, std::chrono::milliseconds(300), &closed);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200")) << response.substr(0, 200);
  ASSERT_FALSE(closed) << "the connection was not kept alive after its answer";
  const auto answered = std::chrono::steady_clock::now();
  auto answer = Client().Get("/api/v1/brands");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200) << "another client was not served beside the idle one";
  std::string more = ReadUntilClosed(fd, std::chrono::seconds(5), &closed);
  const auto took = std::chrono::steady_clock::now() - answered;
  ::close(fd);
  EXPECT_TRUE(closed) << "an idle keep-alive connection stayed open 5 s";
  EXPECT_EQ(more, "");
  EXPECT_LT(took, std::chrono::milliseconds(3500));
}

TEST_F(HardeningHttpTest, PastTheConnectionLimitRequestsGetA503) {
  HttpApiOptions options;
  options.port = 0;
  options.max_connections = 16;
  Restart(options);
  std::vector<int> idle;
  for (int i = 0; i < 16; ++i) idle.push_back(Connect(""));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // all 16 accepted
  int fd = Connect("GET /api/v1/brands HTTP/1.1\r\nHost: x\r\n\r\n");
  bool closed = false;
  std::string response = ReadUntilClosed(fd, std::chrono::seconds(5), &closed);
  ::close(fd);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 503")) << response;
  EXPECT_NE(response.find("Retry-After: 1"), std::string::npos) << response;
  EXPECT_NE(response.find("{\"error\":\"the server is busy"), std::string::npos) << response;
  EXPECT_TRUE(closed);
  // Once the idle ones are gone, it answers again.
  for (int idle_fd : idle) ::close(idle_fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto answer = Client().Get("/api/v1/brands");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
}

TEST_F(HardeningHttpTest, OversizedBodiesAndHeadersAreRefusedAndNotHeld) {
  const long before = RssKib();
  // 1 GB announced, 64 MiB actually sent as fast as the socket takes it: 413 from the headers,
  // the connection closed, and the bytes never held.
  int fd = Connect("POST /api/v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n");
  std::string chunk(1 << 20, 'a');
  for (int i = 0; i < 64 && SendWhileAccepted(fd, chunk); ++i) {
  }
  bool closed = false;
  std::string response = ReadUntilClosed(fd, std::chrono::seconds(5), &closed);
  ::close(fd);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 413")) << response.substr(0, 300);
  EXPECT_NE(response.find("{\"error\":\"the request body is too large"), std::string::npos);
  EXPECT_TRUE(closed);
  // A chunked body has no length to refuse up front: once it passes the limit the client gets
  // a JSON 413 and the connection is closed, and nothing is kept. (Before, it was closed without
  // an answer: libmicrohttpd cannot queue one in the middle of a body.)
  fd = Connect("POST /api/v1/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  const std::string one_chunk = fmt::format("{:x}\r\n{}\r\n", chunk.size(), chunk);
  int chunks_taken = 0;
  while (chunks_taken < 64 && SendWhileAccepted(fd, one_chunk)) ++chunks_taken;
  response = ReadUntilClosed(fd, std::chrono::seconds(5), &closed);
  ::close(fd);
  EXPECT_LT(chunks_taken, 64) << "the server read a 64 MiB chunked body";
  EXPECT_TRUE(response.starts_with("HTTP/1.1 413 ")) << response.substr(0, 300);
  EXPECT_NE(response.find("Connection: close\r\n"), std::string::npos) << response.substr(0, 300);
  EXPECT_TRUE(IsJsonError(response.substr(std::min(response.size(), response.find("\r\n\r\n") + 4))))
      << response.substr(0, 300);
  EXPECT_NE(response.find("the request body is too large: more than 65536 bytes (chunked)"),
            std::string::npos)
      << response.substr(0, 300);
  EXPECT_TRUE(closed);
  // A 20 KB URI and 20 KB of headers: JSON 414 and 431.
  auto long_uri = Client().Get("/api/v1/top?metric=" + std::string(20000, 'u'));
  ASSERT_TRUE(long_uri);
  EXPECT_EQ(long_uri->status, 414);
  EXPECT_TRUE(IsJsonError(long_uri->body)) << long_uri->body;
  httplib::Client client = Client();
  auto big_headers = client.Get("/api/v1/brands", {{"X-Big", std::string(40000, 'h')}});
  ASSERT_TRUE(big_headers);
  EXPECT_EQ(big_headers->status, 431);
  EXPECT_TRUE(IsJsonError(big_headers->body)) << big_headers->body;
  // 1 MiB of headers: refused, not buffered.
  fd = Connect("");
  SendWhileAccepted(fd, "GET /api/v1/brands HTTP/1.1\r\nHost: x\r\nX-Big: " +
                            std::string(1 << 20, 'b') + "\r\n\r\n");
  response = ReadUntilClosed(fd, std::chrono::seconds(5), &closed);
  ::close(fd);
  // Past libmicrohttpd's buffer (twice max_header_bytes) the answer is its own: the right
  // status, its short HTML body, and the connection closed (docs/limits.md). 0.9.75 has no hook
  // for its error pages, and a larger buffer would only move the point where this happens.
  EXPECT_TRUE(response.starts_with("HTTP/1.1 431 ")) << response.substr(0, 300);
  EXPECT_NE(response.find("\r\nConnection: close\r\n"), std::string::npos) << response.substr(0, 300);
  EXPECT_TRUE(closed);
  fd = Connect("");
  SendWhileAccepted(fd, "GET /api/v1/top?metric=" + std::string(100'000, 'u') +
                            " HTTP/1.1\r\nHost: x\r\n\r\n");
  response = ReadUntilClosed(fd, std::chrono::seconds(5), &closed);
  ::close(fd);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 414 ")) << response.substr(0, 300);
  EXPECT_TRUE(closed);
  EXPECT_LT(RssKib() - before, 16 * 1024) << "the server held what it refused";
  auto answer = Client().Get("/api/v1/brands");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
}

TEST_F(HardeningHttpTest, AHalfClosedClientIsAnsweredAndItsConnectionClosedAtOnce) {
  // A client that sends its request and shuts down its side (what load balancers' probes and
  // fuzzers do) must not hold the connection until the idle timeout.
  int fd = Connect("GET /api/v1/brands HTTP/1.1\r\nHost: x\r\n\r\n");
  ::shutdown(fd, SHUT_WR);
  bool closed = false;
  std::string response = ReadUntilClosed(fd, std::chrono::milliseconds(1000), &closed);
  ::close(fd);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200")) << response.substr(0, 200);
  EXPECT_TRUE(closed) << "still open 1 s after the answer";
}

TEST_F(HardeningHttpTest, AMalformedContentLengthIsRefusedAndNothingAnsweredAfterIt) {
  // make fuzz (fuzz/corpus/http_api/crash-bad-content-length-error-page-framing): libmicrohttpd
  // answers a Content-Length that is not a number (400) or overflows (413) itself, before any
  // handler of ours runs, and 0.9.75 writes that answer's head twice (its bug: a 30-line program
  // with only libmicrohttpd does the same). What must hold for us: a 4xx, the connection closed
  // after it, and a request pipelined behind the bad one never answered (nothing can be
  // smuggled past it).
  for (const std::string length : {"1x", "abc", "-1", "99999999999999999999999", "0\r|||"}) {
    SCOPED_TRACE(length);
    int fd = Connect("POST /api/v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: " + length +
                     "\r\n\r\nGET /api/v1/brands HTTP/1.1\r\nHost: x\r\n\r\n");
    bool closed = false;
    std::string response = ReadUntilClosed(fd, std::chrono::seconds(5), &closed);
    ::close(fd);
    EXPECT_TRUE(closed);
    ASSERT_TRUE(response.starts_with(length.starts_with("999") ? "HTTP/1.1 413 " : "HTTP/1.1 400 "))
        << response.substr(0, 300);
    const size_t head_end = response.find("\r\n\r\n");
    ASSERT_NE(head_end, std::string::npos) << response;
    const std::string head = response.substr(0, head_end + 4);
    EXPECT_NE(head.find("\r\nConnection: close\r\n"), std::string::npos) << head;
    std::string rest = response.substr(head.size());
    if (rest.starts_with(head)) rest.erase(0, head.size());  // libmicrohttpd 0.9.75's second head
    const size_t length_at = head.find("Content-Length: ");
    ASSERT_NE(length_at, std::string::npos) << head;
    EXPECT_EQ(rest.size(), std::stoul(head.substr(length_at + 16))) << "bytes after the answer:\n"
                                                                     << rest;
    EXPECT_EQ(response.find("HTTP/1.1 200"), std::string::npos) << response;
  }
  auto answer = Client().Get("/api/v1/brands");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
}

}  // namespace
}  // namespace brandpulse
