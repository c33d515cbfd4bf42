// Issue 11, snapshots carry per-brand state (pipeline/cluster_snapshot.h, docs/cluster.md
// "Snapshots"): beside the merge log and the windows, a partials partition's snapshot holds the
// rule-state entries of its brands that the windows do not show — the merger's `dedup` set
// (`~cluster-dedup`), `unanswered`'s held inquiry events and open inquiries, `viral_post`'s held
// events and tracked posts. The idea of tests/cluster_snapshot_test.cc ("a member starting from a
// snapshot ends byte-identical to the previous owner at every split point") for that state:
// at every commit of a stream, the owner's stored entries of one partition are collected as
// PipelineRun::CollectSnapshotState does (AlertRule::ScopeOfState, DedupMerger::BrandOfStateKey);
// a member that merged only the other partition until then gains it from those entries
// (ClearBrands / DropBrands, then LoadState / LoadEntries, as PipelineRun::RestoreSnapshotState)
// and goes on. Its alerts, inquiry observations and counted windows, together with the owner's
// before the split, are the owner's, and its store ends with the owner's entries byte for byte.
// Without the entries (what a gained partition had before: the state started empty) they differ.
//
// (The readers' and mergers' helpers are small copies of tests/cluster_viral_test.cc's and
// tests/cluster_dedup_test.cc's fixtures, without the merge log: each epoch's events are
// delivered once, stamped with their partials partition as ClusterRuntime::OnRecord does.)
#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/varint.h"
#include "operators/compiled_watchlist.h"
#include "operators/dedup.h"
#include "operators/partials_codec.h"
#include "operators/public_metrics.h"
#include "operators/unanswered_rule.h"
#include "operators/viral_post_rule.h"
#include "operators/watchlist_brands.h"
#include "test_support.h"
#include "tests/cluster_test_util.h"
#include "tests/unanswered_test_util.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
using brandpulse_test::MakeTempDirectory;

using cluster_test::kMinute;
using cluster_test::kT0;
constexpr uint32_t kPartials = 2;

using Entries = std::vector<std::pair<std::string, std::string>>;

// Every rule-state entry under `owners`, "owner key" -> value.
std::map<std::string, std::string> Dump(StateStore& store, const std::vector<std::string>& owners) {
  std::map<std::string, std::string> dump;
  for (const std::string& owner : owners) {
    EXPECT_TRUE(store.ScanRuleState(owner, [&](std::string_view key, std::string_view value) {
      dump[fmt::format("{} {}", owner, key)] = std::string(value);
    }).ok());
  }
  return dump;
}

struct TempStore {
  explicit TempStore(const std::string& name) : directory(MakeTempDirectory(name)) {
    Result<std::unique_ptr<StateStore>> opened = StateStore::Open(StateOptions{directory.string()});
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    store = std::move(*opened);
  }
  ~TempStore() {
    store.reset();
    fs::remove_all(directory);
  }
  fs::path directory;
  std::unique_ptr<StateStore> store;
};

// ---- unanswered and viral_post at a merger ----

class SnapshotRuleState : public ::testing::Test {
 protected:
  void SetUp() override {
    BrandSpec telenor = cluster_test::TermBrand("telenor", "Telenor");
    telenor.handles = {"@telenor_norge", "@TelenorSupport"};
    BrandSpec tele2 = cluster_test::TermBrand("tele2", "Tele2");
    tele2.handles = {"@tele2_se"};
    ASSERT_NO_FATAL_FAILURE(cluster_test::MakeBrands({telenor, tele2}, brands_));
    slots_ = &RegisterPublicMetricFields();
    ASSERT_NE(PartialsPartitionOf("telenor", kPartials), PartialsPartitionOf("tele2", kPartials));
  }

  std::vector<std::unique_ptr<AlertRule>> Rules() {
    RuleBuildContext context;
    context.brands = brands_.get();
    std::vector<std::unique_ptr<AlertRule>> rules;
    rules.push_back(unanswered_test::SlaRule(brands_.get()));
    ViralPostRuleOptions viral;
    viral.common.name = "viral";
    viral.common.evidence = 2;
    viral.replies = 3;
    viral.within_ms = 10 * kMinute;
    Result<std::unique_ptr<AlertRule>> viral_post = MakeViralPostRule(viral, context);
    EXPECT_TRUE(viral_post.ok());
    rules.push_back(std::move(*viral_post));
    return rules;
  }

