// Issue 11, restore from local state: a merger's PartialsMergeLog written with its windows
// (EncodeState) and read back at the next start (DecodeState) decides exactly as a log that read
// the partials partition from its beginning — whatever the split point, with duplicated records,
// markers before their prepared records, a fenced member's never-marked epoch, gaps and empty
// epochs at the applied position in the records after it (pipeline/cluster_merge_log.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "engine/state_store.h"
#include "operators/partials_codec.h"
#include "operators/rule_common.h"
#include "pipeline/cluster_merge_log.h"
#include "pipeline/window_closer.h"
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
  {  // one partition the state does not hold: the stored one resumes, that one is replayed
    MergePlanner planner;
    EXPECT_EQ(planner.Plan({1, 3}, {1, 3}, stored, {}, {}), (Starts{{1, 40}, {3, kBegin}}));
    EXPECT_EQ(planner.Take(true), MergePlan::kResume);
    EXPECT_EQ(planner.Replayed(), (std::set<uint32_t>{3}));
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
  {  // the first assignment resumes, a second callback before the runtime took it gains more:
     // that one is replayed beside it
    MergePlanner planner;
    planner.Plan({0}, {0}, stored, {}, {});
    EXPECT_EQ(planner.Plan({0, 3}, {3}, stored, {}, {}), (Starts{{3, kBegin}}));
    EXPECT_EQ(planner.Take(true), MergePlan::kResume);
    EXPECT_EQ(planner.Replayed(), (std::set<uint32_t>{3}));
  }
}

TEST(ClusterRestore, LaterChangesKeepAndReplayOnlyAPartitionNotHeld) {
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
  // A member left (failover): 2 comes back without local state: only 2 is replayed, from its
  // beginning; 0 and 1 read on with their merged state (issue 11, stop 24).
  EXPECT_EQ(planner.Plan({0, 1, 2}, {2}, {}, {0, 1}, next), (Starts{{2, kBegin}}));
  // ...and a revoke in the same change leaves the rest as they are.
  EXPECT_EQ(planner.Plan({0, 2}, {}, {}, {0, 1}, next), Starts{});
  EXPECT_EQ(planner.Take(true), MergePlan::kKeep);
  EXPECT_EQ(planner.Replayed(), (std::set<uint32_t>{2}));
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

// Issue 11, stop 24: the done epoch ids are kept as runs of seqs per instance, so a long run of
// in-order epochs is one run (the set grew by one per epoch and every commit walked it).
TEST(ClusterRestore, DoneEpochsAreKeptAsRuns) {
  EpochRuns runs;
  for (uint64_t seq : {5, 3, 4, 9, 1, 2, 4}) runs.insert(EpochId{kA, seq});
  runs.insert(EpochId{kB, 7});
  EXPECT_EQ(runs.epoch_count(), 7u);
  EXPECT_EQ(runs.run_count(), 3u);  // A: 1..5, 9; B: 7
  for (uint64_t seq = 0; seq < 12; ++seq) {
    EXPECT_EQ(runs.contains(EpochId{kA, seq}), (seq >= 1 && seq <= 5) || seq == 9) << seq;
  }
  EXPECT_FALSE(runs.contains(EpochId{kC, 1}));
  runs.InsertRun(kA, 6, 3);  // closes the gap: one run 1..9
  EXPECT_EQ(runs.run_count(), 2u);
  EXPECT_EQ(runs.epoch_count(), 10u);

  // A long run: 50,000 epochs of one instance, one after the other, plus a few duplicates.
  PartialsMergeLog log;
  std::vector<PreparedPartials> apply;
  uint64_t position = 0;
  for (uint64_t seq = 1; seq <= 50000; ++seq) {
    PreparedPartials epoch = Epoch(kA, seq, {Range(0, position, position + 10, 1000 + seq),
                                             Range(1, 0, 0, 900)}, 1);
    position += 10;
    if (seq % 1000 == 0) log.OnPrepared(epoch, apply);  // a duplicated record
    log.OnPrepared(std::move(epoch), apply);
    log.OnMarker(EpochId{kA, seq}, apply);
  }
  EXPECT_EQ(apply.size(), 50000u);
  EXPECT_EQ(log.done().run_count(), 1u);
  EXPECT_EQ(log.done().epoch_count(), 50000u);
  std::string state;
  log.EncodeState(state);
  EXPECT_LT(state.size(), 100u);
  Result<PartialsMergeLog> decoded = PartialsMergeLog::DecodeState(state);
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->done().contains(EpochId{kA, 1}));
  EXPECT_TRUE(decoded->done().contains(EpochId{kA, 50000}));
  EXPECT_FALSE(decoded->done().contains(EpochId{kA, 50001}));
  std::vector<PreparedPartials> again;
  decoded->OnMarker(EpochId{kA, 17}, again);  // a copy of a marker: nothing applies
  EXPECT_TRUE(again.empty());
  EXPECT_EQ(decoded->stats().duplicates, 1u);
}

