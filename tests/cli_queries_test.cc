// Tests of the query tools of the `brandpulse` binary as a user runs them: validate's query
// errors (file:line:column, what, hint), match's query tree, backtest's per-brand report.
#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/cli_test_support.h"

namespace {

namespace fs = std::filesystem;

using brandpulse_cli_test::CommandResult;

// Runs `arguments` with the brandpulse binary from `directory`, with its own cache directory.
CommandResult RunBrandpulse(const std::string& arguments, const fs::path& directory) {
  const fs::path cache = fs::path(BRANDPULSE_BINARY).parent_path() / "cli-queries-test-cache";
  return brandpulse_cli_test::RunBrandpulse(arguments, directory,
                                            fmt::format("XDG_CACHE_HOME='{}'", cache.string()));
}

const fs::path kQueries = fs::path(BRANDPULSE_SOURCE_DIR) / "tests" / "configs" / "queries";

void ExpectContains(const std::string& output, const std::string& expected) {
  EXPECT_NE(output.find(expected), std::string::npos) << "missing: " << expected << "\nin:\n"
                                                      << output;
}

TEST(CliQueryValidateTest, EveryQueryErrorHasItsPlaceAndAHint) {
  CommandResult result = RunBrandpulse("validate bad_queries.yaml", kQueries);
  EXPECT_EQ(result.exit_code, 1);
  ExpectContains(result.output,
                 "bad_queries.yaml:5:24: error: AND and OR are mixed at one level (hint: add "
                 "parentheses to say which goes first: (a AND b) OR c)");
  ExpectContains(result.output,
                 "bad_queries.yaml:7:13: error: the query only says what must be absent (a purely "
                 "negative query) (hint: add a term that must be present");
  ExpectContains(result.output,
                 "bad_queries.yaml:10:7: error: '(' has no matching ')' (hint: add a ')' to close "
                 "it)");
  ExpectContains(result.output,
                 "bad_queries.yaml:13:13: error: '*elia' starts with a wildcard (hint: a wildcard "
                 "may only end a term: telen*)");
  ExpectContains(result.output, "bad_queries.yaml: 4 errors");
}

TEST(CliQueryValidateTest, ValidQueriesAreSummedUpAndTheSecondRunUsesTheCache) {
  CommandResult first = RunBrandpulse("validate watchlist.yaml", kQueries);
  EXPECT_EQ(first.exit_code, 0) << first.output;
  ExpectContains(first.output, "watchlist.yaml: ok (watchlist: 3 brands, 3 queries, 1 groups");
  CommandResult second = RunBrandpulse("validate watchlist.yaml", kQueries);
  ExpectContains(second.output, "loaded from cache");
}

TEST(CliQueryMatchTest, PrintsTheQueryTreeWithValues) {
  CommandResult result =
      RunBrandpulse("match -w watchlist.yaml 'Apple launched the new iPhone' 'apple pie and iphone'",
                    kQueries);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  ExpectContains(result.output,
                 "  hit       apple                query term bytes 0..5  \"Apple\"  (query term at "
                 "line 11:8)");
  ExpectContains(result.output, "  query of apple: true\n"
                                "    [true ] AND   (line 11:8)\n"
                                "      [true ] OR   (line 11:8)\n"
                                "        [true ] {Apple}   (line 11:8)\n");
  ExpectContains(result.output, "        [true ] iphone   (line 11:31)\n");
  ExpectContains(result.output, "      [true ] NOT   (line 12:11)\n"
                                "        [false] OR   (line 12:16)\n");
  ExpectContains(result.output, "  => Apple (apple)\ntext: apple pie and iphone\n");
  // The second text: the exclusion branch is what turns it false.
  ExpectContains(result.output, "      [false] NOT   (line 12:11)\n"
                                "        [true ] OR   (line 12:16)\n"
                                "          [true ] pie   (line 12:16)\n");
  ExpectContains(result.output, "  no brand matched\n");
}

TEST(CliQueryMatchTest, FieldsComeFromOptionsAndOwnPostsAreNamed) {
  CommandResult norwegian =
      RunBrandpulse("match -w watchlist.yaml --lang no 'bytter til Ice'", kQueries);
  EXPECT_EQ(norwegian.exit_code, 0) << norwegian.output;
  ExpectContains(norwegian.output, "        [true ] lang:no   (line 20:16)");
  ExpectContains(norwegian.output, "  => Ice (ice)");
  CommandResult english = RunBrandpulse("match -w watchlist.yaml --lang en 'bytter til Ice'", kQueries);
  EXPECT_EQ(english.exit_code, 3) << english.output;
  CommandResult own = RunBrandpulse(
      "match -w watchlist.yaml --author AppleSupport 'the iPhone at the Apple Store'", kQueries);
  ExpectContains(own.output, "  => Apple (apple) [own post: not counted as a mention]");
}

TEST(CliQueryBacktestTest, ReportsMatchesSamplesAndWhatEachExclusionRemoved) {
  CommandResult result =
      RunBrandpulse("backtest --watchlist watchlist.yaml --input posts.jsonl --sample 1", kQueries);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  ExpectContains(result.output, "(twitter-v2)\nrecords 9   posts 8   dead letters 1");
  ExpectContains(result.output,
                 "Apple (apple): 2 matches (25.00% of posts), 1 own posts\n"
                 "    sample: @fan1: Apple launched the new iPhone today\n"
                 "    removed 1 (33.3% of 3 that would match without it) by NOT (pie OR juice OR "
                 "\"apple tree\") (line 12:11)\n");
  ExpectContains(result.output, "Orange (orange): 1 matches (12.50% of posts)\n"
                                "    sample: @user3: Orange raised 5G prices on its mobile plans\n");
  ExpectContains(result.output,
                 "Ice (ice): 1 matches (12.50% of posts)\n"
                 "    sample: @ola: Bytter til Ice i morgen, bedre dekning\n"
                 "    removed 1 (50.0% of 2 that would match without it) by exclude 'ice cream'\n"
                 "    removed 0 (0.0% of 1 that would match without it) by exclude 'iskrem'\n");
}

TEST(CliQueryBacktestTest, BadFormatIsAnError) {
  CommandResult result = RunBrandpulse(
      "backtest --watchlist watchlist.yaml --input posts.jsonl --format twitter-v3", kQueries);
  EXPECT_EQ(result.exit_code, 2);
  ExpectContains(result.output, "unknown --format 'twitter-v3'");
}

}  // namespace
