// Whole-word matching across scripts, exclusions, handles and hashtags, and a randomized
// differential test of the Hyperscan path against a plain reference matcher.
#include "operators/hyperscan_match.h"

#include <random>

#include <gtest/gtest.h>

#include "engine/unicode.h"

namespace brandpulse {
namespace {

WatchlistSpec Watchlist(std::string_view yaml) {
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> spec = ParseWatchlist(yaml, "test.yaml", diagnostics);
  EXPECT_TRUE(spec.has_value()) << diagnostics.ToString();
  return spec.value_or(WatchlistSpec{});
}

constexpr std::string_view kTelecoms = R"(
brands:
  - id: telenor
    terms: [telenor, telenor norge]
    handles: ["@telenor_norge"]
    hashtags: [telenor]
    exclude: [telenor arena]
  - id: telefonica
    terms: [telefónica]
  - id: movistar
    terms: [movistar, movistar+]
  - id: sony
    terms: [ソニー]
  - id: att
    terms: [at&t]
  - id: shared
    terms: [telenor]
)";

class MatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto compiled = CompiledWatchlist::Make(Watchlist(kTelecoms));
    ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
    watchlist_ = *compiled;
    auto scanner = watchlist_->MakeScanner();
    ASSERT_TRUE(scanner.ok());
    scanner_ = std::move(scanner).value();
  }

  // Ids of the brands matched in `text`, comma-separated.
  std::string Brands(std::string_view text) {
    std::vector<MatchedBrand> matched;
    watchlist_->MatchText(text, *scanner_, matched);
    std::string ids;
    for (const MatchedBrand& brand : matched) {
      if (!ids.empty()) ids += ",";
      ids += watchlist_->brand(brand.brand_index).id;
    }
    return ids;
  }

  std::shared_ptr<const CompiledWatchlist> watchlist_;
  std::unique_ptr<CompiledWatchlist::Scanner> scanner_;
};

TEST_F(MatchTest, WholeWordsNextToPunctuationAndEmoji) {
  for (std::string_view text : {"Telenor", "Telenor's network", "(Telenor)", "Telenor!",
                                "Telenor🙂", "🙂Telenor", "«Telenor»", "TELENOR.", "x,telenor,y",
                                "Bytter til Telenor i dag"}) {
    EXPECT_EQ(Brands(text), "telenor,shared") << text;
  }
}

TEST_F(MatchTest, NorwegianAndSpanishLettersAreWordCharacters) {
  for (std::string_view text : {"Telenorsk", "åTelenor", "Telenorå", "telenor_x", "øtelenor",
                                "Telenorñ", "éTelenor", "telenor2", "Telenor\u0301"}) {
    EXPECT_EQ(Brands(text), "") << text;
  }
  EXPECT_EQ(Brands("Telefónica sube"), "telefonica");
  EXPECT_EQ(Brands("TELEFÓNICA sube"), "telefonica");
  EXPECT_EQ(Brands("Telefónicas"), "");
  EXPECT_EQ(Brands("¡Movistar!"), "movistar");
  EXPECT_EQ(Brands("Movistar+ estrena"), "movistar");
}

TEST_F(MatchTest, UnspacedScriptsMatchInsideText) {
  EXPECT_EQ(Brands("ソニーの新製品"), "sony");
  EXPECT_EQ(Brands("新しいソニー"), "sony");
}

TEST_F(MatchTest, HandlesHashtagsAndTermsWithPunctuation) {
  EXPECT_EQ(Brands("spør @telenor_norge om dekning"), "telenor");
  EXPECT_EQ(Brands("#Telenor er nede"), "telenor,shared");
  EXPECT_EQ(Brands("mail me at x@telenor_norge"), "");
  EXPECT_EQ(Brands("@telenor_norgex"), "");
  EXPECT_EQ(Brands("AT&T strikes"), "att");
  EXPECT_EQ(Brands("WAT&T"), "");
}

TEST_F(MatchTest, ExclusionRemovesTheBrandButNotOthersOwningTheSameTerm) {
  EXPECT_EQ(Brands("Konsert i Telenor Arena i kveld"), "shared");
  EXPECT_EQ(Brands("Telenor Norge og Movistar"), "telenor,movistar,shared");
}

TEST_F(MatchTest, ExplainShowsAcceptedAndRejectedHits) {
  std::vector<TermHit> hits = watchlist_->ExplainText("Telenorsk og Telenor", *scanner_);
  ASSERT_GE(hits.size(), 2u);
  EXPECT_FALSE(hits.front().accepted);
  EXPECT_EQ(hits.front().begin, 0u);
  EXPECT_TRUE(hits.back().accepted);
  EXPECT_EQ(hits.back().begin, 13u);
  EXPECT_EQ(hits.back().end, 20u);
}

