// Issue 11, snapshots to bound a replay (pipeline/cluster_snapshot.h): a merger's state of one
// partials partition as of a committed merge point — merge log, offset, merged windows, watermark,
// rule-state entries — goes to the snapshot topic as chunk records; a member that gains the
// partition loads the newest usable one and reads only the partials after its offset. Checked
// here: chunks round-trip in any order; a half-written or damaged snapshot is never taken and does
// not hide an older whole one; a fenced former owner's late snapshot cannot replace the one the
// fenced pointer names; and a member that starts from a snapshot, with the partials before it
// gone, ends with windows and merge decisions byte-identical to the owner that read everything —
// at every split point of a partition with duplicates, a marker before its record, a fenced epoch
// and a gap — where the same member without the snapshot does not.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <tuple>

#include <fmt/format.h>

#include "operators/partials_codec.h"
#include "pipeline/cluster_merge_log.h"
#include "pipeline/cluster_snapshot.h"

namespace brandpulse {
namespace {

constexpr uint64_t kA = 0xaaaa;  // instance nonces
constexpr uint64_t kB = 0xbbbb;
constexpr uint64_t kC = 0xcccc;
constexpr uint32_t kPartition = 3;

WindowMetrics Metrics(uint64_t mentions, uint64_t seed) {
  WindowMetrics metrics;
  metrics.mentions = mentions;
  metrics.reach = mentions * 1000 + seed;
  metrics.questions = seed % 3;
  for (uint64_t author = 0; author < mentions; ++author) metrics.authors.AddHash(seed * 7919 + author);
  metrics.term_capacity = 8;
  metrics.hashtags.Add(fmt::format("tag{}", seed % 4), mentions);
  metrics.terms.Add(fmt::format("word{}", seed % 5), mentions + 1);
  return metrics;
}

// An epoch with windows of two brands (one window shared by several epochs, so merging matters).
PreparedPartials Epoch(uint64_t nonce, uint64_t seq, std::vector<SourceRange> ranges,
                       uint64_t mentions) {
  PreparedPartials prepared;
  prepared.epoch = EpochId{nonce, seq};
  prepared.source_partition_count = 2;
  prepared.ranges = std::move(ranges);
  if (mentions > 0) {
    prepared.windows.push_back(PartialWindow{"telenor", 0, 0, 60000 * static_cast<int64_t>(seq % 2),
                                             Metrics(mentions, nonce + seq)});
    prepared.windows.push_back(PartialWindow{"telia", 1, 2, 0, Metrics(mentions + 1, nonce * seq)});
  }
  return prepared;
}

SourceRange Range(uint32_t partition, uint64_t start, uint64_t end, int64_t newest,
                  bool at_end = false) {
  return SourceRange{partition, start, end, newest, at_end};
}

// A partials partition as the mock delivers it (the records of tests/cluster_restore_test.cc):
// duplicates, a marker before its record, a fenced member's epoch that never gets a marker, an
// epoch that waits for the one before it, empty epochs and old copies. Wire bytes, in order.
std::vector<std::string> PartitionLog() {
  const PreparedPartials e1 = Epoch(kA, 1, {Range(0, 0, 100, 1000), Range(1, 0, 50, 900)}, 3);
  const PreparedPartials e2 = Epoch(kA, 2, {Range(0, 100, 150, 2000), Range(1, 50, 50, 900)}, 2);
  const PreparedPartials fenced = Epoch(kB, 1, {Range(0, 100, 160, 2100), Range(1, 50, 70, 950)}, 7);
  const PreparedPartials e3 = Epoch(kA, 3, {Range(0, 150, 200, 3000), Range(1, 50, 80, 2500)}, 4);
  const PreparedPartials empty = Epoch(kA, 4, {Range(0, 200, 200, 3000, true), Range(1, 80, 80, 2500)}, 0);
  const PreparedPartials later = Epoch(kC, 2, {Range(0, 250, 260, 5000), Range(1, 90, 90, 2500)}, 6);
  const PreparedPartials gap = Epoch(kC, 1, {Range(0, 200, 250, 4000), Range(1, 80, 90, 2600)}, 5);
  const PreparedPartials end = Epoch(kC, 3, {Range(0, 260, 260, 5000, true), Range(1, 90, 90, 2600, true)}, 0);
  auto marker = [](const PreparedPartials& epoch) {
    std::string bytes;
    EncodeMarker(epoch.epoch, bytes);
    return bytes;
  };
  auto prepared = [](const PreparedPartials& epoch) {
    std::string bytes;
    EncodePrepared(epoch, bytes);
    return bytes;
  };
  return {prepared(e1),      marker(e2),    prepared(e2),    prepared(fenced), marker(e1),
          prepared(e1),      prepared(e3),  prepared(e3),    marker(e3),       marker(e3),
          prepared(empty),   marker(empty), prepared(empty), marker(empty),    prepared(later),
          marker(later),     prepared(gap), prepared(fenced), marker(gap),     marker(empty),
          prepared(e2),      marker(e1),    prepared(end),   marker(end),      prepared(end),
          marker(end)};
}

// A merger of one partials partition, as ClusterRuntime + the runner's store do it: the merge log
// decides, the applied epochs' windows merge into the merged windows.
struct Merger {
  PartialsMergeLog log;
  int64_t next_offset = 0;
  std::map<std::tuple<std::string, uint32_t, uint64_t, int64_t>, WindowMetrics> windows;

