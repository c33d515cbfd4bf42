// The matcher's two scan paths against each other and against a plain literal search, on a
// realistic watchlist (tests/fixtures/watchlists/realistic.yaml: 3,397 brands, a third written
// with accents, boolean queries, NEAR, '*' and '?' wildcards, exclusions, hashtags, handles,
// Greek, Cyrillic and Norwegian letters, {exact} entries) and real posts (tests/fixtures:
// VADER tweets, the ambiguity and enrichment sets, X/Twitter v2 pages), each also in upper
// case and with brand names written in other cases and with accents added.
//   fast:  MatchPost as the pipeline runs it (raw text scanned caselessly unless it has an
//          accent to strip);
//   strip: every text stripped before the scan (set_always_fold_and_strip);
//   plain: MatchTextWithFinder with std::string_view::find of every literal in the folded
//          text in place of Hyperscan (no database, no case variants);
//   every: every query term judged on every hit (set_judge_every_query_term: no lazy terms).
// All four must give the same brands with the same first hits for every post.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/batch.h"
#include "engine/diagnostics.h"
#include "engine/unicode.h"
#include "operators/hyperscan_match.h"
#include "operators/json_decode.h"
#include "operators/watchlist.h"

namespace brandpulse {
namespace {

const std::string kFixtures = std::string(BRANDPULSE_SOURCE_DIR) + "/tests/fixtures/";

std::vector<std::string> TsvTexts(const std::string& path, size_t text_column) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  std::vector<std::string> texts;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string field;
    for (size_t column = 0; std::getline(fields, field, '\t'); ++column) {
      if (column == text_column) texts.push_back(field);
    }
  }
  return texts;
}

std::vector<std::string> TwitterV2Texts(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  DecodeSpec spec;
  spec.format = DecodeFormat::kTwitterV2;
  auto decode = MakeJsonDecode(spec);
  EXPECT_TRUE(decode.ok());
  auto state = (*decode)->MakeState().value();
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  Batch batch;
  uint64_t position = 0;
  for (const std::string& line : lines) {
    position += line.size() + 1;
    batch.AddRecord(line, position);
  }
  batch.PadInput();
  EXPECT_TRUE((*decode)->Process(batch, *state).ok());
  std::vector<std::string> texts;
  for (const Post& post : batch.posts) texts.emplace_back(post.text);
  return texts;
}

std::string UpperAscii(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
  return text;
}

// Brand names of the watchlist in the spellings posts use.
const std::vector<std::string> kInserted = {
    "ΟΤΕ",       "Οτε",       "ΒΟΛΟΣ", "βόλος", "ΒΌΛΟΣ", "Βολος", "ЯНДЕКС такси", "Яндекс",
    "SØTT",      "Blåbær AS", "BLÅBÆR AS",  "kjøp litt søtt", "#Søtt",   "TELEFÓNICA",
    "Telefo\u0301nica", "línea telefónica", "Movistar", "BT", "bt", "ÆRLIG AS", "Ærlig AS",
    "colour paint", "COLOUR maling", "móvil", "Telenor", "TELENORSK", "telenett dekning",
    "@Telenor_Norge", "x@telenor_norge", "Ápple", "APPLE", "Açcenture", "Zóom", "Google"};

std::vector<std::string> Posts() {
  std::vector<std::string> base;
  for (const std::string& text : TsvTexts(kFixtures + "enrichment/vader_tweets.tsv", 3)) {
    base.push_back(text);
  }
  for (const std::string& text : TsvTexts(kFixtures + "enrichment/posts_tune.tsv", 3)) {
    base.push_back(text);
  }
  for (const std::string& text : TsvTexts(kFixtures + "ambiguity/posts.tsv", 3)) {
    base.push_back(text);
  }
  for (const char* file : {"brexit.jsonl", "geo_tweets.jsonl", "many_urls.jsonl", "cashtags.jsonl"}) {
    for (const std::string& text : TwitterV2Texts(kFixtures + "twitter-v2/" + file)) {
      base.push_back(text);
    }
  }
  std::vector<std::string> posts;
  for (size_t i = 0; i < base.size(); ++i) {
    posts.push_back(base[i]);
    if (i % 3 == 0) posts.push_back(UpperAscii(base[i]));
    if (i % 2 == 0) {
      const std::string& name = kInserted[i % kInserted.size()];
      const size_t cut = base[i].find(' ', base[i].size() / 2);
      std::string with_name = base[i];
      with_name.insert(cut == std::string::npos ? with_name.size() : cut, " " + name + " ");
      posts.push_back(with_name);
    }
  }
  return posts;
}

