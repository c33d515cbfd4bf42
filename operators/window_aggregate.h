// WindowAggregate: pre-aggregates mentions into per-worker, in-memory window deltas
// (tumbling event-time windows per brand). The pipeline's coordinator takes the deltas at each
// commit and writes them to RocksDB as merge operands in one WriteBatch with the source
// positions (see engine/pipeline_runner.cc and docs/state.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/transform.h"
#include "engine/window_metrics.h"

namespace brandpulse {

struct WindowDeltaKey {
  uint32_t brand_index = 0;
  uint32_t window_index = 0;  // into the pipeline's windows
  int64_t start_ms = 0;
  bool operator==(const WindowDeltaKey&) const = default;
};

struct WindowDeltaKeyHash {
  size_t operator()(const WindowDeltaKey& key) const;
};

// First millisecond of the tumbling window of `size_ms` that holds `time_ms` (floor, also for
// negative times).
int64_t WindowStart(int64_t time_ms, int64_t size_ms);

class WindowAggregate final : public Transform {
 public:
  // `watermark` is written by the coordinator only while no worker runs (at commit barriers)
  // and read by workers: a mention whose window ended at least `allowed_lateness_ms` before it
  // is late. It must outlive the operator.
  WindowAggregate(std::vector<int64_t> window_sizes_ms, int64_t allowed_lateness_ms,
                  const std::atomic<int64_t>* watermark)
      : window_sizes_ms_(std::move(window_sizes_ms)),
        allowed_lateness_ms_(allowed_lateness_ms),
        watermark_(watermark) {}

  std::string_view name() const override { return "window"; }
  std::unique_ptr<TransformState> MakeState() const override;
  // For each mention: adds it to the delta of every window holding the post's event time, or
  // records the post in batch.late_post_indices when that window is already closed.
  Status Process(Batch& batch, TransformState& state) const override;

  // Hands every delta accumulated in `state` to `visit`, then empties it.
  // REQUIRES: the worker owning `state` is paused (commit barrier).
  static void TakeDeltas(TransformState& state,
                         const std::function<void(const WindowDeltaKey&, WindowMetrics&)>& visit);

 private:
  std::vector<int64_t> window_sizes_ms_;
  int64_t allowed_lateness_ms_;
  const std::atomic<int64_t>* watermark_;
};

}  // namespace brandpulse
