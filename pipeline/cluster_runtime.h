// ClusterRuntime: one instance's part of exact global windows (issue 11; docs/cluster.md,
// "Global windows"). The runner (pipeline/pipeline_runner.cc) calls it at its epoch commits
// and between batches; it owns the partials producer, the merge consumer and the merge logs.
//
// Pre-aggregation (source side), per epoch:
//   1. the epoch's window deltas become one *prepared* record per partials partition (brands
//      keyed so a competitor group meets at one partition), with the source partitions' ranges;
//   2. the source offsets are committed to the group, synchronously, with the epoch id as
//      metadata (generation-fenced: a fenced member is refused) — the commit point;
//   3. a *commit marker* goes to every partials partition.
//   Refused at 1 or 2: the epoch is abandoned and its source partitions are sought back to where
//   it started. While the source consumer is rejoining its group nothing is sent: the epoch is
//   deferred and grows into the next one (a commit then would cost the member its assignment,
//   KafkaGroupSource::Rejoining). A new owner of a source partition re-publishes the marker of the epoch named in
//   the committed offset's metadata (a kill between 2 and 3).
// Merge side: PartialsMergeLog decides what is applied of each partials partition this instance
// owns in the merge group. Each commit writes every owned log and the offset after its last
// record read (SnapshotMergeState) in the WriteBatch that holds the windows it applied, so the
// merged state in the store is always that of the applied prefixes of the partials partitions.
// After a change of the assignment (docs/cluster.md, "Restore from local state"):
// - only partitions lost: the kept ones read on with their merged state; the windows and logs of
//   the lost ones are dropped (MergeChange::dropped);
// - the first assignment after a start, when local state holds a log of every assigned
//   partition: each resumes at its stored offset, with the stored state (partitions stored but
//   not assigned are dropped) — whoever owned them in between;
// - a partition gained without local state (failover, a fresh disk): replayed from its beginning
//   beside the kept or resumed ones (MergeChange::replayed). Its brands' windows and rule state
//   are rebuilt alone: the merged watermark waits for it, their windows close by its own
//   watermark (CatchUpWatermark), and the window closer and the rules' series keep them apart
//   until it catches up;
// - without partial drops (MergePlanner::set_partial_drop; no rule turns them off since s25) any
//   gain or loss wipes the merged state and replays every owned partition (MergeChange::reset).
//
// Thread safety: the coordinator only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "engine/brand_directory.h"
#include "engine/source.h"
#include "engine/state_store.h"
#include "engine/window_types.h"
#include "operators/kafka_partials.h"
#include "operators/kafka_source.h"
#include "operators/watchlist.h"
#include "pipeline/cluster_merge_log.h"
#include "pipeline/cluster_snapshot.h"
#include "pipeline/cluster_spec.h"

namespace brandpulse {

// The partition key of every brand: a brand in no competitor group is its own key; brands linked
// by groups (directly or through a shared member) share the smallest brand id among them, so a
// share-of-voice rule sees its whole group at one merger.
std::map<std::string, std::string> PartialsKeys(const WatchlistSpec& watchlist);

// Issue 11 (s26): where each rule's brandless inquiry events (kViralGrowth, kInquiryCandidate)
// go: the partials partitions (sorted) of the brands the rule covers (`covered`: rule name ->
// brand ids, RuleSet::CoveredBrands; `keys`: PartialsKeys). A rule not in it: every partition.
using BrandlessTargets = std::map<std::string, std::vector<uint32_t>, std::less<>>;
BrandlessTargets BrandlessTargetsOf(const std::map<std::string, std::vector<std::string>>& covered,
                                    const std::map<std::string, std::string>& keys,
                                    uint32_t partials_partitions);
// Puts each event into the prepared record of its partials partition (`prepared`: one per
// partition): a brand's to its brand's key's partition, a brandless one to its rule's targets.
// Adds the brandless copies made and their encoded bytes to `copies` and `bytes`.
void DistributeInquiryEvents(std::span<const InquiryEvent> events,
                             const std::map<std::string, std::string>& keys,
                             const BrandlessTargets& targets,
                             std::vector<PreparedPartials>& prepared, uint64_t& copies,
                             uint64_t& bytes);

class ClusterRuntime {
 public:
  using Notice = std::function<void(const std::string&)>;
  static Result<std::unique_ptr<ClusterRuntime>> Make(const ClusterSpec& spec, Source& source,
                                                      const WatchlistSpec& watchlist,
                                                      int64_t max_out_of_orderness_ms,
                                                      Notice notice);