  void Read(int64_t offset, std::string_view bytes) {
    next_offset = offset + 1;
    std::vector<PreparedPartials> apply;
    Result<PartialsKind> kind = PartialsKindOf(bytes);
    ASSERT_TRUE(kind.ok());
    if (*kind == PartialsKind::kMarker) {
      Result<EpochId> epoch = DecodeMarker(bytes);
      ASSERT_TRUE(epoch.ok());
      log.OnMarker(*epoch, apply);
    } else {
      Result<PreparedPartials> prepared = DecodePrepared(bytes);
      ASSERT_TRUE(prepared.ok());
      log.OnPrepared(std::move(*prepared), apply);
    }
    for (const PreparedPartials& epoch : apply) {
      for (const PartialWindow& window : epoch.windows) {
        auto key = std::make_tuple(window.brand_id, window.shape_index, window.dimension, window.start_ms);
        auto [entry, inserted] = windows.try_emplace(key, window.metrics);
        if (!inserted) entry->second.Merge(window.metrics);
      }
    }
  }

  MergeSnapshot Snapshot(const SnapshotId& id) const {
    MergeSnapshot snapshot;
    snapshot.partials_partition = kPartition;
    snapshot.id = id;
    snapshot.next_offset = next_offset;
    snapshot.merged_watermark = log.Watermark(100);
    log.EncodeState(snapshot.merge_log);
    for (const auto& [key, metrics] : windows) {
      const auto& [brand, shape, dimension, start] = key;
      // As the store keys it: the shape's size and slide, the dimension as text.
      WindowKey stored{brand, shape == 0 ? 300000 : 3600000, start,
                       dimension == 0 ? "" : fmt::format("lang:{}", dimension), shape == 0 ? 0 : 900000};
      snapshot.windows.push_back(SnapshotWindow{stored, metrics});
    }
    return snapshot;
  }

  static Merger FromSnapshot(const MergeSnapshot& snapshot) {
    Merger merger;
    Result<PartialsMergeLog> log = PartialsMergeLog::DecodeState(snapshot.merge_log);
    EXPECT_TRUE(log.ok());
    if (log.ok()) merger.log = std::move(*log);
    merger.next_offset = snapshot.next_offset;
    for (const SnapshotWindow& window : snapshot.windows) {
      const uint32_t shape = window.key.size_ms == 300000 ? 0 : 1;
      const uint64_t dimension =
          window.key.dimension.empty() ? 0 : std::stoull(window.key.dimension.substr(5));
      merger.windows.emplace(std::make_tuple(window.key.brand_id, shape, dimension, window.key.start_ms),
                             window.metrics);
    }
    return merger;
  }

