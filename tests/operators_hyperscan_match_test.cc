// The match operator: whole words across scripts, punctuation and emoji; handles, hashtags and
// exclusions; the Transform; no allocation once warm; threads; the demo watchlist; and a
// randomized differential test of the Hyperscan path against a plain reference matcher.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "engine/unicode.h"
#include "operators/hyperscan_match.h"

// Counts every allocation through operator new, so a test can prove the hot path makes none.
// new and new[] take memory from malloc(), so every delete form is replaced too and gives it
// back with free(): a sanitizer's operator delete would otherwise see memory it did not hand
// out (AddressSanitizer: alloc-dealloc-mismatch). Not inlined, so the compiler does not see
// malloc() paired with delete and warn.
namespace {
std::atomic<size_t> allocation_count{0};
}  // namespace

[[gnu::noinline]] void* operator new(size_t size) {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](size_t size) { return operator new(size); }
[[gnu::noinline]] void operator delete(void* memory) noexcept { std::free(memory); }
[[gnu::noinline]] void operator delete(void* memory, size_t) noexcept { std::free(memory); }
[[gnu::noinline]] void operator delete[](void* memory) noexcept { std::free(memory); }
[[gnu::noinline]] void operator delete[](void* memory, size_t) noexcept { std::free(memory); }

namespace brandpulse {
namespace {

WatchlistSpec Watchlist(std::string_view yaml) {
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> spec = ParseWatchlist(yaml, "test.yaml", diagnostics);
  EXPECT_TRUE(spec.has_value()) << diagnostics.ToString();
  return spec.value_or(WatchlistSpec{});
}

std::shared_ptr<const CompiledWatchlist> Compile(const WatchlistSpec& spec) {
  Result<std::shared_ptr<const CompiledWatchlist>> compiled = CompiledWatchlist::Make(spec);
  EXPECT_TRUE(compiled.ok()) << compiled.status().ToString();
  return compiled.ok() ? compiled.value() : nullptr;
}

std::unique_ptr<CompiledWatchlist::Scanner> Scanner(const CompiledWatchlist& watchlist) {
  Result<std::unique_ptr<CompiledWatchlist::Scanner>> scanner = watchlist.MakeScanner();
  EXPECT_TRUE(scanner.ok()) << scanner.status().ToString();
  return scanner.ok() ? std::move(scanner).value() : nullptr;
}

WatchlistSpec DemoWatchlist() {
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> spec = LoadWatchlist(
      std::string(BRANDPULSE_SOURCE_DIR) + "/pipelines/watchlists/nordic-spanish-telecoms.yaml",
      diagnostics);
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
    terms: ["at&t", o2]
  - id: shared
    terms: [Telenor]
  - id: ice
    terms: [ice]
    hashtags: [icenorge]
    handles: [ice_norge]
    exclude: [ice cream]
)";

class MatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    watchlist_ = Compile(Watchlist(kTelecoms));
    ASSERT_NE(watchlist_, nullptr);
    scanner_ = Scanner(*watchlist_);
    ASSERT_NE(scanner_, nullptr);
  }

  std::vector<MatchedBrand> Matches(std::string_view text) {
    std::vector<MatchedBrand> matched;
    watchlist_->MatchText(text, *scanner_, matched);
    EXPECT_TRUE(scanner_->status().ok()) << scanner_->status().ToString();
    return matched;
  }

  // Ids of the brands matched in `text`, comma-separated, in brand order.
  std::string Brands(std::string_view text) {
    std::string ids;
    for (const MatchedBrand& brand : Matches(text)) {
      if (!ids.empty()) ids += ",";
      ids += watchlist_->brand(brand.brand_index).id;
    }
    return ids;
  }

  std::shared_ptr<const CompiledWatchlist> watchlist_;
  std::unique_ptr<CompiledWatchlist::Scanner> scanner_;
};

TEST_F(MatchTest, WholeWordsNextToPunctuationAndEmoji) {
  for (std::string_view text :
       {"Telenor", "Telenor's network", "Telenor’s nett", "(Telenor)", "Telenor!", "Telenor🙂",
        "🙂Telenor", "Telenor❤️", "«Telenor»", "TELENOR.", "x,telenor,y",
        "Bytter til Telenor i dag", "Telenor-kunder", "@Telenor", "¿Telenor?"}) {
    EXPECT_EQ(Brands(text), "telenor,shared") << text;
  }
  EXPECT_EQ(Brands("#Telenor"), "telenor,shared") << "the term and the hashtag both hit";
}

