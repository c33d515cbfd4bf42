// Issue 14, precision tools: validate's ambiguity warnings (cli/ambiguity.cc) and the measured
// precision and recall of two watchlists on the labelled ambiguity set
// (tests/fixtures/ambiguity/, see its SOURCES.md), through `backtest --jsonl` and `score`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/cli_test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
using brandpulse_cli_test::CommandResult;
using brandpulse_cli_test::RunBrandpulse;

const fs::path kFixtures = fs::path(BRANDPULSE_SOURCE_DIR) / "tests/fixtures/ambiguity";

class AmbiguityCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = fs::temp_directory_path() / fmt::format("brandpulse-ambiguity-{}-{}", ::getpid(),
                                                    ::testing::UnitTest::GetInstance()
                                                        ->current_test_info()
                                                        ->name());
    fs::remove_all(work_);
    fs::create_directories(work_);
  }
  void TearDown() override { fs::remove_all(work_); }

  // The line of `output` that warns about `term` of `brand`, or "" when there is none.
  static std::string WarningAbout(const std::string& output, const std::string& brand,
                                  const std::string& term) {
    std::istringstream lines(output);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.find("warning: brand '" + brand + "': ") != std::string::npos &&
          line.find(" '" + term + "' is ") != std::string::npos) {
        return line;
      }
    }
    return "";
  }

  fs::path work_;
};

