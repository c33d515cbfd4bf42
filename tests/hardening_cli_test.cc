// The binary as an unlucky operator runs it (issue 16): a second `run --fresh` beside a running
// pipeline, `query dump` beside a running pipeline, on a read-only state and with a mistyped
// --state.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/cli_test_support.h"
#include "tests/test_support.h"

namespace {

namespace fs = std::filesystem;
using brandpulse_cli_test::CommandResult;
using brandpulse_cli_test::RunBrandpulse;

// A pipeline that follows its input: it runs until it is stopped.
class RunningPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = brandpulse_test::MakeTempDirectory("hardening-cli");
    brandpulse_test::WriteFile(work_ / "watchlist.yaml",
                               "brands:\n  - id: telenor\n    terms: [Telenor]\n");
    std::string input;
    for (int i = 0; i < 500; ++i) {
      input += fmt::format(
          R"({{"data":{{"id":"{}","text":"Telenor {}","created_at":"2026-01-01T00:{:02}:{:02}Z"}}}})"
          "\n",
          i, i, (i / 60) % 60, i % 60);
    }
    brandpulse_test::WriteFile(work_ / "in.jsonl", input);
    brandpulse_test::WriteFile(work_ / "pipeline.yaml", R"(name: follow
source: {type: file, path: in.jsonl, follow: true}
decode: {format: twitter-v2}
watchlist: watchlist.yaml
workers: 1
state: {directory: state, commit_interval: 100ms}
time: {max_out_of_orderness: 0s, allowed_lateness: 0s}
windows:
  - {name: 1m, size: 1m}
alerts:
  - {name: any, type: threshold, window: 1m, metric: mentions, above: 1}
sinks:
  alerts: {type: file, path: out/alerts.jsonl}
  dead_letter: {type: file, path: out/dead.jsonl}
)");
  }
  void TearDown() override {
    Stop();
    fs::remove_all(work_);
  }

  // Starts `brandpulse run` in the background and waits until it has written alerts.
  void Start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      if (::chdir(work_.c_str()) != 0) ::_exit(127);
      std::freopen("run.log", "w", stdout);
      std::freopen("run.log", "a", stderr);
      ::execl(BRANDPULSE_BINARY, BRANDPULSE_BINARY, "run", "--quiet", "pipeline.yaml",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 300 && AlertLines() < 5; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_GE(AlertLines(), 5) << brandpulse_test::ReadFile(work_ / "run.log");
  }
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  size_t AlertLines() const {
    std::error_code error;
    if (!fs::exists(work_ / "out/alerts.jsonl", error)) return 0;
    return brandpulse_test::Lines(brandpulse_test::ReadFile(work_ / "out/alerts.jsonl")).size();
  }

  fs::path work_;
  pid_t pid_ = -1;
};

TEST_F(RunningPipeline, SecondFreshRunDeletesNothingAndFails) {
  Start();
  const size_t alerts = AlertLines();
  // (timeout: before the fix the second run deleted the state and then followed forever)
  CommandResult second = RunBrandpulse("run --fresh --quiet pipeline.yaml", work_, "timeout 60");
  EXPECT_NE(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("in use by another running pipeline"), std::string::npos)
      << second.output;
  EXPECT_TRUE(fs::exists(work_ / "state" / "CURRENT"));
  EXPECT_EQ(AlertLines(), alerts) << "the output files were truncated";
  // The running pipeline still commits: its state is whole and readable.
  CommandResult dump = RunBrandpulse("query dump --state state", work_);
  EXPECT_EQ(dump.exit_code, 0) << dump.output;
  EXPECT_NE(dump.output.find("telenor"), std::string::npos) << dump.output;
}

TEST_F(RunningPipeline, QueryDumpReadsBesideARunningPipelineWithoutWriting) {
  Start();
  CommandResult dump = RunBrandpulse("query dump --state state", work_);
  EXPECT_EQ(dump.exit_code, 0) << dump.output;
  EXPECT_NE(dump.output.find("telenor"), std::string::npos) << dump.output;
}

TEST_F(RunningPipeline, QueryDumpOnAReadOnlyStateAndAMistypedOne) {
  // A finished state, made read-only (for root, which writes anyway, the listing of its files
  // before and after shows that nothing was written).
  brandpulse_test::WriteFile(work_ / "finite.yaml",
                             brandpulse_test::ReadFile(work_ / "pipeline.yaml")
                                 .replace(brandpulse_test::ReadFile(work_ / "pipeline.yaml")
                                              .find("follow: true"),
                                          12, "follow: false"));
  CommandResult finite = RunBrandpulse("run --quiet finite.yaml", work_);
  ASSERT_EQ(finite.exit_code, 0) << finite.output;
  std::string before;
  for (const auto& entry : fs::directory_iterator(work_ / "state")) {
    before += entry.path().filename().string() + " ";
  }
  fs::permissions(work_ / "state", fs::perms::owner_write | fs::perms::group_write |
                                       fs::perms::others_write,
                  fs::perm_options::remove);
  CommandResult dump = RunBrandpulse("query dump --state state", work_);
  fs::permissions(work_ / "state", fs::perms::owner_write, fs::perm_options::add);
  EXPECT_EQ(dump.exit_code, 0) << dump.output;
  EXPECT_NE(dump.output.find("telenor"), std::string::npos) << dump.output;
  std::string after;
  for (const auto& entry : fs::directory_iterator(work_ / "state")) {
    after += entry.path().filename().string() + " ";
  }
  EXPECT_EQ(after, before) << "query dump wrote to the state";

  CommandResult mistyped = RunBrandpulse("query dump --state stat", work_);
  EXPECT_NE(mistyped.exit_code, 0) << mistyped.output;
  EXPECT_NE(mistyped.output.find("no state in stat"), std::string::npos) << mistyped.output;
  EXPECT_FALSE(fs::exists(work_ / "stat")) << "a mistyped --state created a database";
}

}  // namespace