TEST_F(MatchTest, NorwegianAndSpanishLettersAreWordCharacters) {
  for (std::string_view text :
       {"Telenorsk", "åTelenor", "Telenorå", "telenor_x", "øtelenor", "ÆTelenor", "Telenorñ",
        "éTelenor", "telenor2", "2telenor", "ЖTelenor"}) {
    EXPECT_EQ(Brands(text), "") << text;
  }
  // r + U+0301 composes to ŕ, an accented r: an entry without accents finds it.
  EXPECT_EQ(Brands("Telenor\u0301"), "telenor,shared");
  EXPECT_EQ(Brands("Telefónica sube"), "telefonica");
  EXPECT_EQ(Brands("TELEFÓNICA sube"), "telefonica") << "Ó folds to ó";
  EXPECT_EQ(Brands("la Telefónica."), "telefonica");
  EXPECT_EQ(Brands("Telefónicas"), "");
  EXPECT_EQ(Brands("Telefonica"), "") << "accents are not stripped";
  EXPECT_EQ(Brands("Movistar."), "movistar");
  EXPECT_EQ(Brands("¡Movistar!"), "movistar");
  EXPECT_EQ(Brands("Movistar+ estrena"), "movistar");
  EXPECT_EQ(Brands("Movistarñ"), "");
}

TEST_F(MatchTest, UnspacedScriptsMatchInsideText) {
  EXPECT_EQ(Brands("ソニーの新製品"), "sony");
  EXPECT_EQ(Brands("新しいソニー"), "sony");
  EXPECT_EQ(Brands("ソニー"), "sony");
  EXPECT_EQ(Brands("新型Telenorを"), "telenor,shared") << "a Latin term inside Japanese text";
}

TEST_F(MatchTest, TermsWithPunctuationAndDigits) {
  EXPECT_EQ(Brands("AT&T strikes"), "att");
  EXPECT_EQ(Brands("(at&t)"), "att");
  EXPECT_EQ(Brands("WAT&T"), "");
  EXPECT_EQ(Brands("AT&Tx"), "");
  EXPECT_EQ(Brands("O2's network"), "att");
  EXPECT_EQ(Brands("4o2"), "");
  EXPECT_EQ(Brands("o22"), "");
}

TEST_F(MatchTest, HandlesAndHashtags) {
  EXPECT_EQ(Brands("spør @telenor_norge om dekning"), "telenor");
  EXPECT_EQ(Brands("spør @Telenor_Norge!"), "telenor");
  EXPECT_EQ(Brands("mail me at x@telenor_norge"), "") << "a word character before the '@'";
  EXPECT_EQ(Brands("@telenor_norgex"), "");
  EXPECT_EQ(Brands("@telenor_norge_2"), "");
  EXPECT_EQ(Brands("#icenorge"), "ice");
  EXPECT_EQ(Brands("#IceNorge!"), "ice");
  EXPECT_EQ(Brands("snø#icenorge"), "") << "a word character before the '#'";
  EXPECT_EQ(Brands("#icenorgeå"), "");
  EXPECT_EQ(Brands("icenorge"), "") << "without its '#' it is not the hashtag";
  EXPECT_EQ(Brands("@ice_norge"), "ice");
}

TEST_F(MatchTest, ExclusionsRemoveOnlyTheirBrand) {
  EXPECT_EQ(Brands("Konsert i Telenor Arena i kveld"), "shared") << "shared has no exclusion";
  EXPECT_EQ(Brands("Telenor Arena og @telenor_norge"), "shared") << "a post-wide exclusion";
  EXPECT_EQ(Brands("Telenor Arenaen"), "telenor,shared") << "an exclusion is a whole word too";
  EXPECT_EQ(Brands("Ice cream with Ice"), "");
  EXPECT_EQ(Brands("ICE CREAM"), "");
  EXPECT_EQ(Brands("Bytter til Ice i dag"), "ice");
  EXPECT_EQ(Brands("Ice creamery"), "ice") << "\"ice cream\" is not a whole word there";
}

TEST_F(MatchTest, SeveralBrandsInOnePostComeInBrandOrderWithTheirFirstHit) {
  std::string_view text = "Movistar y Telefónica, AT&T og Telenorsk Telenor norge";
  std::vector<MatchedBrand> matched = Matches(text);
  ASSERT_EQ(matched.size(), 5u);
  std::vector<std::string> ids;
  for (const MatchedBrand& brand : matched) ids.push_back(watchlist_->brand(brand.brand_index).id);
  EXPECT_EQ(ids, (std::vector<std::string>{"telenor", "telefonica", "movistar", "att", "shared"}));
  // Telenor: "Telenorsk" is rejected; the first accepted hit is the shorter of "Telenor" and
  // "Telenor norge", which both begin at the same byte.
  const uint32_t telenor = static_cast<uint32_t>(text.find("Telenor norge"));
  EXPECT_EQ(matched[0].begin, telenor);
  EXPECT_EQ(matched[0].end, telenor + 7);
  EXPECT_EQ(matched[1].begin, 11u);
  EXPECT_EQ(matched[1].end, 22u) << "\"Telefónica\" is 11 bytes";
  EXPECT_EQ(matched[2].begin, 0u);
  EXPECT_EQ(text.substr(matched[3].begin, matched[3].end - matched[3].begin), "AT&T");
  EXPECT_EQ(matched[4].begin, telenor);
}

