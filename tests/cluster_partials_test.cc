// Issue 11, global windows: the partials encoding and the merger's apply/skip decisions
// (operators/partials_codec.h, pipeline/cluster_merge_log.h), with hand-made duplicated,
// out-of-order, never-committed and fenced records — what the mock cluster does to them.
#include <gtest/gtest.h>

#include "operators/partials_codec.h"
#include "pipeline/cluster_merge_log.h"
#include "pipeline/cluster_runtime.h"
#include "pipeline/cluster_spec.h"
#include "pipeline/pipeline_config.h"
#include "test_support.h"

namespace brandpulse {
namespace {

constexpr uint64_t kA = 0xaaaa;  // instance nonces
constexpr uint64_t kB = 0xbbbb;

WindowMetrics Mentions(uint64_t count) {
  WindowMetrics metrics;
  metrics.mentions = count;
  metrics.reach = count * 10;
  metrics.authors.AddHash(count * 7919);
  return metrics;
}

PreparedPartials Epoch(uint64_t nonce, uint64_t seq, std::vector<SourceRange> ranges,
                       uint64_t mentions = 1, uint32_t partitions = 2) {
  PreparedPartials prepared;
  prepared.epoch = EpochId{nonce, seq};
  prepared.source_partition_count = partitions;
  prepared.ranges = std::move(ranges);
  prepared.windows.push_back(PartialWindow{"telenor", 0, 0, 1000, Mentions(mentions)});
  return prepared;
}

SourceRange Range(uint32_t partition, uint64_t start, uint64_t end, int64_t newest = 5000,
                  bool at_end = false) {
  return SourceRange{partition, start, end, newest, at_end};
}

uint64_t AppliedMentions(const std::vector<PreparedPartials>& applied) {
  uint64_t total = 0;
  for (const PreparedPartials& epoch : applied) {
    for (const PartialWindow& window : epoch.windows) total += window.metrics.mentions;
  }
  return total;
}

TEST(PartialsCodec, PreparedAndMarkerRoundTrip) {
  PreparedPartials prepared = Epoch(0x0123456789abcdefULL, 42,
                                    {Range(0, 0, 100, -5, false), Range(7, 3, 3, INT64_MIN, true)});
  prepared.windows.push_back(PartialWindow{"movistar", 2, 0x0102030405ULL, -300000, Mentions(9)});
  std::string bytes;
  EncodePrepared(prepared, bytes);
  Result<PartialsKind> kind = PartialsKindOf(bytes);
  ASSERT_TRUE(kind.ok());
  EXPECT_EQ(*kind, PartialsKind::kPrepared);
  Result<PreparedPartials> decoded = DecodePrepared(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->epoch, prepared.epoch);
  EXPECT_EQ(decoded->source_partition_count, 2u);
  EXPECT_EQ(decoded->ranges, prepared.ranges);
  ASSERT_EQ(decoded->windows.size(), 2u);
  EXPECT_EQ(decoded->windows[1].brand_id, "movistar");
  EXPECT_EQ(decoded->windows[1].shape_index, 2u);
  EXPECT_EQ(decoded->windows[1].dimension, 0x0102030405ULL);
  EXPECT_EQ(decoded->windows[1].start_ms, -300000);
  std::string again;
  decoded->windows[1].metrics.EncodeTo(again);
  std::string original;
  prepared.windows[1].metrics.EncodeTo(original);
  EXPECT_EQ(again, original);

  std::string marker;
  EncodeMarker(prepared.epoch, marker);
  Result<PartialsKind> marker_kind = PartialsKindOf(marker);
  ASSERT_TRUE(marker_kind.ok());
  EXPECT_EQ(*marker_kind, PartialsKind::kMarker);
  Result<EpochId> marker_epoch = DecodeMarker(marker);
  ASSERT_TRUE(marker_epoch.ok());
  EXPECT_EQ(*marker_epoch, prepared.epoch);

  // Truncated or trailing bytes are refused, never half-read.
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(DecodePrepared(std::string_view(bytes).substr(0, cut)).ok()) << cut;
  }
  EXPECT_FALSE(DecodePrepared(bytes + "x").ok());
  EXPECT_FALSE(DecodeMarker(marker + "x").ok());
  EXPECT_FALSE(PartialsKindOf("{\"json\":1}").ok());
}

TEST(PartialsCodec, EpochIdText) {
  EpochId epoch{0x00ff00ff00ff00ffULL, 17};
  EXPECT_EQ(epoch.ToString(), "00ff00ff00ff00ff:17");
  EXPECT_EQ(EpochId::Parse(epoch.ToString()), epoch);
  EXPECT_FALSE(EpochId::Parse(""));
  EXPECT_FALSE(EpochId::Parse("00ff00ff00ff00ff:"));
  EXPECT_FALSE(EpochId::Parse("ff:17"));
  EXPECT_FALSE(EpochId::Parse("00ff00ff00ff00ff:17x"));
}

TEST(PartialsCodec, GroupsMeetAtOnePartition) {
  WatchlistSpec watchlist;
  for (const char* id : {"a", "b", "c", "d", "e"}) watchlist.brands.push_back(BrandSpec{id, id});
  watchlist.groups.push_back(CompetitorGroup{"g1", {"c", "b"}});
  watchlist.groups.push_back(CompetitorGroup{"g2", {"d", "c"}});
  std::map<std::string, std::string> keys = PartialsKeys(watchlist);
  EXPECT_EQ(keys["a"], "a");
  EXPECT_EQ(keys["b"], "b");
  EXPECT_EQ(keys["c"], "b");  // linked through c: b, c and d meet
  EXPECT_EQ(keys["d"], "b");
  EXPECT_EQ(keys["e"], "e");
  for (uint32_t partitions : {1u, 4u, 8u}) {
    EXPECT_LT(PartialsPartitionOf("telenor", partitions), partitions);
    EXPECT_EQ(PartialsPartitionOf("telenor", partitions), PartialsPartitionOf("telenor", partitions));
  }
}

TEST(PartialsMergeLog, AppliesOnlyMarkedEpochsOnceWhateverTheDuplicates) {
  PartialsMergeLog log;
  std::vector<PreparedPartials> applied;
  PreparedPartials first = Epoch(kA, 1, {Range(0, 0, 100), Range(1, 0, 50)}, 3);
  log.OnPrepared(first, applied);
  log.OnPrepared(first, applied);  // the mock duplicated the produce
  EXPECT_TRUE(applied.empty()) << "a prepared record without marker is never applied";
  log.OnMarker(first.epoch, applied);
  log.OnMarker(first.epoch, applied);  // a re-published marker
  log.OnPrepared(first, applied);      // and a late duplicate of the record
  EXPECT_EQ(AppliedMentions(applied), 3u);
  EXPECT_EQ(log.stats().applied, 1u);
  EXPECT_EQ(log.stats().duplicates, 3u);
  EXPECT_EQ(log.progress().at(0).applied, 100u);
  EXPECT_EQ(log.progress().at(1).applied, 50u);
}

// A member frozen past its session timeout wakes up and publishes partials of a range the new
// owner has already redone with other boundaries. Its offset commit is refused (fenced), so no
// marker ever names its epoch: nothing of it is applied, whatever order the records come in.
TEST(PartialsMergeLog, AFencedMembersPartialsAreNeverApplied) {
  PartialsMergeLog log;
  std::vector<PreparedPartials> applied;
  PreparedPartials a1 = Epoch(kA, 1, {Range(0, 0, 100), Range(1, 0, 40)}, 1);
  log.OnPrepared(a1, applied);
  log.OnMarker(a1.epoch, applied);
  // A freezes after preparing its next epoch; B takes both partitions at A's committed offsets.
  PreparedPartials a2 = Epoch(kA, 2, {Range(0, 100, 180), Range(1, 40, 60)}, 100);
  log.OnPrepared(a2, applied);
  PreparedPartials b1 = Epoch(kB, 1, {Range(0, 100, 200), Range(1, 40, 90)}, 10);
  log.OnPrepared(b1, applied);
  log.OnMarker(b1.epoch, applied);
  // A wakes up and prepares yet another epoch (its commit will be refused too).
  PreparedPartials a3 = Epoch(kA, 3, {Range(0, 180, 260)}, 1000);
  log.OnPrepared(a3, applied);
  EXPECT_EQ(AppliedMentions(applied), 11u);
  EXPECT_EQ(log.progress().at(0).applied, 200u);
  // Even a marker for A's overlapping epoch (it cannot exist: the commit was refused) would
  // not be applied over B's range.
  log.OnMarker(a3.epoch, applied);
  EXPECT_EQ(AppliedMentions(applied), 11u);
  EXPECT_EQ(log.stats().conflicts, 1u);
  EXPECT_EQ(log.pending(), 0u) << "a2 is covered by b1: forgotten";
}

// A kill between the offset commit and the marker: the new owner re-publishes the marker of
// the epoch named in the committed offset's metadata, after its own earlier epochs of other
// partitions — so a later epoch may be marked first, and waits for the gap to close.
TEST(PartialsMergeLog, AnEpochWaitsForTheMarkerOfTheOneBefore) {
  PartialsMergeLog log;
  std::vector<PreparedPartials> applied;
  PreparedPartials a1 = Epoch(kA, 1, {Range(0, 0, 100)}, 1);
  PreparedPartials b1 = Epoch(kB, 1, {Range(0, 100, 150)}, 2);
  log.OnPrepared(a1, applied);
  log.OnPrepared(b1, applied);
  log.OnMarker(b1.epoch, applied);
  EXPECT_TRUE(applied.empty()) << "b1 starts at 100, nothing of partition 0 applied yet";
  log.OnMarker(a1.epoch, applied);
  ASSERT_EQ(applied.size(), 2u);
  EXPECT_EQ(applied[0].epoch, a1.epoch);
  EXPECT_EQ(applied[1].epoch, b1.epoch);
  EXPECT_EQ(log.progress().at(0).applied, 150u);
}

TEST(PartialsMergeLog, AMarkerBeforeItsRecordAndEmptyRanges) {
  PartialsMergeLog log;
  std::vector<PreparedPartials> applied;
  PreparedPartials a1 = Epoch(kA, 1, {Range(0, 0, 10), Range(1, 0, 0, INT64_MIN)}, 4);
  log.OnMarker(a1.epoch, applied);  // (a duplicate of the record may come after the marker)
  log.OnPrepared(a1, applied);
  EXPECT_EQ(AppliedMentions(applied), 4u);
  // Epochs that only report progress (no records) apply, once.
  PreparedPartials a2 = Epoch(kA, 2, {Range(0, 10, 10, 7000, true), Range(1, 0, 0, INT64_MIN, true)}, 0);
  log.OnPrepared(a2, applied);
  log.OnMarker(a2.epoch, applied);
  EXPECT_EQ(log.stats().applied, 2u);
  EXPECT_TRUE(log.GlobalEnd());
}

TEST(PartialsMergeLog, WatermarkWaitsForEverySourcePartition) {
  PartialsMergeLog log;
  std::vector<PreparedPartials> applied;
  EXPECT_FALSE(log.Watermark(1000));
  PreparedPartials a1 = Epoch(kA, 1, {Range(0, 0, 10, 50000)}, 1, 3);
  log.OnPrepared(a1, applied);
  log.OnMarker(a1.epoch, applied);
  EXPECT_FALSE(log.Watermark(1000)) << "partitions 1 and 2 have not reported";
  PreparedPartials b1 = Epoch(kB, 1, {Range(1, 0, 10, 20000), Range(2, 0, 0, INT64_MIN)}, 1, 3);
  log.OnPrepared(b1, applied);
  log.OnMarker(b1.epoch, applied);
  EXPECT_FALSE(log.Watermark(1000)) << "partition 2 reported no event time and is not at its end";
  PreparedPartials b2 = Epoch(kB, 2, {Range(1, 10, 10, 20000), Range(2, 0, 0, INT64_MIN, true)}, 0, 3);
  log.OnPrepared(b2, applied);
  log.OnMarker(b2.epoch, applied);
  EXPECT_EQ(log.Watermark(1000), 19000) << "min over partitions 0 and 1; the empty one is at its end";
  EXPECT_FALSE(log.GlobalEnd());
}

// The `cluster:` section: read into PipelineSpec::cluster; absent, nothing changes; refused on a
// source that is not Kafka.
std::string LoadErrors(const std::string& source, const std::string& transforms,
                       const std::string& cluster, std::shared_ptr<const ClusterSpec>* out = nullptr) {
  std::filesystem::path work = brandpulse_test::MakeTempDirectory("cluster-config");
  brandpulse_test::WriteFile(work / "watchlist.yaml", "brands:\n  - id: a\n    terms: [a]\n");
  brandpulse_test::WriteFile(work / "p.yaml",
                             "source: " + source + "\ndecode: {format: twitter-v2}\n" + transforms +
                                 "watchlist: watchlist.yaml\nstate: {directory: s}\n"
                                 "windows:\n  - {name: 1m, size: 1m}\nsinks:\n  dead_letter: {type: none}\n" + cluster);
  Diagnostics diagnostics;
  std::optional<PipelineSpec> spec = LoadPipelineSpec((work / "p.yaml").string(), diagnostics);
  if (spec && out != nullptr) *out = spec->cluster;
  std::filesystem::remove_all(work);
  return diagnostics.ToString();
}

TEST(ClusterConfig, SectionReadAndChecked) {
  const std::string kafka = "{type: kafka, brokers: b:9092, topic: posts, group: g}";
  std::shared_ptr<const ClusterSpec> cluster;
  EXPECT_EQ(LoadErrors(kafka, "", "", &cluster), "");
  EXPECT_EQ(cluster, nullptr) << "no cluster: section, no cluster";
  EXPECT_EQ(LoadErrors(kafka, "",
                       "cluster: {partials_topic: partials, brokers: b:9092, merge_group: m, "
                       "delivery_timeout: 5s}\n",
                       &cluster),
            "");
  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(cluster->partials_topic, "partials");
  EXPECT_EQ(cluster->merge_group, "m");
  EXPECT_EQ(cluster->delivery_timeout_ms, 5000);
  EXPECT_NE(LoadErrors(kafka, "", "cluster: {brokers: b:9092}\n").find("partials_topic"),
            std::string::npos);
  EXPECT_NE(LoadErrors("{type: stdin}", "", "cluster: {partials_topic: p, brokers: b:9092}\n")
                .find("needs a Kafka source"),
            std::string::npos);
  // Issue 11 (s24): `dedup` decides at the brand's merger now (operators/dedup.h).
  EXPECT_EQ(LoadErrors(kafka, "transforms: [decode, match, dedup, window]\n",
                       "cluster: {partials_topic: p, brokers: b:9092}\n", &cluster),
            "");
  EXPECT_NE(cluster, nullptr);
  EXPECT_NE(LoadErrors(kafka, "", "cluster: {partials_topic: p, brokers: b:9092, partials: 3}\n")
                .find("partials"),
            std::string::npos)
      << "unknown keys are reported";
  // Issue 11: snapshots, on by default since s26 (every 20 epochs); the topic defaults to
  // <partials_topic>.snapshots.
  EXPECT_EQ(LoadErrors(kafka, "", "cluster: {partials_topic: p, brokers: b:9092}\n", &cluster), "");
  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(cluster->snapshot_every_epochs, 20u);
  EXPECT_EQ(cluster->snapshot_topic, "p.snapshots");
  EXPECT_FALSE(cluster->snapshot_topic_set);
  EXPECT_EQ(LoadErrors(kafka, "",
                       "cluster: {partials_topic: p, brokers: b:9092, snapshot_every_epochs: 50, "
                       "snapshot_topic: snaps}\n",
                       &cluster),
            "");
  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(cluster->snapshot_every_epochs, 50u);
  EXPECT_EQ(cluster->snapshot_topic, "snaps");
  EXPECT_TRUE(cluster->snapshot_topic_set);
  EXPECT_NE(LoadErrors(kafka, "",
                       "cluster: {partials_topic: p, brokers: b:9092, snapshot_every_epochs: -1}\n")
                .find("snapshot_every_epochs"),
            std::string::npos);
}

}  // namespace
}  // namespace brandpulse
