// Query language: the parser (every operator, every documented error with line:column), query
// matching through the compiled watchlist (accents, case, NEAR, wildcards, fields, CJK, emoji),
// own posts, competitor groups, and the database cache.
#include "operators/query.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "engine/batch.h"
#include "operators/hyperscan_match.h"
#include "operators/watchlist.h"
#include "operators/window_aggregate.h"

namespace brandpulse {
namespace {

// The canonical form of a query, or its diagnostics.
std::string Parsed(std::string_view text) {
  Diagnostics diagnostics;
  std::optional<Query> query = ParseQuery(text, SourceLocation{"q", 1, 1}, 1, diagnostics);
  if (!query) return diagnostics.ToString();
  return FormatQueryNode(*query, query->root);
}

TEST(QueryParseTest, TermsAndPhrases) {
  EXPECT_EQ(Parsed("telenor"), "telenor");
  EXPECT_EQ(Parsed("\"telenor  norge\""), "\"telenor norge\"");
  EXPECT_EQ(Parsed("{BT}"), "{BT}");
  EXPECT_EQ(Parsed("#telenor OR @telenor_norge OR $TEL OR 🍎"),
            "(#telenor OR @telenor_norge OR $TEL OR 🍎)");
}

TEST(QueryParseTest, BooleanOperatorsAndParentheses) {
  EXPECT_EQ(Parsed("a AND b AND c"), "(a AND b AND c)");
  EXPECT_EQ(Parsed("a OR b"), "(a OR b)");
  EXPECT_EQ(Parsed("(a OR b) AND NOT (c OR d)"), "((a OR b) AND NOT (c OR d))");
  EXPECT_EQ(Parsed("a AND (b OR (c AND d))"), "(a AND (b OR (c AND d)))");
}

TEST(QueryParseTest, ProximityAndWildcards) {
  EXPECT_EQ(Parsed("ice NEAR/3 mobil"), "ice NEAR/3 mobil");
  EXPECT_EQ(Parsed("ice NEAR/2f mobil"), "ice NEAR/2f mobil");
  EXPECT_EQ(Parsed("(ice OR telia) NEAR/5 (bytte OR bytter)"),
            "(ice OR telia) NEAR/5 (bytte OR bytter)");
  EXPECT_EQ(Parsed("\"bytter til ice\"~2"), "(bytter NEAR/2 til AND til NEAR/2 ice)");
  EXPECT_EQ(Parsed("\"telenor arena\"~1"), "telenor NEAR/1 arena");
  EXPECT_EQ(Parsed("telen*"), "telen*");
  EXPECT_EQ(Parsed("colo?r OR te?e*"), "(colo?r OR te?e*)");
}

TEST(QueryParseTest, FieldsAndComments) {
  EXPECT_EQ(Parsed("telenor AND lang:NO AND NOT author:@TelenorSupport AND NOT reply:x AND "
                   "NOT to:y"),
            "(telenor AND lang:no AND NOT author:telenorsupport AND NOT reply:x AND NOT reply:y)");
  EXPECT_EQ(Parsed("// Telenor, the operator\ntelenor // the bare name\n  OR #telenor"),
            "(telenor OR #telenor)");
  EXPECT_EQ(Parsed("ice.no OR movistar+"), "(ice.no OR movistar+)");
  EXPECT_EQ(Parsed("telenor AND (url:Telenor.no/5G OR site:https://www.Telenor.no/)"),
            "(telenor AND (url:telenor.no/5g OR site:telenor.no))");
}

TEST(QueryParseTest, NoFixedCapOnLengthOrOperands) {
  std::string query = "(";
  for (int i = 0; i < 3000; ++i) query += (i ? " OR t" : "t") + std::to_string(i);
  query += ") AND NOT x";
  EXPECT_EQ(Parsed(query).substr(0, 12), "((t0 OR t1 O");
}

TEST(QueryParseTest, EveryErrorHasLineColumnAndHint) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "q:1:1: error: the query is empty"},
      {"a AND b OR c", "q:1:9: error: AND and OR are mixed at one level (hint: add parentheses"},
      {"NOT a", "q:1:1: error: the query only says what must be absent"},
      {"NOT a OR NOT b", "q:1:1: error: the query only says what must be absent"},
      {"a b", "q:1:3: error: there is no operator before 'b' (hint: join them with AND or OR)"},
      {"a and b", "(hint: operators are written in capitals"},
      {"a NOT b", "q:1:3: error: there is no operator before 'NOT' (hint: write AND NOT)"},
      {"(a OR b", "q:1:1: error: '(' has no matching ')'"},
      {"a OR b)", "q:1:7: error: ')' has no matching '('"},
      {"()", "q:1:1: error: '()' is empty"},
      {"\"telenor norge", "q:1:1: error: the quoted phrase has no closing '\"'"},
      {"{BT", "q:1:1: error: '{' has no closing '}'"},
      {"a AND", "q:1:3: error: AND has nothing after it"},
      {"AND a", "q:1:1: error: AND needs a term before it"},
      {"a AND NOT", "q:1:7: error: NOT has nothing after it"},
      {"*enor", "q:1:1: error: '*enor' starts with a wildcard"},
      {"te*or", "q:1:3: error: 'te*or' has a wildcard inside"},
      {"t??r", "q:1:1: error: 't??r' has too few fixed characters (hint: keep at least two"},
      {"mó?il", "q:1:1: error: 'mó?il': a term with '?' cannot have accents"},
      {"t*", "q:1:1: error: 't*' is too short for a wildcard"},
      {"a NEAR/x b", "q:1:3: error: 'NEAR/x' is not a NEAR operator"},
      {"a NEAR/3", "q:1:3: error: NEAR has nothing after it"},
      {"(a AND b) NEAR/3 c", "q:1:2: error: a NEAR operand must be a term"},
      {"a NEAR/3 b NEAR/3 c", "q:1:12: error: NEAR cannot be chained"},
      {"\"a b\"~x", "q:1:6: error: '~' after a phrase needs a number of words"},
      {"author:", "q:1:1: error: 'author:' needs a value"},
      {"site:", "q:1:1: error: 'site:' needs a value (hint: write site:telenor.no)"},
      {"a OR !!!", "q:1:6: error: '!!!' has nothing to find"},
      {"a OR \"  \"", "q:1:6: error: the phrase holds nothing to find"},
  };
  for (const auto& [query, expected] : cases) {
    std::string result = Parsed(query);
    EXPECT_NE(result.find(expected), std::string::npos)
        << "query: " << query << "\nexpected: " << expected << "\ngot: " << result;
  }
}