TEST_F(AmbiguityCliTest, WarnsAboutInflectedFormsNamesShortTermsAndUnguardedQueryTerms) {
  std::ofstream(work_ / "w.yaml") << R"(brands:
  - id: correos
    terms: [correos]
  - id: vy
    terms: [vy]
  - id: santander
    terms: [santander]
  - id: ice
    terms: [ice]
    exclude: [ice cream]
  - id: shell
    query: |
      shell.com OR shell
  - id: kiwi
    query: |
      (kiwi NEAR/4 butikk) OR (kiwi AND lang:no) OR (telia AND NOT kiwi)
  - id: apple
    terms: ["{Apple}", "{IBM}", unilever]
)";
  CommandResult result = RunBrandpulse("validate w.yaml", work_);
  EXPECT_EQ(result.exit_code, 0) << "warnings do not fail validation\n" << result.output;
  // "correos" (e-mails) is a plural the word list does not hold: Hunspell knows it.
  EXPECT_NE(WarningAbout(result.output, "correos", "correos").find("ordinary Spanish word"),
            std::string::npos)
      << result.output;
  EXPECT_NE(WarningAbout(result.output, "vy", "vy").find("one- or two-letter term"),
            std::string::npos)
      << result.output;
  EXPECT_NE(WarningAbout(result.output, "santander", "santander")
                .find("a name (a place, person or other company) in the Spanish dictionary"),
            std::string::npos)
      << result.output;
  // An exclusion removes the meanings someone listed, not the others: still warned.
  EXPECT_NE(WarningAbout(result.output, "ice", "ice").find("ordinary English"), std::string::npos)
      << result.output;
  // Frequency: SCOWL's size class.
  EXPECT_NE(WarningAbout(result.output, "ice", "ice")
                .find("one of the most common English words: SCOWL size 10"),
            std::string::npos)
      << result.output;
  // The remedies that fit: English only, so the bare name may do in Norwegian and Spanish posts.
  EXPECT_NE(WarningAbout(result.output, "shell", "shell").find("'shell AND (lang:no OR lang:es)'"),
            std::string::npos)
      << result.output;
  // A query term alone is warned at its own line and column; one with context is not.
  EXPECT_NE(WarningAbout(result.output, "shell", "shell").find("w.yaml:13:20: warning"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(WarningAbout(result.output, "kiwi", "kiwi"), "") << result.output;
  // {Apple} is how the word starts a sentence; {IBM} is not how any word is written.
  EXPECT_NE(WarningAbout(result.output, "apple", "{Apple}").find("start of a sentence"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(WarningAbout(result.output, "apple", "{IBM}"), "") << result.output;
  EXPECT_EQ(WarningAbout(result.output, "apple", "unilever"), "") << result.output;
}

// The figures of docs/queries.md ("Measuring a watchlist"): the labelled set scored with the
// names-only watchlist, today's first remedy ({Name}), the watchlist written by following the
// warnings, that one after a round of backtest's held-back listing on half of the set, and both
// with the context anywhere in the post (AND) as the revised warning suggests. A change to matching or to the warnings that lowers them fails here.
struct Measured {
  const char* watchlist;
  double precision;
  double recall;
};

TEST_F(AmbiguityCliTest, PrecisionAndRecallOnTheLabelledSetDoNotRegress) {
  ASSERT_TRUE(fs::exists(kFixtures / "posts.tsv"));
  for (const Measured& measured : {Measured{"watchlist-names.yaml", 0.516, 0.965},
                                   Measured{"watchlist-case.yaml", 0.684, 0.821},
                                   Measured{"watchlist-warned.yaml", 0.987, 0.896},
                                   Measured{"watchlist-backtested.yaml", 0.987, 0.931},
                                   Measured{"watchlist-warned-and.yaml", 0.987, 0.936},
                                   Measured{"watchlist-backtested-and.yaml", 0.988, 0.965}}) {
    SCOPED_TRACE(measured.watchlist);
    const fs::path mentions = work_ / (std::string(measured.watchlist) + ".jsonl");
    CommandResult backtest = RunBrandpulse(
        fmt::format("backtest --quiet -w '{}' -i '{}' -f twitter-v2 --jsonl '{}'",
                    (kFixtures / measured.watchlist).string(),
                    (kFixtures / "posts.jsonl").string(), mentions.string()),
        work_);
    ASSERT_EQ(backtest.exit_code, 0) << backtest.output;
    CommandResult score = RunBrandpulse(
        fmt::format("score --no-list -l '{}' -m '{}' --min-precision {} --min-recall {}",
                    (kFixtures / "posts.tsv").string(), mentions.string(), measured.precision,
                    measured.recall),
        work_);
    EXPECT_EQ(score.exit_code, 0) << score.output;
    EXPECT_NE(score.output.find("343 labelled posts"), std::string::npos) << score.output;
    std::smatch figures;
    ASSERT_TRUE(std::regex_search(score.output, figures,
                                  std::regex("precision ([0-9.]+) .*, recall ([0-9.]+)")))
        << score.output;
    // Better figures are welcome, but then the documented ones are stale: update both.
    EXPECT_LT(std::stod(figures[1]), measured.precision + 0.002) << score.output;
    EXPECT_LT(std::stod(figures[2]), measured.recall + 0.002) << score.output;
  }
}

// backtest lists, per brand, posts that hold the brand's name but not the query's context: the
// recall side of narrowing an ordinary word. Context words alone are not such posts.
TEST_F(AmbiguityCliTest, BacktestListsPostsTheQueryContextHeldBack) {
  CommandResult result = RunBrandpulse(
      fmt::format("backtest --quiet -n 50 -w '{}' -i '{}' -f twitter-v2",
                  (kFixtures / "watchlist-warned.yaml").string(),
                  (kFixtures / "posts.jsonl").string()),
      work_);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const size_t apple = result.output.find("apple (apple): ");
  const size_t shell = result.output.find("shell (shell): ");
  const size_t ice = result.output.find("ice (ice): ");
  ASSERT_NE(apple, std::string::npos) << result.output;
  ASSERT_NE(ice, std::string::npos) << result.output;
  const std::string apple_section = result.output.substr(apple, shell - apple);
  EXPECT_NE(apple_section.find("held back 17 posts that hold the name without the query's context"),
            std::string::npos)
      << apple_section;
  EXPECT_NE(apple_section.find("held back: Hey Apple -I'm yer biggest fan"), std::string::npos)
      << apple_section;
  const std::string ice_section =
      result.output.substr(ice, result.output.find("posten (posten): ") - ice);
  // "kundeservice" is one of ice's context words, not its name.
  EXPECT_EQ(ice_section.find("Apple-kundeservice"), std::string::npos) << ice_section;
}

TEST_F(AmbiguityCliTest, ScoreCountsPairsAndRejectsUnknownPosts) {
  std::ofstream(work_ / "labels.tsv") << "# id\tlang\tbrands\ttext\n"
                                      << "1\ten\tapple\tApple event today\n"
                                      << "2\ten\t-\tapple pie\n"
                                      << "3\ten\tapple,amazon\tBought an Apple Watch on Amazon\n";
  std::ofstream(work_ / "found.jsonl")
      << R"({"schema":"brandpulse.mention/1","post_id":"1","brands":[{"brand":"apple"}]})" "\n"
      << R"({"schema":"brandpulse.mention/1","post_id":"2","brands":[{"brand":"apple"}]})" "\n"
      << R"({"schema":"brandpulse.mention/1","post_id":"3","brands":[{"brand":"apple"}]})" "\n";
  CommandResult result = RunBrandpulse("score -l labels.tsv -m found.jsonl --min-recall 0.9", work_);
  EXPECT_EQ(result.exit_code, 1) << result.output;  // recall 2/3 is below 0.9
  EXPECT_NE(result.output.find("precision 0.667 (2 of 3 found are right), recall 0.667 (2 of 3 "
                               "labelled are found)"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("2  apple  apple pie"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("3  amazon  Bought an Apple Watch on Amazon"), std::string::npos)
      << result.output;
  std::ofstream(work_ / "other.jsonl")
      << R"({"schema":"brandpulse.mention/1","post_id":"9","brands":[{"brand":"apple"}]})" "\n";
  result = RunBrandpulse("score -l labels.tsv -m other.jsonl", work_);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("post '9' of other.jsonl is not in labels.tsv"), std::string::npos)
      << result.output;
}

}  // namespace
}  // namespace brandpulse