  // Windows (stored bytes) and the merge log's decision state: equal bytes, equal merged state.
  std::string Dump() const {
    std::string text;
    for (const auto& [key, metrics] : windows) {
      const auto& [brand, shape, dimension, start] = key;
      std::string value;
      metrics.EncodeTo(value);
      text += fmt::format("{}/{}/{}/{}={}\n", brand, shape, dimension, start, value);
    }
    std::string state;
    log.EncodeState(state);
    const std::optional<int64_t> watermark = log.Watermark(100);
    text += fmt::format("log={} wm={} end={} next={}", state,
                        watermark ? std::to_string(*watermark) : std::string("none"),
                        log.GlobalEnd(), next_offset);
    return text;
  }
};

SnapshotAssembler Assemble(const std::vector<SnapshotRecord>& records) {
  SnapshotAssembler assembler;
  for (const SnapshotRecord& record : records) {
    EXPECT_TRUE(assembler.Add(record.key, record.value ? std::optional<std::string_view>(*record.value)
                                                       : std::nullopt)
                    .ok())
        << record.key;
  }
  return assembler;
}

MergeSnapshot Sample(uint64_t writer, uint64_t seq, int64_t next_offset) {
  const std::vector<std::string> log = PartitionLog();
  Merger merger;
  for (int64_t offset = 0; offset < next_offset && offset < static_cast<int64_t>(log.size()); ++offset) {
    merger.Read(offset, log[offset]);
  }
  MergeSnapshot snapshot = merger.Snapshot(SnapshotId{writer, seq});
  snapshot.next_offset = next_offset;
  snapshot.state = {{"spike", "telenor\x1f" "baseline", std::string("\x01\x02\x00", 3)},
                    {"~cluster-dedup", "telia\x1f" "k", ""}};
  return snapshot;
}

void ExpectSame(const MergeSnapshot& a, const MergeSnapshot& b) {
  EXPECT_EQ(a.partials_partition, b.partials_partition);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.next_offset, b.next_offset);
  EXPECT_EQ(a.merged_watermark, b.merged_watermark);
  EXPECT_EQ(a.merge_log, b.merge_log);
  ASSERT_EQ(a.windows.size(), b.windows.size());
  for (size_t index = 0; index < a.windows.size(); ++index) {
    EXPECT_EQ(a.windows[index].key, b.windows[index].key);
    EXPECT_TRUE(a.windows[index].metrics == b.windows[index].metrics);
  }
  EXPECT_EQ(a.state, b.state);
}

TEST(ClusterSnapshot, ChunksRoundTripInAnyOrder) {
  const MergeSnapshot snapshot = Sample(kA, 1, 20);
  ASSERT_FALSE(snapshot.windows.empty());
  for (size_t chunk_bytes : {size_t{1} << 20, size_t{64}, size_t{7}}) {
    SCOPED_TRACE(chunk_bytes);
    std::vector<SnapshotRecord> records = EncodeSnapshot(snapshot, chunk_bytes);
    if (chunk_bytes < 100) {
      EXPECT_GT(records.size(), 3u);
    }
    for (const SnapshotRecord& record : records) {
      EXPECT_TRUE(record.key.starts_with("3/000000000000aaaa:1/")) << record.key;
      EXPECT_LE(record.value->size(), chunk_bytes + 64);
    }
    std::reverse(records.begin(), records.end());
    const std::map<SnapshotId, MergeSnapshot> whole = Assemble(records).Whole(kPartition);
    ASSERT_EQ(whole.size(), 1u);
    ExpectSame(whole.begin()->second, snapshot);
    EXPECT_TRUE(Assemble(records).Whole(kPartition + 1).empty()) << "another partition's";
  }
  // A partition with nothing merged yet has a snapshot too (one chunk).
  MergeSnapshot empty;
  empty.partials_partition = kPartition;
  empty.id = SnapshotId{kB, 9};
  PartialsMergeLog().EncodeState(empty.merge_log);
  const std::vector<SnapshotRecord> records = EncodeSnapshot(empty, 1024);
  ASSERT_EQ(records.size(), 1u);
  const std::map<SnapshotId, MergeSnapshot> whole = Assemble(records).Whole(kPartition);
  ASSERT_EQ(whole.size(), 1u);
  ExpectSame(whole.begin()->second, empty);
}

TEST(ClusterSnapshot, AHalfWrittenOrDamagedSnapshotIsNeverTaken) {
  const MergeSnapshot older = Sample(kA, 1, 9);
  const MergeSnapshot newer = Sample(kA, 2, 20);
  std::vector<SnapshotRecord> records = EncodeSnapshot(older, 32);
  std::vector<SnapshotRecord> half = EncodeSnapshot(newer, 32);
  ASSERT_GT(half.size(), 2u);
  half.pop_back();  // the writer died before its last chunk
  records.insert(records.end(), half.begin(), half.end());
  SnapshotAssembler assembler = Assemble(records);
  std::optional<MergeSnapshot> taken = SelectSnapshot(assembler.Whole(kPartition), std::nullopt);
  ASSERT_TRUE(taken);
  ExpectSame(*taken, older);

  // A chunk whose slice changed (same header): the body's hash refuses the snapshot.
  std::vector<SnapshotRecord> damaged = EncodeSnapshot(newer, 32);
  damaged[1].value->back() ^= 0x40;
  EXPECT_TRUE(Assemble(damaged).Whole(kPartition).empty());
  // Values that are not chunks, or under another chunk's key, are refused and not kept.
  SnapshotAssembler strict;
  EXPECT_FALSE(strict.Add("3/000000000000aaaa:1/0", std::string_view("P\x01junk")).ok());
  EXPECT_FALSE(strict.Add("3/000000000000aaaa:1/1", *damaged[0].value).ok());
  EXPECT_FALSE(strict.Add("not a key", *damaged[0].value).ok());
  EXPECT_TRUE(strict.Whole(kPartition).empty());
  // No snapshot at all: nothing to start from (replay from offset 0).
  EXPECT_FALSE(SelectSnapshot({}, std::nullopt));
}

TEST(ClusterSnapshot, AFencedFormerOwnerCannotReplaceTheNamedSnapshot) {
  // A owned the partition and wrote snapshot 1; B gained it, started from it and wrote its own;
  // A, fenced but not yet aware, writes one more afterwards (a later merge point of its own).
  const MergeSnapshot a1 = Sample(kA, 1, 9);
  const MergeSnapshot b1 = Sample(kB, 1, 20);
  const MergeSnapshot zombie = Sample(kA, 2, 22);
  std::vector<SnapshotRecord> records = EncodeSnapshot(a1, 48);
  for (SnapshotRecord& record : EncodeSnapshot(b1, 48)) records.push_back(std::move(record));
  for (SnapshotRecord& record : EncodeSnapshot(zombie, 48)) records.push_back(std::move(record));
  SnapshotAssembler assembler = Assemble(records);
  // No key of one snapshot is another's: the late writes replaced nothing of B's.
  EXPECT_EQ(assembler.Whole(kPartition).size(), 3u);
  // The merge group's committed offset (generation-fenced: A's commit is refused) names B's.
  std::optional<MergeSnapshot> taken = SelectSnapshot(assembler.Whole(kPartition), b1.id);
  ASSERT_TRUE(taken);
  ExpectSame(*taken, b1);
  // Without a pointer the newest whole one (each is the merged state of a prefix of one log).
  taken = SelectSnapshot(assembler.Whole(kPartition), std::nullopt);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->id, zombie.id);
  // A named snapshot that is gone: the newest whole one.
  taken = SelectSnapshot(assembler.Whole(kPartition), SnapshotId{kC, 4});
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->id, zombie.id);
  // B, once its snapshot is acknowledged, deletes every other key of the partition (A's older
  // one, the zombie's); compaction then keeps B's alone.
  const std::vector<std::string> stale = assembler.StaleKeys(kPartition, b1.id);
  EXPECT_EQ(stale.size(), EncodeSnapshot(a1, 48).size() + EncodeSnapshot(zombie, 48).size());
  for (const std::string& key : stale) ASSERT_TRUE(assembler.Add(key, std::nullopt).ok());
  const std::map<SnapshotId, MergeSnapshot> left = assembler.Whole(kPartition);
  ASSERT_EQ(left.size(), 1u);
  ExpectSame(left.begin()->second, b1);
  EXPECT_TRUE(assembler.StaleKeys(kPartition, b1.id).empty());
}