TEST(QueryParseTest, LaterLinesCountFromTheStartLineAndIndent) {
  Diagnostics diagnostics;
  std::optional<Query> query = ParseQuery("telenor\nOR (ice AND\n  )", SourceLocation{"w.yaml", 10, 7},
                                          7, diagnostics);
  EXPECT_FALSE(query);
  EXPECT_EQ(diagnostics.ToString().substr(0, 40), "w.yaml:11:15: error: AND has nothing aft");
}

TEST(QueryWatchlistTest, QueryErrorsPointIntoTheYamlFile) {
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> spec = ParseWatchlist(R"(brands:
  - id: apple
    query: |
      // Apple the company, not the fruit
      apple AND iphone OR mac
  - id: orange
    query: "orange AND"
)",
                                                     "w.yaml", diagnostics);
  EXPECT_FALSE(spec);
  EXPECT_EQ(diagnostics.ToString(),
            "w.yaml:5:24: error: AND and OR are mixed at one level (hint: add parentheses to say "
            "which goes first: (a AND b) OR c)\n"
            "w.yaml:7:20: error: AND has nothing after it (hint: add a term after it, or remove "
            "it)\n");
}

// ---------------------------------------------------------------------------------------------
// Matching

std::shared_ptr<const CompiledWatchlist> CompileYaml(std::string_view yaml) {
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> spec = ParseWatchlist(yaml, "w.yaml", diagnostics);
  EXPECT_TRUE(spec) << diagnostics.ToString();
  if (!spec) return nullptr;
  Result<std::shared_ptr<const CompiledWatchlist>> compiled = CompiledWatchlist::Make(*spec);
  EXPECT_TRUE(compiled.ok()) << compiled.status().ToString();
  return compiled.ok() ? *compiled : nullptr;
}

// Ids of the brands matching the post, space-separated.
std::string Matches(const CompiledWatchlist& watchlist, const Post& post) {
  auto scanner = watchlist.MakeScanner();
  EXPECT_TRUE(scanner.ok());
  std::vector<MatchedBrand> out;
  watchlist.MatchPost(post, **scanner, out);
  std::string ids;
  for (const MatchedBrand& brand : out) {
    if (!ids.empty()) ids += " ";
    ids += watchlist.brand(brand.brand_index).id;
  }
  return ids;
}

