// Differential test of query matching: the compiled watchlist (one Hyperscan scan over folded,
// accent-stripped text, then query evaluation on the hit set) against a reference written
// plainly: decode the text into code points, try every term at every position comparing code
// point by code point, count words by walking the text, evaluate the query tree recursively.
// Random queries and posts mix Norwegian, Spanish, CJK and emoji text. The reference takes NFC
// and word characters (UAX #29 Word_Break) from ICU, not from engine/unicode.h. Plain entries
// (terms, handles, hashtags, exclusions) are checked the same way: one accent rule everywhere.
// Every failure prints the seed; BRANDPULSE_TEST_SEED=<seed> reruns it.
#include <gtest/gtest.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <set>

#include "engine/unicode.h"
#include "operators/hyperscan_match.h"
#include "operators/query.h"
#include "operators/watchlist.h"

namespace brandpulse {
namespace {

struct CodePoint {
  uint32_t value;
  uint32_t begin;
  uint32_t end;
};

std::vector<CodePoint> Decode(std::string_view text) {
  std::vector<CodePoint> out;
  for (size_t position = 0; position < text.size();) {
    DecodedCodePoint decoded = DecodeCodePointAt(text, position);
    out.push_back(CodePoint{decoded.code_point, static_cast<uint32_t>(position),
                            static_cast<uint32_t>(position + decoded.length)});
    position += decoded.length;
  }
  return out;
}

bool IsMark(uint32_t c) { return c >= 0x300 && c <= 0x36F; }

std::string Nfc(std::string_view text) {
  UErrorCode error = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(error);
  icu::UnicodeString normalized =
      nfc->normalize(icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), text.size())), error);
  std::string out;
  normalized.toUTF8String(out);
  return U_SUCCESS(error) ? out : std::string(text);
}

// A word character by UAX #29 (ICU's Word_Break property), plus the letters and digits of the
// unspaced scripts, minus emoji parts: docs/queries.md's definition, from another source.
bool IsWord(uint32_t c) {
  if ((c >= 0xFE00 && c <= 0xFE0F) || (c >= 0x20D0 && c <= 0x20FF) || (c >= 0x1F000 && c <= 0x1FAFF)) {
    return false;
  }
  switch (u_getIntPropertyValue(static_cast<UChar32>(c), UCHAR_WORD_BREAK)) {
    case U_WB_ALETTER:
    case U_WB_HEBREW_LETTER:
    case U_WB_NUMERIC:
    case U_WB_KATAKANA:
    case U_WB_EXTENDNUMLET:
      return true;
    case U_WB_EXTEND:
      if ((U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_M_MASK) != 0) return true;
      [[fallthrough]];
    default:
      return IsUnspacedScript(c) &&
             (U_GET_GC_MASK(static_cast<UChar32>(c)) & (U_GC_L_MASK | U_GC_M_MASK | U_GC_N_MASK)) != 0;
  }
}

// The one-sided whole-word rule, written from its description: a letter or digit of a spaced
// script must not touch the hit, unless one of the two characters is of an unspaced script.
bool Touches(uint32_t outside, uint32_t inside) {
  return IsWord(outside) && !IsUnspacedScript(outside) && !IsUnspacedScript(inside);
}

struct Span {
  uint32_t begin;  // index into code points
  uint32_t end;
};