TEST_F(MatchTest, ARejectedHitDoesNotHideALaterOne) {
  // Without SINGLEMATCH every occurrence reaches the boundary check.
  EXPECT_EQ(Brands("Telenorsk Telenorå telenor_x, men Telenor!"), "telenor,shared");
  std::vector<MatchedBrand> matched = Matches("TelenorTelenor Telenor");
  ASSERT_EQ(matched.size(), 2u);
  EXPECT_EQ(matched[0].begin, 15u);
}

TEST_F(MatchTest, SameTermInTwoBrandsIsOnePattern) {
  // "telenor" (telenor's term and hashtag body aside) and "Telenor" (shared) fold to one literal.
  // Patterns: telenor, telenor norge, @telenor_norge, #telenor, telenor arena, telefónica,
  // movistar, movistar+, ソニー, at&t, o2, ice, #icenorge, @ice_norge, ice cream.
  EXPECT_EQ(watchlist_->pattern_count(), 15u);
  EXPECT_GT(watchlist_->database_bytes(), 0u);
  EXPECT_GT(watchlist_->scratch_bytes(), 0u);
  EXPECT_EQ(watchlist_->FindBrand("shared"), 5u);
  EXPECT_EQ(watchlist_->FindBrand("nope"), std::nullopt);
}

TEST_F(MatchTest, ExplainShowsEveryOwnerOfEveryHit) {
  std::vector<TermHit> hits = watchlist_->ExplainText("Telenorsk og #Telenor", *scanner_);
  // "telenor" at 0 (rejected) for telenor and shared; "telenor" at 14 for both; "#telenor" at 13.
  ASSERT_EQ(hits.size(), 5u);
  EXPECT_FALSE(hits[0].accepted);
  EXPECT_EQ(hits[0].begin, 0u);
  EXPECT_EQ(hits[0].term, "telenor");
  EXPECT_EQ(hits[1].term, "Telenor") << "the term as the watchlist writes it";
  EXPECT_EQ(watchlist_->brand(hits[1].brand_index).id, "shared");
  EXPECT_TRUE(hits[2].accepted);
  EXPECT_EQ(hits[2].kind, TermKind::kHashtag);
  EXPECT_EQ(hits[2].term, "#telenor");
  EXPECT_EQ(hits[2].begin, 13u);
  EXPECT_EQ(hits[2].end, 21u);
  EXPECT_EQ(hits[3].kind, TermKind::kTerm);
  EXPECT_EQ(hits[3].begin, 14u);
  EXPECT_TRUE(hits[3].accepted);
  EXPECT_EQ(TermKindName(TermKind::kExclusion), "exclusion");
}

TEST_F(MatchTest, EmptyAndInvalidTextsAreHarmless) {
  EXPECT_EQ(Brands(""), "");
  EXPECT_EQ(Brands("\xff\xfe"), "");
  EXPECT_EQ(Brands("\xfftelenor\xc3"), "telenor,shared") << "invalid bytes are not letters";
  EXPECT_EQ(Brands("\xc3telenor"), "telenor,shared");
}

TEST_F(MatchTest, TransformAddsMentionsInPostOrder) {
  Result<std::unique_ptr<Transform>> transform = MakeHyperscanMatch(watchlist_);
  ASSERT_TRUE(transform.ok());
  EXPECT_EQ((*transform)->name(), "match");
  Batch batch;
  for (std::string_view text : {"nothing", "Movistar y Telefónica", "Telenor", "ice cream"}) {
    Post post;
    post.text = text;
    batch.posts.push_back(post);
  }
  std::unique_ptr<TransformState> state = (*transform)->MakeState().value();
  ASSERT_TRUE((*transform)->Process(batch, *state).ok());
  ASSERT_EQ(batch.mentions.size(), 4u);
  EXPECT_EQ(batch.mentions[0].post_index, 1u);
  EXPECT_EQ(watchlist_->brand(batch.mentions[0].brand_index).id, "telefonica");
  EXPECT_EQ(batch.mentions[0].first_hit_begin, 11u);
  EXPECT_EQ(batch.mentions[0].first_hit_end, 22u);
  EXPECT_EQ(batch.mentions[1].post_index, 1u);
  EXPECT_EQ(watchlist_->brand(batch.mentions[1].brand_index).id, "movistar");
  EXPECT_EQ(batch.mentions[1].first_hit_begin, 0u);
  EXPECT_EQ(batch.mentions[2].post_index, 2u);
  EXPECT_EQ(batch.mentions[3].post_index, 2u);
  EXPECT_FALSE(MakeHyperscanMatch(nullptr).ok());
}

TEST_F(MatchTest, AScannerOfAnotherWatchlistIsReportedNotTrusted) {
  std::shared_ptr<const CompiledWatchlist> other =
      Compile(Watchlist("brands: [{id: a, terms: [a]}]"));
  std::unique_ptr<CompiledWatchlist::Scanner> foreign = Scanner(*other);
  std::vector<MatchedBrand> matched;
  watchlist_->MatchText("Telenor", *foreign, matched);
  EXPECT_TRUE(matched.empty());
  EXPECT_EQ(foreign->status().code(), StatusCode::kInternal);
}

