// The HTTP API under hostile clients (issue 16): slow connections cannot take every worker, a
// 1 GB body is refused before it is read, every error has a JSON body, wrong methods get 405,
// an unknown brand 404, invalid UTF-8 in a parameter never makes invalid JSON, and extreme
// from/to are refused instead of overflowing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
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

}  // namespace
}  // namespace brandpulse
