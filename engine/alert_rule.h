// AlertRule: turns what the pipeline saw into alerts. A rule is built once per run from its spec
// (operators/, registered by `type:`) and called by the coordinator only, in a deterministic
// order: batches in source order, windows as the watermark closes them, then the watermark.
// Whatever state it keeps (a baseline, a timer per unanswered question) goes into the epoch's
// commit through Snapshot(), in the same WriteBatch as the windows and positions, and comes back
// through Restore(): rules are exact across crashes like the windows are.
//
// Thread safety: none needed; the coordinator calls every method.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/batch.h"
#include "engine/brand_directory.h"
#include "engine/state_store.h"
#include "engine/status.h"
#include "engine/window_metrics.h"
#include "engine/window_types.h"

namespace brandpulse {

struct FiredAlert {
  // Stable: the same alert after a restart has the same id ("<rule>/<brand>/<window start>");
  // receivers de-duplicate on it, and it is the outbox key after the sink's name.
  std::string id;
  std::string payload;  // one JSON object, no newline
  uint32_t brand_index = 0;
};

// A brand's window whose metrics are final (the watermark passed its end plus the allowed
// lateness). For a sliding window spec, the window that ends with the bucket that closed.
struct ClosedWindow {
  uint32_t brand_index = 0;
  uint32_t window_index = 0;  // into the pipeline's windows
  const WindowSpec* window = nullptr;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  const WindowMetrics* metrics = nullptr;
};

// What a rule may read besides its input, and where its alerts go. Valid during the call.
struct RuleContext {
  const BrandDirectory& brands;
  int64_t watermark_ms;
  std::vector<FiredAlert>& fired;
};

class AlertRule {
 public:
  virtual ~AlertRule() = default;
  // The rule's name from the pipeline file; unique, and the prefix of its stored state.
  virtual const std::string& name() const = 0;

  // Which inputs the rule wants, so the runner does no work for rules that do not need it.
  virtual bool WatchesWindow(uint32_t window_index) const { return false; }
  virtual bool WatchesBatches() const { return false; }

  // Once, before any input: reads the rule's state from the store.
  virtual Status Restore(StateStore& store, const BrandDirectory& brands) { return Status::Ok(); }
  // Each finished batch, in source order (posts, mentions, dead letters are in it).
  virtual Status OnBatch(const Batch& batch, RuleContext& context) { return Status::Ok(); }
  // Each closed window of a watched window spec, in close order.
  virtual Status OnWindowClosed(const ClosedWindow& window, RuleContext& context) {
    return Status::Ok();
  }
  // The watermark advanced to context.watermark_ms (event-time timers fire here).
  virtual Status OnWatermark(RuleContext& context) { return Status::Ok(); }
  // Writes what changed since the last snapshot into the epoch's commit.
  virtual Status Snapshot(StateStore::Commit& commit) { return Status::Ok(); }
  // The watchlist was reloaded: brand indexes changed (ids did not). State kept by index must
  // follow its brand by id.
  virtual Status OnBrandsChanged(const BrandDirectory& before, const BrandDirectory& after) {
    return Status::Ok();
  }
};

}  // namespace brandpulse