std::vector<Span> ReferenceFind(const std::vector<CodePoint>& text, const QueryNode& term) {
  std::vector<CodePoint> pattern = Decode(term.text);
  std::vector<Span> spans;
  auto same = [&](uint32_t text_char, uint32_t term_char) {
    switch (term.match_case) {
      case QueryCase::kExact:
        return text_char == term_char;
      case QueryCase::kAccentExact:
        return FoldCodePoint(text_char) == FoldCodePoint(term_char);
      case QueryCase::kLoose:
        return StripAccent(FoldCodePoint(text_char)) == StripAccent(FoldCodePoint(term_char));
    }
    return false;
  };
  for (uint32_t start = 0; start < text.size(); ++start) {
    if (term.match_case == QueryCase::kLoose && IsMark(text[start].value)) continue;
    uint32_t at = start;
    bool ok = true;
    for (size_t k = 0; k < pattern.size(); ++k) {
      if (term.match_case == QueryCase::kLoose) {
        while (k > 0 && at < text.size() && IsMark(text[at].value)) ++at;  // marks are dropped
      }
      if (term.single_wildcards && pattern[k].value == '?') {
        if (at >= text.size() || !IsWord(text[at].value) || IsMark(text[at].value)) {
          ok = false;
          break;
        }
        ++at;
        continue;
      }
      if (at >= text.size() || !same(text[at].value, pattern[k].value)) {
        ok = false;
        break;
      }
      ++at;
    }
    if (!ok) continue;
    uint32_t end = at;
    if (term.match_case == QueryCase::kLoose) {
      while (end < text.size() && IsMark(text[end].value)) ++end;
    }
    const uint32_t first = FoldCodePoint(pattern.front().value);
    const uint32_t last = FoldCodePoint(pattern.back().value);
    const bool sigil = first == '#' || first == '@' || first == '$';
    if ((IsWord(first) || sigil) && start > 0 && Touches(text[start - 1].value, text[start].value)) {
      continue;
    }
    if (term.prefix) {
      while (end < text.size() && IsWord(text[end].value) && !IsUnspacedScript(text[end].value)) {
        ++end;
      }
    } else if (IsWord(last) && end < text.size() &&
               Touches(text[end].value, text[end - 1].value)) {
      continue;
    }
    spans.push_back(Span{start, end});
  }
  return spans;
}

class Reference {
 public:
  Reference(const Query& query, const Post& post) : query_(query), post_(post) {
    text_ = Decode(Nfc(post.text));
    // Words: runs of word characters; an unspaced-script character is a word by itself.
    bool in_word = false;
    for (uint32_t i = 0; i < text_.size(); ++i) {
      bool word = IsWord(text_[i].value);
      bool unspaced = word && IsUnspacedScript(text_[i].value);
      if (word && (!in_word || unspaced)) word_starts_.push_back(i);
      in_word = word && !unspaced;
    }
  }

  bool Evaluate(uint32_t index) {
    const QueryNode& node = query_.nodes[index];
    switch (node.op) {
      case QueryOp::kTerm:
        return !Spans(index).empty();
      case QueryOp::kField: {
        std::string_view value = node.field == QueryField::kAuthor    ? post_.author_handle
                                 : node.field == QueryField::kReplyTo ? post_.reply_to_handle
                                                                      : post_.language;
        std::string lower;
        for (char c : value) lower.push_back(static_cast<char>(std::tolower(c)));
        if (node.field == QueryField::kLanguage) {
          return lower == node.text || lower.rfind(node.text + "-", 0) == 0;
        }
        return lower == node.text;
      }
      case QueryOp::kNot:
        return !Evaluate(node.children[0]);
      case QueryOp::kAnd:
        for (uint32_t child : node.children) {
          if (!Evaluate(child)) return false;
        }
        return true;
      case QueryOp::kOr:
        for (uint32_t child : node.children) {
          if (Evaluate(child)) return true;
        }
        return false;
      case QueryOp::kNear: {
        std::vector<Span> left = SideSpans(node.children[0]);
        std::vector<Span> right = SideSpans(node.children[1]);
        for (const Span& a : left) {
          for (const Span& b : right) {
            if (a.end <= b.begin && WordsBetween(a.end, b.begin) <= node.near_distance) return true;
            if (!node.near_ordered && b.end <= a.begin &&
                WordsBetween(b.end, a.begin) <= node.near_distance) {
              return true;
            }
          }
        }
        return false;
      }
    }
    return false;
  }

 private:
  std::vector<Span> Spans(uint32_t index) { return ReferenceFind(text_, query_.nodes[index]); }
  std::vector<Span> SideSpans(uint32_t index) {
    const QueryNode& node = query_.nodes[index];
    if (node.op == QueryOp::kTerm) return Spans(index);
    std::vector<Span> all;
    for (uint32_t child : node.children) {
      std::vector<Span> spans = SideSpans(child);
      all.insert(all.end(), spans.begin(), spans.end());
    }
    return all;
  }
  // Words starting at code points [from, to).
  uint32_t WordsBetween(uint32_t from, uint32_t to) const {
    uint32_t count = 0;
    for (uint32_t start : word_starts_) count += start >= from && start < to;
    return count;
  }

