// issue 14 at the command line: per-post JSON lines from `backtest --jsonl` and
// `match --input --jsonl`, per-term counts in the backtest, and the ambiguity warnings of
// `validate`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/cli_test_support.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
using brandpulse_cli_test::CommandResult;
using brandpulse_cli_test::RunBrandpulse;

class CountsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = fs::temp_directory_path() / fmt::format("brandpulse-counts-{}-{}", ::getpid(),
                                                     ::testing::UnitTest::GetInstance()->random_seed());
    fs::remove_all(work_);
    fs::create_directories(work_);
    std::ofstream(work_ / "w.yaml") << R"(brands:
  - id: telenor
    name: Telenor
    terms: [telenor]
    handles: ["@telenor_norge"]
    exclude: [telenor arena]
  - id: ice
    name: Ice
    query: ice AND NOT cream
)";
    std::ofstream(work_ / "posts.jsonl")
        << R"({"data":{"id":"1445880548472328192","text":"Telenor er nede, spør @telenor_norge","author_id":"1"},"includes":{"users":[{"id":"1","username":"telenor_norge"}]}})"
        << "\n"
        << R"({"data":{"id":"1445880548472328193","text":"Konsert i Telenor Arena","author_id":"2"}})"
        << "\n"
        << R"({"data":{"id":"1445880548472328194","text":"ice cream","author_id":"3"}})" << "\n"
        << R"({"data":{"id":"1445880548472328195","text":"nothing here","author_id":"4"}})" << "\n";
  }
  void TearDown() override { fs::remove_all(work_); }
  fs::path work_;
};

TEST_F(CountsCliTest, BacktestWritesOneMentionLinePerMatchedOrExcludedPost) {
  CommandResult result =
      RunBrandpulse("backtest -w w.yaml -i posts.jsonl --cache-dir none --jsonl out.jsonl", work_);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // Today's text output stays, with what each term brought.
  EXPECT_NE(result.output.find("Telenor (telenor): 1 matches"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("term 'telenor': 1 matched posts, e.g. Telenor er nede"),
            std::string::npos)
      << result.output;
  std::vector<std::string> lines = brandpulse_test::Lines(brandpulse_test::ReadFile(work_ / "out.jsonl"));
  ASSERT_EQ(lines.size(), 3u) << "two excluded posts and one match; the post without brands is left out";
  EXPECT_NE(lines[0].find(R"("schema":"brandpulse.mention/1","post_id":"1445880548472328192")"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find(R"("own_post":true)"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find(R"({"term":"telenor","kind":"term","begin":0,"end":7})"), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find(R"({"term":"@telenor_norge","kind":"handle","begin":23,"end":37})"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find(R"("brands":[],"excluded":[{"brand":"telenor","exclusion":"exclude 'telenor arena'"}])"),
            std::string::npos)
      << lines[1];
  EXPECT_NE(lines[2].find(R"("excluded":[{"brand":"ice","exclusion":"NOT cream)"), std::string::npos)
      << lines[2];

  CommandResult match = RunBrandpulse("match -w w.yaml --input posts.jsonl --jsonl", work_);
  ASSERT_EQ(match.exit_code, 0) << match.output;
  EXPECT_EQ(brandpulse_test::Lines(match.output), lines) << "match over a file writes the same lines";
  EXPECT_EQ(RunBrandpulse("match -w w.yaml --jsonl", work_).exit_code, 2);
}

TEST_F(CountsCliTest, ValidateWarnsAboutOrdinaryWordsWithTheRemedies) {
  std::ofstream(work_ / "names.yaml") << R"(brands:
  - {id: apple, name: Apple, terms: [apple, iphone]}
  - {id: posten, name: Posten, terms: [posten]}
  - {id: shell, name: Shell, terms: ["{Shell}"]}
  - {id: ice, name: Ice, terms: [ice], exclude: [ice cream]}
  - {id: telia, name: Telia, terms: [telia]}
)";
  CommandResult result = RunBrandpulse("validate names.yaml", work_);
  EXPECT_EQ(result.exit_code, 0) << "warnings do not fail validation\n" << result.output;
  EXPECT_NE(result.output.find("names.yaml:2:5: warning: brand 'apple': term 'apple' is an "
                               "ordinary English word"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("'{Apple}' (case-exact)"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("term 'posten' is an ordinary Norwegian word"), std::string::npos)
      << result.output;
  // Names are not warned about. A capitalized {Exact} term still finds the word at the start of
  // a sentence, and an exclusion only removes the meanings it lists: both are still warned
  // about (cli/ambiguity.h; tests/cli_ambiguity_test.cc has the rest).
  EXPECT_EQ(result.output.find("'iphone'"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("term '{Shell}'"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("term 'ice'"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("'telia'"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace brandpulse
