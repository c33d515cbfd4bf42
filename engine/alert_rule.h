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
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/batch.h"
#include "engine/brand_directory.h"
#include "engine/state_store.h"
#include "engine/status.h"
#include "engine/window_metrics.h"
#include "engine/window_types.h"

namespace brandpulse {

enum class AlertSeverity : uint8_t { kInfo = 0, kWarning = 1, kCritical = 2 };

// One alert a rule fired. The payload is written by operators/alert_json.h (schema
// brandpulse.alert/1, docs/schemas.md); the other members are what the rule set's noise control
// (cooldown, de-duplication, grouping) and the latency measure read without parsing it.
struct FiredAlert {
  // Stable: the same alert after a restart has the same id ("<rule>/<brand>/<key>", the key made
  // of event-time facts only); receivers de-duplicate on it, and it is the outbox key after the
  // sink's name.
  std::string id;
  std::string payload;  // one JSON object, no newline
  uint32_t brand_index = 0;
  AlertSeverity severity = AlertSeverity::kWarning;
  // The event time the alert is about: its newest post's, or its window's end when it has no
  // post (silence). Cooldown and grouping intervals are measured in it, so they survive restarts.
  int64_t event_time_ms = 0;
  // Wall-clock ms (Unix epoch) when the engine read the newest post behind the alert; 0 unknown.
  int64_t ingest_time_ms = 0;
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

// What the unanswered rule saw of an inquiry (a question or complaint addressed to a brand), for
// the response-time metrics (pipeline/metrics.h, docs/operations.md).
struct InquiryObservation {
  enum class Kind : uint8_t { kOpened, kAnswered, kUnanswered };
  Kind kind = Kind::kOpened;
  uint32_t brand_index = 0;
  // The brand profile it was addressed to: the watchlist's profile name, else the handle
  // ("@telenor_norge"), else "" (named the brand without addressing it).
  std::string profile;
  int64_t response_ms = 0;  // kAnswered: the answer's event time minus the inquiry's
  // The event time the observation is counted at in the windows (operators/response_times.h):
  // kOpened and kUnanswered the inquiry's, kAnswered the answer's.
  int64_t event_time_ms = 0;
  // kAnswered: the answer came after the rule's `within` (its alert had fired).
  bool after_deadline = false;
  // kUnanswered: the watermark its kOpened was counted under; windows already final then did not
  // count the inquiry, and do not count it as unanswered either.
  int64_t opened_under_watermark_ms = INT64_MIN;
};

// Issue 11 (`cluster:`): what a rule that watches batches read where the posts are read, handed
// to the merger that owns the brand's partials partition (operators/partials_codec.h), which
// applies it through AlertRule::OnInquiryEvents exactly once, in the epochs' order. `unanswered`
// publishes inquiries opened and replies seen from a brand's profiles; `payload` is the rule's
// own encoding of the rest (the inquiry's post, the replied-to ids). `viral_post` publishes the
// posts it would track (kViralTracked, with the brand) and every reply, repost and quote
// (kViralGrowth, no brand: the reader does not know the replied-to post's brands, so the event
// goes to every partials partition).
struct InquiryEvent {
  // kOwnPost (a post by a brand's handle, to the brand's partition) and kInquiryCandidate (a
  // question or complaint replying to a post, no brand: to every partition) are `unanswered`'s
  // own-post addressing across instances (issue 11, s26).
  enum class Kind : uint8_t {
    kOpened = 1,
    kReply = 2,
    kViralTracked = 3,
    kViralGrowth = 4,
    kOwnPost = 5,
    kInquiryCandidate = 6
  };
  Kind kind = Kind::kOpened;
  std::string rule;      // the rule's name
  std::string brand_id;  // the brand it is addressed to / whose profile replied; empty: every brand
  int64_t event_time_ms = 0;
  std::string payload;
  // Set at the merger (ClusterRuntime::OnRecord), not encoded: the partials partition whose log
  // carried it. A brandless event is on every partition's log; a merger owning several applies
  // each copy to the brands of its own partition only.
  uint32_t partials_partition = 0;
  bool operator==(const InquiryEvent&) const = default;
};

// What a rule may read besides its input, and where its alerts go. Valid during the call.
struct RuleContext {
  const BrandDirectory& brands;
  int64_t watermark_ms;
  std::vector<FiredAlert>& fired;
  // The last commit of a finite input: what is held for later (grouped alerts) leaves now.
  bool end_of_input = false;
  // Where inquiry observations go (the runner hands them to its metrics); null = not wanted.
  std::vector<InquiryObservation>* inquiries = nullptr;
  // Issue 11, set in OnBatch with `cluster:`: a rule that keeps state across posts of several
  // partitions (unanswered) publishes what it read here instead of applying it; the merger of the
  // brand applies it (OnInquiryEvents).
  std::vector<InquiryEvent>* inquiry_events = nullptr;
};

// Noise control the rule set applies to a rule's alerts (pipeline/rule_set.h, docs/alerts.md).
// Intervals are of event time, so the same input gives the same alerts after a restart.
struct AlertNoiseOptions {
  // After an alert for a brand, the rule's next alerts for that brand whose event time is less
  // than this later are dropped (counted, not delivered). 0 = none.
  int64_t cooldown_ms = 0;
  // Alerts of rules with the same group interval, for one brand, whose event times fall in one
  // interval [k·interval, (k+1)·interval) are delivered as one brandpulse.alert_group/1 message
  // once the watermark passes the interval's end. 0 = each alert on its own.
  int64_t group_interval_ms = 0;
};

// Issue 11, snapshots (pipeline/cluster_snapshot.h): what one stored state entry of a rule
// belongs to: a brand (by id), or a partials partition (state stamped with the partition it came
// from, e.g. viral_post's brandless growth copies and the posts tracked from one partition's log).
struct RuleStateScope {
  std::string brand_id;                         // empty: the partition's
  std::optional<uint32_t> partials_partition;   // set: the entry is this partition's
};

class AlertRule {
 public:
  virtual ~AlertRule() = default;
  virtual AlertNoiseOptions noise() const { return {}; }
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
  // Once per commit, after the windows the watermark closed were shown: the watermark is
  // context.watermark_ms (it may not have moved). Event-time timers fire here, and rules that
  // evaluate every window of a series (silence included) evaluate the ones now final.
  virtual Status OnWatermark(RuleContext& context) { return Status::Ok(); }
  // Writes what changed since the last snapshot into the epoch's commit.
  virtual Status Snapshot(StateStore::Commit& commit) { return Status::Ok(); }
  // The watchlist was reloaded: brand indexes changed (ids did not). State kept by index must
  // follow its brand by id.
  virtual Status OnBrandsChanged(const BrandDirectory& before, const BrandDirectory& after) {
    return Status::Ok();
  }
  // Issue 11, at the merger: events this rule published (`events` holds only this rule's), in
  // the order their epochs were applied. The rule holds them as state and applies those with
  // event time < `release_before_ms` in event-time order (so the result does not depend on which
  // instance read what, nor on epoch boundaries); context.watermark_ms is the merged watermark
  // of the previous commit.
  virtual Status OnInquiryEvents(std::span<const InquiryEvent> events, int64_t release_before_ms,
                                 RuleContext& context) {
    return Status::Ok();
  }
  // Issue 11: drops what the rule keeps for these brands (their partials partition moved away);
  // the next Snapshot deletes it from the store.
  virtual void ClearBrands(const std::vector<std::string>& brand_ids) {}
  // Issue 11: drops the copies of brandless events (InquiryEvent::partials_partition) the rule
  // holds from these partials partitions, which moved away or are replayed from their beginning
  // (ClearBrands of their brands comes with it). Their brands' state goes with ClearBrands.
  virtual void ClearPartialsPartitions(const std::set<uint32_t>& partials_partitions) {}
  // Issue 11 (s26), `cluster:`: whether the rule can keep state of this brand (index in the
  // watchlist in force; its `brands:` filter). The readers send the rule's brandless inquiry
  // events (kViralGrowth, kInquiryCandidate) only to the partials partitions of brands it
  // covers (ClusterRuntime::SetBrandlessCoverage).
  virtual bool CoversBrand(uint32_t brand_index) const { return true; }
  // Issue 11, snapshots: the brand or partials partition a stored entry (key, value under the
  // rule's name) belongs to; nullopt: not state a snapshot carries (rules whose state the
  // snapshot's windows rebuild as they close again: window rules).
  virtual std::optional<RuleStateScope> ScopeOfState(std::string_view key,
                                                     std::string_view value) const {
    return std::nullopt;
  }
  // Issue 11, snapshots: entries ScopeOfState gave a scope, of brands and partitions whose state
  // ClearBrands / ClearPartialsPartitions dropped just before (a partition gained from its
  // snapshot): the rule takes them beside what it holds of other brands, and puts them into
  // `write` (under keys that may differ from the snapshot's when they would collide with kept
  // state), so the store holds them before the next commit.
  virtual Status LoadState(std::span<const std::pair<std::string, std::string>> entries,
                           StateStore::Commit& write) {
    return Status::Ok();
  }
};

}  // namespace brandpulse