std::string Matches(const CompiledWatchlist& watchlist, std::string_view text) {
  Post post;
  post.text = text;
  return Matches(watchlist, post);
}

constexpr std::string_view kAmbiguous = R"(brands:
  - id: apple
    query: |
      // Apple the company: the bare word needs a product or {Apple} in capitals
      ({Apple} OR apple) AND (iphone OR ipad OR mac* OR "app store" OR {Apple})
      AND NOT (pie OR juice OR "apple tree")
  - id: orange
    query: |
      {Orange} NEAR/4 (mobile OR network OR abonnement OR 4g OR 5g)
  - id: ice
    query: |
      (ice AND (lang:no OR mobil OR dekning OR abonnement)) OR "ice.no" OR @ice_norge
      AND NOT ("ice cream" OR iskrem)
)";

TEST(QueryMatchTest, AmbiguousBrandNames) {
  // "... OR @ice_norge AND NOT ..." mixes OR and AND: check the error, then use a valid one.
  Diagnostics diagnostics;
  EXPECT_FALSE(ParseWatchlist(kAmbiguous, "w.yaml", diagnostics));
  EXPECT_NE(diagnostics.ToString().find("w.yaml:13:7: error: OR and AND are mixed"),
            std::string::npos)
      << diagnostics.ToString();
  auto watchlist = CompileYaml(R"(brands:
  - id: apple
    query: |
      ({Apple} OR apple) AND (iphone OR ipad OR mac* OR "app store" OR {Apple})
      AND NOT (pie OR juice OR "apple tree")
  - id: orange
    query: '{Orange} NEAR/4 (mobile OR network OR abonnement OR 4g OR 5g)'
  - id: ice
    query: |
      ((ice AND (lang:no OR mobil OR dekning OR abonnement)) OR "ice.no" OR @ice_norge)
      AND NOT ("ice cream" OR iskrem)
)");
  ASSERT_NE(watchlist, nullptr);
  EXPECT_EQ(Matches(*watchlist, "Apple launched a new iPhone"), "apple");
  EXPECT_EQ(Matches(*watchlist, "my apple pie with Apple sauce"), "");
  EXPECT_EQ(Matches(*watchlist, "an apple a day"), "");
  EXPECT_EQ(Matches(*watchlist, "apple macbook pro"), "apple");
  EXPECT_EQ(Matches(*watchlist, "Orange raises its 5G mobile prices"), "orange");
  EXPECT_EQ(Matches(*watchlist, "an orange sweater for the mobile photo"), "");
  EXPECT_EQ(Matches(*watchlist, "Orange is the best network"), "orange");
  EXPECT_EQ(Matches(*watchlist, "Orange is the new black, my network said nothing"), "");
  EXPECT_EQ(Matches(*watchlist, "Orange is the new black, my friend said nothing"), "");
  EXPECT_EQ(Matches(*watchlist, "Ice har elendig dekning på hytta"), "ice");
  EXPECT_EQ(Matches(*watchlist, "ice cream and ice mobil"), "");
  Post norwegian;
  norwegian.text = "bytter til Ice i morgen";
  norwegian.language = "no";
  EXPECT_EQ(Matches(*watchlist, norwegian), "ice");
  norwegian.language = "en";
  EXPECT_EQ(Matches(*watchlist, norwegian), "");
}

TEST(QueryMatchTest, AccentsAndCase) {
  auto watchlist = CompileYaml(R"(brands:
  - id: loose
    query: telefonica
  - id: accented
    query: telefónica
  - id: exact
    query: '{BT}'
  - id: nordic
    query: blåbær OR "søt mør"
)");
  ASSERT_NE(watchlist, nullptr);
  EXPECT_EQ(Matches(*watchlist, "Telefónica sube"), "loose accented");
  EXPECT_EQ(Matches(*watchlist, "TELEFÓNICA"), "loose accented");
  EXPECT_EQ(Matches(*watchlist, "telefonica sube"), "loose");
  EXPECT_EQ(Matches(*watchlist, "Telefo\u0301nica (NFD)"), "loose accented") << "matched in NFC";
  EXPECT_EQ(Matches(*watchlist, "Telefónicas"), "");
  EXPECT_EQ(Matches(*watchlist, "BT broadband"), "exact");
  EXPECT_EQ(Matches(*watchlist, "bt broadband, Bt"), "");
  EXPECT_EQ(Matches(*watchlist, "BLÅBÆR og SØT MØR"), "nordic");
  EXPECT_EQ(Matches(*watchlist, "blabaer"), "");
}