  // --- source side ---
  // Where gained source partitions resume: the group's committed offsets (0 without one). The
  // epochs named in their metadata get their markers again, at the next PublishEpoch (before
  // this instance's own epochs).
  Result<PositionMap> SeekGained(const std::vector<uint32_t>& gained);
  void ForgetLost(const std::vector<uint32_t>& lost);
  void ObserveBatch(uint32_t partition, int64_t max_event_time_ms);
  // Publishes and commits the epoch (`positions`: each assigned partition's position after its
  // last finished batch). Returns the positions to seek back to when the epoch was abandoned,
  // nullopt when it was committed, deferred (the source consumer is rejoining its group: the
  // epoch stays open and goes out with the next one) or there was nothing to publish.
  Result<std::optional<PositionMap>> PublishEpoch(const WindowDeltaMap& deltas,
                                                  const BrandDirectory& brands,
                                                  const PositionMap& positions, uint64_t records);
  // Something to publish although no record came: a partition reached its end since, or an
  // epoch was deferred.
  bool EndChanged(const PositionMap& positions) const;
  // Something waits for the next PublishEpoch: an epoch whose commit was deferred (the source
  // group rebalancing), or markers due for gained partitions. The runner commits on its
  // interval even when no record comes.
  bool has_unpublished() const { return deferred_ || !markers_due_.empty() || IdleChanged(); }
  // Issue 11, `time.idle_timeout` across instances (docs/cluster.md, "Idle source partitions"):
  // a source partition at its end from which no record was read for this long (processing time)
  // is published as idle, so mergers leave it out of the merged watermark until it has data
  // again; a change of that publishes an epoch on a quiet input. 0: never (the default).
  void set_idle_timeout(int64_t idle_timeout_ms) { idle_timeout_ms_ = idle_timeout_ms; }

