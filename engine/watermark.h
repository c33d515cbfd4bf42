// WatermarkTracker: event-time progress across a source's partitions (a file is one partition;
// a Kafka topic has many). Each partition's watermark is its newest event time minus the
// allowed out-of-orderness; the pipeline's watermark is the minimum over partitions, so no
// partition's posts are declared late because another partition ran ahead. A partition that
// has delivered nothing for `idle_timeout_ms` of processing time stops holding the minimum back
// (Flink's withIdleness): a quiet partition must not stall every window. When every partition
// is idle the newest of them decides. Partitions that never carried an event time are ignored.
//
// The coordinator owns it (no locking). Results depend on processing time only through the idle
// timeout; with it off (0) or a single partition they depend on the input alone, which is what
// makes reruns and crash recovery give identical windows.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace brandpulse {

class WatermarkTracker {
 public:
  static constexpr int64_t kNone = INT64_MIN;

  WatermarkTracker(int64_t max_out_of_orderness_ms, int64_t idle_timeout_ms)
      : max_out_of_orderness_ms_(max_out_of_orderness_ms), idle_timeout_ms_(idle_timeout_ms) {}

  // A batch from `partition` was read at processing time `now_ms`; its newest event time is
  // `max_event_time_ms` (kNone when it carried none, which still counts as activity).
  void Observe(uint32_t partition, int64_t max_event_time_ms, int64_t now_ms);
  // The partition moved to another instance (a Kafka rebalance): it no longer holds the
  // watermark back here.
  void Forget(uint32_t partition) { partitions_.erase(partition); }
  // The watermark at processing time `now_ms`, or kNone before any event time was seen.
  int64_t Compute(int64_t now_ms) const;
  // Newest event time over all partitions (kNone when none).
  int64_t max_event_time_ms() const;
  // The newest event time of the partitions other than the one furthest ahead: what no partition
  // may run ahead of by more than the allowed future skew (engine/event_time.h). kNone with
  // fewer than two partitions that carried event times.
  int64_t others_newest_ms() const;

  // "partition:max_event_time,..." for the state store's meta family, and back. Restored
  // partitions count as active from `now_ms`.
  std::string Encode() const;
  bool Restore(std::string_view encoded, int64_t now_ms);

 private:
  struct Partition {
    int64_t max_event_time_ms = kNone;
    int64_t last_active_ms = 0;
  };
  int64_t max_out_of_orderness_ms_;
  int64_t idle_timeout_ms_;
  std::map<uint32_t, Partition> partitions_;
};

}  // namespace brandpulse
