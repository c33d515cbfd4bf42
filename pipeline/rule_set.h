// RuleSet: the pipeline's alert rules, built from their specs, called in config order, and only
// with the inputs each one watches (engine/alert_rule.h). It also applies noise control to what
// the rules fire (docs/alerts.md), in event time so that a restart gives the same alerts:
// - de-duplication: an alert id already fired is dropped (ids are stable, so a window or post
//   seen again after a reload or a replay does not alert twice);
// - cooldown per rule and brand: after an alert, the rule's next alerts for the brand within
//   `cooldown` of event time are dropped;
// - grouping: alerts of rules with a `group_interval` are held per brand and interval and leave
//   as one brandpulse.alert_group/1 message once the watermark passes the interval's end.
// What it keeps (last alert time per rule and brand, recent ids, held groups) is state in the
// `rules` column family under the name "~noise", committed with the epoch.
//
// Thread safety: the coordinator only.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "engine/alert_rule.h"
#include "operators/registry.h"

namespace brandpulse {

struct NoiseStats {
  uint64_t duplicates = 0;     // dropped: same id fired before
  uint64_t cooled_down = 0;    // dropped: within the rule's cooldown for the brand
  uint64_t grouped = 0;        // alerts delivered inside a group message
  uint64_t not_owned = 0;      // dropped: another merger's brand (issue 11, SetBrandOwner)
};

class RuleSet {
 public:
  static Result<RuleSet> Make(const std::vector<std::shared_ptr<const AlertRuleSpec>>& specs,
                              const std::vector<WindowSpec>& windows,
                              const BrandDirectory& brands, int64_t allowed_lateness_ms = 60000);

  bool WatchesWindow(uint32_t window_index) const {
    return window_index < watched_windows_.size() && watched_windows_[window_index];
  }
  bool WatchesBatches() const { return watches_batches_; }

  Status Restore(StateStore& store, const BrandDirectory& brands);
  Status OnBatch(const Batch& batch, RuleContext& context);
  Status OnWindowClosed(const ClosedWindow& window, RuleContext& context);
  // Also releases held groups whose interval the watermark passed.
  Status OnWatermark(RuleContext& context);
  Status Snapshot(StateStore::Commit& commit);
  Status OnBrandsChanged(const BrandDirectory& before, const BrandDirectory& after);
  // Issue 11 (`cluster:`), at the merger: the inquiry events of the epochs applied since the last
  // commit, each to the rule that published it; every rule that watches batches then applies
  // what it holds before `release_before_ms` (engine/alert_rule.h). Reorders `events` in place
  // (grouped by rule, each rule's in their order) and hands each rule its part, not a copy (s26).
  Status OnInquiryEvents(std::span<InquiryEvent> events, int64_t release_before_ms,
                         RuleContext& context);
  // Issue 11 (s26, `cluster:`): per rule that watches batches, the ids of the brands of `brands`
  // it covers (AlertRule::CoversBrand), for ClusterRuntime::SetBrandlessCoverage.
  std::map<std::string, std::vector<std::string>> CoveredBrands(const BrandDirectory& brands) const;
  // Issue 11: every rule drops its state of these brands (their partials partition moved).
  void ClearBrands(const std::vector<std::string>& brand_ids);
  // Issue 11: every rule drops its copies of brandless events from these partials partitions.
  void ClearPartialsPartitions(const std::set<uint32_t>& partials_partitions);
  // Issue 11, snapshots (pipeline/cluster_snapshot.h): every stored state entry of the rules
  // that belongs to a brand or partials partition (AlertRule::ScopeOfState), with its owner (the
  // rule's name). The noise state (cooldowns, held groups, recent alert ids) is not visited: a
  // partition gained from a snapshot starts it over, as a replayed one does (ClearBrands).
  using StateVisitor = std::function<void(std::string_view owner, std::string_view key,
                                          std::string_view value, const RuleStateScope& scope)>;
  Status ScanBrandState(StateStore& store, const StateVisitor& visit) const;
  // Issue 11, snapshots: entries ScanBrandState gave (owner, key, value), of brands and
  // partitions cleared just before: each to its rule (AlertRule::LoadState), which puts them into
  // `write`. Entries of a rule this pipeline does not have are left out.
  Status LoadBrandState(const std::map<std::string, std::vector<std::pair<std::string, std::string>>,
                                       std::less<>>& by_owner,
                        StateStore::Commit& write);

  // Issue 11 (`cluster:`): alerts are kept only for brands `owns` accepts — the brands whose
  // partials partition this merger owns. Another merger holds the others' windows, so what a rule
  // finds for them here (a `below` threshold on an empty window) is not theirs. Unset: all brands.
  void SetBrandOwner(std::function<bool(const BrandInfo&)> owns) { owns_brand_ = std::move(owns); }

  const NoiseStats& noise_stats() const { return noise_stats_; }

 private:
  // Applies noise control to context.fired[first..]: drops, holds for grouping, or keeps.
  void Filter(size_t rule_index, size_t first, RuleContext& context);

  std::vector<std::unique_ptr<AlertRule>> rules_;
  std::vector<bool> watched_windows_;  // by window index: some rule watches it
  bool watches_batches_ = false;

  // Noise state, keyed by ids (not indexes): survives reloads and restarts.
  std::map<std::string, int64_t> last_fired_;  // "<rule>\x1f<brand id>" -> event time
  std::map<std::string, int64_t> recent_ids_;  // alert id -> event time (pruned by age)
  // Ids added / forgotten since the last snapshot: the ids are stored one key each and written
  // incrementally (rewriting up to 100,000 of them every commit made one alert per post
  // quadratic).
  std::set<std::string> ids_put_;
  std::set<std::string> ids_deleted_;
  struct HeldGroup {
    std::string brand_id;
    std::string brand_name;
    std::vector<FiredAlert> alerts;
  };
  // (interval ms, interval start, brand id) -> alerts held until the watermark passes the end.
  std::map<std::tuple<int64_t, int64_t, std::string>, HeldGroup> groups_;
  bool noise_changed_ = false;
  std::vector<std::string> deleted_keys_;
  int64_t longest_cooldown_ms_ = 0;
  std::function<bool(const BrandInfo&)> owns_brand_;  // SetBrandOwner; empty: every brand
  NoiseStats noise_stats_;
};

}  // namespace brandpulse
