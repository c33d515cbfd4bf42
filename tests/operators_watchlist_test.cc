// The watchlist loader: what a valid file becomes, and one exact file:line:column message per
// kind of mistake.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "operators/watchlist.h"

namespace brandpulse {
namespace {

// Parses `yaml` as "w.yaml" and returns every diagnostic, one per line.
std::string Errors(std::string_view yaml) {
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> spec = ParseWatchlist(yaml, "w.yaml", diagnostics);
  EXPECT_EQ(spec.has_value(), diagnostics.empty()) << "nullopt exactly when there are errors";
  return diagnostics.ToString();
}

WatchlistSpec Parse(std::string_view yaml) {
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> spec = ParseWatchlist(yaml, "w.yaml", diagnostics);
  EXPECT_TRUE(spec.has_value()) << diagnostics.ToString();
  return spec.value_or(WatchlistSpec{});
}

TEST(WatchlistTest, ReadsEveryField) {
  WatchlistSpec spec = Parse(R"(brands:
  - id: telenor
    name: Telenor
    group: nordic-telecom
    terms: [telenor, "  telenor   norge ", Telenor]
    handles: ["@telenor_norge", TelenorSupport]
    hashtags: ["#telenor", telenornorge]
    exclude: [telenor arena]
  - id: yoigo
    terms: yoigo
)");
  EXPECT_EQ(spec.path, "w.yaml");
  ASSERT_EQ(spec.brands.size(), 2u);
  const BrandSpec& telenor = spec.brands[0];
  EXPECT_EQ(telenor.id, "telenor");
  EXPECT_EQ(telenor.name, "Telenor");
  EXPECT_EQ(telenor.group, "nordic-telecom");
  // Trimmed, inner spaces made one, caseless duplicates dropped (the first spelling stays).
  EXPECT_EQ(telenor.terms, (std::vector<std::string>{"telenor", "telenor norge"}));
  EXPECT_EQ(telenor.handles, (std::vector<std::string>{"@telenor_norge", "@TelenorSupport"}));
  EXPECT_EQ(telenor.hashtags, (std::vector<std::string>{"#telenor", "#telenornorge"}));
  EXPECT_EQ(telenor.exclusions, (std::vector<std::string>{"telenor arena"}));
  EXPECT_EQ(telenor.location.line, 2);
  EXPECT_EQ(telenor.location.column, 5);
  const BrandSpec& yoigo = spec.brands[1];
  EXPECT_EQ(yoigo.name, "yoigo") << "the name defaults to the id";
  EXPECT_EQ(yoigo.group, "");
  EXPECT_EQ(yoigo.terms, (std::vector<std::string>{"yoigo"})) << "a single string is a list";
}

TEST(WatchlistTest, PunctuationDigitsAndOtherScriptsAreFine) {
  WatchlistSpec spec = Parse(R"(brands:
  - {id: att, terms: ["at&t", "o2", "movistar+", "ice.no", "másmóvil", "ソニー", "Мегафон"]}
  - {id: handles-only, handles: ["@x"]}
  - {id: hashtags-only, hashtags: [ñ]}
)");
  ASSERT_EQ(spec.brands.size(), 3u);
  EXPECT_EQ(spec.brands[0].terms.size(), 7u);
  EXPECT_EQ(spec.brands[2].hashtags, (std::vector<std::string>{"#ñ"}));
}

TEST(WatchlistTest, EnvironmentVariablesWorkInEntries) {
  setenv("BRANDPULSE_WATCHLIST_TEST_TERM", "telia", 1);
  WatchlistSpec spec =
      Parse("brands:\n  - {id: t, terms: [\"${BRANDPULSE_WATCHLIST_TEST_TERM}\"]}\n");
  ASSERT_EQ(spec.brands.size(), 1u);
  EXPECT_EQ(spec.brands[0].terms, (std::vector<std::string>{"telia"}));
}

TEST(WatchlistErrorTest, UnknownKeySuggestsTheRightOne) {
  EXPECT_EQ(Errors(R"(brands:
  - id: telenor
    term: [telenor]
    hashtags: [telenor]
)"),
            "w.yaml:3:5: error: unknown key 'term' in brand 'telenor' (hint: did you mean "
            "'terms'?)\n");
  EXPECT_EQ(Errors("brands:\n  - {id: ice, terms: [ice mobil], excludes: [ice cream]}\n"),
            "w.yaml:2:35: error: unknown key 'excludes' in brand 'ice' (hint: did you mean "
            "'exclude'?)\n");
  EXPECT_EQ(Errors("brand:\n  - {id: a, terms: [a]}\n"),
            "w.yaml:1:1: error: watchlist is missing required key 'brands'\n"
            "w.yaml:1:1: error: unknown key 'brand' in watchlist (hint: did you mean 'brands'?)\n");
}

TEST(WatchlistErrorTest, DuplicateIdPointsAtTheSecondOne) {
  EXPECT_EQ(Errors(R"(brands:
  - id: telenor
    terms: [telenor]
  - id: telia
    terms: [telia]
  - id: telenor
    terms: [telenor norge]
)"),
            "w.yaml:6:9: error: duplicate brand id 'telenor' (hint: the first is at line 2)\n");
}

TEST(WatchlistErrorTest, MissingAndMalformedIdsAndGroups) {
  EXPECT_EQ(Errors(R"(brands:
  - id: telenor
    terms: [telenor]
  - name: Telia
    terms: [telia]
  - id: Bad Id
    group: Nordic Telecom
    terms: [x]
)"),
            "w.yaml:4:5: error: brand #2 is missing required key 'id'\n"
            "w.yaml:6:9: error: brand id 'Bad Id' is not valid (hint: use lowercase letters, "
            "digits, '-' and '_')\n"
            "w.yaml:7:12: error: group 'Nordic Telecom' of brand 'Bad Id' is not valid (hint: use "
            "lowercase letters, digits, '-' and '_', e.g. nordic-telecom)\n");
}

TEST(WatchlistErrorTest, BrandWithNothingToMatch) {
  EXPECT_EQ(Errors(R"(brands:
  - id: ice
    name: Ice
    exclude: [ice cream]
  - id: telia
    terms: []
)"),
            "w.yaml:2:5: error: brand 'ice' has no terms, handles, hashtags or query (hint: add terms: "
            "[...] or a query so something can match)\n"
            "w.yaml:5:5: error: brand 'telia' has no terms, handles, hashtags or query (hint: add terms: "
            "[...] or a query so something can match)\n");
}

TEST(WatchlistErrorTest, EmptyEntriesPointAtTheEntry) {
  EXPECT_EQ(Errors(R"(brands:
  - id: telenor
    terms: [telenor, "  ", ""]
    handles: ["@"]
    hashtags:
      - "# "
)"),
            "w.yaml:3:22: error: brand 'telenor' has an empty terms entry '  ' (hint: every "
            "entry needs at least one letter or digit)\n"
            "w.yaml:3:28: error: brand 'telenor' has an empty terms entry '' (hint: every entry "
            "needs at least one letter or digit)\n"
            "w.yaml:4:15: error: brand 'telenor' has an empty handles entry '@' (hint: every "
            "entry needs at least one letter or digit)\n"
            "w.yaml:6:9: error: brand 'telenor' has an empty hashtags entry '# ' (hint: every "
            "entry needs at least one letter or digit)\n");
}

TEST(WatchlistErrorTest, EntriesThatCannotMatchAsWholeWords) {
  const std::string hint =
      " (hint: use letters or digits, with spaces or punctuation between words)\n";
  EXPECT_EQ(Errors("brands:\n  - {id: a, terms: [\"!!!\"]}\n"),
            "w.yaml:2:21: error: brand 'a' term '!!!' cannot match as a whole word: it has no "
            "letter or digit" +
                hint);
  EXPECT_EQ(Errors("brands:\n  - {id: a, terms: [\"🙂\"]}\n"),
            "w.yaml:2:21: error: brand 'a' term '🙂' cannot match as a whole word: it has no "
            "letter or digit" +
                hint);
  EXPECT_EQ(Errors("brands:\n  - {id: a, terms: [\"\u0301o\"]}\n"),
            "w.yaml:2:21: error: brand 'a' term '\u0301o' cannot match as a whole word: it "
            "starts with a combining mark, which always joins the letter before it" +
                hint);
  EXPECT_EQ(Errors("brands:\n  - {id: a, handles: [\"@telenor norge\"]}\n"),
            "w.yaml:2:23: error: brand 'a' handle '@telenor norge' cannot match as a whole word: "
            "it contains a space, and handles and hashtags are one word (hint: write it as posts "
            "do, e.g. '@telenor_norge')\n");
  EXPECT_EQ(Errors("brands:\n  - {id: a, terms: [\"tele\\u0007nor\"]}\n"),
            "w.yaml:2:21: error: brand 'a' term 'tele\\x07nor' cannot match as a whole word: it "
            "contains a control character" +
                hint);
  EXPECT_EQ(Errors("brands:\n  - {id: a, terms: [\"tele\xffnor\"]}\n"),
            "w.yaml:2:21: error: brand 'a' term 'tele\xffnor' cannot match as a whole word: it "
            "is not valid UTF-8" +
                hint);
  EXPECT_EQ(Errors("brands:\n  - {id: a, hashtags: [\"##a\"]}\n"),
            "w.yaml:2:24: error: brand 'a' hashtag '##a' starts with '##' (hint: write one '#' "
            "(or none))\n");
}

TEST(WatchlistErrorTest, ExclusionEqualToATerm) {
  EXPECT_EQ(Errors("brands:\n  - {id: ice, terms: [ice], exclude: [ice cream, ICE]}\n"),
            "w.yaml:2:50: error: 'ICE' is both matched and excluded in brand 'ice' (hint: an "
            "exclusion should be a longer phrase, e.g. 'ice cream' for 'ice')\n");
}

TEST(WatchlistErrorTest, WrongShapes) {
  EXPECT_EQ(Errors("brands: telenor\n"),
            "w.yaml:1:9: error: 'brands' must be a non-empty list (hint: write one '- id: ...' "
            "entry per brand)\n");
  EXPECT_EQ(Errors("brands: []\n"),
            "w.yaml:1:9: error: 'brands' must be a non-empty list (hint: write one '- id: ...' "
            "entry per brand)\n");
  EXPECT_EQ(Errors("brands:\n  - telenor\n"),
            "w.yaml:2:5: error: brand #1 must be a mapping of keys (hint: write 'key: value' "
            "lines indented under it)\n");
  EXPECT_EQ(Errors("brands:\n  - {id: a, terms: {x: y}}\n"),
            "w.yaml:2:20: error: 'terms' in brand 'a' must be a list (hint: write [a, b] or one "
            "'- item' per line)\n");
  EXPECT_EQ(Errors("brands:\n  - {id: a, terms: [[x]]}\n"),
            "w.yaml:2:21: error: each of 'terms' in brand 'a' must be a string (hint: quote it: "
            "\"...\")\n");
}

TEST(WatchlistErrorTest, KeyWrittenTwice) {
  EXPECT_EQ(Errors(R"(brands:
  - id: telenor
    terms: [telenor]
    terms: [telenor norge]
)"),
            "w.yaml:4:5: error: key 'terms' appears twice in brand 'telenor' (hint: merge the two "
            "into one)\n");
}

TEST(WatchlistErrorTest, YamlSyntaxHasLineAndColumn) {
  Diagnostics diagnostics;
  EXPECT_FALSE(ParseWatchlist("brands:\n  - id: a\n    terms: [a, b\n", "w.yaml", diagnostics));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics.items()[0].location.file, "w.yaml");
  EXPECT_GE(diagnostics.items()[0].location.line, 3);
  EXPECT_NE(diagnostics.items()[0].message.find("YAML syntax"), std::string::npos);
}

TEST(WatchlistErrorTest, EveryProblemIsReportedAtOnce) {
  std::string errors = Errors(R"(brands:
  - id: telenor
    term: [telenor]
  - id: BAD
    terms: ["!"]
  - id: telenor
    terms: [x]
)");
  EXPECT_EQ(std::count(errors.begin(), errors.end(), '\n'), 5) << errors;
}

TEST(WatchlistFileTest, MissingFileIsADiagnostic) {
  Diagnostics diagnostics;
  EXPECT_FALSE(LoadWatchlist("/nonexistent/watchlist.yaml", diagnostics));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics.items()[0].location.file, "/nonexistent/watchlist.yaml");
}

