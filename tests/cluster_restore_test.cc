// Issue 11, restore from local state: a merger's PartialsMergeLog written with its windows
// (EncodeState) and read back at the next start (DecodeState) decides exactly as a log that read
// the partials partition from its beginning — whatever the split point, with duplicated records,
// markers before their prepared records, a fenced member's never-marked epoch, gaps and empty
// epochs at the applied position in the records after it (pipeline/cluster_merge_log.h).
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/state_store.h"
#include "operators/partials_codec.h"
#include "pipeline/cluster_merge_log.h"
#include "test_support.h"

namespace brandpulse {
namespace {

constexpr uint64_t kA = 0xaaaa;  // instance nonces
constexpr uint64_t kB = 0xbbbb;
constexpr uint64_t kC = 0xcccc;

struct Record {
  bool marker = false;
  PreparedPartials prepared;  // the prepared record, or (marker) only its epoch
};

PreparedPartials Epoch(uint64_t nonce, uint64_t seq, std::vector<SourceRange> ranges,
                       uint64_t mentions) {
  PreparedPartials prepared;
  prepared.epoch = EpochId{nonce, seq};
  prepared.source_partition_count = 2;
  prepared.ranges = std::move(ranges);
  if (mentions > 0) {
    WindowMetrics metrics;
    metrics.mentions = mentions;
    prepared.windows.push_back(PartialWindow{"telenor", 0, 0, 1000 * static_cast<int64_t>(seq), metrics});
  }
  return prepared;
}

SourceRange Range(uint32_t partition, uint64_t start, uint64_t end, int64_t newest,
                  bool at_end = false) {
  return SourceRange{partition, start, end, newest, at_end};
}

// A partials partition as the mock delivers it: duplicates, a marker before its record, a fenced
// member's epoch that never gets a marker, an epoch that waits for the one before it, empty epochs
// at the applied position (a partition reached its end) and their copies, old copies.
std::vector<Record> Partition() {
  const PreparedPartials e1 = Epoch(kA, 1, {Range(0, 0, 100, 1000), Range(1, 0, 50, 900)}, 3);
  const PreparedPartials e2 = Epoch(kA, 2, {Range(0, 100, 150, 2000), Range(1, 50, 50, 900)}, 2);
  const PreparedPartials fenced = Epoch(kB, 1, {Range(0, 100, 160, 2100), Range(1, 50, 70, 950)}, 7);
  const PreparedPartials e3 = Epoch(kA, 3, {Range(0, 150, 200, 3000), Range(1, 50, 80, 2500)}, 4);
  const PreparedPartials empty = Epoch(kA, 4, {Range(0, 200, 200, 3000, true), Range(1, 80, 80, 2500)}, 0);
  const PreparedPartials later = Epoch(kC, 2, {Range(0, 250, 260, 5000), Range(1, 90, 90, 2500)}, 6);
  const PreparedPartials gap = Epoch(kC, 1, {Range(0, 200, 250, 4000), Range(1, 80, 90, 2600)}, 5);
  const PreparedPartials end = Epoch(kC, 3, {Range(0, 260, 260, 5000, true), Range(1, 90, 90, 2600, true)}, 0);
  auto marker = [](const PreparedPartials& epoch) { return Record{true, epoch}; };
  auto prepared = [](const PreparedPartials& epoch) { return Record{false, epoch}; };
  return {prepared(e1),      marker(e2),    prepared(e2),    prepared(fenced), marker(e1),
          prepared(e1),      prepared(e3),  prepared(e3),    marker(e3),       marker(e3),
          prepared(empty),   marker(empty), prepared(empty), marker(empty),    prepared(later),
          marker(later),     prepared(gap), prepared(fenced), marker(gap),     marker(empty),
          prepared(e2),      marker(e1),    prepared(end),   marker(end),      prepared(end),
          marker(end)};
}

void Feed(PartialsMergeLog& log, const Record& record, std::vector<std::string>& applied) {
  std::vector<PreparedPartials> apply;
  if (record.marker) {
    log.OnMarker(record.prepared.epoch, apply);
  } else {
    // Through the wire encoding, as the runtime reads them.
    std::string bytes;
    EncodePrepared(record.prepared, bytes);
    Result<PreparedPartials> decoded = DecodePrepared(bytes);
    ASSERT_TRUE(decoded.ok());
    log.OnPrepared(std::move(*decoded), apply);
  }
  for (const PreparedPartials& epoch : apply) {
    uint64_t mentions = 0;
    for (const PartialWindow& window : epoch.windows) mentions += window.metrics.mentions;
    applied.push_back(epoch.epoch.ToString() + "=" + std::to_string(mentions));
  }
}

std::string Decisions(const PartialsMergeLog& log) {
  std::string text;
  for (const auto& [partition, progress] : log.progress()) {
    text += std::to_string(partition) + ":" + std::to_string(progress.applied) + "/" +
            std::to_string(progress.max_event_time_ms) + (progress.at_end ? "e" : "") + " ";
  }
  const std::optional<int64_t> watermark = log.Watermark(100);
  text += "wm=" + (watermark ? std::to_string(*watermark) : std::string("none"));
  text += log.GlobalEnd() ? " end" : " open";
  text += " pending=" + std::to_string(log.pending());
  return text;
}

TEST(ClusterRestore, ALogResumedFromItsStateDecidesAsOneThatReadEverything) {
  const std::vector<Record> records = Partition();
  PartialsMergeLog whole;
  std::vector<std::string> whole_applied;
  std::vector<std::string> whole_after;  // decisions after each record
  for (const Record& record : records) {
    Feed(whole, record, whole_applied);
    whole_after.push_back(Decisions(whole));
  }
  // The whole log applied each committed epoch once, in order, and never the fenced one.
  EXPECT_EQ(whole_applied,
            (std::vector<std::string>{"000000000000aaaa:1=3", "000000000000aaaa:2=2",
                                      "000000000000aaaa:3=4", "000000000000aaaa:4=0",
                                      "000000000000cccc:1=5", "000000000000cccc:2=6",
                                      "000000000000cccc:3=0"}));
  EXPECT_EQ(whole.stats().conflicts, 0u);
  EXPECT_TRUE(whole.GlobalEnd());

  for (size_t split = 0; split <= records.size(); ++split) {
    SCOPED_TRACE("resumed after record " + std::to_string(split));
    PartialsMergeLog before;
    std::vector<std::string> applied;
    for (size_t index = 0; index < split; ++index) Feed(before, records[index], applied);
    std::string state;
    before.EncodeState(state);
    Result<PartialsMergeLog> resumed = PartialsMergeLog::DecodeState(state);
    ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
    if (split > 0) EXPECT_EQ(Decisions(*resumed), whole_after[split - 1]);
    std::string again;
    resumed->EncodeState(again);
    EXPECT_EQ(again, state) << "the state round-trips";
    for (size_t index = split; index < records.size(); ++index) {
      Feed(*resumed, records[index], applied);
      EXPECT_EQ(Decisions(*resumed), whole_after[index]) << "after record " << index;
    }
    EXPECT_EQ(applied, whole_applied);
    EXPECT_EQ(resumed->stats().conflicts, 0u);
  }
}

TEST(ClusterRestore, AStoredLogThatDoesNotDecodeIsRefused) {
  const std::vector<Record> records = Partition();
  PartialsMergeLog log;
  std::vector<std::string> applied;
  for (size_t index = 0; index < 9; ++index) Feed(log, records[index], applied);
  std::string state;
  log.EncodeState(state);
  for (size_t cut = 0; cut < state.size(); ++cut) {
    EXPECT_FALSE(PartialsMergeLog::DecodeState(std::string_view(state).substr(0, cut)).ok()) << cut;
  }
  EXPECT_FALSE(PartialsMergeLog::DecodeState(state + "x").ok());
  EXPECT_TRUE(PartialsMergeLog::DecodeState(state).ok());
  // A log that read nothing has a state too (a partition assigned, nothing read yet).
  std::string empty;
  PartialsMergeLog().EncodeState(empty);
  ASSERT_TRUE(PartialsMergeLog::DecodeState(empty).ok());
  EXPECT_EQ(PartialsMergeLog::DecodeState(empty)->pending(), 0u);
}

TEST(ClusterRestore, ChangedIsSetByRecordsAndClearedBySnapshots) {
  PartialsMergeLog log;
  EXPECT_FALSE(log.changed());
  std::vector<std::string> applied;
  Feed(log, Partition()[0], applied);
  EXPECT_TRUE(log.changed());
  log.ClearChanged();
  EXPECT_FALSE(log.changed());
}

// The merger's plan at changes of its partials partitions (MergePlanner, what the merge
// consumer's rebalance callback asks).
constexpr int64_t kBegin = MergePlanner::kFromBeginning;
using Starts = std::map<uint32_t, int64_t>;

TEST(ClusterRestore, AStartResumesOnlyWhenLocalStateHoldsEveryAssignedPartition) {
  const std::map<uint32_t, int64_t> stored = {{0, 17}, {1, 40}, {2, 9}};
  {  // a subset of what the state holds: resume each at its offset (2 is dropped by the runtime)
    MergePlanner planner;
    EXPECT_EQ(planner.Plan({0, 1}, {0, 1}, stored, {}, {}), (Starts{{0, 17}, {1, 40}}));
    EXPECT_EQ(planner.Take(true), MergePlan::kResume);
  }
  {  // one partition the state does not hold: everything from the beginning
    MergePlanner planner;
    EXPECT_EQ(planner.Plan({1, 3}, {1, 3}, stored, {}, {}), (Starts{{1, kBegin}, {3, kBegin}}));
    EXPECT_EQ(planner.Take(true), MergePlan::kReset);
  }
  {  // no local state (a fresh disk, or state from before this stop): a replay
    MergePlanner planner;
    EXPECT_EQ(planner.Plan({0}, {0}, {}, {}, {}), (Starts{{0, kBegin}}));
    EXPECT_EQ(planner.Take(true), MergePlan::kReset);
  }
  {  // assigned nothing at first (cooperative): the state waits for the first partitions
    MergePlanner planner;
    EXPECT_EQ(planner.Plan({}, {}, stored, {}, {}), Starts{});
    EXPECT_EQ(planner.Take(true), MergePlan::kKeep);
    EXPECT_EQ(planner.Plan({2}, {2}, stored, {}, {}), (Starts{{2, 9}}));
    EXPECT_EQ(planner.Take(true), MergePlan::kResume);
  }
  {  // the first assignment resumes, a second callback before the runtime took it gains more
    MergePlanner planner;
    planner.Plan({0}, {0}, stored, {}, {});
    EXPECT_EQ(planner.Plan({0, 3}, {3}, stored, {}, {}), (Starts{{0, kBegin}, {3, kBegin}}));
    EXPECT_EQ(planner.Take(true), MergePlan::kReset);
  }
}

TEST(ClusterRestore, LaterChangesKeepUnlessTheyGainAPartitionNotHeld) {
  MergePlanner planner;
  planner.Plan({0, 1, 2, 3}, {0, 1, 2, 3}, {}, {}, {});
  EXPECT_EQ(planner.Take(true), MergePlan::kReset);
  const std::set<uint32_t> held = {0, 1, 2, 3};
  const std::map<uint32_t, int64_t> next = {{0, 50}, {1, 51}, {2, 52}};
  // A member joined: 2 and 3 revoked; the rest read on.
  EXPECT_EQ(planner.Plan({0, 1}, {}, {}, held, next), Starts{});
  EXPECT_EQ(planner.Take(true), MergePlan::kKeep);
  // 1 taken away and given back within one change: it reads on from its next offset (3, never
  // read, from its beginning).
  EXPECT_EQ(planner.Plan({0}, {}, {}, {0, 1, 3}, next), Starts{});
  EXPECT_EQ(planner.Plan({0, 1, 3}, {1, 3}, {}, {0, 1, 3}, next), (Starts{{1, 51}, {3, kBegin}}));
  EXPECT_EQ(planner.Take(false), MergePlan::kNone);  // the consumer saw no change after all
  // A member left: 2 comes back without local state: everything from the beginning.
  EXPECT_EQ(planner.Plan({0, 1, 2}, {2}, {}, {0, 1}, next),
            (Starts{{0, kBegin}, {1, kBegin}, {2, kBegin}}));
  // ...and a revoke in the same change restarts what is left too (a reset replays all).
  EXPECT_EQ(planner.Plan({0, 2}, {}, {}, {0, 1}, next), (Starts{{0, kBegin}, {2, kBegin}}));
  EXPECT_EQ(planner.Take(true), MergePlan::kReset);
  // A change with no plan (the consumer closing) resets.
  EXPECT_EQ(planner.Take(true), MergePlan::kReset);
}

TEST(ClusterRestore, WithoutPartialDropsEveryLossResets) {
  MergePlanner planner;
  planner.set_partial_drop(false);
  const std::map<uint32_t, int64_t> stored = {{0, 17}, {1, 40}};
  // A start with a subset of the stored partitions would drop one: a reset.
  EXPECT_EQ(planner.Plan({0}, {0}, stored, {}, {}), (Starts{{0, kBegin}}));
  EXPECT_EQ(planner.Take(true), MergePlan::kReset);
  // A gain resets as always; so does a revoke (the rest restarts from the beginning).
  EXPECT_EQ(planner.Plan({0, 1}, {1}, {}, {0}, {}), (Starts{{0, kBegin}, {1, kBegin}}));
  EXPECT_EQ(planner.Take(true), MergePlan::kReset);
  EXPECT_EQ(planner.Plan({0}, {}, {}, {0, 1}, {}), (Starts{{0, kBegin}}));
  EXPECT_EQ(planner.Take(true), MergePlan::kReset);
  // Every stored partition back: a resume.
  MergePlanner restarted;
  restarted.set_partial_drop(false);
  EXPECT_EQ(restarted.Plan({0, 1}, {0, 1}, stored, {}, {}), (Starts{{0, 17}, {1, 40}}));
  EXPECT_EQ(restarted.Take(true), MergePlan::kResume);
}

// A merger that no longer owns a partials partition drops its brands' windows: one delete per
// window in the commit, the other brands' windows untouched.
TEST(ClusterRestore, DeleteWindowRemovesOnlyThatWindow) {
  const std::filesystem::path directory = brandpulse_test::MakeTempDirectory("cluster-restore");
  Result<std::unique_ptr<StateStore>> store =
      StateStore::Open(StateOptions{(directory / "state").string()});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  WindowMetrics metrics;
  metrics.mentions = 4;
  const WindowKey kept{"telia", 300000, 0, "", 0};
  const WindowKey dropped{"telenor", 300000, 0, "", 0};
  StateStore::Commit commit = (*store)->NewCommit();
  commit.MergeWindow(kept, metrics);
  commit.MergeWindow(dropped, metrics);
  ASSERT_TRUE((*store)->Write(commit).ok());
  StateStore::Commit drop = (*store)->NewCommit();
  drop.DeleteWindow(dropped);
  ASSERT_TRUE((*store)->Write(drop).ok());
  std::vector<std::string> left;
  ASSERT_TRUE((*store)->ScanAllWindows([&](const WindowKey& key, const WindowMetrics& value) {
    left.push_back(key.brand_id + "=" + std::to_string(value.mentions));
  }).ok());
  EXPECT_EQ(left, std::vector<std::string>{"telia=4"});
  store->reset();
  std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace brandpulse
