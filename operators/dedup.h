// De-duplication (issue 14): each post id counts once per brand within a horizon. Firehose
// reconnects and at-least-once producers replay posts; the Mastodon sample holds 7 events for 4
// statuses. The `dedup` transform sits between `match` and `window`:
//
//   - A post whose key (platform + id; an edit's key is the id of the post it edits) was counted
//     already loses its mentions: it is a duplicate, counted in Batch::duplicates_dropped.
//   - An edit (Post::edit_of) of a counted post replaces the counted version: the earlier
//     version's contribution goes into Batch::retractions (window aggregation subtracts it from
//     every window that is still open) and the edit is counted at the first version's event
//     time. When every window holding that time has closed, the edit goes to the late output
//     instead and changes nothing. An edit whose text equals the counted version's is a replay.
//   - Only posts that mention a brand (or edit one that did) enter the set: a post that counts
//     nowhere cannot be counted twice.
//
// The set is bounded twice: by `horizon` (event time: ids older than watermark − horizon are
// forgotten) and by `memory_mb` (a flat table; when it is full the oldest eighth of the ids, by
// event time, is evicted and counted). Its memory is taken out of state.memory_budget_mb.
//
// Exactness. The set's changes of an epoch are written into the epoch's one WriteBatch (the
// `rules` column family under the owner "transform/dedup": key = event time + id hash, value =
// the counted version's contribution), so after a kill -9 the set is the one that goes with the
// committed positions and windows. Decisions are made in batch order (a worker waits for the
// batches before its own to pass this transform; decode and match still run in parallel), so
// results are the same for any number of workers. docs/state.md, "De-duplication".
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/state_store.h"
#include "engine/status.h"
#include "engine/window_types.h"
#include "engine/yaml_reader.h"
#include "operators/partials_codec.h"
#include "operators/registry.h"

namespace brandpulse {

// A set of 64-bit id hashes with the event time of each, in one flat array: open addressing
// with linear probing, at most half full. Why flat: one cache line per lookup, no allocation
// after construction, no per-entry pointers (16 bytes per slot, 32 per id at the load limit),
// and it walks in one pass for expiry. Hash 0 marks an empty slot (callers never pass 0).
// Not thread-safe.
class DedupTable {
 public:
  struct Entry {
    uint64_t hash = 0;
    int64_t event_ms = 0;
  };
  // The largest table whose slots fit in `bytes` (a power of two, at least 16 slots).
  explicit DedupTable(uint64_t bytes);
  // The slots' bytes of DedupTable(bytes), without making it.
  static uint64_t BytesFor(uint64_t bytes);

  // The slot holding `hash`, or nullopt.
  std::optional<size_t> Find(uint64_t hash) const;
  // REQUIRES: `hash` absent and size() < limit().
  void Insert(uint64_t hash, int64_t event_ms);
  Entry& at(size_t slot) { return slots_[slot]; }
  // Removes every entry for which `remove(entry)` is true, calling `removed(entry)` for each;
  // one pass, backward-shift deletion (no tombstones). Returns how many were removed.
  template <typename Remove, typename Removed>
  size_t EraseIf(Remove&& remove, Removed&& removed);
  // The smallest event time t such that at least `count` entries have event_ms <= t (count >= 1,
  // REQUIRES size() >= count). Depends only on the set of entries, not on their slots, so the
  // same set evicts the same ids before and after a restart.
  int64_t EventTimeRank(size_t count) const;

  size_t size() const { return size_; }
  size_t limit() const { return slots_.size() / 2; }
  size_t capacity() const { return slots_.size(); }
  uint64_t bytes() const { return slots_.size() * sizeof(Entry); }

