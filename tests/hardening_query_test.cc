// Hostile queries (issue 16, failure 1): nesting deep enough to overflow a recursive parser is
// refused with file:line:column, long OR chains parse in linear time, and a reload with such a
// watchlist under a running pipeline keeps the old watchlist and the pipeline running.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "operators/query.h"
#include "operators/watchlist.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;

std::string ParseErrors(const std::string& text) {
  Diagnostics diagnostics;
  std::optional<Query> query = ParseQuery(text, SourceLocation{"w.yaml", 3, 12}, 4, diagnostics);
  return query ? std::string() : diagnostics.ToString();
}

TEST(HardeningQueryTest, DeepParenthesesAreRefusedWithALocation) {
  // 6,000 levels killed the recursive parser (SIGSEGV); 1,000,000 must not either.
  for (size_t depth : {6'000u, 1'000'000u}) {
    std::string text = std::string(depth, '(') + "telenor" + std::string(depth, ')');
    std::string errors = ParseErrors(text);
    EXPECT_NE(errors.find("nested deeper than"), std::string::npos) << errors.substr(0, 300);
    // The first '(' past the limit: line 3, column 12 + the limit.
    EXPECT_NE(errors.find(fmt::format("w.yaml:3:{}", 12 + kMaxQueryDepth)), std::string::npos)
        << errors.substr(0, 300);
    EXPECT_LT(errors.size(), 2000u) << "one error, not one per level";
  }
}

TEST(HardeningQueryTest, InvalidUtf8InsideAPhraseOrBracesIsRefused) {
  // The first make-fuzz finding (fuzz/corpus/query/regression-phrase-with-invalid-utf8): the
  // phrase was accepted, and its canonical form, with the bytes as a bare term, did not parse.
  std::string errors = ParseErrors("\"telenor n\n\x9crge\"~3 AND la!g:no");
  EXPECT_NE(errors.find("w.yaml:3:12: error: the phrase is not valid UTF-8"), std::string::npos)
      << errors;
  errors = ParseErrors("telenor OR {B\xffT}");
  EXPECT_NE(errors.find("w.yaml:3:23: error: '{...}' is not valid UTF-8"), std::string::npos)
      << errors;
  EXPECT_EQ(ParseErrors("\"telenor n\xc3\xb8rge\"~3"), "");  // real UTF-8 stays fine
}

TEST(HardeningQueryTest, ChainedNotsAreRefused) {
  std::string text = "telenor AND ";
  for (int i = 0; i < 40'000; ++i) text += "NOT ";
  text += "arena";
  std::string errors = ParseErrors(text);
  EXPECT_NE(errors.find("nested deeper than"), std::string::npos) << errors.substr(0, 300);
}

TEST(HardeningQueryTest, NestingUpToTheLimitStillParses) {
  const size_t depth = kMaxQueryDepth - 1;
  std::string text = std::string(depth, '(') + "telenor" + std::string(depth, ')');
  EXPECT_EQ(ParseErrors(text), "");
}

// 40,000 terms took ~40 s with a quadratic location computation; 200,000 would take many
// minutes. Linear parsing finishes this in well under a second.
TEST(HardeningQueryTest, LongOrChainsParse) {
  std::string text;
  for (int i = 0; i < 200'000; ++i) text += fmt::format("{}term{}", i ? " OR " : "", i);
  Diagnostics diagnostics;
  std::optional<Query> query = ParseQuery(text, SourceLocation{"w.yaml", 1, 1}, 1, diagnostics);
  ASSERT_TRUE(query) << diagnostics.ToString().substr(0, 300);
  EXPECT_EQ(query->nodes[query->root].children.size(), 200'000u);
  // Locations stay right at the end of a long line: "term199999" starts at column ...
  const QueryNode& last = query->nodes[query->nodes[query->root].children.back()];
  EXPECT_EQ(static_cast<size_t>(last.location.column), text.size() - 10 + 1);
}

TEST(HardeningQueryTest, DeepQueryInAWatchlistNamesTheFileLineAndColumn) {
  fs::path directory = brandpulse_test::MakeTempDirectory("hardening-query");
  std::string deep = std::string(10'000, '(') + "telenor" + std::string(10'000, ')');
  brandpulse_test::WriteFile(directory / "w.yaml",
                             "brands:\n  - id: telenor\n    query: '" + deep + "'\n");
  Diagnostics diagnostics;
  EXPECT_FALSE(LoadWatchlist((directory / "w.yaml").string(), diagnostics));
  std::string errors = diagnostics.ToString();
  EXPECT_NE(errors.find("w.yaml:3:"), std::string::npos) << errors.substr(0, 300);
  EXPECT_NE(errors.find("nested deeper than"), std::string::npos) << errors.substr(0, 300);
  fs::remove_all(directory);
}

TEST(HardeningQueryTest, ReloadWithADeepQueryKeepsTheOldWatchlistRunning) {
  fs::path work = brandpulse_test::MakeTempDirectory("hardening-reload");
  brandpulse_test::WriteFile(work / "watchlist.yaml",
                             "brands:\n  - id: telenor\n    terms: [Telenor]\n");
  std::string input;
  for (int i = 0; i < 3000; ++i) {
    input += fmt::format(
        R"({{"data":{{"id":"{}","text":"Telenor number {}","created_at":"2026-01-01T00:{:02}:{:02}Z"}}}})"
        "\n",
        i, i, (i / 60) % 60, i % 60);
  }
  brandpulse_test::WriteFile(work / "in.jsonl", input);
  brandpulse_test::WriteFile(work / "pipeline.yaml", R"(name: deep
source: {type: file, path: in.jsonl, follow: true}
decode: {format: twitter-v2}
watchlist: watchlist.yaml
workers: 1
batch_records: 100
state: {directory: state, commit_every_records: 200}
windows:
  - {name: 1m, size: 1m}
sinks:
  dead_letter: {type: file, path: dead.jsonl}
)");
  Diagnostics diagnostics;
  std::optional<PipelineSpec> spec = LoadPipelineSpec((work / "pipeline.yaml").string(), diagnostics);
  ASSERT_TRUE(spec) << diagnostics.ToString();
  // The deep watchlist lands before the run reads: the reload must fail, not the process.
  brandpulse_test::WriteFile(
      work / "watchlist.yaml",
      "brands:\n  - id: telenor\n    query: '" + std::string(50'000, '(') + "telenor" +
          std::string(50'000, ')') + "'\n");
  // The input is followed, so the run lasts until the reload has been answered (it compiles in
  // the background) and every record was read; then it is stopped.
  std::atomic<bool> reload{true};
  std::atomic<bool> stop{false};
  std::atomic<bool> reload_answered{false};
  std::atomic<uint64_t> records_seen{0};
  std::string error;
  RunOptions options;
  options.fresh = true;
  options.reload_requested = &reload;
  options.stop_requested = &stop;
  options.watch_watchlist_file = false;
  options.on_reload = [&](bool swapped, const std::string& message) {
    if (!swapped) error = message;
    reload_answered = true;
  };
  options.on_progress = [&](const RunSummary& progress) { records_seen = progress.records; };
  std::optional<Result<RunSummary>> result;
  std::thread runner([&] { result.emplace(RunPipeline(*spec, options)); });
  for (int i = 0; i < 600 && !(reload_answered && records_seen >= 3000); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  runner.join();
  ASSERT_TRUE(result.has_value());
  Result<RunSummary>& run = *result;
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->watchlist_reload_failures, 1u);
  EXPECT_NE(error.find("watchlist.yaml:3:"), std::string::npos) << error.substr(0, 300);
  EXPECT_NE(error.find("nested deeper than"), std::string::npos) << error.substr(0, 300);
  EXPECT_EQ(run->records, 3000u);
  EXPECT_EQ(run->mentions, 3000u);  // the old watchlist ran throughout
  fs::remove_all(work);
}

// The canonical form (FormatQueryNode) must parse back to itself: `brandpulse match` prints it
// and the query fuzzer checks it. Words of a "..."~n phrase and quoted single words may hold
// characters a bare term cannot: '(' ')' '{' '}', a '*' or '?' that would read as a wildcard, a
// leading "//" that would start a comment.
std::string Canonical(const std::string& text) {
  Diagnostics diagnostics;
  std::optional<Query> query = ParseQuery(text, SourceLocation{"w.yaml", 1, 1}, 1, diagnostics);
  if (!query) return "rejected: " + diagnostics.ToString();
  return FormatQueryNode(*query, query->root);
}

TEST(HardeningQueryTest, CanonicalFormOfPhraseWordsWithSyntaxParsesBack) {
  // fuzz/corpus/query/crash-proximity-phrase-with-parenthesis-canonical-form-does-not-parse
  // (make fuzz, 2026-12-02): "(dekning" was printed bare, so the '(' opened a group.
  const std::string found =
      "\" a comment\ntelenor AND (dekning Otelenor n\n2rge\"~3 AND la!g:no";
  for (const std::string& text :
       {found, std::string("\"telenor (arena)\"~2"), std::string("\"a{b c}d\"~1"),
        std::string("\"tel* norge\"~3"), std::string("\"te?e norge\"~3"), std::string("\"(x\""),
        std::string("\"te?m\" OR tel*"), std::string("\"//kommentar\" OR telenor"),
        std::string("telenor OR (//abc*)"), std::string("(//abc) AND telenor")}) {
    SCOPED_TRACE(text);
    const std::string canonical = Canonical(text);
    ASSERT_EQ(canonical.find("rejected"), std::string::npos) << canonical;
    EXPECT_EQ(Canonical(canonical), canonical);
  }
  EXPECT_EQ(Canonical("\"telenor (arena)\"~2"), "telenor NEAR/2 \"(arena)\"");
  EXPECT_EQ(Canonical("\"tel* norge\"~3"), "\"tel*\" NEAR/3 norge");
  EXPECT_EQ(Canonical("telenor OR (//abc*)"), "(telenor OR (//abc*))");
  // Still bare where bare reads back the same.
  EXPECT_EQ(Canonical("colo?r OR te?e* OR telen*"), "(colo?r OR te?e* OR telen*)");
}

TEST(HardeningQueryTest, PhraseWordWithNothingToFindIsRefused) {
  // A word of a "..."~n phrase is a term of its own; "-" could never be found (and `"-"` in the
  // canonical form is refused as a phrase that holds nothing).
  EXPECT_NE(ParseErrors("\"telenor - norge\"~2")
                .find("w.yaml:3:12: error: the word '-' of the phrase has nothing to find"),
            std::string::npos)
      << ParseErrors("\"telenor - norge\"~2");
  EXPECT_EQ(ParseErrors("\"telenor - norge\""), "");  // one term: the phrase as written
}

}  // namespace
}  // namespace brandpulse