TEST_F(MatchTest, NoAllocationOnceWarm) {
  const std::vector<std::string> texts = {
      "Bytter fra Telia til Telenor, spør @telenor_norge! 🙂",
      "Movistar y Telefónica suben precios; AT&T no. #Telenor",
      "Konsert i Telenor Arena i kveld, ice cream etterpå",
      "ソニーの新製品 と Telenorsk og åTelenor",
      std::string(300, 'x') + " telenor " + std::string(300, 'y'),
      "",
      "nothing to see here at all, just a longer post about the weather in Bergen today"};
  std::vector<MatchedBrand> matched;
  matched.reserve(16);
  size_t found_per_round = 0;
  for (const std::string& text : texts) {  // warm up: buffers grow to their largest size
    matched.clear();
    watchlist_->MatchText(text, *scanner_, matched);
    found_per_round += matched.size();
  }
  EXPECT_EQ(found_per_round, 11u);
  size_t found = 0;
  size_t before = allocation_count.load();
  for (int round = 0; round < 1000; ++round) {
    for (const std::string& text : texts) {
      matched.clear();
      watchlist_->MatchText(text, *scanner_, matched);
      found += matched.size();
    }
  }
  size_t allocations = allocation_count.load() - before;
  EXPECT_EQ(allocations, 0u);
  EXPECT_EQ(found, 1000 * found_per_round);
}

TEST(QueryMatchAllocationTest, NoAllocationOnceWarmWithQueries) {
  WatchlistSpec spec = DemoWatchlist();
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> queries = ParseWatchlist(R"(brands:
  - id: apple
    handles: ["@AppleSupport"]
    query: |
      ({Apple} OR apple) AND (iphone OR mac* OR "app store") AND NOT (pie OR juice)
  - id: near
    query: '(telenor OR telia) NEAR/3f (dekning OR nett) OR (ice AND lang:no) OR reply:telia'
)",
                                                        "q.yaml", diagnostics);
  ASSERT_TRUE(queries) << diagnostics.ToString();
  for (BrandSpec& brand : queries->brands) spec.brands.push_back(std::move(brand));
  std::shared_ptr<const CompiledWatchlist> watchlist = Compile(spec);
  ASSERT_NE(watchlist, nullptr);
  std::unique_ptr<CompiledWatchlist::Scanner> scanner = Scanner(*watchlist);
  std::vector<Post> posts(6);
  posts[0].text = "Apple macbook and the App Store, not apple pie";
  posts[1].text = "Apple launched the iPhone 16 🍎 at the Apple Store";
  posts[1].author_handle = "AppleSupport";
  posts[2].text = "Telenor har elendig dekning, Telia bedre nett";
  posts[3].text = "bytter til Ice";
  posts[3].language = "no";
  posts[4].text = "hjelp meg";
  posts[4].reply_to_handle = "Telia";
  // Post::text is a view: the long text must outlive the posts (a temporary here dangled).
  const std::string long_text =
      std::string(400, 'z') + " telefo\u0301nica ソニーの新製品 " + std::string(200, 'q');
  posts[5].text = long_text;
  std::vector<MatchedBrand> matched;
  matched.reserve(32);
  size_t found_per_round = 0;
  for (const Post& post : posts) {
    matched.clear();
    watchlist->MatchPost(post, *scanner, matched);
    found_per_round += matched.size();
  }
  EXPECT_GE(found_per_round, 6u);
  size_t found = 0;
  size_t before = allocation_count.load();
  for (int round = 0; round < 500; ++round) {
    for (const Post& post : posts) {
      matched.clear();
      watchlist->MatchPost(post, *scanner, matched);
      for (const MatchedBrand& brand : matched) {
        found += 1 + watchlist->IsOwnHandle(brand.brand_index, post.author_handle);
      }
    }
  }
  size_t allocations = allocation_count.load() - before;
  EXPECT_EQ(allocations, 0u);
  EXPECT_GE(found, 500 * found_per_round);
}