TEST_F(MatchTest, TransformAddsMentionsInPostOrder) {
  auto transform = MakeHyperscanMatch(watchlist_);
  ASSERT_TRUE(transform.ok());
  Batch batch;
  for (std::string_view text : {"nothing", "Movistar y Telefónica", "Telenor"}) {
    Post post;
    post.text = text;
    batch.posts.push_back(post);
  }
  auto state = (*transform)->MakeState();
  ASSERT_TRUE((*transform)->Process(batch, *state).ok());
  ASSERT_EQ(batch.mentions.size(), 4u);
  EXPECT_EQ(batch.mentions[0].post_index, 1u);
  EXPECT_EQ(batch.mentions[2].post_index, 2u);
  // Brands of one post come in watchlist order: telefonica (index 1) before movistar (2).
  EXPECT_EQ(watchlist_->brand(batch.mentions[0].brand_index).id, "telefonica");
  EXPECT_EQ(batch.mentions[0].first_hit_begin, 11u);
  EXPECT_EQ(batch.mentions[0].first_hit_end, 22u);  // "Telefónica" is 11 bytes
  EXPECT_EQ(watchlist_->brand(batch.mentions[1].brand_index).id, "movistar");
  EXPECT_EQ(batch.mentions[1].first_hit_begin, 0u);
}

// The reference: fold both sides, find every occurrence with string_view::find, check the
// boundaries with the same word rule. Plain and slow on purpose.
std::vector<std::string> ReferenceMatch(const WatchlistSpec& spec, std::string_view text) {
  std::string folded_text;
  FoldCase(text, folded_text);
  std::vector<std::string> matched;
  for (const BrandSpec& brand : spec.brands) {
    auto found = [&](const std::string& term, bool sigil) {
      std::string folded_term;
      FoldCase(term, folded_term);
      for (size_t at = folded_text.find(folded_term); at != std::string::npos;
           at = folded_text.find(folded_term, at + 1)) {
        if (!IsWholeWordAt(folded_text, at, at + folded_term.size())) continue;
        if (sigil && at > 0) {
          uint32_t before = DecodeCodePointBefore(folded_text, at);
          if (IsWordCodePoint(before) || before == '@' || before == '#') continue;
        }
        return true;
      }
      return false;
    };
    bool hit = false, excluded = false;
    for (const std::string& term : brand.terms) hit = hit || found(term, false);
    for (const std::string& term : brand.handles) hit = hit || found(term, true);
    for (const std::string& term : brand.hashtags) hit = hit || found(term, true);
    for (const std::string& term : brand.exclusions) excluded = excluded || found(term, false);
    if (hit && !excluded) matched.push_back(brand.id);
  }
  return matched;
}

TEST(MatchDifferentialTest, HyperscanAgreesWithTheReferenceOnRandomTexts) {
  const WatchlistSpec spec = Watchlist(R"(
brands:
  - {id: telenor, terms: [telenor, telenor norge], handles: [telenor_no], exclude: [telenor arena]}
  - {id: telia, terms: [telia], hashtags: [telia]}
  - {id: ice, terms: [ice mobil, ice], exclude: [ice cream, iskrem]}
  - {id: movistar, terms: [movistar, movistar+]}
  - {id: telefonica, terms: [telefónica, telefonica]}
  - {id: masmovil, terms: [másmóvil, más móvil]}
  - {id: sony, terms: [ソニー, sony]}
  - {id: orange, terms: [orange], exclude: [orange juice]}
)");
  auto compiled = CompiledWatchlist::Make(spec);
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  auto scanner = (*compiled)->MakeScanner();
  ASSERT_TRUE(scanner.ok());
  const std::vector<std::string> pieces = {
      "telenor", "Telenor", "TELENOR", "norge", "arena", "telia", "#telia", "#Telia", "ice",
      "Ice", "mobil", "cream", "iskrem", "movistar", "Movistar+", "telefónica", "TELEFÓNICA",
      "telefonica", "másmóvil", "MÁS", "móvil", "ソニー", "の", "新製品", "sony", "orange", "juice",
      "@telenor_no", "telenor_no", "@", "#", "å", "ø", "æ", "ñ", "é", "🙂", "🔥", "!", ",", ".",
      "'s", "(", ")", "-", "_", "x", "2", "og", "y", "de", "und", "\u0301", "\xff"};
  const std::vector<std::string> separators = {" ", "", "", " ", "\n", "  "};
  uint64_t seed = 20261123;
  std::mt19937_64 random(seed);
  size_t with_matches = 0;
  for (int iteration = 0; iteration < 5000; ++iteration) {
    std::string text;
    size_t words = 1 + random() % 12;
    for (size_t i = 0; i < words; ++i) {
      text += pieces[random() % pieces.size()];
      text += separators[random() % separators.size()];
    }
    std::vector<MatchedBrand> matched;
    (*compiled)->MatchText(text, **scanner, matched);
    std::vector<std::string> actual;
    for (const MatchedBrand& brand : matched) actual.push_back((*compiled)->brand(brand.brand_index).id);
    std::vector<std::string> expected = ReferenceMatch(spec, text);
    with_matches += !expected.empty();
    ASSERT_EQ(actual, expected) << "seed " << seed << " iteration " << iteration << " text: " << text;
  }
  EXPECT_GT(with_matches, 1000u);
}

