// PartialsMergeLog: the merger's decisions for ONE partials partition, a pure function of the
// records read from it in order (docs/cluster.md, "Global windows"). Nothing here does I/O, so
// the decisions are unit-tested with hand-made duplicated, out-of-order and fenced records
// (tests/cluster_partials_test.cc).
//
// Rules:
// - A prepared record is only buffered; it is applied once its commit marker was read (a marker
//   is produced only after the epoch's generation-fenced offset commit was accepted, so the
//   partials of a frozen or fenced member, whose commit was refused, are never applied).
// - A marked epoch is applied as a whole when every source range in it starts exactly at the
//   partition's applied position (then the applied position moves to the range's end). If every
//   range is already covered (end <= applied), the epoch is a copy of something applied: skipped.
//   If some range starts past the applied position (a gap: an earlier committed epoch's marker is
//   still to come), the epoch waits. A mix of covered and fresh ranges, or a range overlapping
//   the applied position with other boundaries, cannot happen when the group's commits are
//   fenced; such an epoch is refused and counted (`conflicts`).
// - Duplicated records (the mock's idempotent producer duplicates batches) and re-published
//   markers are harmless: the same id is applied once, and a covered range is never applied.
// - Watermark: min over ALL partitions of the source topic of (newest event time − out-of-
//   orderness), none until every partition has reported an event time or its end; a partition
//   whose newest applied range says it is idle is left out (when all are, the newest of them
//   decides), as WatermarkTracker does with `time.idle_timeout` in one process. Global end:
//   every source partition's newest applied range says it was at its end.
//
// Persistence (issue 11, restore from local state): EncodeState() is everything the decisions
// above depend on — each source partition's progress, the prepared records still waiting for a
// marker or for an earlier epoch, the markers read before their record, and the ids of the
// epochs applied, skipped or refused (as runs of seqs per instance). A log decoded from it, fed the records after the offset it was encoded at,
// decides exactly as the log that read every record from the beginning (tests/cluster_restore_
// test.cc); the runtime writes it in the same WriteBatch as the windows it applied.
//
// Thread safety: one thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "operators/partials_codec.h"

namespace brandpulse {

struct MergeLogStats {
  uint64_t prepared = 0;         // prepared records read
  uint64_t markers = 0;          // markers read
  uint64_t applied = 0;          // epochs applied
  uint64_t covered = 0;          // marked epochs skipped: every range already applied
  uint64_t duplicates = 0;       // records read again (same epoch id)
  uint64_t conflicts = 0;        // refused: partly covered or overlapping ranges
};

// A set of epoch ids kept as runs of consecutive seqs per instance nonce (an instance's epochs are
// done almost in order, so a long run holds a few runs however many epochs it applied): looking
// one up, adding one and encoding the set cost the runs, not the epochs (issue 11: the set of done
// epochs grew by one per epoch forever and every commit walked it).
class EpochRuns {
 public:
  bool contains(const EpochId& epoch) const;
  void insert(const EpochId& epoch);
  // Adds seqs [first, first + count) of `nonce` (decoding).
  void InsertRun(uint64_t nonce, uint64_t first, uint64_t count);
  // nonce -> (first seq -> seq after the run), ordered.
  const std::map<uint64_t, std::map<uint64_t, uint64_t>>& runs() const { return runs_; }
  size_t run_count() const;
  uint64_t epoch_count() const { return epochs_; }

 private:
  std::map<uint64_t, std::map<uint64_t, uint64_t>> runs_;
  uint64_t epochs_ = 0;
};

class PartialsMergeLog {
 public:
  struct Progress {
    uint64_t applied = 0;  // position up to which this source partition's records are applied
    int64_t max_event_time_ms = INT64_MIN;
    bool at_end = false;
    bool reported = false;  // some applied epoch had a range of it
    bool idle = false;      // its newest applied range said it was idle (SourceRange::idle)
  };

  // Each call appends the epochs that became applicable, in the order they must be applied.
  void OnPrepared(PreparedPartials prepared, std::vector<PreparedPartials>& apply);
  void OnMarker(const EpochId& epoch, std::vector<PreparedPartials>& apply);

