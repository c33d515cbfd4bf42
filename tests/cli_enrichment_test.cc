// `brandpulse eval-enrichment` on the frozen test part, the per-brand set and VADER's tweets:
// the figures reached (docs/enrichment.md) must not regress. And enrichment in a running
// pipeline: its counters and its `sentiment` dimension in the stored windows.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include <gtest/gtest.h>

#include "tests/cli_test_support.h"

namespace {

namespace fs = std::filesystem;
using brandpulse_cli_test::CommandResult;
using brandpulse_cli_test::RunBrandpulse;

const fs::path kFixtures = fs::path(BRANDPULSE_SOURCE_DIR) / "tests" / "fixtures" / "enrichment";

// The number after "key": inside the JSON object that starts at "scope":.
double Figure(const std::string& json, const std::string& scope, const std::string& key) {
  const size_t start = json.find("\"" + scope + "\": {");
  EXPECT_NE(start, std::string::npos) << scope << " in " << json;
  if (start == std::string::npos) return -1;
  std::smatch match;
  const std::string rest = json.substr(start + scope.size() + 4);
  std::regex pattern("\"" + key + "\": ([0-9.]+)");
  EXPECT_TRUE(std::regex_search(rest, match, pattern)) << key << " after " << scope;
  return match.empty() ? -1 : std::stod(match[1]);
}

TEST(CliEvalEnrichmentTest, FrozenTestPartDoesNotRegress) {
  CommandResult result =
      RunBrandpulse("eval-enrichment --json posts_frozen_test.tsv", kFixtures);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::string& json = result.output;
  // Reached on the frozen part: en 0.847, no 0.843, es 0.815 macro-F1; Q 0.905, C 0.851 F1.
  EXPECT_GE(Figure(json, "en", "sentiment_macro_f1"), 0.82);
  EXPECT_GE(Figure(json, "no", "sentiment_macro_f1"), 0.82);
  EXPECT_GE(Figure(json, "es", "sentiment_macro_f1"), 0.79);
  EXPECT_GE(Figure(json, "nn", "sentiment_macro_f1"), 0.80);
  const size_t all = json.find("\"all\": {");
  ASSERT_NE(all, std::string::npos);
  const std::string all_part = json.substr(all);
  EXPECT_GE(Figure(all_part, "Q", "f1"), 0.88);
  EXPECT_GE(Figure(all_part, "C", "f1"), 0.83);
  EXPECT_GE(Figure(all_part, "P", "f1"), 0.88);
  EXPECT_GE(Figure(json, "all", "language_accuracy"), 0.90);
  EXPECT_EQ(Figure(json, "all", "n"), 315);
}

TEST(CliEvalEnrichmentTest, PerBrandFrozenPartDoesNotRegress) {
  CommandResult result = RunBrandpulse("eval-enrichment --json brands_frozen_test.tsv", kFixtures);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // Reached: 0.741 (0.655 before the clause-scoped complaint cue and the later places of a
  // brand; the 0.75 target is not met; docs/enrichment.md lists the errors).
  EXPECT_GE(Figure(result.output, "brands", "accuracy"), 0.72);
  EXPECT_EQ(Figure(result.output, "brands", "n"), 58);
  CommandResult tune = RunBrandpulse("eval-enrichment --json brands_tune.tsv", kFixtures);
  ASSERT_EQ(tune.exit_code, 0) << tune.output;
  EXPECT_GE(Figure(tune.output, "brands", "accuracy"), 0.84);  // reached 0.861
}

TEST(CliEvalEnrichmentTest, NorwegianVariantOfPlainNoTagsDoesNotRegress) {
  // Posts tagged plain "no": the variant comes from the words (CLD2 with a Norwegian hint
  // called every nynorsk post bokmål: 0.667 over nb + nn, 0.000 on nn).
  CommandResult result =
      RunBrandpulse("eval-enrichment --json --payload-language posts_frozen_test.tsv", kFixtures);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_GE(Figure(result.output, "no", "variant_accuracy"), 0.90);  // reached 0.926
  EXPECT_GE(Figure(result.output, "nn", "variant_accuracy"), 0.70);  // reached 0.758
  EXPECT_GE(Figure(result.output, "no", "language_accuracy"), 1.0);
}

TEST(CliEvalEnrichmentTest, VaderTweetsDoNotRegress) {
  CommandResult customer = RunBrandpulse("eval-enrichment --json vader_tweets.tsv", kFixtures);
  ASSERT_EQ(customer.exit_code, 0) << customer.output;
  EXPECT_GE(Figure(customer.output, "all", "sentiment_macro_f1"), 0.66);  // reached 0.680
  CommandResult words = RunBrandpulse("eval-enrichment --json --words-only vader_tweets.tsv", kFixtures);
  ASSERT_EQ(words.exit_code, 0) << words.output;
  EXPECT_GE(Figure(words.output, "all", "sentiment_macro_f1"), 0.70);  // reached 0.714
}

TEST(CliEvalEnrichmentTest, TextReportAndBadLinesNamePlace) {
  fs::path work = fs::temp_directory_path() / fmt::format("brandpulse-eval-{}", ::getpid());
  fs::create_directories(work);
  std::ofstream(work / "good.tsv") << "# comment\nen\tneg\tC\tMy internet is down again\n"
                                   << "es\tpos\tP\t¡Gracias Iberia, increíble servicio!\n";
  CommandResult good = RunBrandpulse("eval-enrichment good.tsv", work);
  ASSERT_EQ(good.exit_code, 0) << good.output;
  EXPECT_NE(good.output.find("en: n=1  sentiment accuracy 1.000"), std::string::npos) << good.output;
  EXPECT_NE(good.output.find("confusion"), std::string::npos);
  EXPECT_NE(good.output.find("intent C  P 1.000  R 1.000  F1 1.000"), std::string::npos) << good.output;

  std::ofstream(work / "bad.tsv") << "en\tneg\tC\tfine\nen\tmeh\t\tnot a label\n";
  CommandResult bad = RunBrandpulse("eval-enrichment bad.tsv", work);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("bad.tsv:2:4: sentiment must be neg, neu or pos"), std::string::npos)
      << bad.output;
  fs::remove_all(work);
}