// The pointer names a snapshot whose chunks are not all there (its older keys tombstoned by a
// later owner whose own pointer commit was then lost, or a chunk gone): the newest whole one.
TEST(ClusterSnapshot, ANamedSnapshotThatIsNotWholeFallsBackToTheNewestWholeOne) {
  const MergeSnapshot a1 = Sample(kA, 1, 9);
  const MergeSnapshot b1 = Sample(kB, 1, 20);
  const MergeSnapshot b2 = Sample(kB, 2, 25);
  std::vector<SnapshotRecord> records = EncodeSnapshot(a1, 48);
  for (SnapshotRecord& record : EncodeSnapshot(b1, 48)) records.push_back(std::move(record));
  std::vector<SnapshotRecord> named = EncodeSnapshot(b2, 48);
  ASSERT_GT(named.size(), 1u);
  named.pop_back();  // its last chunk missing
  for (SnapshotRecord& record : named) records.push_back(std::move(record));
  SnapshotAssembler assembler = Assemble(records);
  ASSERT_EQ(assembler.Whole(kPartition).size(), 2u);
  std::optional<MergeSnapshot> taken = SelectSnapshot(assembler.Whole(kPartition), b2.id);
  ASSERT_TRUE(taken);
  ExpectSame(*taken, b1);
  // Named and whole: taken even when a newer whole one is there.
  taken = SelectSnapshot(assembler.Whole(kPartition), a1.id);
  ASSERT_TRUE(taken);
  ExpectSame(*taken, a1);
}

