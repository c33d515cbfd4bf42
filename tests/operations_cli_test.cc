// Operations from the command line (docs/operations.md): JSON-lines logs and log levels, and the
// progress line of run, backtest and generate — drawn on a terminal (a pseudo-terminal made with
// `script`), silent when stderr is not one or with --quiet.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <regex>

#include <gtest/gtest.h>

#include "cli/progress.h"
#include "tests/cli_test_support.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
using brandpulse_test::Lines;
using brandpulse_test::MakeTempDirectory;
using brandpulse_test::ReadFile;
using brandpulse_test::WriteFile;

// Runs a shell command; its exit code. Output goes where the command says.
int Shell(const std::string& command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class OperationsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = MakeTempDirectory("operations-cli");
    watchlist_ = std::string(BRANDPULSE_SOURCE_DIR) + "/pipelines/watchlists/nordic-spanish-telecoms.yaml";
    ASSERT_EQ(Shell(fmt::format("'{}' generate -w '{}' --count 20000 --seed 3 --malformed-share 0.01 "
                                "-o '{}/all.jsonl' 2>/dev/null",
                                BRANDPULSE_BINARY, watchlist_, work_.string())),
              0);
    WritePipeline("all.jsonl", false);
  }
  void TearDown() override { fs::remove_all(work_); }

  void WritePipeline(const std::string& input, bool follow) {
    WriteFile(work_ / "pipeline.yaml", fmt::format(R"(name: cli
source: {{type: file, path: {}, follow: {}}}
decode: {{format: twitter-v2}}
watchlist: {}
state: {{directory: state, commit_every_records: 2000, commit_interval: 100ms}}
windows:
  - {{name: 5m, size: 5m}}
alerts:
  - {{name: busy, type: threshold, window: 5m, metric: mentions, above: 20}}
sinks:
  alerts: {{type: file, path: out/alerts.jsonl}}
  dead_letter: {{type: file, path: out/dead.jsonl}}
)",
                                                   input, follow ? "true" : "false", watchlist_));
  }

  // Runs `shell_command` in a pseudo-terminal (util-linux `script`); what the terminal showed.
  std::string InTerminal(const std::string& shell_command) {
    fs::path typescript = work_ / "typescript";
    Shell(fmt::format("cd '{}' && script -qfec \"{}\" '{}' >/dev/null 2>&1 </dev/null", work_.string(),
                      shell_command, typescript.string()));
    return ReadFile(typescript);
  }

  fs::path work_;
  std::string watchlist_;
};

TEST_F(OperationsCliTest, JsonLogsAreOneObjectPerLineAndLevelsFilter) {
  ASSERT_EQ(Shell(fmt::format("cd '{}' && '{}' --log-format json run pipeline.yaml --fresh "
                              "--api 127.0.0.1:0 >out.txt 2>err.txt",
                              work_.string(), BRANDPULSE_BINARY)),
            0);
  std::vector<std::string> lines = Lines(ReadFile(work_ / "err.txt"));
  ASSERT_GE(lines.size(), 2u) << ReadFile(work_ / "err.txt");
  std::regex object(R"re(^\{"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"(info|warning|error|debug)","msg":"[^"]+"(,"[a-z_]+":"[^"]*")*\}$)re");
  for (const std::string& line : lines) EXPECT_TRUE(std::regex_match(line, object)) << line;
  EXPECT_NE(ReadFile(work_ / "err.txt").find("\"msg\":\"dashboard on http://127.0.0.1:"), std::string::npos);
  // The summary still goes to stdout.
  EXPECT_NE(ReadFile(work_ / "out.txt").find("pipeline 'cli' finished"), std::string::npos);

  // The option also works after the command's name; error hides the info lines.
  ASSERT_EQ(Shell(fmt::format("cd '{}' && '{}' run pipeline.yaml --fresh --log-level error "
                              ">out.txt 2>err.txt",
                              work_.string(), BRANDPULSE_BINARY)),
            0);
  EXPECT_EQ(ReadFile(work_ / "err.txt"), "");
  EXPECT_NE(Shell(fmt::format("'{}' --log-format xml run x.yaml >/dev/null 2>&1", BRANDPULSE_BINARY)), 0);
}