  struct Said {
    std::string id, author, text;
    std::vector<std::string> brands;  // the mentions
    std::string reply_to_handle, reply_to_post;
    int64_t time_ms = 0;
  };

  // The events the readers publish for one batch (context.inquiry_events set: `cluster:`).
  std::vector<InquiryEvent> Read(const std::vector<Said>& posts) {
    Batch batch;
    batch.ingest_time_ms = kT0 + 3600000;
    for (const Said& said : posts) {
      Post post = unanswered_test::PostOf(said);
      post.author_id = said.author;
      post.fields = fields_.emplace_back(PostFieldCount()).data();
      for (const std::string& brand : said.brands) {
        Mention mention;
        mention.post_index = static_cast<uint32_t>(batch.posts.size());
        mention.brand_index = *brands_->FindBrand(brand);
        batch.mentions.push_back(mention);
      }
      batch.posts.push_back(post);
    }
    std::vector<InquiryEvent> events;
    for (auto& reader : Rules()) {
      std::vector<FiredAlert> fired;
      RuleContext context{*brands_, INT64_MIN, fired};
      context.inquiry_events = &events;
      EXPECT_TRUE(reader->OnBatch(batch, context).ok());
      EXPECT_TRUE(fired.empty());
    }
    return events;
  }

  // A merger of some partials partitions: its rules, its store, what it fired and observed.
  struct Merger {
    std::set<uint32_t> owned;
    std::vector<std::unique_ptr<AlertRule>> rules;
    std::unique_ptr<TempStore> store;
    std::vector<FiredAlert> fired;
    std::vector<InquiryObservation> observed;
    int64_t previous_watermark = INT64_MIN;
  };
  Merger MakeMerger(std::set<uint32_t> owned, const std::string& name) {
    Merger merger;
    merger.owned = std::move(owned);
    merger.rules = Rules();
    merger.store = std::make_unique<TempStore>(name);
    return merger;
  }

  // One commit at the merger: the epoch's events of its partitions (a brand's on its partition,
  // brandless growth copies on every one, stamped as ClusterRuntime::OnRecord does), released
  // under the merged watermark; the rules' state goes into the store (RuleSet::Snapshot).
  void Commit(Merger& merger, const std::vector<InquiryEvent>& epoch, int64_t watermark,
              bool end_of_input) {
    std::vector<InquiryEvent> applied;
    for (uint32_t partition : merger.owned) {
      for (const InquiryEvent& event : epoch) {
        if (event.brand_id.empty() || PartialsPartitionOf(event.brand_id, kPartials) == partition) {
          applied.push_back(event);
          applied.back().partials_partition = partition;
        }
      }
    }
    StateStore::Commit commit = merger.store->store->NewCommit();
    for (auto& rule : merger.rules) {
      std::vector<InquiryEvent> mine;
      for (const InquiryEvent& event : applied) {
        if (event.rule == rule->name()) mine.push_back(event);
      }
      RuleContext context{*brands_, merger.previous_watermark, merger.fired, end_of_input,
                          &merger.observed};
      ASSERT_TRUE(rule->OnInquiryEvents(mine, end_of_input ? INT64_MAX : watermark, context).ok());
      context.watermark_ms = watermark;
      ASSERT_TRUE(rule->OnWatermark(context).ok());
      ASSERT_TRUE(rule->Snapshot(commit).ok());
    }
    ASSERT_TRUE(merger.store->store->Write(commit).ok());
    merger.previous_watermark = watermark;
  }

  // The entries of `partition` in the merger's store, by rule (PipelineRun::CollectSnapshotState).
  std::map<std::string, Entries> Collect(Merger& merger, uint32_t partition) {
    std::map<std::string, Entries> collected;
    for (auto& rule : merger.rules) {
      EXPECT_TRUE(merger.store->store->ScanRuleState(rule->name(), [&](std::string_view key,
                                                                       std::string_view value) {
        std::optional<RuleStateScope> scope = rule->ScopeOfState(key, value);
        if (!scope) return;
        const uint32_t of = scope->partials_partition
                                ? *scope->partials_partition
                                : PartialsPartitionOf(scope->brand_id, kPartials);
        if (of == partition) collected[rule->name()].emplace_back(key, value);
      }).ok());
    }
    return collected;
  }