  // --- merge side ---
  // Local state of the merge logs (rule-state name; key "p/<partition>", value: varint offset
  // after the last record read, then PartialsMergeLog::EncodeState).
  static constexpr std::string_view kMergeStateName = "~cluster-merge";
  // At start, before the first Poll: the logs a previous run committed and its merged watermark.
  Status LoadMergeState(StateStore& store, std::optional<int64_t> merged_watermark);
  // What the caller does to its merged state after a change of the assignment.
  struct MergeChange {
    bool reset = false;                // wipe every merged window, rule state and log
    std::set<uint32_t> dropped;        // else: drop the windows and logs of these partitions
    // and rebuild these partitions' brands from nothing, beside the others (issue 11: gained
    // without local state, replayed from their beginning; WindowCloser::ReplayBrands)
    std::set<uint32_t> replayed;
    // Issue 11, snapshots: of the replayed (or, with `reset`, the owned) partitions, those that
    // start from a snapshot instead of offset 0, with its stored windows: the caller puts them
    // into its store after the reset or drop, and its window closer tracks them as merged
    // deltas (their logs and offsets are the runtime's already).
    std::map<uint32_t, std::vector<SnapshotWindow>> restored;
    // ... and their rule-state entries (the caller loads them into its rules and dedup merger).
    std::map<uint32_t, std::vector<SnapshotStateEntry>> restored_state;
  };
  // Reads what arrived on the owned partials partitions. After a change of the assignment,
  // `change` says what the caller must do to its merged state before the next commit.
  Status Poll(int timeout_ms, MergeChange& change);
  // Local state of a previous run is still waiting for the first partials partitions (it was
  // assigned none yet); DiscardStored() gives it up (the caller wipes the merged state).
  bool holds_stored_state() const { return !stored_.empty(); }
  void DiscardStored() { stored_.clear(); }
  // See MergePlanner::set_partial_drop (the runner leaves it on since s25: its rules drop their
  // state by brand and partials partition).
  void set_partial_drop(bool allowed) { planner_.set_partial_drop(allowed); }
  // --- snapshots (issue 11, bounded restores; pipeline/cluster_snapshot.h) ---
  // False (the runner: rules or transforms whose per-brand state a snapshot does not carry,
  // `why` names them): gained partitions replay from offset 0 and no snapshot is written.
  void set_snapshot_restore(bool allowed) { snapshot_allowed_ = allowed; }
  bool snapshots_on() const { return snapshot_allowed_ && snapshot_producer_ != nullptr; }
  // Owned partitions whose stored merge log is `snapshot_every_epochs` applied epochs past its
  // last snapshot (none catching up).
  std::vector<uint32_t> SnapshotsDue() const;
  // Publishes the snapshot of `partition` as of the merge log last stored for it
  // (SnapshotMergeState), with `windows`: the store's windows of its brands after that commit
  // was written. Then deletes the keys of older snapshots of the partition. A failure is told
  // and leaves the previous snapshot in use (the next one is tried after `every` more epochs).
  Status PublishSnapshot(uint32_t partition, std::vector<SnapshotWindow> windows,
                         std::optional<int64_t> merged_watermark,
                         std::vector<SnapshotStateEntry> state = {});
  // The partials partition a brand's windows are merged at.
  uint32_t PartitionOfBrand(std::string_view brand_id) const;
  // This member merges the brand now (it owns the brand's partials partition): its alerts are
  // this member's to fire (RuleSet::SetBrandOwner).
  bool MergesBrand(std::string_view brand_id) const {
    return owned_.contains(PartitionOfBrand(brand_id));
  }
  // Into the commit that takes TakeMerged's windows: the logs changed since the last call.
  void SnapshotMergeState(StateStore::Commit& commit);
  // Windows applied since the last call, as deltas of `brands` (brands it does not know are
  // counted and left out).
  WindowDeltaMap TakeMerged(const BrandDirectory& brands);
  bool has_merged() const {
    for (const auto& [partition, windows] : merged_) {
      if (!windows.empty()) return true;
    }
    return !merged_inquiries_.empty() || !merged_posts_.empty();
  }
  // The merged watermark (min over the owned partials partitions; never moves back until a
  // reset), or nullopt.
  std::optional<int64_t> Watermark();
  // Issue 11: while a replayed partition catches up with the kept ones (the merged watermark
  // waits for it), the watermark its brands' windows close by: the slowest replayed log's
  // (INT64_MIN before it has one). nullopt when none catches up or they reached the merged
  // watermark. After Watermark().
  std::optional<int64_t> CatchUpWatermark();
  bool catching_up() const { return !catching_up_.empty(); }
  // The caller's closer and rules caught up (e.g. the end of the input closed every window): the
  // replayed partitions are ordinary ones again, their logs stored from the next snapshot on.
  void EndCatchUp();
  // Some log changed since the last snapshot that a snapshot would store.
  bool snapshot_due() const;
  // Every owned partials partition is read to its end and says every source partition is at its
  // end (true when none is owned).
  Result<bool> ReadyToClose();
  bool owns_partials() const { return !owned_.empty(); }
  // The merge group assigned this member something (maybe nothing) at least once.
  bool assignment_seen() const { return assignment_seen_; }
  // Its partials partitions are restored (resumed or replayed to the ends they had when the
  // assignment came): the merged state may be served (/readyz).
  bool merge_restored() const { return assignment_seen_ && !restoring_; }
  std::string Summary() const;

  // --- inquiries keyed by brand (issue 11: `unanswered` across instances) ---
  // Source side: inquiry events read in the current epoch (engine/alert_rule.h). The next
  // PublishEpoch puts each in the prepared record of its brand's partials partition (the key of
  // the brand's windows), so they are applied with the epoch's marker, once; when the epoch is
  // abandoned they go with it (its records are read again and publish them again).
  void AddEpochInquiries(std::vector<InquiryEvent> events);
  // s26: where brandless inquiry events go from now on (BrandlessTargetsOf; `covered`:
  // RuleSet::CoveredBrands of the watchlist in force). At start and after every watchlist
  // reload; until the first call, every partition.
  void SetBrandlessCoverage(const std::map<std::string, std::vector<std::string>>& covered);
  // Merge side: the inquiry events of the epochs applied since the last call, in apply order.
  std::vector<InquiryEvent> TakeMergedInquiries();
  // The brands (ids) whose windows, rule state and inquiries live on these partials partitions:
  // what a merger drops (RuleSet::ClearBrands) when the partitions move away.
  std::vector<std::string> BrandsOf(const std::set<uint32_t>& partials_partitions) const;
  // The brands whose windows the store may hold of these partials partitions, for a scan of
  // their windows alone (StateStore::ScanBrandWindows: snapshots, drops): BrandsOf's (the
  // watchlist at start) and `brands`' now (a reloaded watchlist). Windows of a brand in neither
  // (one removed from the watchlist before this run) are not among them.
  std::vector<std::string> StoredBrandsOf(const std::set<uint32_t>& partials_partitions,
                                          const BrandDirectory& brands) const;
  // "inquiry events published N, merged M" (the runner's summary line).
  std::string InquirySummary() const;

