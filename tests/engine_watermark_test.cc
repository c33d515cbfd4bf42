// WatermarkTracker: minimum over partitions, idle partitions, restore after a restart.
#include "engine/watermark.h"

#include <gtest/gtest.h>

namespace brandpulse {
namespace {

constexpr int64_t kNone = WatermarkTracker::kNone;

TEST(WatermarkTrackerTest, NoEventTimeNoWatermark) {
  WatermarkTracker tracker(30'000, 0);
  EXPECT_EQ(tracker.Compute(0), kNone);
  tracker.Observe(0, kNone, 0);  // a batch of dead letters only
  EXPECT_EQ(tracker.Compute(0), kNone);
  EXPECT_EQ(tracker.max_event_time_ms(), kNone);
}

TEST(WatermarkTrackerTest, SlowestPartitionHoldsTheWatermark) {
  WatermarkTracker tracker(30'000, 0);
  tracker.Observe(0, 1'000'000, 0);
  tracker.Observe(1, 400'000, 0);
  tracker.Observe(2, 2'000'000, 0);
  EXPECT_EQ(tracker.Compute(0), 400'000 - 30'000);
  tracker.Observe(1, 300'000, 10);  // an older batch does not move a partition back
  EXPECT_EQ(tracker.Compute(10), 370'000);
  tracker.Observe(1, 1'500'000, 20);
  EXPECT_EQ(tracker.Compute(20), 1'000'000 - 30'000);
  EXPECT_EQ(tracker.max_event_time_ms(), 2'000'000);
}

TEST(WatermarkTrackerTest, IdlePartitionsStopHoldingItBack) {
  WatermarkTracker tracker(0, 5'000);
  tracker.Observe(0, 100'000, 0);
  tracker.Observe(1, 900'000, 0);
  EXPECT_EQ(tracker.Compute(4'999), 100'000);
  tracker.Observe(1, 950'000, 6'000);  // partition 1 keeps talking; partition 0 went quiet at 0
  EXPECT_EQ(tracker.Compute(6'000), 950'000);  // 0 idle for 6 s > 5 s
  tracker.Observe(0, 120'000, 7'000);  // 0 is back: it holds the minimum again
  EXPECT_EQ(tracker.Compute(7'000), 120'000);
  // Everybody idle: the newest partition decides, so windows still close.
  EXPECT_EQ(tracker.Compute(20'000), 950'000);
}

TEST(WatermarkTrackerTest, WithoutIdleTimeoutAQuietPartitionHoldsForever) {
  WatermarkTracker tracker(0, 0);
  tracker.Observe(0, 100, 0);
  tracker.Observe(1, 900, 1'000'000);
  EXPECT_EQ(tracker.Compute(1'000'000'000), 100);
}

TEST(WatermarkTrackerTest, EncodeAndRestore) {
  WatermarkTracker tracker(10, 1'000);
  tracker.Observe(3, 500, 0);
  tracker.Observe(7, -20, 0);
  tracker.Observe(9, kNone, 0);
  EXPECT_EQ(tracker.Encode(), "3:500,7:-20");
  WatermarkTracker restored(10, 1'000);
  ASSERT_TRUE(restored.Restore(tracker.Encode(), 50'000));
  EXPECT_EQ(restored.Compute(50'000), -30);  // restored partitions are active again
  EXPECT_EQ(restored.Compute(51'000), 490);  // both idle again: the newest decides
  EXPECT_FALSE(restored.Restore("3:abc", 0));
  EXPECT_FALSE(restored.Restore("3", 0));
  EXPECT_TRUE(restored.Restore("", 0));
  EXPECT_EQ(restored.Compute(0), kNone);
}

}  // namespace
}  // namespace brandpulse
