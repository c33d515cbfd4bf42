// The webhook sink against a real HTTP receiver in its own process (tests/webhook_receiver_main.cc):
// headers (Idempotency-Key, HMAC signature), which answers are retried and which are refused for
// good, timeouts, a receiver that is down and comes back, and validate-time errors.
#include "operators/webhook_sink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>

#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
using brandpulse_test::Lines;
using brandpulse_test::MakeTempDirectory;
using brandpulse_test::ReadFile;
using brandpulse_test::WriteFile;

// A receiver process; killed (SIGKILL) when destroyed.
class Receiver {
 public:
  Receiver(int port, const fs::path& log, std::vector<std::string> flags = {}) {
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<std::string> args = {WEBHOOK_RECEIVER, std::to_string(port), log.string()};
      args.insert(args.end(), flags.begin(), flags.end());
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      freopen("/dev/null", "w", stdout);
      execv(argv[0], argv.data());
      _exit(127);
    }
    // Ready when the port answers (a sanitizer build starts slowly on a loaded machine: up to
    // 60 s, a bound, not a wait).
    for (int i = 0; i < 3000; ++i) {
      if (brandpulse_test::LoopbackPortAnswers(port)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~Receiver() { Kill(); }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

int FreePort() { return 20000 + (getpid() % 20000); }

std::unique_ptr<Sink> MakeSink(int port, int64_t timeout_ms = 2000, std::string secret_env = "") {
  WebhookSinkOptions options;
  options.url = fmt::format("http://127.0.0.1:{}/hook", port);
  options.timeout_ms = timeout_ms;
  options.secret_env = std::move(secret_env);
  Result<std::unique_ptr<Sink>> sink = MakeWebhookSink(options, "hook");
  EXPECT_TRUE(sink.ok()) << sink.status().ToString();
  return std::move(*sink);
}

TEST(WebhookSink, SignsAndKeysEachAlert) {
  fs::path work = MakeTempDirectory("webhook-sign");
  const int port = FreePort();
  setenv("BRANDPULSE_TEST_WEBHOOK_SECRET", "s3cret", 1);
  Receiver receiver(port, work / "log", {"--secret", "s3cret"});
  std::unique_ptr<Sink> sink = MakeSink(port, 2000, "BRANDPULSE_TEST_WEBHOOK_SECRET");
  std::vector<OutboxEntry> entries = {{"r/acme/1", "{\"alert_id\":\"r/acme/1\"}", 0},
                                      {"r/acme/2", "{\"alert_id\":\"r/acme/2\"}", 0}};
  DeliveryOutcome outcome = sink->Deliver(entries);
  EXPECT_EQ(outcome.delivered, 2u) << outcome.error.ToString();
  EXPECT_EQ(Lines(ReadFile(work / "log")),
            (std::vector<std::string>{"200 r/acme/1 1 {\"alert_id\":\"r/acme/1\"}",
                                      "200 r/acme/2 1 {\"alert_id\":\"r/acme/2\"}"}));
  // The signature is HMAC-SHA256 (RFC 4231 test case 2).
  EXPECT_EQ(WebhookSignature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  fs::remove_all(work);
}

TEST(WebhookSink, RetriesServerErrorsAndTimeoutsRefusesOtherClientErrors) {
  fs::path work = MakeTempDirectory("webhook-answers");
  const int port = FreePort() + 1;
  std::vector<OutboxEntry> entries = {{"a", "{}", 0}};
  struct Case {
    std::vector<std::string> flags;
    bool permanent;
  };
  for (const Case& c : {Case{{"--status", "503"}, false}, Case{{"--status", "429"}, false},
                        Case{{"--status", "408"}, false}, Case{{"--status", "400"}, true},
                        Case{{"--status", "404"}, true}, Case{{"--slow-ms", "1500"}, false}}) {
    SCOPED_TRACE(fmt::format("{}", fmt::join(c.flags, " ")));
    Receiver receiver(port, work / "log", c.flags);
    std::unique_ptr<Sink> sink = MakeSink(port, 500);
    DeliveryOutcome outcome = sink->Deliver(entries);
    EXPECT_EQ(outcome.delivered, 0u);
    EXPECT_FALSE(outcome.error.ok());
    EXPECT_EQ(outcome.permanent, c.permanent) << outcome.error.ToString();
  }
  // Nobody listening: retried.
  std::unique_ptr<Sink> sink = MakeSink(port, 500);
  DeliveryOutcome outcome = sink->Deliver(entries);
  EXPECT_FALSE(outcome.permanent);
  EXPECT_NE(outcome.error.ToString().find("127.0.0.1"), std::string::npos) << outcome.error.ToString();
  fs::remove_all(work);
}

TEST(WebhookSink, SlackFormatIsReadable) {
  std::string message = SlackMessage(
      "{\"schema\":\"brandpulse.alert/1\",\"alert_id\":\"x\",\"rule\":\"sla\",\"type\":\"unanswered\","
      "\"brand\":\"telenor\",\"brand_name\":\"Telenor\",\"severity\":\"warning\",\"summary\":\"@ola "
      "asked\",\"evidence\":[{\"post_id\":\"1\",\"text\":\"why?\",\"author_handle\":\"ola\","
      "\"link\":\"https://x.com/ola/status/1\"}]}");
  EXPECT_EQ(message,
            "{\"text\":\"*[warning] Telenor* — unanswered (`sla`)\\n@ola asked\\n> why? — @ola "
            "<https://x.com/ola/status/1|open>\\n\"}");
}

// The pipeline delivers every alert of a run through a receiver that is down at first, then
// answers 503, is killed and comes back: every alert arrives, under its id as the key.
TEST(WebhookSink, EveryAlertArrivesThroughOutages) {
  fs::path work = MakeTempDirectory("webhook-outage");
  const fs::path golden = fs::path(BRANDPULSE_SOURCE_DIR) / "tests" / "alert_golden" / "noise";
  const int port = FreePort() + 2;
  std::string pipeline = ReadFile(golden / "pipeline.yaml");
  const std::string file_sink = "alerts: {type: file, path: \"${BRANDPULSE_TEST_OUT}/alerts.jsonl\"}";
  pipeline.replace(pipeline.find(file_sink), file_sink.size(),
                   fmt::format("alerts: {{type: webhook, url: \"http://127.0.0.1:{}/hook\", "
                               "timeout: 500ms}}", port));
  pipeline.replace(pipeline.find("input.jsonl"), 11, (golden / "input.jsonl").string());
  pipeline.replace(pipeline.find("watchlist.yaml"), 14, (golden / "watchlist.yaml").string());
  WriteFile(work / "pipeline.yaml", pipeline);
  setenv("BRANDPULSE_TEST_STATE", (work / "state").c_str(), 1);
  setenv("BRANDPULSE_TEST_OUT", (work / "out").c_str(), 1);
  Diagnostics diagnostics;
  std::optional<PipelineSpec> spec = LoadPipelineSpec((work / "pipeline.yaml").string(), diagnostics);
  ASSERT_TRUE(spec) << diagnostics.ToString();

  Result<RunSummary> summary = Status::Internal("not run");
  std::thread run([&] {
    RunOptions options;
    options.fresh = true;
    summary = RunPipeline(*spec, options);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // down
  {
    Receiver failing(port, work / "log", {"--status", "503"});
    // The 503 phase lasts until it refused something (the receiver logs before it answers), not
    // a fixed time: a sanitizer build under load may not have an alert ready within 700 ms.
    // Bounded at 120 s; the check below still fails if nothing was refused by then.
    for (int i = 0; i < 1200; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::error_code error;
      if (fs::file_size(work / "log", error) > 0 && !error) break;
    }
  }  // killed
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Receiver receiver(port, work / "log");
  run.join();
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();

  std::set<std::string> expected_ids;
  for (const std::string& line : Lines(ReadFile(golden / "expected_alerts.jsonl"))) {
    size_t at = line.find("\"alert_id\":\"");
    if (line.find("alert_group") != std::string::npos) at = line.find("\"group_id\":\"") + 12;
    else at += 12;
    expected_ids.insert(line.substr(at, line.find('"', at) - at));
  }
  std::set<std::string> delivered;
  size_t refused = 0;
  for (const std::string& line : Lines(ReadFile(work / "log"))) {
    std::vector<std::string> parts;
    size_t a = line.find(' '), b = line.find(' ', a + 1), c = line.find(' ', b + 1);
    const std::string status = line.substr(0, a), key = line.substr(a + 1, b - a - 1);
    const std::string body = line.substr(c + 1);
    EXPECT_NE(body.find("\"" + key + "\""), std::string::npos) << "key is the alert's id: " << line;
    if (status == "200") delivered.insert(key); else ++refused;
  }
  EXPECT_GT(refused, 0u) << "the 503 phase should have refused something";
  EXPECT_EQ(delivered, expected_ids);
  fs::remove_all(work);
}

TEST(WebhookSink, ValidateReportsBadUrlAndMissingSecret) {
  fs::path work = MakeTempDirectory("webhook-validate");
  WriteFile(work / "watchlist.yaml", "brands:\n  - {id: acme, terms: [acme]}\n");
  WriteFile(work / "in.jsonl", "");
  unsetenv("BRANDPULSE_NO_SUCH_SECRET");
  WriteFile(work / "pipeline.yaml",
            "name: v\nsource: {type: file, path: in.jsonl}\nwatchlist: watchlist.yaml\n"
            "state: {directory: state}\nwindows: [{name: 1m, size: 1m}]\n"
            "alerts: [{name: a, type: threshold, window: 1m, above: 1}]\n"
            "sinks:\n  alerts: [{type: webhook, url: \"htp:/nohost\"},\n"
            "           {type: webhook, url: \"https://hooks.example.com/x\", name: signed, "
            "secret_env: BRANDPULSE_NO_SUCH_SECRET}]\n"
            "  dead_letter: {type: file, path: dead.jsonl}\n");
  Diagnostics diagnostics;
  EXPECT_FALSE(LoadPipelineSpec((work / "pipeline.yaml").string(), diagnostics));
  const std::string text = diagnostics.ToString();
  EXPECT_NE(text.find("pipeline.yaml:8:"), std::string::npos) << text;
  EXPECT_NE(text.find("htp:/nohost"), std::string::npos) << text;
  EXPECT_NE(text.find("environment variable BRANDPULSE_NO_SUCH_SECRET"), std::string::npos) << text;
  fs::remove_all(work);
}

}  // namespace
}  // namespace brandpulse