TEST(ClusterSnapshot, AGainedPartitionStartsFromTheSnapshotWithoutTheBeginningOfItsLog) {
  const std::vector<std::string> log = PartitionLog();
  Merger owner;  // the previous owner: read the partition from its beginning
  for (size_t offset = 0; offset < log.size(); ++offset) owner.Read(static_cast<int64_t>(offset), log[offset]);
  EXPECT_EQ(owner.log.stats().applied, 7u);
  EXPECT_EQ(owner.log.stats().conflicts, 0u);
  const std::string expected = owner.Dump();

  size_t differs_without_snapshot = 0;
  for (size_t split = 0; split <= log.size(); ++split) {
    SCOPED_TRACE("snapshot as of offset " + std::to_string(split));
    Merger before;  // the owner at the merge point the snapshot is taken at
    for (size_t offset = 0; offset < split; ++offset) before.Read(static_cast<int64_t>(offset), log[offset]);
    // Published in small chunks, read back as the gaining member reads the snapshot topic; the
    // partials before `split` are gone (retention deleted them): it reads only the rest.
    SnapshotAssembler topic = Assemble(EncodeSnapshot(before.Snapshot(SnapshotId{kA, split + 1}), 40));
    std::optional<MergeSnapshot> snapshot = SelectSnapshot(topic.Whole(kPartition), std::nullopt);
    ASSERT_TRUE(snapshot);
    ASSERT_EQ(snapshot->next_offset, static_cast<int64_t>(split));
    Merger gained = Merger::FromSnapshot(*snapshot);
    for (size_t offset = split; offset < log.size(); ++offset) gained.Read(static_cast<int64_t>(offset), log[offset]);
    EXPECT_EQ(gained.Dump(), expected);
    EXPECT_EQ(gained.log.stats().conflicts, 0u);

    // The same member without a snapshot, the beginning gone: what the replay from offset 0 would
    // have to read is missing, so its windows differ (or it applies nothing at all).
    Merger blind;
    for (size_t offset = split; offset < log.size(); ++offset) blind.Read(static_cast<int64_t>(offset), log[offset]);
    if (blind.Dump() != expected) ++differs_without_snapshot;
  }
  // Every split but 0 and 1 needs the snapshot (record 0, e1's prepared record, comes again at 5).
  EXPECT_EQ(differs_without_snapshot, log.size() - 1);
}

}  // namespace
}  // namespace brandpulse