TEST_F(MatchTest, WorkersShareOneWatchlist) {
  const std::vector<std::string> texts = {"Telenor og Telia", "Movistar+",     "ソニーの",
                                          "#icenorge",        "Telenor Arena", "AT&T vs O2"};
  std::vector<std::vector<MatchedBrand>> expected;
  for (const std::string& text : texts) expected.push_back(Matches(text));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> workers;
  for (int worker = 0; worker < 4; ++worker) {
    workers.emplace_back([&] {
      Result<std::unique_ptr<CompiledWatchlist::Scanner>> scanner = watchlist_->MakeScanner();
      if (!scanner.ok()) {
        ++mismatches;
        return;
      }
      std::vector<MatchedBrand> matched;
      for (int round = 0; round < 2000; ++round) {
        size_t index = round % texts.size();
        matched.clear();
        watchlist_->MatchText(texts[index], **scanner, matched);
        bool same = matched.size() == expected[index].size();
        for (size_t i = 0; same && i < matched.size(); ++i) {
          same = std::tie(matched[i].brand_index, matched[i].begin, matched[i].end) ==
                 std::tie(expected[index][i].brand_index, expected[index][i].begin,
                          expected[index][i].end);
        }
        if (!same) ++mismatches;
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(MakeTest, RejectsWhatCannotBeCompiled) {
  EXPECT_EQ(CompiledWatchlist::Make(WatchlistSpec{}).status().code(), StatusCode::kInvalidArgument);
  WatchlistSpec spec;
  spec.brands.push_back(BrandSpec{});
  spec.brands[0].id = "x";
  EXPECT_EQ(CompiledWatchlist::Make(spec).status().code(), StatusCode::kInvalidArgument)
      << "a brand with nothing to match";
  spec.brands[0].terms = {"ok", ""};
  Result<std::shared_ptr<const CompiledWatchlist>> empty_term = CompiledWatchlist::Make(spec);
  EXPECT_EQ(empty_term.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(empty_term.status().message(), "brand 'x' has an empty term");
}

// One accent rule for plain entries, as for query terms (docs/queries.md): an entry without
// accents finds every accented spelling, one with accents only its own, {Exact} the bytes.
TEST(AccentRuleTest, PlainTermsExclusionsHashtagsAndHandlesFollowTheQueryRule) {
  std::shared_ptr<const CompiledWatchlist> watchlist = Compile(Watchlist(R"(
brands:
  - {id: eci, terms: [el corte ingles]}
  - {id: telefonica, terms: [telefonica], hashtags: ["#telefonica"], handles: ["@telefonica_es"],
     exclude: [linea telefonica]}
  - {id: accented, terms: [movil], exclude: [más móvil]}
  - {id: exact, terms: ["{BT}"]}
  - {id: movistar, terms: [movistar]}
)"));
  ASSERT_NE(watchlist, nullptr);
  std::unique_ptr<CompiledWatchlist::Scanner> scanner = Scanner(*watchlist);
  auto brands = [&](std::string_view text) {
    std::vector<MatchedBrand> matched;
    watchlist->MatchText(text, *scanner, matched);
    std::string ids;
    for (const MatchedBrand& brand : matched) {
      ids += ids.empty() ? "" : ",";
      ids += watchlist->brand(brand.brand_index).id;
    }
    return ids;
  };
  EXPECT_EQ(brands("Rebajas en El Corte Inglés"), "eci");
  EXPECT_EQ(brands("Telefónica sube"), "telefonica");
  EXPECT_EQ(brands("#Telefónica"), "telefonica");
  EXPECT_EQ(brands("gracias @Telefónica_ES"), "telefonica");
  EXPECT_EQ(brands("la línea telefónica de Telefónica"), "") << "the exclusion finds the accents";
  EXPECT_EQ(brands("Telefo\u0301nica (decomposed)"), "telefonica");
  EXPECT_EQ(brands("es más móvil"), "") << "an accented exclusion finds its spelling";
  EXPECT_EQ(brands("es mas movil"), "accented") << "... and only that spelling";
  EXPECT_EQ(brands("BT broadband"), "exact");
  EXPECT_EQ(brands("bt broadband"), "");
  // UAX #29: a superscript or a fraction does not continue a word.
  EXPECT_EQ(brands("MOVISTAR² y movistar½"), "movistar");
  EXPECT_EQ(brands("movistar²"), "movistar");
  // The reported hit spans the original (decomposed) bytes.
  std::vector<MatchedBrand> matched;
  const std::string decomposed = "x Telefo\u0301nica!";
  watchlist->MatchText(decomposed, *scanner, matched);
  ASSERT_EQ(matched.size(), 1u);
  EXPECT_EQ(decomposed.substr(matched[0].begin, matched[0].end - matched[0].begin),
            "Telefo\u0301nica");
}

TEST(DemoWatchlistTest, AmbiguousNamesAndTheirExclusions) {
  std::shared_ptr<const CompiledWatchlist> watchlist = Compile(DemoWatchlist());
  ASSERT_NE(watchlist, nullptr);
  std::unique_ptr<CompiledWatchlist::Scanner> scanner = Scanner(*watchlist);
  auto brands = [&](std::string_view text) {
    std::vector<MatchedBrand> matched;
    watchlist->MatchText(text, *scanner, matched);
    std::string ids;
    for (const MatchedBrand& brand : matched) {
      ids += ids.empty() ? "" : ",";
      ids += watchlist->brand(brand.brand_index).id;
    }
    return ids;
  };
  // The bare "Ice" counts in Norwegian posts (its query), so not in a text without a language.
  EXPECT_EQ(brands("Bytter fra Telia til Ice i dag, @TelenorSupport svarer ikke"),
            "telenor,telia");
  Post norwegian;
  norwegian.text = "Bytter fra Telia til Ice i dag, @TelenorSupport svarer ikke";
  norwegian.language = "no";
  std::vector<MatchedBrand> matched;
  watchlist->MatchPost(norwegian, *scanner, matched);
  ASSERT_EQ(matched.size(), 3u);
  EXPECT_EQ(watchlist->brand(matched[2].brand_index).id, "ice");
  EXPECT_EQ(brands("Ice har elendig 5G-dekning"), "ice");
  EXPECT_EQ(brands("Ice cream on a hot day"), "");
  EXPECT_EQ(brands("Fikk iskrem etter kampen, ice hockey er gøy"), "");
  EXPECT_EQ(brands("Konsert i Telenor Arena"), "");
  EXPECT_EQ(brands("Telia Parken var full"), "");
  EXPECT_EQ(brands("I love orange juice"), "");
  EXPECT_EQ(brands("Orange España sube la fibra"), "orange-es");
  EXPECT_EQ(brands("TELEFÓNICA presenta resultados"), "telefonica");
  EXPECT_EQ(brands("Tuve una llamada telefónica con el banco"), "");
  EXPECT_EQ(brands("Me paso a MÁSMÓVIL, adiós Vodafone"), "vodafone-es,masmovil");
  EXPECT_EQ(brands("es más móvil que nunca"), "");
  EXPECT_EQ(brands("#MásMóvil #Yoigo @DigiMobil_ES"), "masmovil,yoigo,digi");
  EXPECT_EQ(brands("Movistar+ estrena serie"), "movistar");
  EXPECT_EQ(brands("Elisa Viihde ja DNA TV"), "elisa,dna");
  EXPECT_EQ(brands("Elisa y su hermana, un test de DNA"), "");
  EXPECT_EQ(brands("Tele2 Arena i Stockholm"), "");
  EXPECT_EQ(brands("Bytte til tele2 och Telenor"), "telenor,tele2");
}

// ---------------------------------------------------------------------------------------------
// Differential test. The reference folds and strips both sides code point by code point, finds
// every occurrence with string_view::find and checks the boundaries with the rule written out:
// plain and slow on purpose, sharing nothing with the Hyperscan path but the fold, the accent
// table and the word-character class. Decomposed text (NFC) is the query differential test's.

struct ReferenceHit {
  uint32_t brand_index;
  TermKind kind;
  std::string term;
  uint32_t begin;
  uint32_t end;
  bool accepted;
  auto Key() const { return std::tie(begin, end, brand_index, kind, term, accepted); }
  bool operator<(const ReferenceHit& other) const { return Key() < other.Key(); }
  bool operator==(const ReferenceHit& other) const { return Key() == other.Key(); }
};

// Folded, accent-stripped text and, per byte of it, the byte of `text` it came from.
struct StrippedText {
  std::string text;
  std::vector<uint32_t> source;
};

StrippedText Strip(std::string_view text) {
  StrippedText out;
  for (size_t i = 0; i < text.size();) {
    DecodedCodePoint decoded = DecodeCodePointAt(text, i);
    if (decoded.code_point == kReplacementCharacter && decoded.length == 1) {
      out.text.push_back(text[i]);
      out.source.push_back(static_cast<uint32_t>(i));
      ++i;
      continue;
    }
    uint32_t base = StripAccent(FoldCodePoint(decoded.code_point));
    std::string encoded;
    if (base != 0) AppendUtf8(base, encoded);
    for (char c : encoded) {
      out.text.push_back(c);
      out.source.push_back(static_cast<uint32_t>(i));
    }
    i += decoded.length;
  }
  out.source.push_back(static_cast<uint32_t>(text.size()));
  return out;
}

// The whole-word rule as docs/queries.md states it: a letter or digit of a spaced script may not
// touch a term edge that is itself a letter or digit (or a leading '#', '@', '$'), unless one of
// the two is of an unspaced script.
bool StandsAlone(std::string_view text, std::string_view term, size_t begin, size_t end) {
  auto touches = [](uint32_t outside, uint32_t inside) {
    return IsWordCodePoint(outside) && !IsUnspacedScript(outside) && !IsUnspacedScript(inside);
  };
  uint32_t first = DecodeCodePointAt(term, 0).code_point;
  uint32_t last = DecodeCodePointBefore(term, term.size()).code_point;
  bool left_edge = IsWordCodePoint(first) || first == '#' || first == '@' || first == '$';
  if (left_edge && begin > 0 &&
      touches(DecodeCodePointBefore(text, begin).code_point, DecodeCodePointAt(text, begin).code_point)) {
    return false;
  }
  if (IsWordCodePoint(last) && end < text.size() &&
      touches(DecodeCodePointAt(text, end).code_point, DecodeCodePointBefore(text, end).code_point)) {
    return false;
  }
  return true;
}

std::vector<ReferenceHit> ReferenceHits(const WatchlistSpec& spec, std::string_view text) {
  std::string folded_text;
  FoldCase(text, folded_text);
  const StrippedText stripped_text = Strip(text);
  std::vector<ReferenceHit> hits;
  for (uint32_t brand_index = 0; brand_index < spec.brands.size(); ++brand_index) {
    const BrandSpec& brand = spec.brands[brand_index];
    const std::pair<const std::vector<std::string>*, TermKind> lists[] = {
        {&brand.terms, TermKind::kTerm},
        {&brand.handles, TermKind::kHandle},
        {&brand.hashtags, TermKind::kHashtag},
        {&brand.exclusions, TermKind::kExclusion}};
    for (const auto& [terms, kind] : lists) {
      std::set<std::string> seen;  // entries of one list that fold alike are one owner
      for (const std::string& term : *terms) {
        std::string folded_term;
        FoldCase(term, folded_term);
        if (!seen.insert(folded_term).second) continue;
        // A term with accents must show them; one without finds every accented spelling.
        const std::string needle = Strip(term).text;
        const bool accented = needle != folded_term;
        for (size_t at = stripped_text.text.find(needle); at != std::string::npos;
             at = stripped_text.text.find(needle, at + 1)) {
          uint32_t begin = stripped_text.source[at];
          uint32_t end = stripped_text.source[at + needle.size()];
          bool accepted = StandsAlone(folded_text, folded_term, begin, end) &&
                          (!accented || folded_text.substr(begin, end - begin) == folded_term);
          hits.push_back(ReferenceHit{brand_index, kind, term, begin, end, accepted});
        }
      }
    }
  }
  std::sort(hits.begin(), hits.end());
  return hits;
}

std::vector<MatchedBrand> ReferenceMatch(const WatchlistSpec& spec, std::string_view text) {
  std::vector<ReferenceHit> hits = ReferenceHits(spec, text);
  std::vector<MatchedBrand> matched;
  for (uint32_t brand_index = 0; brand_index < spec.brands.size(); ++brand_index) {
    std::optional<MatchedBrand> first;
    bool excluded = false;
    for (const ReferenceHit& hit : hits) {  // sorted by begin, then end
      if (hit.brand_index != brand_index || !hit.accepted) continue;
      if (hit.kind == TermKind::kExclusion) {
        excluded = true;
      } else if (!first) {
        first = MatchedBrand{brand_index, hit.begin, hit.end};
      }
    }
    if (first && !excluded) matched.push_back(*first);
  }
  return matched;
}

uint64_t TestSeed(uint64_t fallback) {
  const char* seed = std::getenv("BRANDPULSE_TEST_SEED");
  return seed != nullptr ? std::strtoull(seed, nullptr, 10) : fallback;
}

// Random texts of words, brand terms in several cases, punctuation, emoji, other scripts,
// combining marks and broken bytes, joined with and without spaces.
class RandomTexts {
 public:
  RandomTexts(uint64_t seed, const WatchlistSpec& spec) : random_(seed) {
    pieces_ = {"og",      "i",      "dag",    "bytter", "til",     "fra",     "kundeservice",
               "dekning", "nett",   "mobil",  "norge",  "arena",   "cream",   "iskrem",
               "juice",   "que",    "más",    "móvil",  "llamada", "sube",    "precios",
               "la",      "de",     "y",      "the",    "and",     "network", "is",
               "down",    "again",  "plus",   "tv",     "æ",       "ø",       "å",
               "Å",       "ñ",      "Ñ",      "é",      "ü",       "ß",       "x",
               "2",       "_",      "o",      "ソニー", "の",      "新製品",  "ใช้",
               "가",      "Ж",      "σ",      "Σ",      "ς",       "@",       "#",
               "!",       "?",      "¡",      "¿",      ",",       ".",       "'",
               "’",       "(",      ")",      "«",      "»",       "-",       "+",
               "&",       "/",      ":",      "🙂",   "🔥",       "❤️",  "👍🏽",
               "🇳🇴",      "\u200d", "\xff",   "\xc3",    "\xe2\x82"};
    for (const BrandSpec& brand : spec.brands) {
      for (const auto* list : {&brand.terms, &brand.handles, &brand.hashtags, &brand.exclusions}) {
        for (const std::string& term : *list) {
          terms_.push_back(term);
          terms_.push_back(Upper(term));
          terms_.push_back(Title(term));
        }
      }
    }
  }

  std::string Next() {
    static const char* const kSeparators[] = {" ", " ", " ", "", "", "\n", "  ", ", "};
    std::string text;
    size_t words = 1 + random_() % 14;
    for (size_t i = 0; i < words; ++i) {
      text += random_() % 3 == 0 ? terms_[random_() % terms_.size()]
                                 : pieces_[random_() % pieces_.size()];
      text += kSeparators[random_() % std::size(kSeparators)];
    }
    return text;
  }

 private:
  // Uppercase for ASCII and the Latin-1 and Greek letters the pieces use.
  static std::string Upper(std::string_view text) {
    std::string out(text);
    for (size_t i = 0; i < out.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(out[i]);
      if (c >= 'a' && c <= 'z') {
        out[i] = static_cast<char>(c - 32);
      } else if (c == 0xC3 && i + 1 < out.size()) {
        unsigned char next = static_cast<unsigned char>(out[i + 1]);
        if (next >= 0xA0 && next <= 0xBE && next != 0xB7) out[i + 1] = static_cast<char>(next - 32);
        ++i;
      }
    }
    return out;
  }
  static std::string Title(std::string_view text) {
    std::string out(text);
    if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 32);
    return out;
  }

  std::mt19937_64 random_;
  std::vector<std::string> pieces_;
  std::vector<std::string> terms_;
};

void ExpectAgreement(const WatchlistSpec& spec, uint64_t seed, int iterations,
                     size_t minimum_with_matches) {
  std::shared_ptr<const CompiledWatchlist> watchlist = Compile(spec);
  ASSERT_NE(watchlist, nullptr);
  std::unique_ptr<CompiledWatchlist::Scanner> scanner = Scanner(*watchlist);
  RandomTexts texts(seed, spec);
  size_t with_matches = 0;
  size_t with_rejected_hits = 0;
  size_t with_exclusions = 0;
  for (int iteration = 0; iteration < iterations; ++iteration) {
    std::string text = texts.Next();
    SCOPED_TRACE(::testing::Message()
                 << "seed " << seed << " (BRANDPULSE_TEST_SEED=" << seed
                 << " reruns it), iteration " << iteration << ", text: \"" << text << "\"");
    std::vector<MatchedBrand> actual;
    watchlist->MatchText(text, *scanner, actual);
    std::vector<MatchedBrand> expected = ReferenceMatch(spec, text);
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < actual.size(); ++i) {
      ASSERT_EQ(watchlist->brand(actual[i].brand_index).id,
                spec.brands[expected[i].brand_index].id);
      ASSERT_EQ(actual[i].begin, expected[i].begin);
      ASSERT_EQ(actual[i].end, expected[i].end);
    }
    std::vector<ReferenceHit> explained;
    for (const TermHit& hit : watchlist->ExplainText(text, *scanner)) {
      explained.push_back(ReferenceHit{hit.brand_index, hit.kind, std::string(hit.term), hit.begin,
                                       hit.end, hit.accepted});
    }
    std::sort(explained.begin(), explained.end());
    std::vector<ReferenceHit> reference = ReferenceHits(spec, text);
    ASSERT_EQ(explained.size(), reference.size());
    ASSERT_TRUE(explained == reference);
    with_matches += !expected.empty();
    with_rejected_hits += std::any_of(reference.begin(), reference.end(),
                                      [](const ReferenceHit& hit) { return !hit.accepted; });
    with_exclusions += std::any_of(reference.begin(), reference.end(), [](const ReferenceHit& hit) {
      return hit.accepted && hit.kind == TermKind::kExclusion;
    });
  }
  ASSERT_TRUE(scanner->status().ok());
  // The generator must exercise every path, or agreement proves little.
  EXPECT_GE(with_matches, minimum_with_matches);
  EXPECT_GE(with_rejected_hits, static_cast<size_t>(iterations / 20));
  EXPECT_GE(with_exclusions, static_cast<size_t>(iterations / 50));
}

TEST(MatchDifferentialTest, AgreesWithTheReferenceOnTheTestWatchlist) {
  WatchlistSpec spec = Watchlist(R"(
brands:
  - {id: telenor, terms: [telenor, telenor norge], handles: [telenor_no], hashtags: [telenor],
     exclude: [telenor arena]}
  - {id: telia, terms: [telia], hashtags: [telia]}
  - {id: ice, terms: [ice mobil, ice], exclude: [ice cream, iskrem]}
  - {id: movistar, terms: [movistar, movistar+]}
  - {id: telefonica, terms: [telefónica, telefonica]}
  - {id: masmovil, terms: [másmóvil, más móvil], exclude: [más móvil que]}
  - {id: sony, terms: [ソニー, sony]}
  - {id: orange, terms: [orange], exclude: [orange juice]}
  - {id: shared, terms: [Telenor, ICE, σας]}
  - {id: att, terms: ["at&t", o2]}
  - {id: nested, terms: [movistar plus tv, plus]}
)");
  ExpectAgreement(spec, TestSeed(20261123), 4000, 1000);
}

TEST(MatchDifferentialTest, AgreesWithTheReferenceOnTheDemoWatchlist) {
  // The reference knows terms, handles, hashtags and exclusions; queries have their own
  // differential test (operators_query_differential_test.cc).
  WatchlistSpec spec = DemoWatchlist();
  for (BrandSpec& brand : spec.brands) brand.query.reset();
  ExpectAgreement(spec, TestSeed(777), 3000, 1000);
}

}  // namespace
}  // namespace brandpulse
