// The webhook fault test (issue 12): the engine (`brandpulse run`, its own process) delivers
// alerts to a real HTTP receiver (tests/webhook_receiver_main.cc, its own process) while the
// receiver is killed and restarted, refuses with 503, answers slower than the sink's timeout, and
// the engine itself is SIGKILLed and restarted. At the end every alert arrived at least once,
// every duplicate carries the same Idempotency-Key (the alert id, in its body) and a valid
// signature, and nothing is lost; while the receiver was down past the outbox's bound the engine
// said that ingestion paused. Second test: a receiver that answers in 5 s does not slow
// ingestion while the outbox holds the backlog (no backpressure wait; the records/s of both runs
// and their ratio are printed, measured in one run).
//
// Short form in `make test`; `make webhook-fault-test` runs the long form (more posts, more
// kill cycles) through BRANDPULSE_FAULT_POSTS / BRANDPULSE_FAULT_CYCLES.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "engine/metrics.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
using brandpulse_test::Lines;
using brandpulse_test::LoopbackPortAnswers;
using brandpulse_test::MakeTempDirectory;
using brandpulse_test::ReadFile;
using brandpulse_test::WriteFile;

constexpr char kSecret[] = "fault-test-secret";

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : fallback;
}

// A child process (argv[0] is the program), stdout and stderr to `output`; SIGKILLed when
// destroyed unless it exited.
class Child {
 public:
  Child(std::vector<std::string> args, const fs::path& output) {
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~Child() { Kill(); }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // The exit code, or -1 when it did not exit within `timeout_ms`.
  int Wait(int timeout_ms) {
    for (int waited = 0; pid_ > 0 && waited <= timeout_ms; waited += 20) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
};

std::unique_ptr<Child> StartReceiver(int port, const fs::path& work, std::vector<std::string> flags) {
  std::vector<std::string> args = {WEBHOOK_RECEIVER, std::to_string(port), (work / "received.log").string(),
                                   "--secret", kSecret};
  args.insert(args.end(), flags.begin(), flags.end());
  auto child = std::make_unique<Child>(args, work / "receiver.out");
  for (int i = 0; i < 250 && !LoopbackPortAnswers(port); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return child;
}

// `posts` posts naming acme, each from an author with 10 followers; the pipeline's viral_post
// rule with reach 1 makes one alert per post: "viral/acme/p<i>".
void WriteCase(const fs::path& work, uint64_t posts, int port, uint64_t outbox_limit,
               int64_t timeout_ms) {
  std::string input;
  for (uint64_t i = 0; i < posts; ++i) {
    input += fmt::format(
        "{{\"id\": \"p{}\", \"ts\": {}, \"author\": \"u{}\", \"followers\": 10, \"text\": \"acme "
        "post {}\"}}\n",
        i, 1767225600000 + static_cast<int64_t>(i) * 100, i % 97, i);
  }
  WriteFile(work / "input.jsonl", input);
  WriteFile(work / "watchlist.yaml", "brands:\n  - {id: acme, name: Acme, terms: [acme]}\n");
  WriteFile(work / "pipeline.yaml",
            fmt::format(R"(name: webhook-fault
source: {{type: file, path: input.jsonl}}
decode:
  format: json
  fields: {{id: /id, text: /text, author_id: /author, author_handle: /author, event_time: /ts,
           author_followers: /followers}}
watchlist: watchlist.yaml
workers: 1
batch_records: 100
state:
  directory: state
  commit_every_records: 200
  outbox_limit: {}
time: {{max_out_of_orderness: 10s, allowed_lateness: 5s}}
windows:
  - {{name: 1m, size: 1m}}
alerts:
  - {{name: viral, type: viral_post, reach: 1, evidence: 1}}
sinks:
  alerts: {{type: webhook, url: "http://127.0.0.1:{}/hook", timeout: {}ms,
           secret_env: BRANDPULSE_FAULT_SECRET}}
  dead_letter: {{type: file, path: dead-letter.jsonl}}
)",
                        outbox_limit, port, timeout_ms));
}

struct Received {
  std::set<std::string> delivered;  // keys answered 200
  uint64_t lines = 0;
  uint64_t ok_lines = 0;
  uint64_t bad_signatures = 0;
  uint64_t key_not_in_body = 0;
};

Received ReadReceived(const fs::path& log) {
  Received received;
  for (const std::string& line : Lines(ReadFile(log))) {
    ++received.lines;
    const size_t a = line.find(' '), b = line.find(' ', a + 1), c = line.find(' ', b + 1);
    const std::string status = line.substr(0, a), key = line.substr(a + 1, b - a - 1);
    const std::string signature = line.substr(b + 1, c - b - 1);
    if (signature != "1") ++received.bad_signatures;
    if (line.find("\"alert_id\":\"" + key + "\"", c) == std::string::npos) ++received.key_not_in_body;
    if (status == "200") {
      ++received.ok_lines;
      received.delivered.insert(key);
    }
  }
  return received;
}

int TestPort(int offset) { return 21000 + (getpid() % 15000) + offset; }

TEST(WebhookFault, ReceiverAndEngineKilledEveryAlertArrivesOnceOrMoreWithItsKey) {
  const uint64_t posts = EnvOr("BRANDPULSE_FAULT_POSTS", 400);
  const uint64_t cycles = EnvOr("BRANDPULSE_FAULT_CYCLES", 1);
  const fs::path work = MakeTempDirectory("webhook-fault");
  const int port = TestPort(0);
  WriteCase(work, posts, port, /*outbox_limit=*/100, /*timeout_ms=*/300);
  setenv("BRANDPULSE_FAULT_SECRET", kSecret, 1);
  fs::current_path(work);  // the pipeline's relative paths
  auto engine_args = [&](bool fresh) {
    std::vector<std::string> args = {BRANDPULSE_BINARY, "run", (work / "pipeline.yaml").string(), "-q"};
    if (fresh) args.push_back("--fresh");
    return args;
  };
  uint64_t engine_kills = 0, receiver_kills = 0;
  // Each phase waits for what it is about (requests reaching the receiver), not for a fixed
  // time, so a slow machine still kills mid-stream; each wait is capped.
  const fs::path log = work / "received.log";
  auto requests = [&] { return fs::exists(log) ? Lines(ReadFile(log)).size() : 0; };
  auto wait_for_requests = [&](size_t count, int timeout_ms) {
    for (int waited = 0; requests() < count && waited < timeout_ms; waited += 20) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  auto engine = std::make_unique<Child>(engine_args(true), work / "engine.out");
  auto receiver = StartReceiver(port, work, {});
  for (uint64_t cycle = 0; cycle < cycles; ++cycle) {
    wait_for_requests(requests() + 30, 60000);
    receiver->Kill();  // down: the outbox fills past its bound and ingestion pauses
    ++receiver_kills;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    receiver = StartReceiver(port, work, {"--status", "503"});
    wait_for_requests(requests() + 3, 5000);
    receiver->Kill();
    ++receiver_kills;
    engine->Kill();  // mid-stream, with undelivered alerts in the outbox
    ++engine_kills;
    engine = std::make_unique<Child>(engine_args(false), work / "engine.out");
    receiver = StartReceiver(port, work, {"--slow-ms", "700"});  // slower than the 300 ms timeout
    wait_for_requests(requests() + 3, 10000);
    receiver->Kill();
    ++receiver_kills;
    engine->Kill();
    ++engine_kills;
    engine = std::make_unique<Child>(engine_args(false), work / "engine.out");
    receiver = StartReceiver(port, work, {});
  }
  const int exit_code = engine->Wait(120000);
  receiver->Kill();
  const std::string engine_output = ReadFile(work / "engine.out");
  ASSERT_EQ(exit_code, 0) << engine_output;

  const Received received = ReadReceived(work / "received.log");
  std::set<std::string> expected;
  for (uint64_t i = 0; i < posts; ++i) expected.insert(fmt::format("viral/acme/p{}", i));
  uint64_t lost = 0;
  for (const std::string& id : expected) lost += received.delivered.count(id) == 0;
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(received.delivered, expected);
  EXPECT_EQ(received.bad_signatures, 0u);
  EXPECT_EQ(received.key_not_in_body, 0u) << "the Idempotency-Key is the alert id";
  // Past the outbox's bound the engine slowed down and said so; it never dropped.
  EXPECT_NE(engine_output.find("ingestion paused"), std::string::npos) << engine_output;
  EXPECT_EQ(ReadFile(work / "dead-letter.jsonl"), "");
  std::printf("webhook fault: posts %llu, alerts %zu, engine SIGKILLs %llu, receiver kills %llu, "
              "requests %llu, answered 200 %llu, duplicates %llu, lost %llu\n",
              static_cast<unsigned long long>(posts), expected.size(),
              static_cast<unsigned long long>(engine_kills),
              static_cast<unsigned long long>(receiver_kills),
              static_cast<unsigned long long>(received.lines),
              static_cast<unsigned long long>(received.ok_lines),
              static_cast<unsigned long long>(received.ok_lines - received.delivered.size()),
              static_cast<unsigned long long>(lost));
  fs::current_path(fs::temp_directory_path());
  fs::remove_all(work);
}

// Runs the case in this process against a receiver started with `flags`, stops once every
// record was read (what stays in the outbox is kept for a next start), and returns the ingest
// rate in records/s, the receiver's request count at that moment and the backpressure waits.
struct IngestFigures {
  double records_per_second = 0;
  uint64_t requests_when_read = 0;
  uint64_t backpressure_waits = 0;
};

IngestFigures IngestAgainst(const fs::path& work, uint64_t posts, int port,
                            std::vector<std::string> flags) {
  WriteCase(work, posts, port, /*outbox_limit=*/posts + 1000, /*timeout_ms=*/10000);
  auto receiver = StartReceiver(port, work, flags);
  Diagnostics diagnostics;
  std::optional<PipelineSpec> spec = LoadPipelineSpec((work / "pipeline.yaml").string(), diagnostics);
  EXPECT_TRUE(spec) << diagnostics.ToString();
  if (!spec) return {};
  MetricsRegistry registry;
  std::atomic<bool> stop{false};
  RunOptions options;
  options.fresh = true;
  options.stop_requested = &stop;
  options.metrics_registry = &registry;
  std::atomic<int64_t> started_ns{0};
  options.on_ready = [&](bool, uint64_t, double) {
    started_ns = std::chrono::steady_clock::now().time_since_epoch().count();
  };
  Result<RunSummary> summary = Status::Internal("not run");
  std::thread run([&] { summary = RunPipeline(*spec, options); });
  IngestFigures figures;
  const std::string records_sample = "brandpulse_records_read_total ";
  for (int i = 0; i < 60000; ++i) {
    const std::string text = registry.Render();
    const size_t at = text.find("\n" + records_sample);
    if (at != std::string::npos &&
        std::stoull(text.substr(at + 1 + records_sample.size())) >= posts) {
      const int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
      figures.records_per_second = static_cast<double>(posts) / (static_cast<double>(now - started_ns) / 1e9);
      figures.requests_when_read = Lines(ReadFile(work / "received.log")).size();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  stop = true;
  run.join();
  receiver->Kill();
  EXPECT_TRUE(summary.ok()) << summary.status().ToString();
  if (summary.ok()) figures.backpressure_waits = summary->backpressure_waits;
  return figures;
}

TEST(WebhookFault, AReceiverAnsweringInFiveSecondsDoesNotSlowIngestion) {
  const uint64_t posts = EnvOr("BRANDPULSE_FAULT_INGEST_POSTS", 5000);
  const fs::path base = MakeTempDirectory("webhook-ingest");
  setenv("BRANDPULSE_FAULT_SECRET", kSecret, 1);
  fs::create_directories(base / "normal");
  fs::create_directories(base / "slow");
  fs::current_path(base / "normal");
  const IngestFigures normal = IngestAgainst(base / "normal", posts, TestPort(1), {});
  fs::current_path(base / "slow");
  const IngestFigures slow = IngestAgainst(base / "slow", posts, TestPort(2), {"--slow-ms", "5000"});
  fs::current_path(fs::temp_directory_path());
  ASSERT_GT(normal.records_per_second, 0);
  ASSERT_GT(slow.records_per_second, 0);
  // Every record was read while the slow receiver answered one request per 5 s (no more than the
  // ingest time allows, plus the one in flight), and no commit waited for its outbox: the
  // backlog stayed within the bound, ingestion never waited for the receiver.
  const double ingest_seconds = static_cast<double>(posts) / slow.records_per_second;
  EXPECT_LE(static_cast<double>(slow.requests_when_read), ingest_seconds / 5.0 + 2.0);
  EXPECT_EQ(slow.backpressure_waits, 0u);
  std::printf("ingest with webhook alerts (%llu posts, one alert each): normal receiver %.0f "
              "records/s, receiver answering in 5 s %.0f records/s, ratio slow/normal %.2f "
              "(slow receiver had taken %llu requests when every record was read)\n",
              static_cast<unsigned long long>(posts), normal.records_per_second,
              slow.records_per_second, slow.records_per_second / normal.records_per_second,
              static_cast<unsigned long long>(slow.requests_when_read));
  fs::remove_all(base);
}

}  // namespace
}  // namespace brandpulse