  // The member gains `partition`: its brands' state is dropped (PipelineRun::DropMergedPartitions)
  // and, with `from_snapshot`, loaded from the entries (PipelineRun::RestoreSnapshotState).
  void Gain(Merger& merger, uint32_t partition, const std::map<std::string, Entries>& entries,
            bool from_snapshot) {
    std::vector<std::string> brands;
    for (std::string id : {"telenor", "tele2"}) {
      if (PartialsPartitionOf(id, kPartials) == partition) brands.push_back(id);
    }
    StateStore::Commit write = merger.store->store->NewCommit();
    for (auto& rule : merger.rules) {
      rule->ClearBrands(brands);
      rule->ClearPartialsPartitions({partition});
      auto mine = entries.find(rule->name());
      if (from_snapshot && mine != entries.end()) {
        ASSERT_TRUE(rule->LoadState(mine->second, write).ok());
      }
    }
    ASSERT_TRUE(merger.store->store->Write(write).ok());
    merger.owned.insert(partition);
  }

  uint32_t PartitionOfAlert(const FiredAlert& alert) const {
    return PartialsPartitionOf(brands_->brand_info(alert.brand_index).id, kPartials);
  }
  // Alerts byte for byte but for the wall-clock time they were made at.
  static std::string Text(const FiredAlert& alert) {
    std::string payload = alert.payload;
    const size_t emitted = payload.find(",\"emitted_at\":\"");
    if (emitted != std::string::npos) {
      payload.erase(emitted, payload.find('"', emitted + 15) + 1 - emitted);
    }
    return fmt::format("{} {} {} {}", alert.id, payload, alert.brand_index, alert.event_time_ms);
  }
  static std::string Text(const InquiryObservation& seen) {
    return fmt::format("{} {} {} {} {} {} {}", static_cast<int>(seen.kind), seen.brand_index,
                       seen.profile, seen.response_ms, seen.event_time_ms, seen.after_deadline,
                       seen.opened_under_watermark_ms);
  }
  // What a member that gained `moved` and the previous owner (before the split, of `moved` only)
  // fired and observed together: the texts to compare with a run without the move.
  void Combined(const Merger& member, const Merger& before, uint32_t moved,
                std::multiset<std::string>& alerts, std::multiset<std::string>& observed) const {
    for (const FiredAlert& alert : member.fired) alerts.insert(Text(alert));
    for (const FiredAlert& alert : before.fired) {
      if (PartitionOfAlert(alert) == moved) alerts.insert(Text(alert));
    }
    for (const InquiryObservation& seen : member.observed) observed.insert(Text(seen));
    for (const InquiryObservation& seen : before.observed) {
      if (PartialsPartitionOf(brands_->brand_info(seen.brand_index).id, kPartials) == moved) {
        observed.insert(Text(seen));
      }
    }
  }

  std::unique_ptr<WatchlistBrands> brands_;
  const PublicMetricSlots* slots_ = nullptr;
  std::deque<std::vector<PostFieldValue>> fields_;  // the posts' field arrays (Post::fields)

