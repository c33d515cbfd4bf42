// Query ranges at the ends of int64: a client may send any `from`/`to` (epoch ms) and the answer
// must come at once with the stored windows in it. Before, Cover() computed `to - 1 + step` and
// the sliding series stepped through every minute of the range: signed overflow (caught by
// UndefinedBehaviorSanitizer in make test-asan) and, for a sliding window, a loop over 10^14
// steps that never ended.
#include <chrono>
#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include "pipeline/window_queries.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMinute = 60'000;
constexpr int64_t kStart = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

class WindowQueriesRangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = brandpulse_test::MakeTempDirectory("window-queries-range");
    spec_.name = "range";
    spec_.state_directory = (work_ / "state").string();
    WindowSpec minute;
    minute.name = "1m";
    minute.size_ms = kMinute;
    WindowSpec sliding;
    sliding.name = "last-5m";
    sliding.type = WindowType::kSliding;
    sliding.size_ms = 5 * kMinute;
    sliding.slide_ms = kMinute;
    spec_.windows = {minute, sliding};
    BrandSpec acme;
    acme.id = acme.name = "acme";
    spec_.watchlist.brands = {acme};
    auto store = StateStore::Open(StateOptions{spec_.state_directory});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    StateStore::Commit commit = (*store)->NewCommit();
    // One-minute windows (also the sliding window's buckets) at minutes 0, 1 and 30.
    for (int minute : {0, 1, 30}) {
      WindowMetrics metrics;
      metrics.AddMention(0x9E3779B97F4A7C15ull * (minute + 1), 0);
      commit.MergeWindow(WindowKey{"acme", kMinute, kStart + minute * kMinute}, metrics);
    }
    commit.SetMeta("max_event_time", std::to_string(kStart + 31 * kMinute));
    ASSERT_TRUE((*store)->Write(commit).ok());
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(work_);
  }

  fs::path work_;
  PipelineSpec spec_;
  std::unique_ptr<StateStore> store_;
};

TEST_F(WindowQueriesRangeTest, TumblingSeriesOverTheWholeInt64RangeListsTheStoredWindows) {
  WindowQueries queries(*store_, spec_);
  auto answer = queries.Series("acme", DefaultQueryMetric(), "1m", "", kMin, kMax);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  ASSERT_EQ(answer->points.size(), 3u);
  EXPECT_EQ(answer->points[0].start_ms, kStart);
  EXPECT_EQ(answer->points[2].start_ms, kStart + 30 * kMinute);
  EXPECT_LT(answer->range.from_ms, kStart);
  EXPECT_GT(answer->range.to_ms, kStart + 31 * kMinute);
}

TEST_F(WindowQueriesRangeTest, SlidingSeriesOverHugeRangesAnswersAtOnceWithTheSamePoints) {
  WindowQueries queries(*store_, spec_);
  auto narrow = queries.Series("acme", DefaultQueryMetric(), "last-5m", "", kStart - kMinute,
                               kStart + 40 * kMinute);
  ASSERT_TRUE(narrow.ok()) << narrow.status().ToString();
  // Steps ending at minutes 1..6 see minute 0 and/or 1; 31..35 see minute 30.
  ASSERT_EQ(narrow->points.size(), 11u);
  EXPECT_EQ(narrow->points[0].end_ms, kStart + kMinute);
  EXPECT_EQ(narrow->points[0].totals.mentions, 1u);
  EXPECT_EQ(narrow->points[1].totals.mentions, 2u);
  EXPECT_EQ(narrow->points[10].end_ms, kStart + 35 * kMinute);

  const auto started = std::chrono::steady_clock::now();
  for (auto [from, to] : {std::pair{kMin, kMax}, std::pair{int64_t{0}, kMax / 2},
                          std::pair{kMin + 1, kStart + 40 * kMinute}}) {
    auto wide = queries.Series("acme", DefaultQueryMetric(), "last-5m", "", from, to);
    ASSERT_TRUE(wide.ok()) << wide.status().ToString();
    ASSERT_EQ(wide->points.size(), narrow->points.size()) << from << ".." << to;
    for (size_t i = 0; i < wide->points.size(); ++i) {
      EXPECT_EQ(wide->points[i].end_ms, narrow->points[i].end_ms);
      EXPECT_EQ(wide->points[i].totals.mentions, narrow->points[i].totals.mentions);
    }
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5))
      << "the work must follow the stored buckets, not the width of the range";
}

TEST_F(WindowQueriesRangeTest, RankingsOverTheWholeInt64RangeSumEveryWindow) {
  WindowQueries queries(*store_, spec_);
  auto top = queries.TopBrands(DefaultQueryMetric(), "1m", "", kMin, kMax, 10);
  ASSERT_TRUE(top.ok()) << top.status().ToString();
  ASSERT_EQ(top->brands.size(), 1u);
  EXPECT_EQ(top->total, 3u);
}

TEST(ParseQueryTimeRangeTest, RelativeTimesThatWouldOverflowAreRefused) {
  EXPECT_EQ(ParseQueryTime("-9223372036854775807ms", -10), std::nullopt);
  // Durations past 100 years are refused by the duration parser itself (docs/limits.md).
  EXPECT_EQ(ParseQueryTime("-9223372036854775807ms", 0), std::nullopt);
  EXPECT_EQ(ParseQueryTime("-36500d", 0), -36500 * 86400000LL);
  EXPECT_EQ(ParseQueryTime("-5m", kStart), kStart - 5 * kMinute);
}

}  // namespace
}  // namespace brandpulse