// Issue 11, stop 24: a merger that gains a partials partition without local state replays it
// beside the kept ones. Its brands' windows are rebuilt alone — the closer keeps their own
// closed-through, the rules' series hands their windows out again from their first — while the
// kept brands' windows wait for the merged watermark: each window closes once, each brand's series
// is evaluated once per window, and the values equal a run that saw everything in one piece.
constexpr int64_t kMinute = 60000;

class TwoBrands final : public BrandDirectory {
 public:
  uint32_t brand_count() const override { return 2; }
  BrandInfo brand_info(uint32_t index) const override {
    return BrandInfo{index == 0 ? "acme" : "globex", index == 0 ? "Acme" : "Globex", ""};
  }
  std::optional<uint32_t> FindBrand(std::string_view id) const override {
    if (id == "acme") return 0u;
    if (id == "globex") return 1u;
    return std::nullopt;
  }
};

struct Merger {
  explicit Merger(const std::vector<WindowSpec>& windows)
      : closer(windows, 0, [](uint32_t) { return true; }), series(windows[0], 0) {}
  // One commit: the epoch's deltas, then windows close by `watermark` and the series hands out.
  void Commit(const WindowDeltaMap& deltas, int64_t watermark, bool end, StateStore& store) {
    closer.Track(deltas);
    StateStore::Commit commit = store.NewCommit();
    std::vector<WindowDeltaKey> replaced;
    Result<int64_t> closed = closer.Close(
        watermark, end, deltas, brands, store, commit,
        [&](const ClosedWindow& window) {
          closes.push_back(fmt::format("{}@{}={}", brands.brand_info(window.brand_index).id,
                                       window.start_ms / kMinute, window.metrics->mentions));
          series.Add(window);
          return Status::Ok();
        },
        replaced);
    ASSERT_TRUE(closed.ok());
    ASSERT_TRUE(series.TakeFinal(*closed, [&](const WindowSeries::Final& final) {
      for (uint32_t brand = 0; brand < 2; ++brand) {
        if (!final.Includes(brand)) continue;
        const WindowMetrics* metrics = final.Of(brand);
        evaluated.push_back(fmt::format("{}@{}={}", brands.brand_info(brand).id,
                                        final.start_ms / kMinute,
                                        metrics != nullptr ? metrics->mentions : 0));
      }
      return Status::Ok();
    }).ok());
  }
  TwoBrands brands;
  WindowCloser closer;
  WindowSeries series;
  std::vector<std::string> closes;     // "brand@start minute=mentions", in close order
  std::vector<std::string> evaluated;  // what the rules were shown, in order
};

WindowDeltaMap Deltas(std::vector<std::tuple<uint32_t, int64_t, uint64_t>> windows) {
  WindowDeltaMap deltas;
  for (const auto& [brand, start_minute, mentions] : windows) {
    WindowMetrics metrics;
    for (uint64_t index = 0; index < mentions; ++index) metrics.AddMention(brand * 1000 + index, 10);
    deltas[WindowDeltaKey{brand, 0, kBrandTotal, start_minute * kMinute}] = metrics;
  }
  return deltas;
}