  // Customers ask both brands; the brands answer some in time, one late, one never; posts about
  // both brands get replies (three within 10 minutes fire `viral`). One batch a commit.
  const std::vector<std::vector<Said>> batches_ = {
      {{"u1", "kari", "why is my fiber down?", {}, "telenor_norge", "", kT0},
       {"u2", "ola", "is there 5G here?", {}, "tele2_se", "", kT0 + 10000},
       {"p1", "nils", "telenor fiber down #outage", {"telenor"}, "", "", kT0 + 20000},
       {"p3", "lise", "tele2 works again", {"tele2"}, "", "", kT0 + 30000}},
      {{"r1", "a1", "same here", {}, "", "p1", kT0 + kMinute},
       {"r2", "a2", "no signal", {}, "", "p1", kT0 + 2 * kMinute},
       {"r3", "a3", "nice", {}, "", "p3", kT0 + 3 * kMinute},
       {"u4", "per", "can you help me?", {}, "tele2_se", "", kT0 + 3 * kMinute + 500}},
      {{"s1", "TelenorSupport", "we are on it", {}, "kari", "u1", kT0 + 4 * kMinute},
       {"r4", "a4", "still down", {}, "", "p1", kT0 + 5 * kMinute},
       {"r5", "a5", "good", {}, "", "p3", kT0 + 6 * kMinute},
       {"u3", "lise", "still waiting for my refund?", {}, "tele2_se", "", kT0 + 8 * kMinute}},
      {{"r6", "a6", "agreed", {}, "", "p3", kT0 + 9 * kMinute},
       {"s2", "tele2_se", "yes, since May", {}, "ola", "u2", kT0 + 15 * kMinute},
       {"u5", "kari", "and now the app?", {}, "telenor_norge", "", kT0 + 16 * kMinute}},
      {{"s3", "telenor_norge", "fixed", {}, "kari", "u5", kT0 + 20 * kMinute}},
  };
  // The merged watermark each commit closes by (events after it stay held: state).
  const std::vector<int64_t> watermarks_ = {kT0 + 15000, kT0 + 2 * kMinute + 30000,
                                            kT0 + 5 * kMinute + 30000, kT0 + 12 * kMinute,
                                            kT0 + 60 * kMinute};
};

TEST_F(SnapshotRuleState, AGainedPartitionFromItsSnapshotEndsAsThePreviousOwnerAtEverySplitPoint) {
  std::vector<std::vector<InquiryEvent>> epochs;
  for (const auto& batch : batches_) epochs.push_back(Read(batch));
  const size_t commits = epochs.size();
  auto run = [&](Merger& merger, size_t from, size_t to) {
    for (size_t index = from; index < to; ++index) {
      Commit(merger, epochs[index], watermarks_[index], index + 1 == commits);
    }
  };
  // The previous owner merges both partitions throughout.
  Merger owner = MakeMerger({0, 1}, "snapshot-state-owner");
  run(owner, 0, commits);
  std::multiset<std::string> all_alerts, all_observed;
  for (const FiredAlert& alert : owner.fired) all_alerts.insert(Text(alert));
  for (const InquiryObservation& seen : owner.observed) all_observed.insert(Text(seen));
  ASSERT_GE(owner.fired.size(), 4u);  // both rules fired for both brands
  const std::map<std::string, std::string> owner_end = Dump(*owner.store->store, {"sla", "viral"});

  for (uint32_t moved = 0; moved < kPartials; ++moved) {
    const uint32_t kept = 1 - moved;
    size_t carried = 0;
    bool differs_without = false;
    for (size_t split = 1; split < commits; ++split) {
      SCOPED_TRACE(fmt::format("partition {} moves after commit {}", moved, split));
      // The previous owner up to the split, and its snapshot of `moved`.
      Merger before = MakeMerger({0, 1}, "snapshot-state-before");
      run(before, 0, split);
      const std::map<std::string, Entries> snapshot = Collect(before, moved);
      for (const auto& [owner_name, entries] : snapshot) carried += entries.size();
      for (bool from_snapshot : {true, false}) {
        // The member merged `kept` alone until the split, then gains `moved`.
        Merger member = MakeMerger({kept}, "snapshot-state-member");
        run(member, 0, split);
        Gain(member, moved, snapshot, from_snapshot);
        run(member, split, commits);
        std::multiset<std::string> alerts, observed;
        Combined(member, before, moved, alerts, observed);
        const std::map<std::string, std::string> end = Dump(*member.store->store, {"sla", "viral"});
        if (from_snapshot) {
          EXPECT_EQ(alerts, all_alerts);
          EXPECT_EQ(observed, all_observed);
          EXPECT_EQ(end, owner_end);
        } else if (alerts != all_alerts || observed != all_observed || end != owner_end) {
          differs_without = true;
        }
      }
    }
    EXPECT_GT(carried, 0u) << "no state of partition " << moved << " at any split";
    EXPECT_TRUE(differs_without) << "partition " << moved << ": the state did not matter";
  }
}

