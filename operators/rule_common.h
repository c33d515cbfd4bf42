// What every alert rule type shares: the keys every rule reads (brands, evidence, cooldown,
// group_interval), the brand filter, the evidence posts kept for window rules, and the series
// of final windows (silence included) that window rules evaluate. Each rule type lives in
// operators/<type>_rule.{h,cc} and is documented in docs/alerts.md.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/alert_rule.h"
#include "engine/batch.h"
#include "engine/window_metric_registry.h"
#include "operators/alert_json.h"
#include "operators/registry.h"

namespace brandpulse {

struct RuleCommonOptions {
  std::string name;
  std::vector<std::string> brands;  // brand ids; empty = every brand
  uint32_t evidence = 3;            // evidence posts per alert (0..20)
  AlertNoiseOptions noise;
};

// Reads `brands`, `evidence`, `cooldown` and `group_interval` (each optional) into `options`.
void ReadRuleCommon(const std::string& name, YamlMap& section, const ConfigContext& context,
                    RuleCommonOptions& options);
// Reads the window name under `key`; its index, or nullopt (a diagnostic with did-you-mean).
std::optional<uint32_t> ReadRuleWindow(YamlMap& section, const ConfigContext& context,
                                       bool required = true);
// Reads a metric name under `key`; nullptr when absent (default taken by the caller) or unknown
// (a diagnostic).
const WindowMetricDefinition* ReadRuleMetric(YamlMap& section, std::string_view key);

// Which brands (by index) a rule applies to; follows reloads by id.
class BrandFilter {
 public:
  explicit BrandFilter(std::vector<std::string> brand_ids) : ids_(std::move(brand_ids)) {}
  void Reset(const BrandDirectory& brands);
  bool enabled(uint32_t brand_index) const {
    return brand_index < enabled_.size() && enabled_[brand_index];
  }

 private:
  std::vector<std::string> ids_;
  std::vector<bool> enabled_;
};

// The newest posts of each brand per event-time bucket, copied out of their batches, so a rule
// that fires on a closed window can show what was said in it. Bounded: `per_bucket` posts per
// brand and bucket, and buckets before DropBefore() are freed. Not stored: after a restart the
// evidence of a window that was open at the crash is what was read since (ids and numbers are
// exact; docs/alerts.md).
class EvidenceKeeper {
 public:
  EvidenceKeeper(uint32_t per_bucket, int64_t bucket_ms)
      : per_bucket_(per_bucket), bucket_ms_(bucket_ms < 1 ? 1 : bucket_ms) {}
  // Keep only mentions whose sentiment towards the brand is `sentiment` (Mention::sentiment,
  // 1 negative): sentiment_shift shows the negative posts, not just the newest.
  void set_sentiment_filter(uint8_t sentiment) { sentiment_filter_ = sentiment; }
  // Every non-own mention of an enabled brand in `batch`.
  void AddBatch(const Batch& batch, const BrandFilter& filter);
  // Up to `count` newest posts of the brand with event time in [from_ms, to_ms), newest first.
  std::vector<EvidencePost> Newest(uint32_t brand_index, int64_t from_ms, int64_t to_ms,
                                   size_t count) const;
  // Frees buckets that end at or before `time_ms`.
  void DropBefore(int64_t time_ms, const BrandDirectory& brands);
  // Brand indexes changed: keep each brand's posts under its new index.
  void Remap(const BrandDirectory& before, const BrandDirectory& after);

  // State, so a window open at a crash shows the same evidence after it: buckets changed since
  // the last call are written under "ev/<brand id>\x1f<bucket start>", dropped ones deleted.
  void Snapshot(std::string_view rule, const BrandDirectory& brands, StateStore::Commit& commit);
  // Reads one stored bucket (key without the "ev/" prefix); false when it does not decode.
  bool Restore(std::string_view key, std::string_view value, const BrandDirectory& brands);