TEST(QueryMatchTest, NearCountsWordsBetweenInEitherOrderOrOrdered) {
  auto watchlist = CompileYaml(R"(brands:
  - id: near
    query: telenor NEAR/2 arena
  - id: ordered
    query: telenor NEAR/0f arena
  - id: tilde
    query: '"dekning elendig"~1'
)");
  ASSERT_NE(watchlist, nullptr);
  EXPECT_EQ(Matches(*watchlist, "telenor arena"), "near ordered");
  EXPECT_EQ(Matches(*watchlist, "arena telenor"), "near");
  EXPECT_EQ(Matches(*watchlist, "telenor, the big arena"), "near");
  EXPECT_EQ(Matches(*watchlist, "telenor is not the big arena"), "");
  EXPECT_EQ(Matches(*watchlist, "Telenor 🙂🙂 arena!"), "near ordered");
  EXPECT_EQ(Matches(*watchlist, "elendig dekning"), "tilde");
  EXPECT_EQ(Matches(*watchlist, "dekningen er elendig"), "");
  EXPECT_EQ(Matches(*watchlist, "dekning er elendig"), "tilde");
}

TEST(QueryMatchTest, WildcardsHashtagsHandlesCashtagsEmojiAndCjk) {
  auto watchlist = CompileYaml(R"(brands:
  - id: wild
    query: telen*
  - id: single
    query: colo?r OR m?vil
  - id: tags
    query: '#telia OR @TeliaSupport OR $TELIA'
  - id: fruit
    query: 🍎 AND 🍏
  - id: sony
    query: ソニー OR 索尼
)");
  ASSERT_NE(watchlist, nullptr);
  EXPECT_EQ(Matches(*watchlist, "Telenorsk and telenor"), "wild");
  EXPECT_EQ(Matches(*watchlist, "my favourite colour"), "single");
  EXPECT_EQ(Matches(*watchlist, "my favourite COLOR"), "");
  EXPECT_EQ(Matches(*watchlist, "colouur, colo-r, colour"), "single");
  EXPECT_EQ(Matches(*watchlist, "colouur, colo-r"), "");
  EXPECT_EQ(Matches(*watchlist, "mobil og móvil"), "single");
  EXPECT_EQ(Matches(*watchlist, "movilizar"), "");
  EXPECT_EQ(Matches(*watchlist, "atelenor"), "");
  EXPECT_EQ(Matches(*watchlist, "love #Telia"), "tags");
  EXPECT_EQ(Matches(*watchlist, "love telia"), "");
  EXPECT_EQ(Matches(*watchlist, "@teliasupport hjelp"), "tags");
  EXPECT_EQ(Matches(*watchlist, "$TELIA up 3%"), "tags");
  EXPECT_EQ(Matches(*watchlist, "x🍎y🍏"), "fruit");
  EXPECT_EQ(Matches(*watchlist, "🍎 only"), "");
  EXPECT_EQ(Matches(*watchlist, "新型ソニーのカメラ"), "sony");
  EXPECT_EQ(Matches(*watchlist, "我买了索尼电视"), "sony");
}