// Issue 11, `unanswered`'s replies to a brand's own posts (tests/cluster_ownpost_test.cc): the
// merger of a brand remembers the brand's own posts (rule state "own/<brand>\x1f<partials
// partition>\x1f<post id>") and holds the inquiry candidates replying to them (brandless copies
// on every partials partition, "held/\x1f...", stamped with the partition) until the merged
// watermark passes them. Both go with the partition in its snapshot (ScopeOfState, LoadState):
// a member gaining it at any split point ends as the owner; without them it does not.
TEST_F(SnapshotRuleState, OwnPostsAndHeldCandidatesOfAGainedPartitionComeWithItsSnapshot) {
  // The brands post (commit 0); customers reply to the posts without naming a handle (candidates,
  // commits 1 and 3), one held across the split after commit 1 and one across the split after
  // commit 3; Telenor's support answers kari in time (commit 2).
  const std::vector<std::vector<Said>> batches = {
      {{"o1", "TelenorSupport", "New fiber prices from today", {}, "", "", kT0},
       {"o2", "tele2_se", "Tele2 news", {}, "", "", kT0 + 5000}},
      {{"q1", "kari", "why is it so expensive?", {}, "", "o1", kT0 + kMinute},
       {"q2", "ola", "is this for everyone?", {}, "", "o2", kT0 + 2 * kMinute}},
      {{"a1", "TelenorSupport", "it is the new price list", {}, "kari", "q1", kT0 + 3 * kMinute}},
      {{"q3", "lise", "and what about the app?", {}, "", "o1", kT0 + 20 * kMinute},
       {"q4", "anne", "does it include 5G?", {}, "", "o2", kT0 + 21 * kMinute}},
      {{"z1", "z", "later", {}, "", "", kT0 + 100 * kMinute}},
  };
  // An own post's value starts with a varint sequence: the order the merger remembered its own
  // posts in, over all its partitions (only the kOwnPostBound eviction follows it). A member that
  // merged the other partition alone numbered its posts from 0 as well, so the sequences need not
  // be the owner's (ties are broken by key); the rest of the value must be.
  auto WithoutOwnPostSequence = [](std::map<std::string, std::string> dump) {
    for (auto& [key, value] : dump) {
      if (!key.starts_with("sla own/")) continue;
      std::string_view rest = value;
      uint64_t sequence = 0;
      EXPECT_TRUE(ReadVarint(rest, sequence)) << key;
      value = std::string(rest);
    }
    return dump;
  };
  const std::vector<int64_t> watermarks = {kT0 + 15000, kT0 + 90000, kT0 + 5 * kMinute,
                                           kT0 + 20 * kMinute + 30000, kT0 + 120 * kMinute};
  std::vector<std::vector<InquiryEvent>> epochs;
  for (const auto& batch : batches) epochs.push_back(Read(batch));
  size_t own_events = 0, candidates = 0;
  for (const auto& epoch : epochs) {
    for (const InquiryEvent& event : epoch) {
      own_events += event.kind == InquiryEvent::Kind::kOwnPost;
      candidates += event.kind == InquiryEvent::Kind::kInquiryCandidate;
    }
  }
  ASSERT_GE(own_events, 2u);
  ASSERT_EQ(candidates, 4u);
  const size_t commits = epochs.size();
  auto run = [&](Merger& merger, size_t from, size_t to) {
    for (size_t index = from; index < to; ++index) {
      Commit(merger, epochs[index], watermarks[index], index + 1 == commits);
    }
  };
  Merger owner = MakeMerger({0, 1}, "snapshot-ownpost-owner");
  run(owner, 0, commits);
  std::multiset<std::string> all_alerts, all_observed;
  for (const FiredAlert& alert : owner.fired) all_alerts.insert(alert.id);
  std::set<std::string> ids(all_alerts.begin(), all_alerts.end());
  // q2, q3 and q4 went unanswered; q1 was answered (the replies address the brands by their posts).
  ASSERT_EQ(ids, (std::set<std::string>{"sla/tele2/q2", "sla/tele2/q4", "sla/telenor/q3"}));
  all_alerts.clear();
  for (const FiredAlert& alert : owner.fired) all_alerts.insert(Text(alert));
  for (const InquiryObservation& seen : owner.observed) all_observed.insert(Text(seen));
  const std::map<std::string, std::string> owner_end = Dump(*owner.store->store, {"sla", "viral"});

  for (uint32_t moved = 0; moved < kPartials; ++moved) {
    const uint32_t kept = 1 - moved;
    size_t own_carried = 0, held_candidates_carried = 0;
    for (size_t split = 1; split < commits; ++split) {
      SCOPED_TRACE(fmt::format("partition {} moves after commit {}", moved, split));
      Merger before = MakeMerger({0, 1}, "snapshot-ownpost-before");
      run(before, 0, split);
      const std::map<std::string, Entries> snapshot = Collect(before, moved);
      if (auto sla = snapshot.find("sla"); sla != snapshot.end()) {
        for (const auto& [key, value] : sla->second) {
          own_carried += key.starts_with("own/");
          held_candidates_carried += key.starts_with("held/\x1f");
        }
      }
      for (bool from_snapshot : {true, false}) {
        Merger member = MakeMerger({kept}, "snapshot-ownpost-member");
        run(member, 0, split);
        Gain(member, moved, snapshot, from_snapshot);
        run(member, split, commits);
        std::multiset<std::string> alerts, observed;
        Combined(member, before, moved, alerts, observed);
        if (from_snapshot) {
          EXPECT_EQ(alerts, all_alerts);
          EXPECT_EQ(observed, all_observed);
          EXPECT_EQ(WithoutOwnPostSequence(Dump(*member.store->store, {"sla", "viral"})),
                    WithoutOwnPostSequence(owner_end));
        } else {
          // Every split leaves the moved brand a reply still to resolve or an inquiry still open.
          EXPECT_TRUE(alerts != all_alerts || observed != all_observed)
              << "the gained state did not matter";
        }
      }
    }
    EXPECT_GT(own_carried, 0u) << "no own post of partition " << moved << " in a snapshot";
    EXPECT_GT(held_candidates_carried, 0u) << "no held candidate of " << moved << " in a snapshot";
  }
}

