// `brandpulse eval-enrichment` on the frozen test part, the per-brand set and VADER's tweets:
// the figures reached (docs/enrichment.md) must not regress. And enrichment in a running
// pipeline: its counters and its `sentiment` dimension in the stored windows.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

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
  // Reached on the frozen part with the trained model (operators/enrichment/model_v1.inc):
  // macro-F1 en 0.847 (rules: VADER's tweets vetoed the model), no 0.913, es 0.847, nn 0.973;
  // question F1 en 0.941, nb 0.857, es 0.875; complaint F1 en 0.851, nb 0.867, es 0.854 (the
  // rules alone: no 0.843, es 0.815; complaint nb 0.800, es 0.835).
  EXPECT_GE(Figure(json, "en", "sentiment_macro_f1"), 0.84);
  EXPECT_GE(Figure(json, "no", "sentiment_macro_f1"), 0.90);
  EXPECT_GE(Figure(json, "es", "sentiment_macro_f1"), 0.84);
  EXPECT_GE(Figure(json, "nn", "sentiment_macro_f1"), 0.95);
  // Question and complaint per language: the 0.85.
  for (const char* language : {"en", "nb", "nn", "es"}) {
    const size_t at = json.find(std::string("\"") + language + "\": {");
    ASSERT_NE(at, std::string::npos) << language;
    const std::string part = json.substr(at);
    EXPECT_GE(Figure(part, "Q", "f1"), 0.85) << language;
    EXPECT_GE(Figure(part, "C", "f1"), 0.85) << language;
  }
  const size_t all = json.find("\"all\": {");
  ASSERT_NE(all, std::string::npos);
  const std::string all_part = json.substr(all);
  EXPECT_GE(Figure(all_part, "Q", "f1"), 0.89);  // reached 0.901
  EXPECT_GE(Figure(all_part, "C", "f1"), 0.86);  // reached 0.868
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
  // Reached 0.885 (0.861 before "while"/"mens"/"mientras" split clauses and "instead of B").
  EXPECT_GE(Figure(tune.output, "brands", "accuracy"), 0.87);
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
  // 0.680 until links stopped being words ("http://url_removed" made "removed" a complaint).
  EXPECT_GE(Figure(customer.output, "all", "sentiment_macro_f1"), 0.70);  // reached 0.706
  CommandResult words = RunBrandpulse("eval-enrichment --json --words-only vader_tweets.tsv", kFixtures);
  ASSERT_EQ(words.exit_code, 0) << words.output;
  EXPECT_GE(Figure(words.output, "all", "sentiment_macro_f1"), 0.71);  // reached 0.717
}

// The model decides only where it beat the rules: on the frozen part, where it decides it
// must not be worse than the rules alone, and for Norwegian sentiment it is clearly better.
TEST(CliEvalEnrichmentTest, ModelBeatsTheRulesWhereItDecides) {
  CommandResult model = RunBrandpulse("eval-enrichment --json posts_frozen_test.tsv", kFixtures);
  CommandResult rules =
      RunBrandpulse("eval-enrichment --json --rules-only posts_frozen_test.tsv", kFixtures);
  ASSERT_EQ(model.exit_code, 0) << model.output;
  ASSERT_EQ(rules.exit_code, 0) << rules.output;
  EXPECT_GE(Figure(model.output, "no", "sentiment_macro_f1"),
            Figure(rules.output, "no", "sentiment_macro_f1") + 0.05);  // 0.913 vs 0.843
  EXPECT_GE(Figure(model.output, "es", "sentiment_macro_f1"),
            Figure(rules.output, "es", "sentiment_macro_f1") + 0.02);  // 0.847 vs 0.815
  EXPECT_GE(Figure(model.output, "all", "sentiment_macro_f1"),
            Figure(rules.output, "all", "sentiment_macro_f1"));
}

// `train-enrichment` reproduces the shipped model from the tuning part (same choices, same
// weights to within the printed precision), so the model file is not a hand-made artefact.
TEST(CliTrainEnrichmentTest, RetrainingReproducesTheShippedModel) {
  fs::path work = fs::temp_directory_path() / fmt::format("brandpulse-train-{}", ::getpid());
  fs::create_directories(work);
  const fs::path out = work / "model.inc";
  CommandResult trained = RunBrandpulse(
      "train-enrichment tests/fixtures/enrichment/posts_tune.tsv --check "
      "tests/fixtures/enrichment/vader_tweets.tsv --out " + out.string(),
      fs::path(BRANDPULSE_SOURCE_DIR));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  auto lines = [](const fs::path& path) {
    std::vector<std::string> result;
    std::ifstream file(path);
    for (std::string line; std::getline(file, line);) result.push_back(line);
    return result;
  };
  const std::vector<std::string> shipped =
      lines(fs::path(BRANDPULSE_SOURCE_DIR) / "operators" / "enrichment" / "model_v1.inc");
  const std::vector<std::string> again = lines(out);
  ASSERT_EQ(again.size(), shipped.size());
  for (size_t i = 0; i < shipped.size(); ++i) {
    if (shipped[i].rfind("d ", 0) != 0) {
      EXPECT_EQ(again[i], shipped[i]) << "line " << i + 1;  // header, choices, `use` masks
      continue;
    }
    std::istringstream a(again[i].substr(2)), b(shipped[i].substr(2));
    for (double x, y; b >> y;) {
      ASSERT_TRUE(a >> x) << again[i];
      EXPECT_NEAR(x, y, 2e-3 * std::max(1.0, std::fabs(y))) << "line " << i + 1;
    }
  }
  fs::remove_all(work);
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