 private:
  void EraseSlot(size_t slot);
  std::vector<Entry> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

template <typename Remove, typename Removed>
size_t DedupTable::EraseIf(Remove&& remove, Removed&& removed) {
  size_t erased = 0;
  // A backward shift may move a later entry into the slot just emptied, or (at the wrap) an
  // entry from the start into the end: the slot is looked at again until it keeps its entry.
  for (size_t slot = 0; slot < slots_.size(); ++slot) {
    while (slots_[slot].hash != 0 && remove(slots_[slot])) {
      removed(slots_[slot]);
      EraseSlot(slot);
      ++erased;
    }
  }
  return erased;
}

struct DedupOptions {
  int64_t horizon_ms = 48LL * 3600 * 1000;
  uint64_t memory_bytes = 16ull << 20;
};

// The owner name of the set's keys in the `rules` column family ('/' is not allowed in a rule
// name, so no alert rule can collide with it).
inline constexpr std::string_view kDedupStateOwner = "transform/dedup";

// ---- Across instances (issue 11, `dedup` with `cluster:`; docs/cluster.md, "De-duplication
// across instances") ----
// Where posts are read nothing is decided: an instance sees only its own source partitions, and
// an abandoned epoch would take back ids it remembered. Every post that would enter the set
// (it mentions a brand and has an id) leaves the pre-aggregated deltas (Mention::per_post) and
// goes, per brand it mentions, as a PostEvent in the epoch's prepared partials record of that
// brand's partials partition: its key, event time, text hash, and what it alone adds to the
// brand's windows (computed by the same window aggregation). The merger owning the brand applies
// the events of committed epochs, in the partials log's order, through a DedupMerger: first
// counted wins, an edit retracts the counted version and counts at its event time, horizon and
// memory bounds as above. Its set is state of the merged windows (rule state kDedupMergeOwner,
// written in the merge commit's WriteBatch), reset and dropped with its partitions.

// run_objects key the runner sets before the chain is built when the pipeline has `cluster:`:
// the transform then publishes PostEvents instead of deciding.
inline constexpr std::string_view kDedupClusterMode = "dedup/cluster";
// The merger's set in the `rules` column family: key brand id, 0x1f, key hash (8 bytes BE);
// value zigzag varint event time, text hash (8 bytes BE), then the counted windows (as a
// PostEvent's windows in a partials record).
inline constexpr std::string_view kDedupMergeOwner = "~cluster-dedup";

// The events published since the last call, in batch order (empty without cluster mode).
std::vector<PostEvent> TakeDedupPostEvents(
    std::map<std::string, std::shared_ptr<void>, std::less<>>& run_objects);
// The options of a `dedup` spec; nullopt for other transforms.
std::optional<DedupOptions> DedupOptionsOf(const TransformSpec& spec);

// The merge side: one per merging instance, for all the brands it merges. Not thread-safe (the
// coordinator, at commits).
class DedupMerger {
 public:
  struct Stats {
    uint64_t events = 0;
    uint64_t counted = 0;
    uint64_t duplicates = 0;     // copies and replays of counted versions: dropped
    uint64_t edits_applied = 0;
    uint64_t edits_late = 0;     // every window of the counted version had closed
    uint64_t evicted = 0;        // memory bound
  };
  DedupMerger(DedupOptions options, WindowLayout layout, int64_t allowed_lateness_ms);

  // Decides `events` in order; `watermark_of(brand id)` is what that brand's windows have been
  // closed by (the merged watermark; a brand being replayed beside kept ones may be behind it).
  // What counts is appended to `counted` (brand ids set), retractions as wrapped negative counts
  // (as WindowAggregate's). The set's changes wait for WriteChanges.
  using WatermarkOf = std::function<int64_t(const std::string& brand_id)>;
  void Apply(std::vector<PostEvent> events, const WatermarkOf& watermark_of,
             std::vector<PartialWindow>& counted);
  // The same with one watermark for every brand.
  void Apply(std::vector<PostEvent> events, int64_t watermark, std::vector<PartialWindow>& counted) {
    Apply(std::move(events), [watermark](const std::string&) { return watermark; }, counted);
  }
  // The changes since the last call, into the commit that takes Apply's windows.
  void WriteChanges(StateStore::Commit& commit);
  // At start: the set the last merge commit wrote.
  Status Load(StateStore& store);
  // A reset of the merged state (the caller deletes kDedupMergeOwner from the store).
  void Clear();
  // These brands moved away: their entries leave memory and, through `commit`, the store.
  void DropBrands(const std::vector<std::string>& brand_ids, StateStore::Commit& commit);
  // Issue 11, snapshots: the brand id a stored entry (key under kDedupMergeOwner) is of; nullopt
  // for a key that is not an entry's.
  static std::optional<std::string_view> BrandOfStateKey(std::string_view key);
  // Issue 11, snapshots: entries of brands gained from a snapshot (their own were dropped,
  // DropBrands): taken beside the others' and put into `write` as they are.
  Status LoadEntries(std::span<const std::pair<std::string, std::string>> entries,
                     StateStore::Commit& write);
  const Stats& stats() const { return stats_; }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    int64_t event_ms = 0;
    uint64_t text_hash = 0;
    std::vector<PartialWindow> windows;  // what the counted version added
  };
  using Key = std::pair<std::string, uint64_t>;  // brand id, key hash
  bool ReadEntry(std::string_view key, std::string_view value);  // into entries_
  int64_t Cutoff(int64_t watermark) const;
  bool AllWindowsClosed(int64_t event_ms, int64_t watermark) const;
  void Erase(std::map<Key, Entry>::iterator entry);
  void MakeRoom();

  DedupOptions options_;
  WindowLayout layout_;
  int64_t allowed_lateness_ms_;
  size_t limit_;  // entries (memory_mb / kEntryBytes)
  std::map<Key, Entry> entries_;
  std::map<Key, bool> changed_;  // true: put, false: delete
  int64_t swept_before_ = INT64_MIN;
  Stats stats_;
};

// Builds the transform; the set itself lives in context.run_objects (it survives watchlist
// reloads) and is loaded from context.store on the first Make of a run.
Result<std::unique_ptr<Transform>> MakeDedup(const DedupOptions& options,
                                             const TransformBuildContext& context);

// The `dedup` transform's reader: `horizon` (a duration, at least the largest window),
// `memory_mb` (1 to 65536).
Result<std::unique_ptr<TransformSpec>> ReadDedup(YamlMap& section, const ConfigContext& context);

}  // namespace brandpulse
