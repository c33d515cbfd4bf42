#include "pipeline/rule_set.h"

#include <fmt/format.h>

namespace brandpulse {

Result<RuleSet> RuleSet::Make(const std::vector<std::shared_ptr<const AlertRuleSpec>>& specs,
                              const std::vector<WindowSpec>& windows,
                              const BrandDirectory& brands) {
  RuleSet set;
  set.watched_windows_.assign(windows.size(), false);
  RuleBuildContext context{&windows, &brands};
  for (const std::shared_ptr<const AlertRuleSpec>& spec : specs) {
    Result<std::unique_ptr<AlertRule>> rule = spec->Make(context);
    if (!rule.ok()) return rule.status().WithContext(fmt::format("alert rule '{}'", spec->name()));
    for (uint32_t index = 0; index < windows.size(); ++index) {
      if ((*rule)->WatchesWindow(index)) set.watched_windows_[index] = true;
    }
    set.watches_batches_ = set.watches_batches_ || (*rule)->WatchesBatches();
    set.rules_.push_back(std::move(*rule));
  }
  return set;
}

Status RuleSet::Restore(StateStore& store, const BrandDirectory& brands) {
  for (auto& rule : rules_) RETURN_IF_ERROR(rule->Restore(store, brands).WithContext(rule->name()));
  return Status::Ok();
}

Status RuleSet::OnBatch(const Batch& batch, RuleContext& context) {
  for (auto& rule : rules_) {
    if (rule->WatchesBatches()) RETURN_IF_ERROR(rule->OnBatch(batch, context));
  }
  return Status::Ok();
}

Status RuleSet::OnWindowClosed(const ClosedWindow& window, RuleContext& context) {
  for (auto& rule : rules_) {
    if (rule->WatchesWindow(window.window_index)) {
      RETURN_IF_ERROR(rule->OnWindowClosed(window, context));
    }
  }
  return Status::Ok();
}

Status RuleSet::OnWatermark(RuleContext& context) {
  for (auto& rule : rules_) RETURN_IF_ERROR(rule->OnWatermark(context));
  return Status::Ok();
}

Status RuleSet::Snapshot(StateStore::Commit& commit) {
  for (auto& rule : rules_) RETURN_IF_ERROR(rule->Snapshot(commit));
  return Status::Ok();
}

Status RuleSet::OnBrandsChanged(const BrandDirectory& before, const BrandDirectory& after) {
  for (auto& rule : rules_) RETURN_IF_ERROR(rule->OnBrandsChanged(before, after));
  return Status::Ok();
}

}  // namespace brandpulse