// viral_post's held events are numbered by arrival at each merger: a gained partition's held
// events may carry numbers the kept partition's use here. They get fresh ones, keep their order,
// and no kept held event is overwritten (in memory or in the store).
TEST_F(SnapshotRuleState, HeldViralEventsOfAGainedPartitionDoNotTakeTheKeptOnesPlaces) {
  const uint32_t telenor = PartialsPartitionOf("telenor", kPartials);
  const uint32_t tele2 = PartialsPartitionOf("tele2", kPartials);
  // Both mergers hold events of the same instants under the same arrival numbers (the growth
  // copies of r1..r3 are on both partitions, in the same order).
  const std::vector<InquiryEvent> epoch0 = Read(batches_[0]);
  const std::vector<InquiryEvent> epoch1 = Read(batches_[1]);
  Merger previous = MakeMerger({telenor}, "snapshot-state-previous");
  Merger member = MakeMerger({tele2}, "snapshot-state-held");
  Merger both = MakeMerger({telenor, tele2}, "snapshot-state-both");
  for (Merger* merger : {&previous, &member, &both}) {
    Commit(*merger, epoch0, INT64_MIN, false);
    Commit(*merger, epoch1, INT64_MIN, false);
  }
  const std::map<std::string, Entries> snapshot = Collect(previous, telenor);
  ASSERT_TRUE(snapshot.contains("viral"));
  const auto kept_before = Dump(*member.store->store, {"viral"});
  Gain(member, telenor, snapshot, true);
  const auto after = Dump(*member.store->store, {"viral"});
  for (const auto& [key, value] : kept_before) {
    auto found = after.find(key);
    ASSERT_NE(found, after.end()) << key;
    EXPECT_EQ(found->second, value) << key;  // not overwritten
  }
  EXPECT_EQ(after.size(), kept_before.size() + snapshot.at("viral").size());
  size_t collided = 0;
  for (const auto& [key, value] : snapshot.at("viral")) collided += kept_before.contains("viral " + key);
  EXPECT_GT(collided, 0u);  // (the case this is about)
  // Released together, they fire what one merger of both partitions fires.
  for (size_t index = 2; index < batches_.size(); ++index) {
    const std::vector<InquiryEvent> next = Read(batches_[index]);
    Commit(both, next, watermarks_[index], index + 1 == batches_.size());
    Commit(member, next, watermarks_[index], index + 1 == batches_.size());
  }
  std::multiset<std::string> expected, got;
  for (const FiredAlert& alert : both.fired) expected.insert(Text(alert));
  for (const FiredAlert& alert : member.fired) got.insert(Text(alert));
  EXPECT_EQ(got, expected);
  EXPECT_EQ(Dump(*member.store->store, {"sla", "viral"}), Dump(*both.store->store, {"sla", "viral"}));
}