  // --- de-duplication keyed by brand (issue 11: `dedup` across instances, operators/dedup.h) ---
  // Source side: the epoch's post events. The next PublishEpoch puts each in the prepared record
  // of its brand's partials partition; EndEpochEvents (after it) forgets them, and the epoch's
  // inquiry events, unless the epoch was deferred (they then go out with the next one). An
  // abandoned epoch's are read again.
  void AddEpochPosts(std::vector<PostEvent> events);
  void EndEpochEvents();
  // Merge side: the post events of the epochs applied since the last call, in apply order.
  std::vector<PostEvent> TakeMergedPosts();
  // Merge side: windows the brands' DedupMerger counted, merged like the applied epochs' (the
  // next TakeMerged returns them, under the same lateness check).
  void AddMergedWindows(std::vector<PartialWindow> windows);
  // "post events published N, merged M".
  std::string PostSummary() const;

 private:
  void DistributeInquiries(std::vector<PreparedPartials>& prepared);
  void DistributePosts(std::vector<PreparedPartials>& prepared);
  ClusterRuntime(const ClusterSpec& spec, Source& source, KafkaGroupSource& group,
                 int64_t max_out_of_orderness_ms, Notice notice);
  Status RepublishMarkers(const std::set<EpochId>& epochs);
  Status PublishDueMarkers();
  Status OnRecord(uint32_t partition, int64_t offset, std::string_view value);
  Status CheckRestored();
  // Inside PlanStarts: the newest usable snapshot of `partition`, kept in snapshot_loaded_ for
  // Poll; its next offset, or nullopt (replay from offset 0).
  std::optional<int64_t> LoadSnapshot(uint32_t partition);
  void ForgetSnapshotState(uint32_t partition);
  // Commits the pointer to the partition's pending snapshot; once it went, deletes the older
  // snapshots' keys. Unavailable (nothing deleted) when the commit was refused or not sent.
  Status NamePointer(uint32_t partition);
  void RetryPointers();  // in Poll: the owned partitions' pending pointers, once a second each
  // The merge consumer's planner (inside its rebalance callback): where partitions start.
  std::map<uint32_t, int64_t> PlanStarts(const std::set<uint32_t>& owned,
                                         const std::set<uint32_t>& gained);
  void AddToTotals(const PartialsMergeLog& log);
  // Assigned source partitions idle now (set_idle_timeout), and whether that differs from what
  // the last committed epoch published.
  std::set<uint32_t> IdleNow() const;
  bool IdleChanged() const { return idle_timeout_ms_ > 0 && IdleNow() != published_idle_; }

  const ClusterSpec spec_;
  Source& source_;
  KafkaGroupSource& group_;
  const int64_t max_out_of_orderness_ms_;
  Notice notice_;
  std::map<std::string, std::string> keys_;  // brand id -> partition key
  std::unique_ptr<PartialsProducer> producer_;
  std::unique_ptr<PartialsConsumer> consumer_;
  uint32_t partials_partitions_ = 0;
  uint32_t source_partitions_ = 0;
  uint64_t nonce_ = 0;
  uint64_t seq_ = 0;

  // Source side.
  PositionMap epoch_start_;                  // assigned partition -> where the next epoch starts
  std::map<uint32_t, int64_t> newest_;       // assigned partition -> newest event time read
  std::set<uint32_t> published_at_end_;      // partitions the last epoch said were at their end
  int64_t idle_timeout_ms_ = 0;
  // Assigned partition -> when a batch of it was last read (or it was gained).
  std::map<uint32_t, std::chrono::steady_clock::time_point> last_read_;
  std::set<uint32_t> published_idle_;  // partitions the last committed epoch said were idle
  // Epochs named by gained partitions' committed offsets whose markers are to go out again
  // (with the partitions that named them, for the notice).
  std::map<EpochId, std::set<uint32_t>> markers_due_;
  uint64_t epochs_committed_ = 0;
  uint64_t epochs_abandoned_ = 0;
  // Deferred epochs (the source consumer was rejoining its group): their deltas and record
  // count, published with the next epoch over ranges from the same epoch_start_.
  bool deferred_ = false;
  WindowDeltaMap deferred_deltas_;
  uint64_t deferred_records_ = 0;
  uint64_t deferred_streak_ = 0;   // commits deferred since the last committed or abandoned one
  uint64_t commits_deferred_ = 0;
  uint64_t markers_republished_ = 0;
  // Tests: exit (code 86) after the offset commit of the Nth epoch that holds records, before
  // its markers.
  uint64_t exit_before_marker_ = 0;
  uint64_t epochs_with_records_ = 0;

