// Issue 17, the commit path and start-up: the window closer's in-memory totals (closing reads
// nothing from the store), retention only when a window can expire, inline window counters,
// hashtag-only term extraction, and the watchlist parse cache.
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/state_store.h"
#include "engine/window_metrics.h"
#include "operators/watchlist.h"
#include "operators/window_aggregate.h"
#include "pipeline/window_closer.h"
#include "tests/test_support.h"

using namespace brandpulse_test;  // NOLINT: test helpers
namespace fs = std::filesystem;

namespace brandpulse {
namespace {

constexpr int64_t kMinute = 60'000;

class TwoBrands final : public BrandDirectory {
 public:
  uint32_t brand_count() const override { return 2; }
  BrandInfo brand_info(uint32_t index) const override {
    return BrandInfo{index == 0 ? "acme" : "globex", index == 0 ? "Acme" : "Globex", ""};
  }
  std::optional<uint32_t> FindBrand(std::string_view id) const override {
    if (id == "acme") return 0u;
    if (id == "globex") return 1u;
    return std::nullopt;
  }
};

WindowSpec Tumbling(int64_t size_ms) {
  WindowSpec window;
  window.name = "5m";
  window.type = WindowType::kTumbling;
  window.size_ms = size_ms;
  return window;
}

WindowMetrics Mentions(uint64_t count, uint64_t author_hash) {
  WindowMetrics metrics;
  for (uint64_t i = 0; i < count; ++i) metrics.AddMention(author_hash + i, 10);
  return metrics;
}

class WindowCloserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = MakeTempDirectory("closer");
    StateOptions options;
    options.directory = (directory_ / "state").string();
    store_ = StateStore::Open(options).value();
  }
  fs::path directory_;
  std::unique_ptr<StateStore> store_;
  TwoBrands brands_;
  std::vector<WindowSpec> windows_{Tumbling(5 * kMinute)};
};

// The closer shows the rules the window's total from the deltas it tracked, without reading the
// store: here the store never received them, and the rule still sees every mention.
TEST_F(WindowCloserTest, ClosesFromTotalsKeptInMemoryWithoutReadingTheStore) {
  WindowCloser closer(windows_, 0, [](uint32_t) { return true; });
  ASSERT_TRUE(closer.Restore(*store_, brands_, INT64_MIN).ok());
  EXPECT_FALSE(closer.ReadsStore());
  WindowDeltaMap first, second;
  first[WindowDeltaKey{0, 0, kBrandTotal, 0}] = Mentions(3, 100);
  second[WindowDeltaKey{0, 0, kBrandTotal, 0}] = Mentions(2, 200);
  second[WindowDeltaKey{1, 0, kBrandTotal, 5 * kMinute}] = Mentions(1, 300);
  closer.Track(first);
  StateStore::Commit commit = store_->NewCommit();
  std::vector<WindowDeltaKey> replaced;
  std::map<std::pair<uint32_t, int64_t>, uint64_t> seen;
  auto record = [&](const ClosedWindow& window) {
    seen[{window.brand_index, window.start_ms}] = window.metrics->mentions;
    return Status::Ok();
  };
  // Nothing closes before the window's end.
  ASSERT_EQ(closer.Close(kMinute, false, first, brands_, *store_, commit, record, replaced).value(),
            kMinute);
  EXPECT_TRUE(seen.empty());
  closer.Track(second);
  EXPECT_EQ(closer.open_count(), 2u);
  ASSERT_TRUE(
      closer.Close(5 * kMinute, false, second, brands_, *store_, commit, record, replaced).ok());
  EXPECT_EQ(seen, (std::map<std::pair<uint32_t, int64_t>, uint64_t>{{{0, 0}, 5}}));
  EXPECT_EQ(closer.open_count(), 1u);
  // The end of the input closes the rest.
  ASSERT_TRUE(closer.Close(5 * kMinute, true, {}, brands_, *store_, commit, record, replaced).ok());
  EXPECT_EQ(seen.at({1, 5 * kMinute}), 1u);
  EXPECT_TRUE(replaced.empty());
}