// ---- the merger's dedup set ----

class SnapshotDedupState : public ::testing::Test {
 protected:
  void SetUp() override {
    WindowSpec hour;
    hour.name = "1h";
    hour.size_ms = 60 * kMinute;
    layout_ = MakeWindowLayout({hour});
    ASSERT_NE(PartialsPartitionOf("telenor", kPartials), PartialsPartitionOf("tele2", kPartials));
  }

  static PostEvent Event(std::string brand, uint64_t key, int64_t time, uint64_t text, bool edit,
                         uint64_t mentions) {
    PostEvent event;
    event.brand_id = std::move(brand);
    event.key_hash = key;
    event.event_time_ms = time;
    event.text_hash = text;
    event.edit = edit;
    WindowMetrics metrics;
    metrics.mentions = mentions;
    metrics.reach = 10 * mentions + key;
    event.windows.push_back(PartialWindow{"", 0, 0, WindowStart(time, 60 * kMinute), metrics});
    return event;
  }

  struct Merger {
    std::set<uint32_t> owned;
    std::unique_ptr<DedupMerger> dedup;
    std::unique_ptr<TempStore> store;
    std::map<std::string, WindowMetrics> counted;  // "brand start" -> what was counted
  };
  Merger MakeMerger(std::set<uint32_t> owned, const std::string& name) {
    Merger merger;
    merger.owned = std::move(owned);
    DedupOptions options;
    options.horizon_ms = 90 * kMinute;
    merger.dedup = std::make_unique<DedupMerger>(options, layout_, 0);
    merger.store = std::make_unique<TempStore>(name);
    return merger;
  }
  void Commit(Merger& merger, const std::vector<PostEvent>& epoch, int64_t watermark) {
    std::vector<PostEvent> mine;
    for (const PostEvent& event : epoch) {
      if (merger.owned.contains(PartialsPartitionOf(event.brand_id, kPartials))) mine.push_back(event);
    }
    std::vector<PartialWindow> counted;
    merger.dedup->Apply(std::move(mine), watermark, counted);
    for (const PartialWindow& window : counted) Add(merger.counted, window);
    StateStore::Commit commit = merger.store->store->NewCommit();
    merger.dedup->WriteChanges(commit);
    ASSERT_TRUE(merger.store->store->Write(commit).ok());
  }
  static void Add(std::map<std::string, WindowMetrics>& sums, const PartialWindow& window) {
    sums[fmt::format("{} {}", window.brand_id, window.start_ms)].Merge(window.metrics);
  }
  static std::map<std::string, std::string> Encoded(const std::map<std::string, WindowMetrics>& sums) {
    std::map<std::string, std::string> encoded;
    for (const auto& [key, metrics] : sums) metrics.EncodeTo(encoded[key]);
    return encoded;
  }

  WindowLayout layout_;
};

