// Snapshots of a merger's state per partials partition (issue 11: bound the replay of a gained
// partials partition; docs/cluster.md, "Snapshots"). A snapshot is the merged state of ONE
// partials partition exactly as of a committed merge point: the merge log (PartialsMergeLog::
// EncodeState) and the partials offset after the last record it applied, the merged windows of
// the partition's brands, the merged watermark the writer's window closer closed them by, and
// opaque rule-state entries of those brands. A member that gains the partition without local
// state loads the newest usable snapshot and reads the partials from `next_offset` on, instead of
// replaying the partition from offset 0: a log decoded from the snapshot, fed the records after
// `next_offset`, decides exactly as the log that read the partition from its beginning
// (tests/cluster_snapshot_test.cc), so the partials before `next_offset` may be gone.
//
// On the snapshot topic (compacted, one partition per partials partition), a snapshot is one or
// more chunk records (a chunk stays under the topic's max.message.bytes), keyed
//   "<partials partition>/<writer nonce, 16 hex>:<seq>/<chunk>"
// so no write ever replaces a chunk of another snapshot: a writer that dies halfway, or a fenced
// former owner that still writes, cannot break the snapshot readers use (with one key per
// partition and chunk, compaction would keep a mix of chunks of two snapshots and neither would be
// whole). The writer deletes (tombstones) the keys of its older snapshots of the partition once a
// newer one is acknowledged (StaleKeys), so compaction keeps about one snapshot per partition.
//
// Chunk value (integers varints):
//   'S' 0x01 partition writer(8 bytes BE) seq next_offset chunk chunk_count body_size
//   body_hash(8 bytes BE) slice
// body (the chunks' slices in order):
//   next_offset has_watermark_byte [zigzag(watermark)] len merge_log
//   n × (len brand_id  len dimension  zigzag(size_ms)  zigzag(slide_ms)  zigzag(start_ms)
//        len window_value)                      (a stored window: engine/state_store.h WindowKey)
//   m × (len owner  len key  len value)
// body_hash is HashBytes(body): a reader takes a snapshot only when every chunk is there, all
// agree on the header, and the assembled body hashes to it.
//
// Which snapshot a reader takes (SelectSnapshot): the one a generation-fenced pointer names when
// there is one (see below) and it is whole; else the whole one with the highest next_offset
// (every snapshot is the merged state of a prefix of the same log; a later prefix leaves less to
// read). The pointer: the owner commits, to the merge group, the offset `next_offset` of the
// partials partition with the snapshot id as metadata after the snapshot is acknowledged; the
// coordinator refuses that commit from a member that was fenced, so a zombie's snapshot, however
// new, is never the one named.
//
// Thread safety: none (values).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/state_store.h"
#include "engine/status.h"
#include "engine/window_metrics.h"
#include "operators/partials_codec.h"

namespace brandpulse {

// A writer's snapshot: `writer` is the writing instance's nonce (ClusterRuntime's), `seq` counts
// its snapshots.
struct SnapshotId {
  uint64_t writer = 0;
  uint64_t seq = 0;
  auto operator<=>(const SnapshotId&) const = default;
  std::string ToString() const;                                 // "<16 hex>:<seq>"
  static std::optional<SnapshotId> Parse(std::string_view text);  // of ToString()
};

// A rule-state entry of one of the partition's brands (StateStore::PutRuleState's owner and key).
struct SnapshotStateEntry {
  std::string owner;
  std::string key;
  std::string value;
  bool operator==(const SnapshotStateEntry&) const = default;
};

// A merged window as the store holds it (the key names the dimension as text, so no instance
// needs the writer's dimension packing).
struct SnapshotWindow {
  WindowKey key;
  WindowMetrics metrics;
};

struct MergeSnapshot {
  uint32_t partials_partition = 0;
  SnapshotId id;
  int64_t next_offset = 0;                 // the partials offset after the last record applied
  std::optional<int64_t> merged_watermark;  // the writer's, as of the same commit
  std::string merge_log;                   // PartialsMergeLog::EncodeState, as of next_offset
  std::vector<SnapshotWindow> windows;     // the stored windows of the partition's brands
  std::vector<SnapshotStateEntry> state;   // their rule state the windows do not show
};

// One record for the snapshot topic (value nullopt: a tombstone).
struct SnapshotRecord {
  std::string key;
  std::optional<std::string> value;
};

// The chunk records of `snapshot`, each value at most `max_chunk_bytes` (+ its header, < 64 bytes).
std::vector<SnapshotRecord> EncodeSnapshot(const MergeSnapshot& snapshot, size_t max_chunk_bytes);

// Reads one partition of the snapshot topic, in offset order (tombstones included), and keeps the
// chunks that are live under compaction's rule (a key's last value wins, a tombstone removes it).
class SnapshotAssembler {
 public:
  // Corruption for a key or value that is not a snapshot chunk's (the record is ignored).
  Status Add(std::string_view key, std::optional<std::string_view> value);
  // The whole snapshots of `partition` that decode, by id.
  std::map<SnapshotId, MergeSnapshot> Whole(uint32_t partition) const;
  // The live keys of `partition` that are not of snapshot `keep`: what its writer tombstones
  // once `keep` is acknowledged (older snapshots, a dead writer's halves, a zombie's).
  std::vector<std::string> StaleKeys(uint32_t partition, const SnapshotId& keep) const;

 private:
  std::map<std::string, std::string, std::less<>> live_;  // key -> chunk value
};

// The snapshot to start from (see the header comment): `pointer` is the id the merge group's
// committed offset names, if any. nullopt: none usable (replay from offset 0).
std::optional<MergeSnapshot> SelectSnapshot(std::map<SnapshotId, MergeSnapshot> whole,
                                            const std::optional<SnapshotId>& pointer);

}  // namespace brandpulse
