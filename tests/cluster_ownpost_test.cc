// Issue 11, replies to a brand's own posts across instances (docs/cluster.md, "Inquiries across
// instances"): a customer's reply that names no handle of the brand addresses it only through
// the post it replies to (`reply_to_post_id` one of the brand's own posts). With `cluster:` the
// brand's post and the reply are usually read by different instances. The readers publish the
// brand's post to the brand's partials partition and the reply, as an inquiry candidate, to every
// partials partition; the merger of the brand resolves candidates against its brands' own posts
// in event-time order under the merged watermark (operators/unanswered_rule.cc). The alerts and
// inquiry observations are one process's, byte for byte (but `emitted_at`), however the partials
// partitions are owned.
//
// The brands, the rule and the constants come from tests/unanswered_test_util.h and
// tests/cluster_test_util.h; the other helpers (Said, Read, the epoch's records per partials
// partition, Merger/Deliver/Release) are adapted copies of tests/cluster_inquiry_test.cc's and
// tests/cluster_viral_test.cc's (mentions, the `unanswered` rule).
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "operators/partials_codec.h"
#include "operators/unanswered_rule.h"
#include "operators/watchlist_brands.h"
#include "pipeline/cluster_merge_log.h"
#include "tests/cluster_test_util.h"
#include "tests/unanswered_test_util.h"
#include "test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
using brandpulse_test::MakeTempDirectory;

using cluster_test::kA;
using cluster_test::kB;
using cluster_test::kMinute;
using cluster_test::kT0;
constexpr uint32_t kPartials = 2;  // partials partitions