TEST_F(SnapshotDedupState, AGainedPartitionFromItsSnapshotCountsAsThePreviousOwnerAtEverySplitPoint) {
  // Posts of both brands, copies read again commits later, edits of counted posts, one copy past
  // the horizon (counts again, as in one process).
  const std::vector<std::vector<PostEvent>> epochs = {
      {Event("telenor", 1, kT0, 11, false, 1), Event("tele2", 2, kT0 + kMinute, 21, false, 1),
       Event("telenor", 3, kT0 + 2 * kMinute, 31, false, 2)},
      {Event("telenor", 1, kT0 + 5000, 11, false, 1), Event("tele2", 4, kT0 + 3 * kMinute, 41, false, 1),
       Event("tele2", 2, kT0 + kMinute, 21, false, 1)},
      {Event("telenor", 3, kT0 + 4 * kMinute, 32, true, 3), Event("tele2", 2, kT0 + 5 * kMinute, 22, true, 2),
       Event("telenor", 5, kT0 + 70 * kMinute, 51, false, 1)},
      {Event("tele2", 4, kT0 + 71 * kMinute, 41, false, 1), Event("telenor", 1, kT0 + 72 * kMinute, 11, false, 1),
       Event("telenor", 5, kT0 + 73 * kMinute, 51, false, 1)},
      {Event("telenor", 3, kT0 + 150 * kMinute, 31, false, 2), Event("tele2", 6, kT0 + 151 * kMinute, 61, false, 1),
       Event("tele2", 4, kT0 + 152 * kMinute, 41, false, 1)},
  };
  const std::vector<int64_t> watermarks = {INT64_MIN, kT0 + 2 * kMinute, kT0 + 30 * kMinute,
                                           kT0 + 100 * kMinute, kT0 + 200 * kMinute};
  auto run = [&](Merger& merger, size_t from, size_t to) {
    for (size_t index = from; index < to; ++index) Commit(merger, epochs[index], watermarks[index]);
  };
  Merger owner = MakeMerger({0, 1}, "snapshot-dedup-owner");
  run(owner, 0, epochs.size());
  const auto owner_end = Dump(*owner.store->store, {std::string(kDedupMergeOwner)});
  ASSERT_FALSE(owner_end.empty());

  for (uint32_t moved = 0; moved < kPartials; ++moved) {
    const uint32_t kept = 1 - moved;
    bool differs_without = false;
    for (size_t split = 1; split < epochs.size(); ++split) {
      SCOPED_TRACE(fmt::format("partition {} moves after commit {}", moved, split));
      Merger before = MakeMerger({0, 1}, "snapshot-dedup-before");
      run(before, 0, split);
      // Its snapshot's entries (PipelineRun::CollectSnapshotState).
      Entries snapshot;
      ASSERT_TRUE(before.store->store->ScanRuleState(kDedupMergeOwner, [&](std::string_view key,
                                                                          std::string_view value) {
        std::optional<std::string_view> brand = DedupMerger::BrandOfStateKey(key);
        ASSERT_TRUE(brand.has_value());
        if (PartialsPartitionOf(*brand, kPartials) == moved) snapshot.emplace_back(key, value);
      }).ok());
      for (bool from_snapshot : {true, false}) {
        Merger member = MakeMerger({kept}, "snapshot-dedup-member");
        run(member, 0, split);
        std::vector<std::string> brands;
        for (std::string id : {"telenor", "tele2"}) {
          if (PartialsPartitionOf(id, kPartials) == moved) brands.push_back(id);
        }
        StateStore::Commit write = member.store->store->NewCommit();
        member.dedup->DropBrands(brands, write);
        if (from_snapshot) ASSERT_TRUE(member.dedup->LoadEntries(snapshot, write).ok());
        ASSERT_TRUE(member.store->store->Write(write).ok());
        member.owned.insert(moved);
        run(member, split, epochs.size());
        // The member's counts, with the previous owner's of `moved` before the split.
        std::map<std::string, WindowMetrics> sums = member.counted;
        for (const auto& [key, metrics] : before.counted) {
          if (PartialsPartitionOf(key.substr(0, key.find(' ')), kPartials) == moved) {
            sums[key].Merge(metrics);
          }
        }
        const std::map<std::string, std::string> counted = Encoded(sums);
        const auto end = Dump(*member.store->store, {std::string(kDedupMergeOwner)});
        if (from_snapshot) {
          EXPECT_EQ(counted, Encoded(owner.counted));
          EXPECT_EQ(end, owner_end);
        } else if (counted != Encoded(owner.counted) || end != owner_end) {
          differs_without = true;
        }
      }
    }
    EXPECT_TRUE(differs_without) << "partition " << moved << ": the set did not matter";
  }
}

}  // namespace
}  // namespace brandpulse