  const Query& query_;
  const Post& post_;
  std::vector<CodePoint> text_;
  std::vector<uint32_t> word_starts_;
};

// ---------------------------------------------------------------------------------------------
// Random queries and posts.

const std::vector<std::string> kWords = {
    "colour", "color", "colr", "coloxr",
    "telenor", "telia",  "ice",     "mobil",     "dekning", "blåbær", "søt",    "mør",
    "hytta",   "nett",   "telefónica", "telefonica", "móvil", "movil", "señal", "niño",
    "movistar", "orange", "apple",  "iphone",    "ソニー",   "索尼",    "新型",    "🍎",
    "🔥",      "#telenor", "@telia_norge", "$tel", "arena",  "cream",  "å",      "øl",
    "#telefónica", "#movil", "@señal_es", "movistar²", "inglés", "ingles", "corte"};
const std::vector<std::string> kFiller = {"og",  "y",   "la",  "er",   "the", "på", "de",
                                          "の",  "电视", "🙂",   "...",  "!",   "¿",  "5g",
                                          "x",   "ab",  "Ærlig", "æ",  "ñ", "½", "²", "MOVISTAR²"};

class Generator {
 public:
  explicit Generator(uint64_t seed) : random_(seed) {}

  size_t Below(size_t n) { return random_() % n; }

  std::string Leaf() {
    const std::string& word = kWords[Below(kWords.size())];
    switch (Below(8)) {
      case 0:
        return "\"" + word + " " + kWords[Below(kWords.size())] + "\"";
      case 1:
        if (word.size() >= 4 && static_cast<uint8_t>(word[0]) < 0x80 && word[0] != '#' &&
            word[0] != '@' && word[0] != '$') {
          size_t cut = 3 + Below(word.size() - 3);
          while (cut < word.size() && (static_cast<uint8_t>(word[cut]) & 0xC0) == 0x80) ++cut;
          return word.substr(0, cut) + "*";
        }
        return word;
      case 2:
        return "{" + Variant(word) + "}";
      case 3: {  // one '?' in an unaccented word of at least 4 ASCII letters
        bool ascii = word.size() >= 4 && std::all_of(word.begin(), word.end(), [](char c) {
          return c >= 'a' && c <= 'z';
        });
        if (!ascii) return word;
        std::string wild = word;
        wild[1 + Below(word.size() - 2)] = '?';
        return wild;
      }
      default:
        return word;
    }
  }

  // A positive query; depth bounds nesting.
  std::string Query(int depth) {
    if (depth == 0 || Below(3) == 0) {
      if (Below(8) == 0) return Below(2) ? "lang:no" : "lang:es";
      return Leaf();
    }
    switch (Below(4)) {
      case 0: {
        std::string near = fmt::format(" NEAR/{}{} ", Below(4), Below(3) == 0 ? "f" : "");
        return Leaf() + near + (Below(3) == 0 ? "(" + Leaf() + " OR " + Leaf() + ")" : Leaf());
      }
      case 1:
        return "(" + Query(depth - 1) + " AND NOT " + Leaf() + ")";
      case 2:
        return "(" + Query(depth - 1) + " AND " + Query(depth - 1) + ")";
      default:
        return "(" + Query(depth - 1) + " OR " + Query(depth - 1) + " OR " + Query(depth - 1) +
               ")";
    }
  }

  // Case, accent and form variants of a word as people type it.
  std::string Variant(const std::string& word) {
    std::string out = word;
    switch (Below(7)) {
      case 0:
        for (char& c : out) {
          if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
        }
        break;
      case 1:
        if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 32);
        break;
      case 2: {  // drop accents
        std::string plain;
        for (size_t i = 0; i < out.size();) {
          DecodedCodePoint decoded = DecodeCodePointAt(out, i);
          uint32_t base = StripAccent(decoded.code_point);
          if (base != 0) AppendUtf8(base, plain);
          i += decoded.length;
        }
        out = plain;
        break;
      }
      case 3: {  // NFD: e + U+0301 for é, o + U+0301 for ó, n + U+0303 for ñ
        std::string nfd;
        for (size_t i = 0; i < out.size();) {
          DecodedCodePoint decoded = DecodeCodePointAt(out, i);
          if (decoded.code_point == 0xE9) {
            nfd += "e\u0301";
          } else if (decoded.code_point == 0xF3) {
            nfd += "o\u0301";
          } else if (decoded.code_point == 0xF1) {
            nfd += "n\u0303";
          } else {
            nfd.append(out, i, decoded.length);
          }
          i += decoded.length;
        }
        out = nfd;
        break;
      }
      case 4:
        out += Below(2) ? "s" : "en";
        break;
      default:
        break;
    }
    return out;
  }

  std::string Text() {
    static const char* const kSeparators[] = {" ", " ", " ", "", ", ", "\n", "-", "(", "'"};
    std::string text;
    size_t words = 1 + Below(12);
    for (size_t i = 0; i < words; ++i) {
      text += Below(2) ? Variant(kWords[Below(kWords.size())]) : kFiller[Below(kFiller.size())];
      text += kSeparators[Below(std::size(kSeparators))];
    }
    return text;
  }

 private:
  std::mt19937_64 random_;
};