class ClusterOwnPosts : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(cluster_test::MakeBrands(
        {unanswered_test::TelenorWithSupport(), unanswered_test::Telia("tele2")}, brands_));
    // The two brands land on different partials partitions: a merger of one of them gets the
    // other's candidates too, and a merger of both gets two copies of each.
    ASSERT_NE(PartialsPartitionOf("telenor", kPartials), PartialsPartitionOf("tele2", kPartials));
  }

  std::unique_ptr<AlertRule> Rule() { return unanswered_test::SlaRule(brands_.get()); }

  struct Said {
    std::string id, author, text, reply_to_handle, reply_to_post;
    int64_t time_ms = 0;
    std::vector<std::string> brands;  // the mentions (the matcher's)
  };
  void Fill(const std::vector<Said>& posts, Batch& batch) {
    batch.ingest_time_ms = kT0 + 3600000;
    for (const Said& said : posts) {
      Post post = unanswered_test::PostOf(said);
      post.author_id = said.author;
      for (const std::string& brand : said.brands) {
        Mention mention;
        mention.post_index = static_cast<uint32_t>(batch.posts.size());
        mention.brand_index = *brands_->FindBrand(brand);
        batch.mentions.push_back(mention);
      }
      batch.posts.push_back(post);
    }
  }

  // One process: the rule reads every post itself, in this order.
  void Single(const std::vector<Said>& posts, std::vector<FiredAlert>& fired,
              std::vector<InquiryObservation>& observations) {
    auto rule = Rule();
    Batch batch;
    Fill(posts, batch);
    RuleContext context{*brands_, INT64_MIN, fired, false, &observations};
    ASSERT_TRUE(rule->OnBatch(batch, context).ok());
    context.watermark_ms = kT0 + 120 * kMinute;
    ASSERT_TRUE(rule->OnWatermark(context).ok());
  }

  // The events one reader publishes (context.inquiry_events set: `cluster:`); it opens, closes
  // and fires nothing itself.
  std::vector<InquiryEvent> Read(AlertRule& reader, const std::vector<Said>& posts) {
    Batch batch;
    Fill(posts, batch);
    return unanswered_test::ReaderEvents(reader, *brands_, batch);
  }

  // An epoch's prepared records, one per partials partition, as ClusterRuntime::PublishEpoch
  // distributes the events (a brand's to its partition, brandless ones to every partition),
  // through the codec as on the partials topic.
  static std::vector<PreparedPartials> Epoch(uint64_t nonce, uint64_t seq, SourceRange range,
                                             const std::vector<InquiryEvent>& events) {
    return cluster_test::EpochRecords(kPartials, nonce, seq, range, events,
                                      [](const InquiryEvent& event) {
                                        return event.brand_id.empty();
                                      });
  }

  // A merger owning some partials partitions: their merge logs, and the rule.
  struct Merger {
    std::unique_ptr<AlertRule> rule;
    std::map<uint32_t, PartialsMergeLog> logs;
    std::vector<InquiryEvent> applied;  // since the last Release
    std::vector<FiredAlert> fired;
    std::vector<InquiryObservation> observations;
    int64_t previous_watermark = INT64_MIN;
  };
  Merger MakeMerger(std::set<uint32_t> owned) {
    Merger merger;
    merger.rule = Rule();
    for (uint32_t partition : owned) merger.logs[partition];
    return merger;
  }
  // Partials partition `partition`'s records reach the merger (if it owns it); the events of the
  // epochs applied are stamped with the partition, as ClusterRuntime::OnRecord does.
  static void Deliver(Merger& merger, uint32_t partition, const PreparedPartials* prepared,
                      const EpochId* marker) {
    auto log = merger.logs.find(partition);
    if (log == merger.logs.end()) return;
    std::vector<PreparedPartials> apply;
    if (prepared != nullptr) log->second.OnPrepared(*prepared, apply);
    if (marker != nullptr) log->second.OnMarker(*marker, apply);
    for (PreparedPartials& epoch : apply) {
      for (InquiryEvent& event : epoch.inquiries) {
        event.partials_partition = partition;
        merger.applied.push_back(std::move(event));
      }
    }
  }
  // An epoch's records and markers on every partials partition, with a duplicated produce.
  static void Publish(const std::vector<Merger*>& mergers,
                      const std::vector<PreparedPartials>& epoch) {
    for (Merger* merger : mergers) {
      for (uint32_t partition = 0; partition < kPartials; ++partition) {
        Deliver(*merger, partition, &epoch[partition], nullptr);
        Deliver(*merger, partition, &epoch[partition], nullptr);  // the mock's doubled batch
        Deliver(*merger, partition, nullptr, &epoch[partition].epoch);
      }
    }
  }
  // A commit at the merger: the applied events, then the merged watermark.
  void Release(Merger& merger, int64_t watermark) {
    RuleContext context{*brands_, merger.previous_watermark, merger.fired, false,
                        &merger.observations};
    ASSERT_TRUE(merger.rule->OnInquiryEvents(merger.applied, watermark, context).ok());
    merger.applied.clear();
    context.watermark_ms = watermark;
    ASSERT_TRUE(merger.rule->OnWatermark(context).ok());
    merger.previous_watermark = watermark;
  }

  static std::vector<std::string> Alerts(const std::vector<FiredAlert>& fired) {
    std::vector<std::string> alerts;
    for (const FiredAlert& alert : fired) {
      // Byte for byte but for the wall-clock time the alert was made at.
      std::string payload = alert.payload;
      const size_t emitted = payload.find(",\"emitted_at\":\"");
      EXPECT_NE(emitted, std::string::npos);
      if (emitted != std::string::npos) {
        payload.erase(emitted, payload.find('"', emitted + 15) + 1 - emitted);
      }
      alerts.push_back(fmt::format("{} {} {} {} {}", alert.id, payload, alert.brand_index,
                                   alert.event_time_ms, alert.ingest_time_ms));
    }
    std::sort(alerts.begin(), alerts.end());
    return alerts;
  }
  static std::vector<std::string> Ids(const std::vector<FiredAlert>& fired) {
    std::vector<std::string> ids;
    for (const FiredAlert& alert : fired) ids.push_back(alert.id);
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  static std::vector<std::string> Observed(const std::vector<InquiryObservation>& observations) {
    std::vector<std::string> lines;
    for (const InquiryObservation& o : observations) {
      lines.push_back(fmt::format("{} {} {} {} {} {}", static_cast<int>(o.kind), o.brand_index,
                                  o.profile, o.response_ms, o.event_time_ms, o.after_deadline));
    }
    std::sort(lines.begin(), lines.end());
    return lines;
  }

  std::unique_ptr<WatchlistBrands> brands_;

  // Source partition 0 (instance A): the brands' own posts. Source partition 1 (instance B): the
  // customers' replies to them, none naming the brand's handle in `reply_to_handle`.
  const std::vector<Said> partition0_ = {
      {"o1", "TelenorSupport", "New fiber prices from today", "", "", kT0},
      {"o2", "telia_norge", "Telia news", "", "", kT0 + 5000},
      {"o3", "telenor_norge", "Summer campaign", "", "", kT0 + 6000}};
  const std::vector<Said> partition1_ = {
      // To Telenor's support profile by its post: an inquiry of Telenor, profile "support";
      // answered 2 minutes later by the profile (reply to kari).
      {"q1", "kari", "why is it so expensive?", "", "o1", kT0 + kMinute},
      // To Telia by its post: unanswered.
      {"q2", "ola", "is this for everyone?", "", "o2", kT0 + 2 * kMinute},
      {"r1", "TelenorSupport", "it is the new price list", "kari", "q1", kT0 + 3 * kMinute},
      // A reply to o1 that also names @telenor_norge: one process addresses Telenor through the
      // post first (its profile, "support"), so the alert names @TelenorSupport, not the handle.
      {"q3", "lise", "@telenor_norge why did nobody tell me?", "", "o1", kT0 + 4 * kMinute,
       {"telenor"}},
      // A reply to a post no brand wrote, and one to o3 without a cue: no inquiry.
      {"n1", "per", "what do you mean?", "", "x9", kT0 + 5 * kMinute},
      {"n2", "nils", "nice campaign", "", "o3", kT0 + 6 * kMinute},
      // To o3 (telenor_norge, no profile name): unanswered.
      {"q4", "anne", "does it include 5G?", "", "o3", kT0 + 7 * kMinute},
      {"z1", "z", "later", "", "", kT0 + 100 * kMinute}};
};