// A restart: the totals start from what the store holds.
TEST_F(WindowCloserTest, RestoredWindowsStartFromTheStoredValue) {
  StateStore::Commit stored = store_->NewCommit();
  stored.MergeWindow(WindowKey{"acme", 5 * kMinute, 0, "", 0}, Mentions(4, 1));
  ASSERT_TRUE(store_->Write(stored).ok());
  WindowCloser closer(windows_, 0, [](uint32_t) { return true; });
  ASSERT_TRUE(closer.Restore(*store_, brands_, INT64_MIN).ok());
  WindowDeltaMap deltas;
  deltas[WindowDeltaKey{0, 0, kBrandTotal, 0}] = Mentions(1, 50);
  closer.Track(deltas);
  uint64_t mentions = 0;
  StateStore::Commit commit = store_->NewCommit();
  std::vector<WindowDeltaKey> replaced;
  ASSERT_TRUE(closer
                  .Close(5 * kMinute, false, deltas, brands_, *store_, commit,
                         [&](const ClosedWindow& window) {
                           mentions = window.metrics->mentions;
                           return Status::Ok();
                         },
                         replaced)
                  .ok());
  EXPECT_EQ(mentions, 5u);
}

// Retention scans only when a window the store may hold ends at or before the cutoff.
TEST_F(WindowCloserTest, RetentionIsDueOnlyWhenAWindowCanExpire) {
  StateStore::Commit stored = store_->NewCommit();
  stored.MergeWindow(WindowKey{"globex", 5 * kMinute, 10 * kMinute, "lang=en", 0}, Mentions(1, 1));
  ASSERT_TRUE(store_->Write(stored).ok());
  WindowCloser closer(windows_, 0, [](uint32_t) { return false; });
  ASSERT_TRUE(closer.Restore(*store_, brands_, INT64_MIN).ok());  // ends at 15 min
  EXPECT_FALSE(closer.ExpireBefore(14 * kMinute));
  WindowDeltaMap deltas;
  deltas[WindowDeltaKey{0, 0, kBrandTotal, 20 * kMinute}] = Mentions(1, 1);  // ends at 25 min
  closer.Track(deltas);
  EXPECT_TRUE(closer.ExpireBefore(15 * kMinute));
  EXPECT_FALSE(closer.ExpireBefore(15 * kMinute)) << "forgotten once due";
  EXPECT_FALSE(closer.ExpireBefore(24 * kMinute));
  EXPECT_TRUE(closer.ExpireBefore(25 * kMinute));
  EXPECT_FALSE(closer.ExpireBefore(INT64_MAX));
}

// Counters stay inline up to CounterList::kInline and spill beyond, sorted and exact either way.
TEST(CounterListTest, InlineAndSpilledCountersAddMergeAndEncodeAlike) {
  WindowMetrics small, large;
  for (uint32_t id : {5u, 1u, 3u}) small.AddCounter(id, id * 10);
  small.AddCounter(3, 1);
  EXPECT_EQ(small.counters.size(), 3u);
  EXPECT_EQ(small.Counter(3), 31u);
  const uint32_t many = CounterList::kInline + 5;
  for (uint32_t id = many; id > 0; --id) large.AddCounter(id, 1);
  ASSERT_EQ(large.counters.size(), many);
  uint32_t expected_id = 1;
  for (const WindowCounter& counter : large.counters) EXPECT_EQ(counter.id, expected_id++);
  large.Merge(small);
  EXPECT_EQ(large.Counter(5), 51u);
  EXPECT_EQ(large.Counter(3), 32u);
  std::string bytes;
  large.EncodeTo(bytes);
  WindowMetrics decoded = WindowMetrics::Decode(bytes).value();
  EXPECT_EQ(decoded, large);
  WindowMetrics copy = small;
  EXPECT_EQ(copy, small);
  copy.AddCounter(7, 1);
  EXPECT_FALSE(copy == small);
}

// Without co-occurring words only the tags are extracted, folded; the same ones as the full
// extraction finds.
TEST(PostTermsTest, HashtagsOnlyGivesTheFullExtractionsTags) {
  for (std::string_view text :
       {"Acme #Outage at https://x.co/#frag and $ACME, #1 no ＃タグ #Il·lusió x#y",
        "no tags here at all", "#A #B #a", "$TEST? #ÅRE!"}) {
    SCOPED_TRACE(text);
    PostTerms all, tags;
    all.Extract(text, true);
    tags.Extract(text, false);
    std::vector<std::string> expected, got;
    for (const PostTerms::Token& token : all.tokens) {
      if (token.hashtag) expected.emplace_back(all.View(token));
    }
    for (const PostTerms::Token& token : tags.tokens) {
      EXPECT_TRUE(token.hashtag);
      got.emplace_back(tags.View(token));
    }
    EXPECT_EQ(got, expected);
  }
}

class WatchlistCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = MakeTempDirectory("spec-cache");
    const char* previous = std::getenv("XDG_CACHE_HOME");
    if (previous != nullptr) previous_ = previous;
    setenv("XDG_CACHE_HOME", (directory_ / "cache").c_str(), 1);
    unsetenv("BRANDPULSE_WATCHLIST_SPEC_CACHE");
  }
  void TearDown() override {
    if (previous_) {
      setenv("XDG_CACHE_HOME", previous_->c_str(), 1);
    } else {
      unsetenv("XDG_CACHE_HOME");
    }
  }
  size_t CacheFiles() const {
    const fs::path cache = directory_ / "cache" / "brandpulse" / "watchlist-spec";
    if (!fs::exists(cache)) return 0;
    return static_cast<size_t>(std::distance(fs::directory_iterator(cache), fs::directory_iterator()));
  }
  fs::path directory_;
  std::optional<std::string> previous_;
};

void ExpectSameSpec(const WatchlistSpec& a, const WatchlistSpec& b) {
  EXPECT_EQ(a.path, b.path);
  ASSERT_EQ(a.brands.size(), b.brands.size());
  for (size_t i = 0; i < a.brands.size(); ++i) {
    const BrandSpec& x = a.brands[i];
    const BrandSpec& y = b.brands[i];
    SCOPED_TRACE(x.id);
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.group, y.group);
    EXPECT_EQ(x.terms, y.terms);
    EXPECT_EQ(x.handles, y.handles);
    EXPECT_EQ(x.hashtags, y.hashtags);
    EXPECT_EQ(x.exclusions, y.exclusions);
    EXPECT_EQ(x.profiles, y.profiles);
    EXPECT_EQ(x.location.file, y.location.file);
    EXPECT_EQ(x.location.line, y.location.line);
    EXPECT_EQ(x.location.column, y.location.column);
    ASSERT_EQ(x.query.has_value(), y.query.has_value());
    if (x.query) {
      EXPECT_EQ(x.query->source, y.query->source);
      EXPECT_EQ(FormatQueryNode(*x.query, x.query->root), FormatQueryNode(*y.query, y.query->root));
      ASSERT_EQ(x.query->nodes.size(), y.query->nodes.size());
      for (size_t n = 0; n < x.query->nodes.size(); ++n) {
        EXPECT_EQ(x.query->nodes[n].location.line, y.query->nodes[n].location.line);
        EXPECT_EQ(x.query->nodes[n].location.column, y.query->nodes[n].location.column);
      }
    }
  }
  ASSERT_EQ(a.groups.size(), b.groups.size());
  for (size_t i = 0; i < a.groups.size(); ++i) {
    EXPECT_EQ(a.groups[i].name, b.groups[i].name);
    EXPECT_EQ(a.groups[i].brand_ids, b.groups[i].brand_ids);
  }
}

