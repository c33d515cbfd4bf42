// Issue 11, `time.idle_timeout` across instances (docs/cluster.md, "Idle source partitions"): the
// instance reading a source partition that is at its end and has given no record for the idle
// timeout says so in its epoch's partials (SourceRange::idle, operators/partials_codec.h), and
// a merger leaves that partition out of the merged watermark (PartialsMergeLog::Watermark) until
// a range of it says otherwise — as WatermarkTracker does in one process (Flink's withIdleness).
// Two instances here: A reads source partition 0 and goes on, B reads partition 1, which goes
// quiet. Not covered here: the reader's decision itself (ClusterRuntime::IdleNow, processing
// time, Kafka's end-of-partition events), which needs a Kafka group.
#include <gtest/gtest.h>

#include "operators/partials_codec.h"
#include "pipeline/cluster_merge_log.h"

namespace brandpulse {
namespace {

constexpr uint64_t kA = 0xaaaa;  // instance nonces
constexpr uint64_t kB = 0xbbbb;
constexpr int64_t kT0 = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr int64_t kSecond = 1000;
constexpr int64_t kOutOfOrderness = 5 * kSecond;

SourceRange Range(uint32_t partition, uint64_t start, uint64_t end, int64_t newest,
                  bool at_end = false, bool idle = false) {
  SourceRange range{partition, start, end, newest, at_end};
  range.idle = idle;
  return range;
}

// An epoch of one instance over one source partition, through the codec as on the topic.
PreparedPartials Epoch(uint64_t nonce, uint64_t seq, SourceRange range) {
  PreparedPartials prepared;
  prepared.epoch = EpochId{nonce, seq};
  prepared.source_partition_count = 2;
  prepared.ranges.push_back(range);
  std::string bytes;
  EncodePrepared(prepared, bytes);
  Result<PreparedPartials> decoded = DecodePrepared(bytes);
  EXPECT_TRUE(decoded.ok());
  return std::move(*decoded);
}

void Apply(PartialsMergeLog& log, const PreparedPartials& epoch) {
  std::vector<PreparedPartials> applied;
  log.OnPrepared(epoch, applied);
  log.OnMarker(epoch.epoch, applied);
  ASSERT_EQ(applied.size(), 1u);
}

TEST(ClusterIdle, TheIdleFlagTravelsInTheAtEndByteAndOnlyWithIt) {
  PreparedPartials prepared;
  prepared.epoch = EpochId{kA, 1};
  prepared.source_partition_count = 2;
  prepared.ranges = {Range(0, 3, 3, kT0, true, true), Range(1, 4, 9, kT0, false, true),
                     Range(2, 5, 5, kT0, true, false)};
  std::string bytes;
  EncodePrepared(prepared, bytes);
  EXPECT_EQ(bytes[1], '\x01');  // still a version 0x01 record
  Result<PreparedPartials> decoded = DecodePrepared(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->ranges.size(), 3u);
  EXPECT_TRUE(decoded->ranges[0].at_end);
  EXPECT_TRUE(decoded->ranges[0].idle);
  EXPECT_FALSE(decoded->ranges[1].idle);  // records left to read: never idle
  EXPECT_FALSE(decoded->ranges[2].idle);
  // Without idle ranges the bytes are what a merger before stop 25 wrote and reads.
  prepared.ranges[0].idle = false;
  std::string plain;
  EncodePrepared(prepared, plain);
  EXPECT_NE(plain, bytes);
  prepared.ranges[0].idle = true;
  prepared.ranges[0].at_end = false;
  std::string not_at_end;
  EncodePrepared(prepared, not_at_end);
  decoded = DecodePrepared(not_at_end);
  ASSERT_TRUE(decoded.ok());
  EXPECT_FALSE(decoded->ranges[0].idle);
}

TEST(ClusterIdle, AnIdleSourcePartitionNoLongerHoldsTheMergedWatermark) {
  PartialsMergeLog log;
  Apply(log, Epoch(kA, 1, Range(0, 0, 10, kT0 + 10 * kSecond)));
  EXPECT_EQ(log.Watermark(kOutOfOrderness), std::nullopt);  // partition 1 has not reported
  Apply(log, Epoch(kB, 1, Range(1, 0, 5, kT0 + 2 * kSecond)));
  EXPECT_EQ(log.Watermark(kOutOfOrderness), kT0 + 2 * kSecond - kOutOfOrderness);
  Apply(log, Epoch(kA, 2, Range(0, 10, 20, kT0 + 60 * kSecond)));
  // B's partition gives nothing more: at its end, it still holds every window open.
  Apply(log, Epoch(kB, 2, Range(1, 5, 5, kT0 + 2 * kSecond, true)));
  EXPECT_EQ(log.Watermark(kOutOfOrderness), kT0 + 2 * kSecond - kOutOfOrderness);
  // B reports it idle (the idle timeout passed): A's partition alone decides.
  Apply(log, Epoch(kB, 3, Range(1, 5, 5, kT0 + 2 * kSecond, true, true)));
  EXPECT_EQ(log.Watermark(kOutOfOrderness), kT0 + 60 * kSecond - kOutOfOrderness);
  EXPECT_FALSE(log.GlobalEnd());  // partition 0 is not at its end
  Apply(log, Epoch(kA, 3, Range(0, 20, 30, kT0 + 120 * kSecond)));
  EXPECT_EQ(log.Watermark(kOutOfOrderness), kT0 + 120 * kSecond - kOutOfOrderness);

  // Kept across a restart of the merger (the flag is in the stored log).
  std::string state;
  log.EncodeState(state);
  Result<PartialsMergeLog> restored = PartialsMergeLog::DecodeState(state);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_TRUE(restored->progress().at(1).idle);
  EXPECT_EQ(restored->Watermark(kOutOfOrderness), kT0 + 120 * kSecond - kOutOfOrderness);

  // Both idle: the newest of them decides (as WatermarkTracker in one process).
  PartialsMergeLog both = std::move(*restored);
  Apply(both, Epoch(kA, 4, Range(0, 30, 30, kT0 + 120 * kSecond, true, true)));
  EXPECT_EQ(both.Watermark(kOutOfOrderness), kT0 + 120 * kSecond - kOutOfOrderness);

  // Data again on B's partition: it holds the watermark again from its new newest event time.
  // (Posts older than the merged watermark, which never moves back in ClusterRuntime, are late
  // at the merger, as they are in one process after idleness was declared.)
  Apply(log, Epoch(kB, 4, Range(1, 5, 8, kT0 + 90 * kSecond)));
  EXPECT_FALSE(log.progress().at(1).idle);
  EXPECT_EQ(log.Watermark(kOutOfOrderness), kT0 + 90 * kSecond - kOutOfOrderness);
}

}  // namespace
}  // namespace brandpulse