TEST(QueryMatchTest, FieldsAndOwnPosts) {
  auto watchlist = CompileYaml(R"(brands:
  - id: telenor
    terms: [telenor]
    handles: ["@telenor_norge"]
    profiles: {support: "@TelenorSupport", press: "@TelenorPresse"}
    query: reply:telenorsupport
groups:
  nordic: [telenor]
)");
  ASSERT_NE(watchlist, nullptr);
  Post reply;
  reply.text = "hjelp, nettet er nede";
  reply.reply_to_handle = "TelenorSupport";
  EXPECT_EQ(Matches(*watchlist, reply), "telenor");
  ASSERT_EQ(watchlist->groups().size(), 1u);
  auto links = CompileYaml(R"(brands:
  - id: site
    query: site:telenor.no
  - id: url
    query: url:/5G AND NOT url:kampanje
)");
  ASSERT_NE(links, nullptr);
  Post linked;
  linked.text = "se her";
  linked.urls = "https://WWW.Telenor.no/privat/5g https://t.co/x";
  EXPECT_EQ(Matches(*links, linked), "site url");
  linked.urls = "https://telenor.no.evil.example/5g/kampanje";
  EXPECT_EQ(Matches(*links, linked), "");
  linked.urls = "http://shop.telenor.no";
  EXPECT_EQ(Matches(*links, linked), "site");
  linked.urls = "";
  EXPECT_EQ(Matches(*links, linked), "");
  EXPECT_EQ(watchlist->groups()[0].name, "nordic");
  EXPECT_TRUE(watchlist->IsOwnHandle(0, "telenorpresse"));
  EXPECT_TRUE(watchlist->IsOwnHandle(0, "@Telenor_Norge"));
  EXPECT_FALSE(watchlist->IsOwnHandle(0, "someone"));

  Result<std::unique_ptr<Transform>> match = MakeHyperscanMatch(watchlist);
  ASSERT_TRUE(match.ok());
  std::unique_ptr<TransformState> state = (*match)->MakeState().value();
  Batch batch;
  Post own;
  own.text = "Telenor har nye tilbud";
  own.author_handle = "TelenorPresse";
  Post customer = own;
  customer.author_handle = "ola";
  batch.posts = {own, customer};
  ASSERT_TRUE((*match)->Process(batch, *state).ok());
  ASSERT_EQ(batch.mentions.size(), 2u);
  EXPECT_TRUE(batch.mentions[0].own_post);
  EXPECT_FALSE(batch.mentions[1].own_post);

  // The window aggregator counts the customer's post only.
  std::atomic<int64_t> watermark{INT64_MIN};
  WindowAggregate::Options options;
  WindowSpec one_minute;
  one_minute.size_ms = 60000;
  options.layout = MakeWindowLayout({one_minute});
  WindowAggregate window(std::move(options), &watermark);
  std::unique_ptr<TransformState> window_state = window.MakeState().value();
  ASSERT_TRUE(window.Process(batch, *window_state).ok());
  uint64_t mentions = 0;
  WindowDeltaMap deltas;
  EpochHandOver epoch{&deltas, nullptr};
  ASSERT_TRUE(window.HandOver(*window_state, epoch).ok());
  for (const auto& [key, metrics] : deltas) mentions += metrics.mentions;
  EXPECT_EQ(mentions, 1u);
}

// Bluesky posts carry DIDs: a profile written as a DID makes the brand's posts own posts, and
// posts without any author are authors of their own in the unique-author count.
TEST(QueryWatchlistTest, ProfilesAsDidsAndUnknownAuthors) {
  auto watchlist = CompileYaml(R"(brands:
  - id: telenor
    terms: [telenor]
    handles: ["@telenor.no"]
    profiles: {bluesky: "did:plc:brand"}
)");
  ASSERT_NE(watchlist, nullptr);
  Result<std::unique_ptr<Transform>> match = MakeHyperscanMatch(watchlist);
  ASSERT_TRUE(match.ok());
  std::unique_ptr<TransformState> state = (*match)->MakeState().value();
  Batch batch;
  Post by_did;
  by_did.text = "Telenor svarer deg i innboksen";
  by_did.author_id = "did:plc:brand";  // no identity event seen: no handle
  Post by_handle = by_did;
  by_handle.author_id = "did:plc:other";
  by_handle.author_handle = "telenor.no";
  Post anonymous_a;
  anonymous_a.text = "Telenor er nede";
  anonymous_a.id = "a";
  Post anonymous_b = anonymous_a;
  anonymous_b.id = "b";
  batch.posts = {by_did, by_handle, anonymous_a, anonymous_b};
  ASSERT_TRUE((*match)->Process(batch, *state).ok());
  ASSERT_EQ(batch.mentions.size(), 4u);
  EXPECT_TRUE(batch.mentions[0].own_post) << "a profile written as a DID";
  EXPECT_TRUE(batch.mentions[1].own_post);
  EXPECT_FALSE(batch.mentions[2].own_post);

  std::atomic<int64_t> watermark{INT64_MIN};
  WindowAggregate::Options options;
  WindowSpec one_minute;
  one_minute.size_ms = 60000;
  options.layout = MakeWindowLayout({one_minute});
  WindowAggregate window(std::move(options), &watermark);
  std::unique_ptr<TransformState> window_state = window.MakeState().value();
  ASSERT_TRUE(window.Process(batch, *window_state).ok());
  WindowDeltaMap deltas;
  EpochHandOver epoch{&deltas, nullptr};
  ASSERT_TRUE(window.HandOver(*window_state, epoch).ok());
  uint64_t mentions = 0;
  double authors = 0;
  for (const auto& [key, metrics] : deltas) {
    mentions += metrics.mentions;
    authors += static_cast<double>(metrics.authors.Estimate());
  }
  EXPECT_EQ(mentions, 2u);
  EXPECT_NEAR(authors, 2.0, 0.01) << "two posts without authors are two authors, not one";
}