TEST(WatchlistFileTest, TheDemoWatchlistIsValidAndComplete) {
  const std::string path =
      std::string(BRANDPULSE_SOURCE_DIR) + "/pipelines/watchlists/nordic-spanish-telecoms.yaml";
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> spec = LoadWatchlist(path, diagnostics);
  ASSERT_TRUE(spec.has_value()) << diagnostics.ToString();
  EXPECT_GE(spec->brands.size(), 12u);
  EXPECT_LE(spec->brands.size(), 16u);
  std::set<std::string> groups;
  for (const BrandSpec& brand : spec->brands) {
    SCOPED_TRACE(brand.id);
    groups.insert(brand.group);
    EXPECT_FALSE(brand.name.empty());
    EXPECT_FALSE(brand.terms.empty());
    EXPECT_GE(brand.handles.size(), 2u) << "press, support, offers, other languages";
    EXPECT_FALSE(brand.hashtags.empty());
  }
  EXPECT_EQ(groups, (std::set<std::string>{"nordic-telecom", "spanish-telecom"}));
  for (std::string_view id : {"telenor", "telia", "ice", "tele2", "elisa", "movistar", "telefonica",
                              "vodafone-es", "orange-es", "masmovil", "yoigo", "digi"}) {
    EXPECT_TRUE(std::any_of(spec->brands.begin(), spec->brands.end(), [&](const BrandSpec& brand) {
      return brand.id == id;
    })) << id;
  }
}

}  // namespace
}  // namespace brandpulse