 private:
  std::set<std::pair<uint32_t, int64_t>> dirty_;  // (brand index, bucket) changed
  std::vector<std::pair<std::string, int64_t>> dropped_;  // (brand id, bucket) to delete
  const BrandDirectory* last_brands_ = nullptr;
  uint32_t per_bucket_;
  int64_t bucket_ms_;
  uint8_t sentiment_filter_ = 0;  // 0 = any
  // brand index -> bucket start -> posts (unsorted, at most per_bucket_).
  std::map<uint32_t, std::map<int64_t, std::vector<EvidencePost>>> posts_;
};

// Top terms that explain a window: hashtags and co-occurring terms of its metrics, by count.
std::vector<std::pair<std::string, uint64_t>> TopTermsOf(const WindowMetrics& metrics, size_t k);

// The final windows of one window spec, for every enabled brand, including windows in which a
// brand had no mention (value 0): the closer shows only windows with data, but silence is a
// value too (`below`, baselines). Values are gathered as windows close and handed out per window
// start once the watermark passes its close time. The next start to hand out is state: Encode
// it in the rule's snapshot and Restore it, and every window is evaluated exactly once.
class WindowSeries {
 public:
  WindowSeries(const WindowSpec& window, int64_t allowed_lateness_ms);
  // A closed window's metrics (copied: the values a rule keeps of them).
  void Add(const ClosedWindow& closed);
  struct Final {
    int64_t start_ms;
    int64_t end_ms;
    // By brand index: the window's metrics, or nullptr when the brand had no mention.
    const std::map<uint32_t, WindowMetrics>* metrics;
    // Issue 11 (a merger replaying a gained partials partition beside kept ones): the brands this
    // window is evaluated for; rules skip the others. nullptr: every brand.
    const std::set<uint32_t>* only = nullptr;
    const std::set<uint32_t>* skip = nullptr;
    const WindowMetrics* Of(uint32_t brand_index) const {
      auto found = metrics->find(brand_index);
      return found == metrics->end() ? nullptr : &found->second;
    }
    bool Includes(uint32_t brand_index) const {
      return (only == nullptr || only->contains(brand_index)) &&
             (skip == nullptr || !skip->contains(brand_index));
    }
  };
  // Calls visit(final) for each window start, in order, whose close time <= watermark_ms.
  // Starts are counted from the first window the series saw. Brands being replayed (Replay) are
  // visited first, for their own starts (Final::only), and skipped by the others' (Final::skip)
  // until they reach the series' next start.
  Status TakeFinal(int64_t watermark_ms, const std::function<Status(const Final&)>& visit);
  // The next start to hand out (INT64_MIN before the first window).
  int64_t next_start_ms() const { return next_start_ms_; }
  void set_next_start_ms(int64_t start_ms) { next_start_ms_ = start_ms; }
  int64_t step_ms() const { return step_ms_; }
  int64_t size_ms() const { return size_ms_; }
  void Remap(const BrandDirectory& before, const BrandDirectory& after);
  // Issue 11: these brands' windows will be shown again from their first (a merger replays their
  // partials partition beside kept ones whose series is ahead): what is pending of them goes, and
  // they are handed out as one cohort, from the first window of theirs that closes, until they
  // reach next_start_ms() and join the series. Not stored: a restart replays the partition again.
  void Replay(const std::set<uint32_t>& brand_indexes);
  bool replaying() const { return !cohorts_.empty(); }

 private:
  struct Cohort {
    std::set<uint32_t> brands;
    int64_t next_start_ms = INT64_MIN;  // INT64_MIN: from the first window of theirs that closes
  };
  const Cohort* CohortOf(uint32_t brand_index) const;
  Status TakeCohorts(int64_t watermark_ms, const std::function<Status(const Final&)>& visit);

  std::vector<Cohort> cohorts_;
  int64_t size_ms_;
  int64_t step_ms_;
  int64_t lateness_ms_;
  int64_t next_start_ms_ = INT64_MIN;
  std::map<int64_t, std::map<uint32_t, WindowMetrics>> pending_;  // start -> brand -> metrics
};

// A share in points (0..100) of one brand against its exponentially weighted baseline, with the
// episode flag that gives one alert per episode (hysteresis). The state of share_of_voice and
// sentiment_shift, kept per brand id under "p/<brand id>" in the rule's state.
struct PointsBaseline {
  uint64_t windows = 0;  // windows that updated the baseline
  double mean = 0;       // points
  bool in_episode = false;