TEST(ClusterRestore, AGainedPartitionIsReplayedBesideKeptOnes) {
  const std::filesystem::path directory = brandpulse_test::MakeTempDirectory("cluster-replay");
  Result<std::unique_ptr<StateStore>> store =
      StateStore::Open(StateOptions{(directory / "state").string()});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  WindowSpec spec;
  spec.name = "5m";
  spec.size_ms = 5 * kMinute;
  const std::vector<WindowSpec> windows{spec};
  // acme (kept) and globex (its partials partition moves here), 5-minute windows.
  const WindowDeltaMap e1 = Deltas({{0, 0, 3}, {1, 0, 2}});
  const WindowDeltaMap e2 = Deltas({{0, 5, 1}, {1, 5, 4}});
  const WindowDeltaMap e3 = Deltas({{0, 10, 2}, {1, 10, 1}});
  const WindowDeltaMap e4 = Deltas({{0, 15, 5}});

  Merger single(windows);  // everything in one piece
  single.Commit(e1, 5 * kMinute, false, **store);
  single.Commit(e2, 10 * kMinute, false, **store);
  single.Commit(e3, 15 * kMinute, false, **store);
  single.Commit(e4, 15 * kMinute, true, **store);

  Merger merger(windows);
  merger.Commit(e1, 5 * kMinute, false, **store);
  merger.Commit(e2, 10 * kMinute, false, **store);
  const size_t closes_before = merger.closes.size();
  const size_t evaluated_before = merger.evaluated.size();
  // globex's partition is gained without local state: its state goes, and it is replayed.
  merger.closer.ForgetBrands({1});
  merger.closer.ReplayBrands({1});
  merger.series.Replay({1});
  EXPECT_TRUE(merger.closer.replaying());
  EXPECT_EQ(merger.closer.ClosedThrough(0), 10 * kMinute);
  EXPECT_EQ(merger.closer.ClosedThrough(1), INT64_MIN);
  // The replay catches up (its own watermark: 5, 10 minutes) while acme's epoch 3 waits.
  merger.Commit(Deltas({{1, 0, 2}, {0, 10, 2}}), 5 * kMinute, false, **store);
  EXPECT_TRUE(merger.closer.replaying());
  EXPECT_TRUE(merger.series.replaying());
  // At the kept brands' closed-through again: caught up.
  merger.Commit(Deltas({{1, 5, 4}}), 10 * kMinute, false, **store);
  EXPECT_FALSE(merger.closer.replaying());
  EXPECT_FALSE(merger.series.replaying());
  // The merged watermark moves on for both.
  merger.Commit(Deltas({{1, 10, 1}}), 15 * kMinute, false, **store);
  merger.Commit(e4, 15 * kMinute, true, **store);

  // Every window of globex closes again, once; acme's kept windows do not close again.
  const std::vector<std::string> after(merger.closes.begin() + closes_before, merger.closes.end());
  EXPECT_EQ(after, (std::vector<std::string>{"globex@0=2", "globex@5=4", "acme@10=2",
                                             "globex@10=1", "acme@15=5"}));
  // The rules see acme's windows once in all, globex's again from its first, with the values of
  // the run in one piece (silence included).
  std::vector<std::string> evaluated(merger.evaluated.begin() + evaluated_before,
                                     merger.evaluated.end());
  std::vector<std::string> expected = {"globex@0=2", "globex@5=4", "acme@10=2", "globex@10=1",
                                       "acme@15=5", "globex@15=0"};
  std::sort(evaluated.begin(), evaluated.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(evaluated, expected);
  std::vector<std::string> acme_all;
  for (const std::string& entry : merger.evaluated) {
    if (entry.starts_with("acme")) acme_all.push_back(entry);
  }
  std::vector<std::string> acme_single;
  for (const std::string& entry : single.evaluated) {
    if (entry.starts_with("acme")) acme_single.push_back(entry);
  }
  EXPECT_EQ(acme_all, acme_single);
  std::vector<std::string> globex_single;
  for (const std::string& entry : single.evaluated) {
    if (entry.starts_with("globex")) globex_single.push_back(entry);
  }
  std::vector<std::string> globex_replayed;  // in the order the rules saw them
  for (const std::string& entry :
       std::vector<std::string>(merger.evaluated.begin() + evaluated_before, merger.evaluated.end())) {
    if (entry.starts_with("globex")) globex_replayed.push_back(entry);
  }
  EXPECT_EQ(globex_replayed, globex_single);
  store->reset();
  std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace brandpulse