  // Newest event time − `max_out_of_orderness_ms` of the slowest source partition; nullopt until
  // every partition of the source topic reported (an event time, or its end).
  std::optional<int64_t> Watermark(int64_t max_out_of_orderness_ms) const;
  // Every source partition is at its end (after the epochs applied so far).
  bool GlobalEnd() const;
  // Prepared records still waiting for a marker (never committed, or not yet).
  size_t pending() const { return pending_.size() + waiting_.size(); }
  const MergeLogStats& stats() const { return stats_; }
  const std::map<uint32_t, Progress>& progress() const { return progress_; }
  const EpochRuns& done() const { return done_; }

  // The decision state (not the stats), appended to `out`; and a log made from it (Corruption
  // when the bytes are not one).
  void EncodeState(std::string& out) const;
  static Result<PartialsMergeLog> DecodeState(std::string_view bytes);
  // Something changed since the last ClearChanged() (what to write at the next commit).
  bool changed() const { return changed_; }
  void ClearChanged() { changed_ = false; }

 private:
  enum class Fit { kFresh, kCovered, kGap, kConflict };
  Fit Classify(const PreparedPartials& prepared) const;
  void ApplyReady(std::vector<PreparedPartials>& apply);

  std::map<EpochId, PreparedPartials> pending_;  // prepared, no marker yet
  std::map<EpochId, PreparedPartials> waiting_;  // marked, waiting for an earlier epoch (gap)
  std::set<EpochId> marked_early_;                // marker read before its prepared record
  EpochRuns done_;                                // applied, skipped or refused
  bool changed_ = false;
  std::map<uint32_t, Progress> progress_;
  uint32_t source_partition_count_ = 0;
  MergeLogStats stats_;
};

// What a merger does with its merged state at a change of its partials partitions (issue 11,
// restore from local state; docs/cluster.md). Called from the merge consumer's rebalance callback
// (Plan: where each partition starts) and when the runtime takes the change (Take: what it does to
// its merged state). Pure, so the decisions are unit-tested (tests/cluster_restore_test.cc).
enum class MergePlan { kNone, kKeep, kResume, kReset };  // ordered: the strongest wins

class MergePlanner {
 public:
  static constexpr int64_t kFromBeginning = -2;  // librdkafka's RD_KAFKA_OFFSET_BEGINNING
  // One rebalance callback: `owned` after it, `gained` what it added; `stored` the offsets of the
  // logs local state holds (before the first assignment), `held` and `next` the partitions the
  // runtime merges now and the offset after the last record read of each. Returns the start of
  // each partition to position (every gained one; kept ones listed restart there). Rules:
  // - the first non-empty assignment resumes at the stored offsets the partitions local state
  //   holds, and replays the others from their beginning beside them (kResume; kReset when it
  //   holds none); an empty first assignment waits, when there is state;
  // - later, a change keeps the partitions held (one given back within the change reads on from
  //   `next`) and replays a partition gained without state from its beginning beside them
  //   (kKeep with Replayed());
  // - without partial drops: a start resumes only when local state holds exactly the assigned
  //   partitions, and a later change that gains or loses a partition resets everything.
  std::map<uint32_t, int64_t> Plan(const std::set<uint32_t>& owned, const std::set<uint32_t>& gained,
                                   const std::map<uint32_t, int64_t>& stored,
                                   const std::set<uint32_t>& held,
                                   const std::map<uint32_t, int64_t>& next);
  // The plan of the callbacks since the last Take (kReset if a change came without one);
  // `changed` false: the consumer saw no change after all (the plan is forgotten).
  MergePlan Take(bool changed);
  // Of the last Take (kKeep or kResume): the partitions planned from their beginning beside the
  // others (the caller keeps the ones it still owns, and rebuilds their brands' state alone).
  const std::set<uint32_t>& Replayed() const { return taken_replayed_; }
  // False when the caller cannot drop one partition's state beside the others' (rules that keep
  // state it cannot drop by brand or partition; the runner has none since s25): then a change
  // that loses a partition, and a start that does not get back exactly the partitions its state
  // holds, reset.
  void set_partial_drop(bool allowed) { partial_drop_ = allowed; }

 private:
  bool partial_drop_ = true;
  bool planned_first_ = false;
  MergePlan plan_ = MergePlan::kNone;
  std::set<uint32_t> replayed_;        // since the last Take
  std::set<uint32_t> taken_replayed_;  // of the last Take
};

}  // namespace brandpulse