TEST(CliEnrichPipelineTest, CountersAndSentimentDimensionInTheWindows) {
  fs::path work = fs::temp_directory_path() / fmt::format("brandpulse-enrich-{}", ::getpid());
  fs::remove_all(work);
  fs::create_directories(work);
  fs::copy_file(fs::path(BRANDPULSE_SOURCE_DIR) / "tests" / "configs" / "valid" / "watchlist.yaml",
                work / "watchlist.yaml");
  CommandResult generated = RunBrandpulse(
      "generate --watchlist watchlist.yaml --count 2000 --seed 5 --mention-share 0.3 -o posts.jsonl",
      work);
  ASSERT_EQ(generated.exit_code, 0) << generated.output;
  std::ofstream(work / "pipeline.yaml")
      << "name: enrich\nsource: {type: file, path: posts.jsonl}\ndecode: {format: twitter-v2}\n"
         "transforms: [decode, match, enrich, window]\n"
         "watchlist: watchlist.yaml\nstate: {directory: state}\n"
         "windows: [{name: 1d, size: 1d, dimensions: [sentiment, intent]}]\n"
         "sinks:\n  alerts: {type: file, path: alerts.jsonl}\n"
         "  dead_letter: {type: file, path: dead.jsonl}\n";
  CommandResult run = RunBrandpulse("run pipeline.yaml --fresh --quiet", work);
  ASSERT_EQ(run.exit_code, 0) << run.output;

  // Every mention has exactly one sentiment towards its brand; the dimension agrees.
  auto total = [&](const std::string& arguments) {
    CommandResult series = RunBrandpulse("query series -p pipeline.yaml -b telenor --last 30d " + arguments, work);
    EXPECT_EQ(series.exit_code, 0) << series.output;
    std::regex value("\"value\":([0-9]+)");
    int64_t sum = 0;
    for (auto it = std::sregex_iterator(series.output.begin(), series.output.end(), value);
         it != std::sregex_iterator(); ++it) {
      sum += std::stoll((*it)[1]);
    }
    return sum;
  };
  const int64_t mentions = total("-m mentions");
  const int64_t negative = total("-m sentiment_negative");
  const int64_t neutral = total("-m sentiment_neutral");
  const int64_t positive = total("-m sentiment_positive");
  EXPECT_GT(mentions, 100);
  EXPECT_GT(negative, 0);
  EXPECT_GT(positive, 0);
  EXPECT_EQ(negative + neutral + positive, mentions);
  EXPECT_EQ(total("-d sentiment:negative -m mentions"), negative);
  EXPECT_EQ(total("-d intent:complaint -m mentions") <= total("-m intent_complaint"), true);
  fs::remove_all(work);
}

TEST(CliEnrichPipelineTest, UnknownEnrichOptionIsReportedWithItsPlace) {
  fs::path work = fs::temp_directory_path() / fmt::format("brandpulse-enrich-bad-{}", ::getpid());
  fs::create_directories(work);
  fs::copy_file(fs::path(BRANDPULSE_SOURCE_DIR) / "tests" / "configs" / "valid" / "watchlist.yaml",
                work / "watchlist.yaml", fs::copy_options::overwrite_existing);
  std::ofstream(work / "pipeline.yaml")
      << "name: enrich\nsource: {type: file, path: posts.jsonl}\ndecode: {format: twitter-v2}\n"
         "transforms: [decode, match, {type: enrich, posts: matchd}, window]\n"
         "watchlist: watchlist.yaml\nstate: {directory: state}\n"
         "windows: [{name: 1d, size: 1d}]\n";
  CommandResult result = RunBrandpulse("validate pipeline.yaml", work);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("pipeline.yaml:4:"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("matched"), std::string::npos) << result.output;
  fs::remove_all(work);
}

}  // namespace