// The brand's posts are read by instance A, the replies by instance B; one merger per partials
// partition, then one merger of both: the alerts and observations are one process's.
TEST_F(ClusterOwnPosts, AReplyToABrandsPostReadByAnotherInstanceIsOneProcesssInquiry) {
  std::vector<Said> all = partition0_;
  all.insert(all.end(), partition1_.begin(), partition1_.end());
  std::vector<FiredAlert> single_fired;
  std::vector<InquiryObservation> single_observed;
  Single(all, single_fired, single_observed);
  ASSERT_EQ(Ids(single_fired),
            (std::vector<std::string>{"sla/tele2/q2", "sla/telenor/q3", "sla/telenor/q4"}));
  ASSERT_EQ(single_observed.size(), 8u);  // q1..q4 opened, q1 answered, q2..q4 unanswered

  auto reader_a = Rule();
  auto reader_b = Rule();
  const std::vector<PreparedPartials> a1 =
      Epoch(kA, 1, SourceRange{0, 0, 3, kT0 + 6000, false}, Read(*reader_a, partition0_));
  const std::vector<PreparedPartials> b1 =
      Epoch(kB, 1, SourceRange{1, 0, 8, kT0 + 100 * kMinute, false}, Read(*reader_b, partition1_));

  for (bool one_merger : {false, true}) {
    SCOPED_TRACE(one_merger ? "one merger of both partials partitions" : "a merger per partition");
    std::vector<Merger> mergers;
    if (one_merger) {
      mergers.push_back(MakeMerger({0, 1}));
    } else {
      mergers.push_back(MakeMerger({0}));
      mergers.push_back(MakeMerger({1}));
    }
    std::vector<Merger*> all_mergers;
    for (Merger& merger : mergers) all_mergers.push_back(&merger);
    // B's epoch (the replies) reaches the mergers before A's (the brand's posts).
    Publish(all_mergers, b1);
    for (Merger& merger : mergers) Release(merger, INT64_MIN);  // no merged watermark yet
    Publish(all_mergers, a1);
    for (Merger& merger : mergers) Release(merger, kT0 + 100 * kMinute);
    std::vector<FiredAlert> fired;
    std::vector<InquiryObservation> observed;
    for (Merger& merger : mergers) {
      fired.insert(fired.end(), merger.fired.begin(), merger.fired.end());
      observed.insert(observed.end(), merger.observations.begin(), merger.observations.end());
    }
    EXPECT_EQ(Alerts(fired), Alerts(single_fired));
    EXPECT_EQ(Observed(observed), Observed(single_observed));
  }
}