  // Merge side.
  std::set<uint32_t> owned_;
  bool assignment_seen_ = false;
  std::map<uint32_t, PartialsMergeLog> logs_;
  std::map<uint32_t, int64_t> next_offset_;  // owned partition -> offset after the last record read
  std::set<uint32_t> offset_changed_;        // owned partitions read since the last snapshot
  std::set<uint32_t> catching_up_;           // replayed beside kept ones, not caught up yet
  // Replayed from offset 0, nothing read yet: the first record must be at offset 0 (librdkafka
  // starts "the beginning" at the first offset there is: a partition whose beginning was deleted
  // would otherwise be replayed without it, silently, and never apply an epoch again).
  std::set<uint32_t> from_zero_;
  // Logs a previous run committed (until the first assignment): partition -> (offset, log).
  std::map<uint32_t, std::pair<int64_t, PartialsMergeLog>> stored_;
  MergePlanner planner_;  // the plan of the changes since the last TakeChange
  std::map<uint32_t, std::vector<PartialWindow>> merged_;  // by partials partition
  std::optional<int64_t> merged_watermark_;
  bool restoring_ = false;
  std::chrono::steady_clock::time_point restore_started_;
  std::chrono::steady_clock::time_point last_restore_check_;
  uint64_t restore_records_ = 0;
  uint64_t restore_bytes_ = 0;
  std::string restore_from_;  // "offset 0" or the stored offsets resumed from, for the notice
  uint64_t corrupt_records_ = 0;
  uint64_t unknown_brand_windows_ = 0;
  MergeLogStats totals_;  // of logs dropped at resets

  // Snapshots (issue 11).
  bool snapshot_allowed_ = true;
  std::unique_ptr<PartialsProducer> snapshot_producer_;    // null: not written
  std::unique_ptr<SnapshotTopicReader> snapshot_reader_;   // null: not read
  uint64_t snapshot_seq_ = 0;
  struct StoredLog {
    int64_t next_offset = 0;
    std::string state;     // PartialsMergeLog::EncodeState, as last written to the store
    uint64_t applied = 0;  // the log's applied epochs then
  };
  std::map<uint32_t, StoredLog> stored_logs_;        // owned partition -> its last stored log
  std::map<uint32_t, uint64_t> snapshot_applied_;    // owned partition -> applied at its snapshot
  std::map<uint32_t, std::vector<std::string>> snapshot_stale_;  // keys to delete after the next
  struct LoadedSnapshot {
    PartialsMergeLog log;
    MergeSnapshot snapshot;
  };
  std::map<uint32_t, LoadedSnapshot> snapshot_loaded_;  // planned since the last Take
  // Read by LoadSnapshot for the restore under way (told with its `partials restored` line).
  double snapshot_read_seconds_ = 0;
  uint64_t snapshot_read_bytes_ = 0;
  uint64_t snapshots_published_ = 0;
  uint64_t snapshots_named_ = 0;  // published and named by the pointer (maybe on a later try)
  // Published snapshots the pointer does not name yet (NamePointer, RetryPointers), by partition:
  // the newest one only; its keys are deleted if a newer one is named first.
  struct PendingPointer {
    SnapshotId id;
    int64_t next_offset = 0;
    std::vector<std::string> keys;
    std::chrono::steady_clock::time_point last_try;
  };
  std::map<uint32_t, PendingPointer> pointer_pending_;
  uint64_t snapshots_restored_ = 0;

  // Inquiries (AddEpochInquiries, TakeMergedInquiries).
  std::vector<InquiryEvent> epoch_inquiries_;
  std::vector<InquiryEvent> merged_inquiries_;
  uint64_t inquiries_published_ = 0;
  uint64_t inquiries_merged_ = 0;
  uint64_t broadcast_copies_ = 0;  // brandless events' copies (s26: to their rule's targets)
  uint64_t broadcast_bytes_ = 0;   // and the bytes they added to the prepared records
  BrandlessTargets brandless_targets_;  // s26: SetBrandlessCoverage

  // Post events of `dedup` (AddEpochPosts, TakeMergedPosts).
  std::vector<PostEvent> epoch_posts_;
  std::vector<PostEvent> merged_posts_;
  uint64_t posts_published_ = 0;
  uint64_t posts_merged_ = 0;
};

}  // namespace brandpulse