uint64_t TestSeed() {
  if (const char* seed = std::getenv("BRANDPULSE_TEST_SEED")) return std::strtoull(seed, nullptr, 10);
  return std::random_device{}();
}

TEST(QueryDifferentialTest, CompiledMatchingAgreesWithTheReference) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE(::testing::Message() << "seed " << seed << " (BRANDPULSE_TEST_SEED=" << seed
                                    << " reruns it)");
  Generator generator(seed);
  constexpr int kRounds = 8;
  constexpr int kBrands = 60;
  constexpr int kPosts = 600;
  size_t matches = 0;
  for (int round = 0; round < kRounds; ++round) {
    WatchlistSpec spec;
    spec.path = "generated";
    for (int b = 0; b < kBrands; ++b) {
      BrandSpec brand;
      brand.id = "b" + std::to_string(b);
      std::string text = generator.Query(3);
      Diagnostics diagnostics;
      brand.query = ParseQuery(text, SourceLocation{"generated", 1, 1}, 1, diagnostics);
      ASSERT_TRUE(brand.query) << "query: " << text << "\n" << diagnostics.ToString();
      spec.brands.push_back(std::move(brand));
    }
    auto compiled = CompiledWatchlist::Make(spec);
    ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
    auto scanner = (*compiled)->MakeScanner();
    ASSERT_TRUE(scanner.ok());
    std::vector<MatchedBrand> out;
    for (int i = 0; i < kPosts; ++i) {
      Post post;
      std::string text = generator.Text();
      post.text = text;
      post.language = generator.Below(3) == 0 ? "no" : generator.Below(2) ? "es" : "en";
      out.clear();
      (*compiled)->MatchPost(post, **scanner, out);
      std::set<uint32_t> actual;
      for (const MatchedBrand& brand : out) actual.insert(brand.brand_index);
      for (uint32_t b = 0; b < spec.brands.size(); ++b) {
        const Query& query = *spec.brands[b].query;
        bool expected = Reference(query, post).Evaluate(query.root);
        ASSERT_EQ(actual.count(b) == 1, expected)
            << "round " << round << " post " << i << "\ntext: \"" << text << "\" lang "
            << post.language << "\nquery: " << query.source << "\nparsed: "
            << FormatQueryNode(query, query.root);
        matches += expected;
      }
    }
  }
  // The generator must make the test meaningful: plenty of posts match something.
  EXPECT_GT(matches, 500u);
}

// Plain entries follow the rule of query terms: `telefonica` finds "Telefónica", an exclusion
// without accents removes the accented phrase, `#telefonica` finds "#Telefónica", {X} is exact.
bool ReferencePlainFound(const std::vector<CodePoint>& text, const std::string& entry) {
  QueryNode node;
  node.op = QueryOp::kTerm;
  if (entry.size() > 2 && entry.front() == '{' && entry.back() == '}') {
    node.text = entry.substr(1, entry.size() - 2);
    node.match_case = QueryCase::kExact;
  } else {
    node.text = entry;
    bool accented = false;
    for (const CodePoint& c : Decode(entry)) {
      accented |= StripAccent(FoldCodePoint(c.value)) != FoldCodePoint(c.value);
    }
    node.match_case = accented ? QueryCase::kAccentExact : QueryCase::kLoose;
  }
  return !ReferenceFind(text, node).empty();
}