std::string Describe(const CompiledWatchlist& watchlist, const std::vector<MatchedBrand>& brands) {
  std::string out;
  for (const MatchedBrand& brand : brands) {
    out += watchlist.brand(brand.brand_index).id + "[" + std::to_string(brand.begin) + "," +
           std::to_string(brand.end) + ") ";
  }
  return out;
}

struct Tally {
  size_t matched_posts = 0;
  size_t query_brand_hits = 0;
  size_t accented_hits = 0;
  size_t special_hits = 0;
};

// Matches every post three ways (see the top of the file); fails on the first difference.
void CompareThreeWays(const std::string& watchlist_file, const std::vector<std::string>& posts,
                      Tally& tally) {
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> spec = LoadWatchlist(kFixtures + watchlist_file, diagnostics);
  ASSERT_TRUE(spec.has_value());
  auto compiled = CompiledWatchlist::Make(*spec);
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  const CompiledWatchlist& watchlist = **compiled;
  auto fast_scanner = watchlist.MakeScanner().value();
  auto strip_scanner = watchlist.MakeScanner().value();
  strip_scanner->set_always_fold_and_strip(true);
  auto plain_scanner = watchlist.MakeScanner().value();
  auto every_scanner = watchlist.MakeScanner().value();
  every_scanner->set_judge_every_query_term(true);
  std::string folded;
  CompiledWatchlist::HitFinder plain = [&](std::string_view scanned, bool /*raw*/,
                                           std::vector<CompiledWatchlist::FoundHit>& hits) {
    FoldCase(scanned, folded);
    for (uint32_t id = 0; id < watchlist.pattern_count(); ++id) {
      const std::string_view literal = watchlist.pattern_literal(id);
      for (size_t at = folded.find(literal); at != std::string::npos;
           at = folded.find(literal, at + 1)) {
        hits.push_back({id, static_cast<uint32_t>(at), static_cast<uint32_t>(at + literal.size())});
      }
    }
  };
  std::vector<MatchedBrand> fast;
  std::vector<MatchedBrand> strip;
  std::vector<MatchedBrand> found;
  std::vector<MatchedBrand> every;
  for (const std::string& text : posts) {
    fast.clear();
    strip.clear();
    found.clear();
    every.clear();
    watchlist.MatchText(text, *fast_scanner, fast);
    watchlist.MatchText(text, *strip_scanner, strip);
    watchlist.MatchTextWithFinder(text, *plain_scanner, plain, found);
    watchlist.MatchText(text, *every_scanner, every);
    const std::string fast_text = Describe(watchlist, fast);
    ASSERT_EQ(fast_text, Describe(watchlist, strip)) << "post: " << text;
    ASSERT_EQ(fast_text, Describe(watchlist, found)) << "post: " << text;
    ASSERT_EQ(fast_text, Describe(watchlist, every)) << "post: " << text;
    tally.matched_posts += !fast.empty();
    for (const MatchedBrand& brand : fast) {
      const BrandSpec& spec_brand = watchlist.brand(brand.brand_index);
      tally.query_brand_hits += spec_brand.query.has_value();
      tally.accented_hits +=
          HasStrippableAccent(spec_brand.terms.empty() ? "" : spec_brand.terms[0]);
      tally.special_hits += spec_brand.id.starts_with("x-");
    }
  }
  ASSERT_TRUE(fast_scanner->status().ok());
}

TEST(MatchPaths, FastStripAndPlainSearchAgreeOnRealPosts) {
  const std::vector<std::string> posts = Posts();
  ASSERT_GT(posts.size(), 7000u);
  Tally tally;
  CompareThreeWays("watchlists/realistic.yaml", posts, tally);
  // The comparison means something only if every kind of entry matched somewhere.
  EXPECT_GT(tally.matched_posts, 1000u);
  EXPECT_GT(tally.query_brand_hits, 100u);
  EXPECT_GT(tally.accented_hits, 20u);
  EXPECT_GT(tally.special_hits, 200u);
}