TEST(WatchlistTest, ErrorsHaveLineColumnAndHint) {
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> spec = ParseWatchlist(R"(brands:
  - id: telenor
    term: [telenor]
  - id: Bad Id
    terms: ["  "]
  - id: telenor
    terms: [x]
)", "w.yaml", diagnostics);
  EXPECT_FALSE(spec.has_value());
  std::string text = diagnostics.ToString();
  EXPECT_NE(text.find("w.yaml:3:5: error: unknown key 'term' in brand 'telenor' (hint: did you mean 'terms'?)"), std::string::npos) << text;
  EXPECT_NE(text.find("w.yaml:2:5: error: brand 'telenor' has no terms, handles or hashtags"), std::string::npos) << text;
  EXPECT_NE(text.find("w.yaml:4:9: error: brand id 'Bad Id' is not valid"), std::string::npos) << text;
  EXPECT_NE(text.find("w.yaml:5:12: error: brand 'Bad Id' has an empty terms entry"), std::string::npos) << text;
  EXPECT_NE(text.find("w.yaml:6:9: error: duplicate brand id 'telenor' (hint: the first is at line 2)"), std::string::npos) << text;
}

TEST(WatchlistTest, HandlesAndHashtagsGetTheirSigil) {
  WatchlistSpec spec = Watchlist("brands:\n  - {id: a, handles: [x, '@y'], hashtags: [z, '#w']}\n");
  ASSERT_EQ(spec.brands.size(), 1u);
  EXPECT_EQ(spec.brands[0].handles, (std::vector<std::string>{"@x", "@y"}));
  EXPECT_EQ(spec.brands[0].hashtags, (std::vector<std::string>{"#z", "#w"}));
  EXPECT_EQ(spec.brands[0].name, "a");
}

TEST(UnicodeTest, FoldKeepsByteLengthsAndLowercases) {
  std::string folded;
  FoldCase("ÆØÅ ÑÓ TELEFÓNICA ΑΒΓ ДЖ İ Ａ", folded);
  EXPECT_EQ(folded, "æøå ñó telefónica αβγ дж İ ａ");
}

TEST(UnicodeTest, WordCharacters) {
  for (uint32_t word : {uint32_t{'a'}, uint32_t{'Z'}, uint32_t{'7'}, uint32_t{'_'}, 0xE5u, 0xF1u,
                        0x0301u, 0x4E00u, 0x30BDu, 0xAC00u, 0x0416u}) {
    EXPECT_TRUE(IsWordCodePoint(word)) << std::hex << word;
  }
  for (uint32_t other : {uint32_t{' '}, uint32_t{'!'}, uint32_t{'@'}, uint32_t{'#'}, 0xD7u,
                         0x2019u, 0x1F642u, 0xFE0Fu, 0x200Du, 0x3002u, 0xFFFDu}) {
    EXPECT_FALSE(IsWordCodePoint(other)) << std::hex << other;
  }
  EXPECT_TRUE(IsUnspacedScript(0x30BD));
  EXPECT_FALSE(IsUnspacedScript(0xE5));
}

TEST(UnicodeTest, DecodingNeverFailsOnBadBytes) {
  size_t length = 0;
  EXPECT_EQ(DecodeCodePointAt("\xff", 0, &length), kReplacementCharacter);
  EXPECT_EQ(length, 1u);
  EXPECT_EQ(DecodeCodePointAt("\xc3", 0, &length), kReplacementCharacter);
  EXPECT_EQ(DecodeCodePointAt("\xc3\xa5", 0, &length), 0xE5u);
  EXPECT_EQ(length, 2u);
  EXPECT_EQ(DecodeCodePointBefore("x\xc3\xa5", 3), 0xE5u);
  EXPECT_EQ(DecodeCodePointBefore("\xa5", 1), kReplacementCharacter);
  EXPECT_EQ(DecodeCodePointAt("\xe0\x80\x80", 0, &length), kReplacementCharacter);  // overlong
}

}  // namespace
}  // namespace brandpulse