TEST(QueryWatchlistTest, GroupsFromBothPlacesAndUnknownMembers) {
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> spec = ParseWatchlist(R"(brands:
  - id: telenor
    group: nordic
    terms: [telenor]
  - id: telia
    terms: [telia]
groups:
  nordic: [telia]
  all: [telenor, telai]
)",
                                                     "w.yaml", diagnostics);
  EXPECT_FALSE(spec);
  EXPECT_EQ(diagnostics.ToString(),
            "w.yaml:9:18: error: group 'all' names brand 'telai', which the watchlist lacks "
            "(hint: did you mean 'telia'?)\n");
}

// ---------------------------------------------------------------------------------------------
// Cache

TEST(QueryCacheTest, SecondLoadHitsTheCacheAndCorruptFilesFallBack) {
  namespace fs = std::filesystem;
  const fs::path directory = fs::temp_directory_path() /
                             ("brandpulse-cache-test-" + std::to_string(::getpid()));
  fs::remove_all(directory);
  Diagnostics diagnostics;
  std::string yaml = "brands:\n";
  for (int i = 0; i < 300; ++i) {
    yaml += "  - id: b" + std::to_string(i) + "\n    query: '(brand" + std::to_string(i) +
            " OR \"brand " + std::to_string(i) + " norge\") AND NOT arena'\n";
  }
  std::optional<WatchlistSpec> spec = ParseWatchlist(yaml, "w.yaml", diagnostics);
  ASSERT_TRUE(spec) << diagnostics.ToString();
  WatchlistCacheOptions cache{directory.string()};
  const std::vector<std::string> texts = {"brand7 is great", "brand 12 norge", "Brand12 arena",
                                          "nothing", "BRAND299 og brand3"};
  auto all_matches = [&](const CompiledWatchlist& watchlist) {
    std::string out;
    for (const std::string& text : texts) out += Matches(watchlist, text) + "|";
    return out;
  };

  WatchlistBuildInfo first;
  auto compiled = CompiledWatchlist::Make(*spec, cache, &first);
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  EXPECT_FALSE(first.loaded_from_cache);
  EXPECT_TRUE(first.cache_written);
  ASSERT_TRUE(fs::exists(first.cache_file));
  const std::string expected = all_matches(**compiled);
  EXPECT_EQ(expected, "b7|b12|||b3 b299|");

  WatchlistBuildInfo second;
  auto loaded = CompiledWatchlist::Make(*spec, cache, &second);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(second.loaded_from_cache);
  EXPECT_EQ(second.cache_file, first.cache_file);
  EXPECT_EQ(all_matches(**loaded), expected);

  // Flip bytes in the middle of the payload: the checksum catches it, Make() compiles.
  {
    std::fstream file(first.cache_file, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(fs::file_size(first.cache_file) / 2));
    file.write("garbage!", 8);
  }
  WatchlistBuildInfo third;
  auto recompiled = CompiledWatchlist::Make(*spec, cache, &third);
  ASSERT_TRUE(recompiled.ok());
  EXPECT_FALSE(third.loaded_from_cache);
  EXPECT_TRUE(third.cache_was_corrupt);
  EXPECT_TRUE(third.cache_written);
  EXPECT_EQ(all_matches(**recompiled), expected);

  // A truncated file too.
  fs::resize_file(first.cache_file, 10);
  WatchlistBuildInfo fourth;
  ASSERT_TRUE(CompiledWatchlist::Make(*spec, cache, &fourth).ok());
  EXPECT_TRUE(fourth.cache_was_corrupt);

  // A changed watchlist has another key.
  spec->brands[0].terms.push_back("new term");
  WatchlistBuildInfo changed;
  ASSERT_TRUE(CompiledWatchlist::Make(*spec, cache, &changed).ok());
  EXPECT_FALSE(changed.loaded_from_cache);
  EXPECT_NE(changed.cache_file, first.cache_file);
  fs::remove_all(directory);
}

}  // namespace
}  // namespace brandpulse