// A term with too many spellings in other cases: non-ASCII texts are folded before the scan.
TEST(MatchPaths, AgreeWhenATermHasTooManyCaseVariants) {
  std::vector<std::string> posts = Posts();
  for (const char* text : {"ΚΩΤΣΌΒΟΛΟΣ έκλεισε", "Κωτσόβολος", "κωτσοβολος", "ΟΤΕ και SØTT",
                           "BLÅBÆR AS", "Movistar y TELEFÓNICA", "línea telefónica movistar",
                           "new iPhone", "IPHONE is new", "ipho e"}) {
    posts.push_back(text);
  }
  Tally tally;
  CompareThreeWays("watchlists/many-case-variants.yaml", posts, tally);
  EXPECT_GT(tally.matched_posts, 50u);
}

// Non-ASCII letters of a term are found in any case without folding the text, and a text with
// an accent to strip still finds the unaccented term.
TEST(MatchPaths, CaseVariantsAndAccents) {
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> spec =
      LoadWatchlist(kFixtures + "watchlists/realistic.yaml", diagnostics);
  ASSERT_TRUE(spec.has_value());
  auto compiled = CompiledWatchlist::Make(*spec);
  ASSERT_TRUE(compiled.ok());
  const CompiledWatchlist& watchlist = **compiled;
  auto scanner = watchlist.MakeScanner().value();
  auto brands_in = [&](std::string_view text) {
    std::vector<MatchedBrand> out;
    watchlist.MatchText(text, *scanner, out);
    std::string ids;
    for (const MatchedBrand& brand : out) ids += watchlist.brand(brand.brand_index).id + " ";
    return ids;
  };
  EXPECT_EQ(brands_in("ΒΟΛΟΣ έκλεισε"), "x-greek ");
  EXPECT_EQ(brands_in("Βολοσ"), "x-greek ");
  EXPECT_EQ(brands_in("Βόλος"), "");  // Greek accents are not stripped
  EXPECT_EQ(brands_in("ΟΤΕ"), "x-greek ");
  EXPECT_EQ(brands_in("ЯНДЕКС"), "x-cyrillic ");
  EXPECT_EQ(brands_in("SØTT"), "x-norsk ");
  EXPECT_EQ(brands_in("BLÅBÆR AS"), "x-norsk ");
  EXPECT_EQ(brands_in("TELEFÓNICA"), "x-telefonica ");
  EXPECT_EQ(brands_in("Telefo\u0301nica"), "x-telefonica ");
  EXPECT_EQ(brands_in("línea telefónica"), "");
  EXPECT_EQ(brands_in("bt"), "");
  EXPECT_EQ(brands_in("BT"), "x-exact ");
  EXPECT_EQ(brands_in("ærlig as"), "");
  EXPECT_EQ(brands_in("Ærlig AS"), "x-exact ");
  EXPECT_EQ(brands_in("TELENORSK"), "");
  EXPECT_EQ(brands_in("mövil"), "x-wild ");
}

}  // namespace
}  // namespace brandpulse

namespace brandpulse {
namespace {

// The matcher judges hits on the text as written, not on its fold: that is only right because
// case never changes whether a character is a word character, an unspaced-script character or
// a combining mark that an unaccented term takes. Checked for every code point.
TEST(MatchPaths, CaseDoesNotChangeWhatTheBoundaryCheckSees) {
  for (uint32_t code_point = 0; code_point <= 0x10FFFF; ++code_point) {
    if (code_point >= 0xD800 && code_point <= 0xDFFF) continue;
    const uint32_t folded = FoldCodePoint(code_point);
    if (folded == code_point) continue;
    ASSERT_EQ(IsWordCodePoint(code_point), IsWordCodePoint(folded)) << std::hex << code_point;
    ASSERT_EQ(IsUnspacedScript(code_point), IsUnspacedScript(folded)) << std::hex << code_point;
    ASSERT_NE(StripAccent(folded), 0u) << std::hex << code_point;
  }
}

}  // namespace
}  // namespace brandpulse