  // The first window sets the baseline; later ones move it by alpha of the difference.
  void Add(double points, double alpha) {
    mean = windows++ == 0 ? points : mean + alpha * (points - mean);
  }
  std::string Encode() const;
  bool Decode(std::string_view value);
};

// One PointsBaseline per brand id, stored in the rule's state as "p/<brand id>"; only the
// baselines touched since the last snapshot are written. Shared by share_of_voice and
// sentiment_shift.
class BrandPointsBaselines {
 public:
  // The baseline of `brand_id`, created empty on first use and written by the next Snapshot.
  PointsBaseline& Update(const std::string& brand_id);
  Status Restore(StateStore& store, std::string_view rule_name);
  void Snapshot(StateStore::Commit& commit, std::string_view rule_name);
  // Issue 11: forgets these brands' baselines (the next Snapshot deletes them).
  void Clear(const std::vector<std::string>& brand_ids);

 private:
  std::unordered_map<std::string, PointsBaseline> baselines_;
  std::set<std::string> dirty_;  // ordered: the commit writes keys in order
  std::set<std::string> cleared_;
};

// Window rules' state key for the series position.
inline constexpr std::string_view kSeriesStateKey = "series/next_start";

// The skeleton of a rule over one window spec: keeps evidence posts, gathers the series, hands
// each final window (every enabled brand, silence included) to EvaluateWindow in order, and stores
// the series position (plus what SnapshotMore adds) in the epoch's commit.
class WindowRule : public AlertRule {
 public:
  WindowRule(RuleCommonOptions common, std::string_view type, uint32_t window_index,
             const std::vector<WindowSpec>& windows, int64_t allowed_lateness_ms,
             const BrandDirectory& brands);

  const std::string& name() const override { return common_.name; }
  AlertNoiseOptions noise() const override { return common_.noise; }
  bool WatchesWindow(uint32_t window_index) const override { return window_index == window_index_; }
  bool WatchesBatches() const override { return common_.evidence > 0; }
  Status Restore(StateStore& store, const BrandDirectory& brands) override;
  Status OnBatch(const Batch& batch, RuleContext& context) override;
  Status OnWindowClosed(const ClosedWindow& closed, RuleContext& context) override;
  Status OnWatermark(RuleContext& context) override;
  Status Snapshot(StateStore::Commit& commit) override;
  Status OnBrandsChanged(const BrandDirectory& before, const BrandDirectory& after) override;
  // Issue 11: the brands' partials partition moved (away, or here to be replayed): the series
  // forgets what it holds of them and shows their windows again from their first (Replay), and
  // ClearMore drops their keyed state (baselines).
  void ClearBrands(const std::vector<std::string>& brand_ids) override;

 protected:
  // One final window of the series. `metrics` is nullptr when the brand had no mention in it.
  virtual Status EvaluateWindow(const WindowSeries::Final& final, RuleContext& context) = 0;
  // Extra keyed state (baselines): read at start, written at each snapshot.
  virtual Status RestoreMore(StateStore& store, const BrandDirectory& brands) { return Status::Ok(); }
  virtual void SnapshotMore(StateStore::Commit& commit) {}
  virtual void BrandsChangedMore(const BrandDirectory& before, const BrandDirectory& after) {}
  virtual void ClearMore(const std::vector<std::string>& brand_ids) {}

  // An alert about a window of brand `brand_index`, with the window, its evidence posts and top
  // terms filled in; the caller sets severity, summary, metric, observed, expected, details.
  AlertContent WindowAlert(const WindowSeries::Final& final, uint32_t brand_index,
                           const BrandDirectory& brands) const;
  // "<rule>/<brand id>/<window start>".
  std::string WindowAlertId(const BrandDirectory& brands, uint32_t brand_index,
                            int64_t start_ms) const;

  RuleCommonOptions common_;
  std::string type_;
  uint32_t window_index_;
  const WindowSpec& window_;
  BrandFilter filter_;
  EvidenceKeeper evidence_;
  WindowSeries series_;
  const BrandDirectory* brands_;  // in force (evidence is stored by brand id)
  bool series_changed_ = false;
};

}  // namespace brandpulse