TEST_F(OperationsCliTest, NoProgressLineWhenStderrIsNotATerminal) {
  ASSERT_EQ(Shell(fmt::format("cd '{}' && '{}' run pipeline.yaml --fresh >out.txt 2>err.txt",
                              work_.string(), BRANDPULSE_BINARY)),
            0);
  std::string err = ReadFile(work_ / "err.txt");
  EXPECT_EQ(err.find('\r'), std::string::npos) << err;
  EXPECT_EQ(err.find("records/s"), std::string::npos);
  EXPECT_EQ(err.find("/s "), std::string::npos) << err;
}

TEST_F(OperationsCliTest, RunDrawsAProgressLineOnATerminalUnlessQuiet) {
  WriteFile(work_ / "grow.jsonl", ReadFile(work_ / "all.jsonl"));
  WritePipeline("grow.jsonl", true);  // a followed file runs until interrupted
  std::string shown = InTerminal(fmt::format("timeout -s INT 2.6 {} run pipeline.yaml --fresh",
                                             BRANDPULSE_BINARY));
  EXPECT_NE(shown.find("\r\x1b[Krun "), std::string::npos) << shown;
  EXPECT_TRUE(std::regex_search(shown, std::regex(R"(run +\d+\.\ds  20,000 records  [\d,]+/s  100\.0% of [\d.]+ MB  mentions [\d,]+  alerts [\d,]+)")))
      << shown;
  EXPECT_NE(shown.find("pipeline 'cli' finished"), std::string::npos) << shown;

  std::string quiet = InTerminal(fmt::format("timeout -s INT 1.5 {} run pipeline.yaml --fresh --quiet",
                                             BRANDPULSE_BINARY));
  EXPECT_EQ(quiet.find("\x1b[K"), std::string::npos) << quiet;
  EXPECT_NE(quiet.find("pipeline 'cli' finished"), std::string::npos) << quiet;
}

TEST_F(OperationsCliTest, GenerateAndBacktestDrawProgressOnATerminal) {
  std::string generate = InTerminal(fmt::format("{} generate --count 40000 -o gen.jsonl", BRANDPULSE_BINARY));
  EXPECT_TRUE(std::regex_search(generate, std::regex(R"(\r\x1b\[Kgenerate +\d+\.\ds  16,384 records  [\d,]+/s  41\.0% of 40,000)")))
      << generate;
  std::string quiet = InTerminal(fmt::format("{} generate --count 40000 -q -o gen.jsonl", BRANDPULSE_BINARY));
  EXPECT_EQ(quiet.find("\x1b[K"), std::string::npos) << quiet;

  std::string backtest = InTerminal(fmt::format("{} backtest -w {} -i all.jsonl", BRANDPULSE_BINARY, watchlist_));
  EXPECT_TRUE(std::regex_search(backtest, std::regex(R"(\r\x1b\[Kbacktest +\d+\.\ds  [\d,]+ records  [\d,]+/s  [\d.]+% of [\d.]+ MB.*mentions [\d,]+)")))
      << backtest;
  std::string piped = brandpulse_cli_test::RunBrandpulse(
                          fmt::format("backtest -w {} -i all.jsonl", watchlist_), work_)
                          .output;
  EXPECT_EQ(piped.find("\x1b[K"), std::string::npos);
}

TEST(ProgressLineTest, RendersRatePercentOfAFileAndEta) {
  ProgressFigures figures;
  figures.records = 1234567;
  figures.position = 256ull << 20;
  figures.total = 1024ull << 20;
  figures.matches = 12345;
  figures.alerts = 3;
  figures.seconds = 10;
  EXPECT_EQ(ProgressLine::Render("run", figures, 99512.7),
            "run   10.0s  1,234,567 records  99,512/s  25.0% of 1.0 GB  ETA 30s  mentions 12,345  alerts 3");
  figures.total = 0;  // stdin, Kafka: no percent, no ETA
  EXPECT_EQ(ProgressLine::Render("run", figures, 10),
            "run   10.0s  1,234,567 records  10/s  at 256.0 MB  mentions 12,345  alerts 3");
  // Not a terminal: nothing is written.
  std::FILE* file = std::tmpfile();
  ProgressLine line(file, false, "run");
  EXPECT_FALSE(line.enabled());
  line.Update(figures);
  line.Finish();
  EXPECT_EQ(std::ftell(file), 0);
  std::fclose(file);
}

}  // namespace
}  // namespace brandpulse