// The merger's own posts are rule state: a restart between the brand's post and the reply changes
// nothing, and they go with their brand when its partials partition moves away.
TEST_F(ClusterOwnPosts, TheMergersOwnPostsAreStateAndGoWithTheirBrand) {
  const fs::path directory = MakeTempDirectory("cluster-ownpost-state");
  const uint32_t telenor = PartialsPartitionOf("telenor", kPartials);
  auto reader_a = Rule();
  auto reader_b = Rule();
  const std::vector<PreparedPartials> a1 =
      Epoch(kA, 1, SourceRange{0, 0, 1, kT0, false}, Read(*reader_a, {partition0_[0]}));
  const std::vector<PreparedPartials> b1 =
      Epoch(kB, 1, SourceRange{1, 0, 1, kT0 + kMinute, false}, Read(*reader_b, {partition1_[0]}));
  auto commit = [&](AlertRule& rule, StateStore& store) {
    StateStore::Commit write = store.NewCommit();
    ASSERT_TRUE(rule.Snapshot(write).ok());
    ASSERT_TRUE(store.Write(write).ok());
  };
  {
    Result<std::unique_ptr<StateStore>> store = StateStore::Open(StateOptions{directory.string()});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    Merger merger = MakeMerger({telenor});
    Publish({&merger}, a1);
    Release(merger, kT0 + 1000);  // o1 is applied: remembered
    commit(*merger.rule, **store);
  }
  Result<std::unique_ptr<StateStore>> store = StateStore::Open(StateOptions{directory.string()});
  ASSERT_TRUE(store.ok());
  Merger restarted = MakeMerger({telenor});
  ASSERT_TRUE(restarted.rule->Restore(**store, *brands_).ok());
  Publish({&restarted}, b1);
  Release(restarted, kT0 + 60 * kMinute);
  EXPECT_EQ(Ids(restarted.fired), (std::vector<std::string>{"sla/telenor/q1"}));
  commit(*restarted.rule, **store);

  // Telenor's partials partition moves away: its own posts go (from the store too), so a later
  // reply to o1 opens nothing here.
  Merger again = MakeMerger({telenor});
  ASSERT_TRUE(again.rule->Restore(**store, *brands_).ok());
  again.rule->ClearBrands({"telenor"});
  commit(*again.rule, **store);
  size_t own = 0;
  ASSERT_TRUE((*store)->ScanRuleState("sla", [&](std::string_view key, std::string_view) {
    own += key.starts_with("own/");
  }).ok());
  EXPECT_EQ(own, 0u);
  const std::vector<PreparedPartials> b2 =
      Epoch(kB, 2, SourceRange{1, 1, 2, kT0 + 70 * kMinute, false},
            Read(*reader_b, {{"q9", "ola", "and mine?", "", "o1", kT0 + 70 * kMinute}}));
  Publish({&again}, b2);
  Release(again, kT0 + 200 * kMinute);
  EXPECT_TRUE(again.fired.empty()) << again.fired[0].id;
  store->reset();
  fs::remove_all(directory);
}

// A merger of both partials partitions replays one of them (gained without local state, beside
// the kept one: RuleSet::ClearBrands of its brands and ClearPartialsPartitions, then its log from
// the beginning). The replayed log's copy of a candidate resolves only the own posts that log
// brings (tele2's), so an inquiry of the kept brand (telenor), opened and answered before, is not
// opened again by the copy (it would fire: its answer is not replayed).
TEST_F(ClusterOwnPosts, AReplayedPartitionsCandidateCopiesDoNotReopenAKeptBrandsInquiry) {
  const uint32_t telenor = PartialsPartitionOf("telenor", kPartials);
  const uint32_t tele2 = PartialsPartitionOf("tele2", kPartials);
  auto reader_a = Rule();
  auto reader_b = Rule();
  const std::vector<PreparedPartials> a1 =
      Epoch(kA, 1, SourceRange{0, 0, 1, kT0, false}, Read(*reader_a, {partition0_[0]}));
  const std::vector<PreparedPartials> b1 =
      Epoch(kB, 1, SourceRange{1, 0, 3, kT0 + 3 * kMinute, false},
            Read(*reader_b, {partition1_[0], partition1_[2]}));  // q1, and r1 answering kari
  Merger merger = MakeMerger({telenor, tele2});
  Publish({&merger}, a1);
  Publish({&merger}, b1);
  Release(merger, kT0 + 5 * kMinute);
  ASSERT_EQ(merger.observations.size(), 2u);  // q1 opened and answered
  EXPECT_EQ(merger.observations[0].kind, InquiryObservation::Kind::kOpened);
  EXPECT_EQ(merger.observations[1].kind, InquiryObservation::Kind::kAnswered);

  merger.rule->ClearBrands({"tele2"});
  merger.rule->ClearPartialsPartitions({tele2});
  merger.logs[tele2] = PartialsMergeLog();
  for (const std::vector<PreparedPartials>* epoch : {&a1, &b1}) {
    Deliver(merger, tele2, &(*epoch)[tele2], nullptr);
    Deliver(merger, tele2, nullptr, &(*epoch)[tele2].epoch);
  }
  merger.previous_watermark = INT64_MIN;  // (the replay's own watermark starts over)
  Release(merger, kT0 + 60 * kMinute);
  EXPECT_TRUE(merger.fired.empty()) << merger.fired[0].id;
  EXPECT_EQ(merger.observations.size(), 2u);
}

}  // namespace
}  // namespace brandpulse
