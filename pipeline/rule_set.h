// RuleSet: the pipeline's alert rules, built from their specs, called in config order, and only
// with the inputs each one watches (engine/alert_rule.h).
//
// Thread safety: the coordinator only.
#pragma once

#include <memory>
#include <vector>

#include "engine/alert_rule.h"
#include "operators/registry.h"

namespace brandpulse {

class RuleSet {
 public:
  static Result<RuleSet> Make(const std::vector<std::shared_ptr<const AlertRuleSpec>>& specs,
                              const std::vector<WindowSpec>& windows,
                              const BrandDirectory& brands);

  bool WatchesWindow(uint32_t window_index) const {
    return window_index < watched_windows_.size() && watched_windows_[window_index];
  }
  bool WatchesBatches() const { return watches_batches_; }

  Status Restore(StateStore& store, const BrandDirectory& brands);
  Status OnBatch(const Batch& batch, RuleContext& context);
  Status OnWindowClosed(const ClosedWindow& window, RuleContext& context);
  Status OnWatermark(RuleContext& context);
  Status Snapshot(StateStore::Commit& commit);
  Status OnBrandsChanged(const BrandDirectory& before, const BrandDirectory& after);

 private:
  std::vector<std::unique_ptr<AlertRule>> rules_;
  std::vector<bool> watched_windows_;  // by window index: some rule watches it
  bool watches_batches_ = false;
};

}  // namespace brandpulse
