// Tests of the `brandpulse` binary as a user runs it: validate's error messages, match, generate
// and run. The binary is the one built by this tree (BRANDPULSE_BINARY).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/cli_test_support.h"

namespace {

namespace fs = std::filesystem;

using brandpulse_cli_test::CommandResult;
using brandpulse_cli_test::RunBrandpulse;

const fs::path kConfigs = fs::path(BRANDPULSE_SOURCE_DIR) / "tests" / "configs";

TEST(CliValidateTest, ValidPipelineIsOk) {
  CommandResult result = RunBrandpulse("validate pipeline.yaml", kConfigs / "valid");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("pipeline.yaml: ok"), std::string::npos) << result.output;
}

TEST(CliValidateTest, UnknownKeyNamesLineColumnAndSuggestion) {
  CommandResult result = RunBrandpulse("validate unknown_key.yaml", kConfigs / "invalid");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("unknown_key.yaml:6:1: error: unknown key 'windoes' in pipeline "
                               "(hint: did you mean 'windows'?)"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("missing required key 'windows'"), std::string::npos)
      << result.output;
}

TEST(CliValidateTest, EveryBadValueIsReportedAtItsPlace) {
  CommandResult result = RunBrandpulse("validate bad_values.yaml", kConfigs / "invalid");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.output.find("unknown key 'path'"), std::string::npos)
      << "keys of a source whose type is wrong are not second-guessed\n" << result.output;
  for (const char* expected : {
           "bad_values.yaml:3:9: error: 'fiel' is not a valid type for source (hint: did you mean 'file'?",
           "bad_values.yaml:5:18: error: 'twitter-v3' is not a valid format",
           "bad_values.yaml:7:10: error: 'workers' must be a whole number, not 'many'",
           "bad_values.yaml:10:22: error: 'size' is not a duration: '5 minutes'",
           "bad_values.yaml:12:44: error: no window named '5min'",
           "alert rule 'burst' names brand 'telenr', which the watchlist lacks (hint: did you mean 'telenor'?)",
       }) {
    EXPECT_NE(result.output.find(expected), std::string::npos)
        << "missing: " << expected << "\nin:\n" << result.output;
  }
}

TEST(CliValidateTest, YamlSyntaxErrorHasLine) {
  CommandResult result = RunBrandpulse("validate yaml_syntax.yaml", kConfigs / "invalid");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("yaml_syntax.yaml:4:"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("YAML syntax"), std::string::npos) << result.output;
}

TEST(CliValidateTest, MissingEnvironmentVariable) {
  CommandResult result = RunBrandpulse("validate missing_env.yaml", kConfigs / "invalid");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find(
                "missing_env.yaml:2:28: error: environment variable 'BRANDPULSE_SURELY_UNSET_VARIABLE' is not set"),
            std::string::npos)
      << result.output;
}

TEST(CliValidateTest, WatchlistErrorsPointIntoTheWatchlist) {
  CommandResult result = RunBrandpulse("validate bad_watchlist.yaml", kConfigs / "invalid");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("broken_watchlist.yaml:4:5: error: unknown key 'term'"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("did you mean 'terms'?"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("broken_watchlist.yaml:5:9: error: duplicate brand id 'telenor' (hint: the first is at line 2)"), std::string::npos)
      << "the duplicate id should be reported at the second brand\n" << result.output;
}

TEST(CliValidateTest, RunRefusesAnInvalidPipeline) {
  CommandResult result = RunBrandpulse("run unknown_key.yaml", kConfigs / "invalid");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("nothing was run"), std::string::npos) << result.output;
}

TEST(CliMatchTest, ShowsBrandsTermsAndPositions) {
  CommandResult result = RunBrandpulse(
      "match --watchlist watchlist.yaml 'Bytter fra Telia til Telenor, spør @telenor_norge!'",
      kConfigs / "valid");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("=> Telia (telia)"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("=> Telenor (telenor)"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("bytes 11..16"), std::string::npos) << result.output;
}

TEST(CliMatchTest, WordInsideAnotherWordIsRejected) {
  CommandResult result =
      RunBrandpulse("match --watchlist watchlist.yaml 'Telenorsk og åtelia'", kConfigs / "valid");
  EXPECT_EQ(result.exit_code, 3) << result.output;
  EXPECT_NE(result.output.find("no brand matched"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("rejected"), std::string::npos) << result.output;
}

TEST(CliGenerateAndRunTest, GeneratedFirehoseRunsEndToEnd) {
  fs::path work = fs::temp_directory_path() / fmt::format("brandpulse-cli-{}", ::getpid());
  fs::remove_all(work);
  fs::create_directories(work);
  fs::copy_file(kConfigs / "valid" / "watchlist.yaml", work / "watchlist.yaml");
  CommandResult generated = RunBrandpulse(
      "generate --watchlist watchlist.yaml --count 5000 --seed 3 --mention-share 0.3 "
      "--malformed-share 0.01 -o posts.jsonl",
      work);
  ASSERT_EQ(generated.exit_code, 0) << generated.output;
  std::ofstream(work / "pipeline.yaml") << fmt::format(
      "name: cli\nsource: {{type: file, path: posts.jsonl}}\ndecode: {{format: twitter-v2}}\n"
      "watchlist: watchlist.yaml\nstate: {{directory: state}}\nwindows: [{{name: 1m, size: 1m}}]\n"
      "alerts: [{{name: busy, type: threshold, window: 1m, above: 20}}]\n"
      "sinks:\n  alerts: {{type: file, path: alerts.jsonl}}\n"
      "  dead_letter: {{type: file, path: dead.jsonl}}\n");
  CommandResult run = RunBrandpulse("run pipeline.yaml --fresh --quiet", work);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("5,000 records"), std::string::npos) << run.output;
  // The rate is of records (posts, dead letters and skipped records alike), and own posts are
  // counted apart from mentions, as the windows count them.
  EXPECT_NE(run.output.find(" records/s"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("posts/s"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("own posts"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("Telenor (telenor)"), std::string::npos) << run.output;
  std::ifstream alerts(work / "alerts.jsonl");
  std::string first_alert;
  ASSERT_TRUE(std::getline(alerts, first_alert)) << run.output;
  EXPECT_NE(first_alert.find("\"rule\":\"busy\""), std::string::npos) << first_alert;
  fs::remove_all(work);
}

}  // namespace