TEST_F(WatchlistCacheTest, ASecondLoadComesFromTheCacheAndIsTheSameSpec) {
  const std::string path =
      std::string(BRANDPULSE_SOURCE_DIR) + "/pipelines/watchlists/nordic-spanish-telecoms.yaml";
  const fs::path copy = directory_ / "watchlist.yaml";
  WriteFile(copy, ReadFile(path) +
                      "\n  - id: zeta\n    terms: [zeta]\n    query: |\n      (zeta OR \"zeta "
                      "co\") AND NOT\n        arena\n");
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> parsed = LoadWatchlist(copy.string(), diagnostics);
  ASSERT_TRUE(parsed) << diagnostics.ToString();
  EXPECT_EQ(CacheFiles(), 1u);
  // The second load decodes the cached entry (no new file); a changed file is parsed anew.
  std::optional<WatchlistSpec> cached = LoadWatchlist(copy.string(), diagnostics);
  ASSERT_TRUE(cached) << diagnostics.ToString();
  EXPECT_EQ(diagnostics.size(), 0u);
  ExpectSameSpec(*parsed, *cached);
  EXPECT_EQ(CacheFiles(), 1u);
  // Proof that it was the cache: an entry edited in place (the brand's name) is what loads.
  const fs::path cache = directory_ / "cache" / "brandpulse" / "watchlist-spec";
  for (const auto& entry : fs::directory_iterator(cache)) {
    std::string bytes = ReadFile(entry.path());
    const std::string id_and_name("\x04zeta\x04zeta", 10);
    const size_t at = bytes.find(id_and_name);
    ASSERT_NE(at, std::string::npos);
    bytes.replace(at, id_and_name.size(), std::string("\x04zeta\x04ZETA", 10));
    WriteFile(entry.path(), bytes);
  }
  std::optional<WatchlistSpec> edited = LoadWatchlist(copy.string(), diagnostics);
  ASSERT_TRUE(edited);
  EXPECT_EQ(edited->brands.back().name, "ZETA");
  WriteFile(copy, ReadFile(copy) + "\n  - id: eta\n    terms: [eta]\n");
  std::optional<WatchlistSpec> changed = LoadWatchlist(copy.string(), diagnostics);
  ASSERT_TRUE(changed) << diagnostics.ToString();
  EXPECT_EQ(changed->brands.size(), parsed->brands.size() + 1);
  EXPECT_EQ(CacheFiles(), 2u);
}

TEST_F(WatchlistCacheTest, AFileWithProblemsIsNeverCachedAndKeepsItsDiagnostics) {
  const fs::path file = directory_ / "bad.yaml";
  WriteFile(file, "brands:\n  - id: acme\n    trems: [acme]\n");
  for (int round = 0; round < 2; ++round) {
    Diagnostics diagnostics;
    EXPECT_FALSE(LoadWatchlist(file.string(), diagnostics));
    ASSERT_GE(diagnostics.size(), 1u);
    EXPECT_NE(diagnostics.ToString().find(file.string() + ":3:5"), std::string::npos)
        << diagnostics.ToString();
    EXPECT_NE(diagnostics.ToString().find("did you mean 'terms'"), std::string::npos)
        << diagnostics.ToString();
  }
  EXPECT_EQ(CacheFiles(), 0u);
}

TEST_F(WatchlistCacheTest, ADamagedCacheEntryIsParsedAgain) {
  const fs::path file = directory_ / "w.yaml";
  WriteFile(file, "brands:\n  - {id: acme, terms: [acme]}\n");
  Diagnostics diagnostics;
  ASSERT_TRUE(LoadWatchlist(file.string(), diagnostics));
  ASSERT_EQ(CacheFiles(), 1u);
  const fs::path cache = directory_ / "cache" / "brandpulse" / "watchlist-spec";
  for (const auto& entry : fs::directory_iterator(cache)) {
    std::string bytes = ReadFile(entry.path());
    WriteFile(entry.path(), bytes.substr(0, bytes.size() - 3));
  }
  std::optional<WatchlistSpec> spec = LoadWatchlist(file.string(), diagnostics);
  ASSERT_TRUE(spec) << diagnostics.ToString();
  ASSERT_EQ(spec->brands.size(), 1u);
  EXPECT_EQ(spec->brands[0].terms, std::vector<std::string>{"acme"});
}

TEST_F(WatchlistCacheTest, EnvironmentSubstitutionIsNeverCached) {
  setenv("BRANDPULSE_SPEC_CACHE_TEST_TERM", "telia", 1);
  const fs::path file = directory_ / "env.yaml";
  WriteFile(file, "brands:\n  - {id: t, terms: [\"${BRANDPULSE_SPEC_CACHE_TEST_TERM}\"]}\n");
  Diagnostics diagnostics;
  ASSERT_TRUE(LoadWatchlist(file.string(), diagnostics));
  setenv("BRANDPULSE_SPEC_CACHE_TEST_TERM", "telenor", 1);
  std::optional<WatchlistSpec> spec = LoadWatchlist(file.string(), diagnostics);
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->brands[0].terms, std::vector<std::string>{"telenor"});
  EXPECT_EQ(CacheFiles(), 0u);
}

}  // namespace
}  // namespace brandpulse
