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
// Merge side: the partials partitions this instance owns in the merge group are read from their
// beginning after every change of that assignment; PartialsMergeLog decides what is applied.
// The runner then wipes its merged state (ResetRequested) and builds it again from the replay.
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
#include <string>
#include <vector>

#include "engine/brand_directory.h"
#include "engine/source.h"
#include "engine/window_types.h"
#include "operators/kafka_partials.h"
#include "operators/kafka_source.h"
#include "operators/watchlist.h"
#include "pipeline/cluster_merge_log.h"
#include "pipeline/cluster_spec.h"

namespace brandpulse {

// The partition key of every brand: a brand in no competitor group is its own key; brands linked
// by groups (directly or through a shared member) share the smallest brand id among them, so a
// share-of-voice rule sees its whole group at one merger.
std::map<std::string, std::string> PartialsKeys(const WatchlistSpec& watchlist);

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
  bool has_unpublished() const { return deferred_ || !markers_due_.empty(); }

  // --- merge side ---
  // Reads what arrived on the owned partials partitions. Sets `reset` when the assignment
  // changed: the caller wipes the merged state before the next commit.
  Status Poll(int timeout_ms, bool& reset);
  // Windows applied since the last call, as deltas of `brands` (brands it does not know are
  // counted and left out).
  WindowDeltaMap TakeMerged(const BrandDirectory& brands);
  bool has_merged() const { return !merged_.empty(); }
  // The merged watermark (min over the owned partials partitions; never moves back until a
  // reset), or nullopt.
  std::optional<int64_t> Watermark();
  // Every owned partials partition is read to its end and says every source partition is at its
  // end (true when none is owned).
  Result<bool> ReadyToClose();
  bool owns_partials() const { return !owned_.empty(); }
  // The merge group assigned this member something (maybe nothing) at least once.
  bool assignment_seen() const { return assignment_seen_; }
  std::string Summary() const;

 private:
  ClusterRuntime(const ClusterSpec& spec, Source& source, KafkaGroupSource& group,
                 int64_t max_out_of_orderness_ms, Notice notice);
  Status RepublishMarkers(const std::set<EpochId>& epochs);
  Status PublishDueMarkers();
  Status OnRecord(uint32_t partition, int64_t offset, std::string_view value);
  Status CheckRestored();

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
  std::vector<PartialWindow> merged_;
  std::optional<int64_t> merged_watermark_;
  bool restoring_ = false;
  std::chrono::steady_clock::time_point restore_started_;
  std::chrono::steady_clock::time_point last_restore_check_;
  uint64_t restore_records_ = 0;
  uint64_t restore_bytes_ = 0;
  uint64_t corrupt_records_ = 0;
  uint64_t unknown_brand_windows_ = 0;
  MergeLogStats totals_;  // of logs dropped at resets
};

}  // namespace brandpulse