TEST(QueryDifferentialTest, PlainEntriesFollowTheSameRule) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE(::testing::Message() << "seed " << seed << " (BRANDPULSE_TEST_SEED=" << seed
                                    << " reruns it)");
  Generator generator(seed);
  constexpr int kRounds = 6;
  constexpr int kBrands = 60;
  constexpr int kPosts = 600;
  auto word = [&](bool plain_only) {
    for (;;) {
      const std::string& w = kWords[generator.Below(kWords.size())];
      if (!plain_only || (w[0] != '#' && w[0] != '@' && w[0] != '$')) return w;
    }
  };
  size_t matches = 0;
  size_t excluded = 0;
  for (int round = 0; round < kRounds; ++round) {
    WatchlistSpec spec;
    spec.path = "generated";
    for (int b = 0; b < kBrands; ++b) {
      BrandSpec brand;
      brand.id = "p" + std::to_string(b);
      for (size_t i = 0, n = 1 + generator.Below(2); i < n; ++i) {
        switch (generator.Below(4)) {
          case 0:
            brand.terms.push_back(word(true) + " " + word(true));
            break;
          case 1:
            brand.terms.push_back("{" + generator.Variant(word(true)) + "}");
            break;
          default:
            brand.terms.push_back(word(false));
        }
      }
      if (generator.Below(2) == 0) brand.hashtags.push_back("#" + word(true));
      if (generator.Below(3) == 0) brand.handles.push_back("@" + word(true) + "_es");
      if (generator.Below(2) == 0) {
        brand.exclusions.push_back(generator.Below(2) ? word(true) + " " + word(true) : word(true));
      }
      if (generator.Below(3) == 0) {
        Diagnostics diagnostics;
        std::string text = generator.Query(2);
        brand.query = ParseQuery(text, SourceLocation{"generated", 1, 1}, 1, diagnostics);
        ASSERT_TRUE(brand.query) << text << "\n" << diagnostics.ToString();
      }
      spec.brands.push_back(std::move(brand));
    }
    auto compiled = CompiledWatchlist::Make(spec);
    ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
    auto scanner = (*compiled)->MakeScanner();
    ASSERT_TRUE(scanner.ok());
    std::vector<MatchedBrand> out;
    for (int i = 0; i < kPosts; ++i) {
      Post post;
      std::string text = generator.Text();
      if (generator.Below(4) == 0) text += " " + generator.Variant("@" + word(true) + "_es");
      if (generator.Below(4) == 0) text += " #" + generator.Variant(word(true));
      post.text = text;
      post.language = generator.Below(2) ? "no" : "es";
      out.clear();
      (*compiled)->MatchPost(post, **scanner, out);
      std::set<uint32_t> actual;
      for (const MatchedBrand& brand : out) actual.insert(brand.brand_index);
      const std::vector<CodePoint> reference_text = Decode(Nfc(text));
      for (uint32_t b = 0; b < spec.brands.size(); ++b) {
        const BrandSpec& brand = spec.brands[b];
        bool found = false;
        for (const auto* list : {&brand.terms, &brand.hashtags, &brand.handles}) {
          for (const std::string& entry : *list) found |= ReferencePlainFound(reference_text, entry);
        }
        if (!found && brand.query) found = Reference(*brand.query, post).Evaluate(brand.query->root);
        bool removed = false;
        for (const std::string& entry : brand.exclusions) {
          removed |= ReferencePlainFound(reference_text, entry);
        }
        const bool expected = found && !removed;
        ASSERT_EQ(actual.count(b) == 1, expected)
            << "round " << round << " post " << i << "\ntext: \"" << text << "\"\nterms: "
            << fmt::format("{}", fmt::join(brand.terms, " | ")) << "\nhashtags: "
            << fmt::format("{}", fmt::join(brand.hashtags, " | ")) << "\nhandles: "
            << fmt::format("{}", fmt::join(brand.handles, " | ")) << "\nexclude: "
            << fmt::format("{}", fmt::join(brand.exclusions, " | "))
            << "\nquery: " << (brand.query ? brand.query->source : "");
        matches += expected;
        excluded += found && removed;
      }
    }
  }
  EXPECT_GT(matches, 500u);
  EXPECT_GT(excluded, 20u);
}

}  // namespace
}  // namespace brandpulse
