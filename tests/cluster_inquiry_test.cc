// Issue 11, inquiries keyed by brand across instances (docs/cluster.md, "Inquiries across
// instances"): the partials encoding of inquiry events (operators/partials_codec.h), and the
// merger applying them (pipeline/cluster_merge_log.h feeding operators/unanswered_rule.h) when
// the inquiry and the brand's reply were read by different instances, with duplicated, fenced
// and never-committed records: an inquiry is opened once and closed once, whatever the order.
#include <algorithm>

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
using cluster_test::MakeBrands;
using cluster_test::SortedIds;
using cluster_test::TermBrand;
using cluster_test::ThroughCodec;

InquiryEvent Event(InquiryEvent::Kind kind, std::string brand, int64_t time, std::string payload) {
  return InquiryEvent{kind, "sla", std::move(brand), time, std::move(payload)};
}

TEST(ClusterInquiryCodec, EventsRoundTripAndRecordsWithoutThemKeepVersionOne) {
  PreparedPartials prepared;
  prepared.epoch = EpochId{0x0123456789abcdefULL, 7};
  prepared.source_partition_count = 8;
  prepared.ranges.push_back(SourceRange{3, 10, 20, kT0, false});
  std::string version_one;
  EncodePrepared(prepared, version_one);
  ASSERT_GE(version_one.size(), 2u);
  EXPECT_EQ(version_one[1], '\x01');  // what a merger built before inquiries reads

  prepared.inquiries.push_back(Event(InquiryEvent::Kind::kOpened, "telenor", kT0 - 5, "q\x00\x01"));
  prepared.inquiries.push_back(Event(InquiryEvent::Kind::kReply, "telia", -3, ""));
  std::string bytes;
  EncodePrepared(prepared, bytes);
  EXPECT_EQ(bytes[1], '\x02');
  EXPECT_EQ(bytes.substr(2, version_one.size() - 2), version_one.substr(2));  // v1 + a tail
  Result<PartialsKind> kind = PartialsKindOf(bytes);
  ASSERT_TRUE(kind.ok());
  EXPECT_EQ(*kind, PartialsKind::kPrepared);
  Result<PreparedPartials> decoded = DecodePrepared(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->ranges, prepared.ranges);
  EXPECT_EQ(decoded->inquiries, prepared.inquiries);

  Result<PreparedPartials> old = DecodePrepared(version_one);
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(old->inquiries.empty());

  for (size_t length = 0; length < bytes.size(); ++length) {
    EXPECT_FALSE(DecodePrepared(std::string_view(bytes).substr(0, length)).ok()) << length;
  }
  std::string unknown_kind = bytes;
  unknown_kind[version_one.size() + 1] = '\x07';  // the first event's kind byte
  EXPECT_FALSE(DecodePrepared(unknown_kind).ok());
  std::string version_four = bytes;  // (0x03 is a record with dedup's post events)
  version_four[1] = '\x04';
  EXPECT_FALSE(PartialsKindOf(version_four).ok());
}

// Two readers (the instances that read the posts' partitions) and one merger (the owner of the
// brands' partials partition), each an `unanswered` rule as every instance builds it.
class ClusterInquiryMerge : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeBrands({unanswered_test::TelenorWithSupport(), unanswered_test::Telia()}, brands_);
  }

  std::unique_ptr<AlertRule> Rule() { return unanswered_test::SlaRule(brands_.get()); }

  struct Said {
    std::string id, author, text, reply_to_handle, reply_to_post;
    int64_t time_ms;
  };
  // The posts of a batch (their views point into `posts`).
  static void Fill(const std::vector<Said>& posts, Batch& batch) {
    for (const Said& said : posts) batch.posts.push_back(unanswered_test::PostOf(said));
  }
  // The observations as comparable lines, sorted.
  static std::vector<std::string> Summary(const std::vector<InquiryObservation>& observations) {
    std::vector<std::string> lines;
    for (const InquiryObservation& o : observations) {
      lines.push_back(fmt::format("{} {} {} {} {} {}", static_cast<int>(o.kind), o.brand_index,
                                  o.profile, o.response_ms, o.event_time_ms, o.after_deadline));
    }
    std::sort(lines.begin(), lines.end());
    return lines;
  }
  // The events one reader publishes for these posts (context.inquiry_events set: `cluster:`).
  std::vector<InquiryEvent> Read(AlertRule& reader, const std::vector<Said>& posts) {
    Batch batch;
    Fill(posts, batch);
    return unanswered_test::ReaderEvents(reader, *brands_, batch);
  }

  // The merger: applied epochs' events, then the merged watermark (held events before it are
  // applied), then the watermark's timers.
  void Merge(AlertRule& merger, const std::vector<PreparedPartials>& applied, int64_t watermark) {
    std::vector<InquiryEvent> events;
    for (const PreparedPartials& epoch : applied) {
      events.insert(events.end(), epoch.inquiries.begin(), epoch.inquiries.end());
    }
    RuleContext context{*brands_, previous_watermark_, fired_, false, &observations_};
    ASSERT_TRUE(merger.OnInquiryEvents(events, watermark, context).ok());
    context.watermark_ms = watermark;
    ASSERT_TRUE(merger.OnWatermark(context).ok());
    previous_watermark_ = watermark;
  }

  size_t Count(InquiryObservation::Kind kind) const {
    size_t count = 0;
    for (const InquiryObservation& observation : observations_) count += observation.kind == kind;
    return count;
  }

  // The strings the posts' views point into live in the Said vectors of each test.
  std::unique_ptr<WatchlistBrands> brands_;
  std::vector<FiredAlert> fired_;
  std::vector<InquiryObservation> observations_;
  int64_t previous_watermark_ = INT64_MIN;
};

PreparedPartials Epoch(uint64_t nonce, uint64_t seq, SourceRange range,
                       std::vector<InquiryEvent> events) {
  PreparedPartials prepared;
  prepared.epoch = EpochId{nonce, seq};
  prepared.source_partition_count = 2;
  prepared.ranges.push_back(range);
  prepared.inquiries = std::move(events);
  return ThroughCodec(prepared);
}

TEST_F(ClusterInquiryMerge, AReplyReadElsewhereClosesTheInquiryOnceWhateverTheRecords) {
  // Partition 0 (reader A): kari asks Telenor's support; partition 1 (reader B): the support
  // profile answers 2 minutes later. A's epoch reaches the merger after B's.
  const std::vector<Said> partition0 = {
      {"q1", "kari", "why is my fiber down?", "TelenorSupport", "", kT0}};
  const std::vector<Said> partition1 = {
      {"r1", "TelenorSupport", "we are on it", "kari", "q1", kT0 + 2 * kMinute}};
  const std::vector<Said> frozen = {  // a fenced member redid partition 0 with other boundaries
      {"q1", "kari", "why is my fiber down?", "TelenorSupport", "", kT0},
      {"q2", "ola", "still waiting for my refund", "telenor_norge", "", kT0 + 1000}};
  auto reader_a = Rule();
  auto reader_b = Rule();
  const std::vector<InquiryEvent> asked = Read(*reader_a, partition0);
  std::vector<InquiryEvent> answered = Read(*reader_b, partition1);
  std::erase_if(answered, [](const InquiryEvent& event) {  // s26: r1 is an own post too
    return event.kind == InquiryEvent::Kind::kOwnPost;     // (tests/cluster_ownpost_test.cc)
  });
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].kind, InquiryEvent::Kind::kOpened);
  EXPECT_EQ(asked[0].brand_id, "telenor");
  ASSERT_EQ(answered.size(), 1u);
  EXPECT_EQ(answered[0].kind, InquiryEvent::Kind::kReply);
  EXPECT_EQ(answered[0].brand_id, "telenor");

  PreparedPartials a1 = Epoch(kA, 1, SourceRange{0, 0, 1, kT0, false}, asked);
  PreparedPartials b1 = Epoch(kB, 1, SourceRange{1, 0, 1, kT0 + 2 * kMinute, false}, answered);
  PreparedPartials fenced = Epoch(kB, 2, SourceRange{0, 0, 2, kT0 + 1000, false},
                                  Read(*reader_b, frozen));
  PreparedPartials never = Epoch(kA, 9, SourceRange{1, 1, 2, kT0 + 3000, false},
                                 Read(*reader_a, {{"q3", "lise", "is telia down?", "telia_norge",
                                                   "", kT0 + 3000}}));

  PartialsMergeLog log;
  auto merger = Rule();
  std::vector<PreparedPartials> apply;
  log.OnPrepared(b1, apply);
  log.OnPrepared(b1, apply);  // the mock's duplicated produce
  log.OnPrepared(fenced, apply);  // its offset commit was refused: no marker ever
  log.OnPrepared(never, apply);   // prepared, never committed
  log.OnMarker(b1.epoch, apply);
  ASSERT_EQ(apply.size(), 1u);
  Merge(*merger, apply, INT64_MIN);  // no merged watermark yet: held
  EXPECT_TRUE(observations_.empty());
  apply.clear();
  log.OnMarker(b1.epoch, apply);  // re-published marker
  log.OnMarker(a1.epoch, apply);  // A's marker before its record
  log.OnPrepared(a1, apply);
  log.OnPrepared(a1, apply);
  log.OnMarker(a1.epoch, apply);
  ASSERT_EQ(apply.size(), 1u);
  EXPECT_EQ(apply[0].epoch, a1.epoch);
  Merge(*merger, apply, kT0 + kMinute);  // releases the inquiry only
  EXPECT_EQ(Count(InquiryObservation::Kind::kOpened), 1u);
  EXPECT_EQ(Count(InquiryObservation::Kind::kAnswered), 0u);
  apply.clear();
  log.OnPrepared(a1, apply);
  log.OnMarker(b1.epoch, apply);
  EXPECT_TRUE(apply.empty());
  Merge(*merger, apply, kT0 + 60 * kMinute);  // past every deadline
  EXPECT_EQ(Count(InquiryObservation::Kind::kOpened), 1u);
  ASSERT_EQ(Count(InquiryObservation::Kind::kAnswered), 1u);
  EXPECT_EQ(Count(InquiryObservation::Kind::kUnanswered), 0u);
  for (const InquiryObservation& observation : observations_) {
    if (observation.kind != InquiryObservation::Kind::kAnswered) continue;
    EXPECT_EQ(observation.response_ms, 2 * kMinute);
    EXPECT_EQ(observation.profile, "support");
    EXPECT_FALSE(observation.after_deadline);
  }
  EXPECT_TRUE(fired_.empty()) << fired_[0].id;  // neither q1, nor q2 (fenced), nor q3 (never)
  EXPECT_EQ(log.stats().applied, 2u);
}

TEST_F(ClusterInquiryMerge, AsInOneProcessWhateverTheOrderTheEpochsArriveIn) {
  // One process reads both partitions: its alerts and observations are the reference.
  const std::vector<Said> posts = {
      {"q1", "kari", "why is my fiber down?", "TelenorSupport", "", kT0},
      {"q2", "ola", "still waiting for my refund", "telenor_norge", "", kT0 + 30000},
      {"r1", "TelenorSupport", "sorry", "kari", "q1", kT0 + 2 * kMinute},
      {"q3", "lise", "is your network down?", "telia_norge", "", kT0 + 3 * kMinute},
      {"r2", "telia_norge", "hi", "lise", "", kT0 + 25 * kMinute},  // after the deadline
  };
  std::vector<FiredAlert> single_fired;
  std::vector<InquiryObservation> single;
  {
    auto rule = Rule();
    Batch batch;
    Fill(posts, batch);
    RuleContext context{*brands_, INT64_MIN, single_fired, false, &single};
    ASSERT_TRUE(rule->OnBatch(batch, context).ok());
    context.watermark_ms = kT0 + 60 * kMinute;
    ASSERT_TRUE(rule->OnWatermark(context).ok());
  }
  // Cluster: each post read by another instance, epochs applied in reverse order.
  auto merger = Rule();
  std::vector<PreparedPartials> applied;
  for (size_t index = posts.size(); index-- > 0;) {
    auto reader = Rule();
    applied.push_back(Epoch(kA, index + 1, SourceRange{0, index, index + 1, kT0, false},
                            Read(*reader, {posts[index]})));
  }
  Merge(*merger, applied, kT0 + 60 * kMinute);

  EXPECT_EQ(SortedIds(fired_), SortedIds(single_fired));
  EXPECT_EQ(SortedIds(fired_), (std::vector<std::string>{"sla/telenor/q2", "sla/telia/q3"}));
  EXPECT_EQ(Summary(observations_), Summary(single));
  EXPECT_EQ(Count(InquiryObservation::Kind::kAnswered), 2u);  // r2 late, still measured
}

TEST_F(ClusterInquiryMerge, HeldEventsAreStateAndCanBeDroppedPerBrand) {
  const fs::path directory = MakeTempDirectory("cluster-inquiry-held");
  auto reader = Rule();
  const std::vector<Said> posts = {
      {"q1", "kari", "why is my fiber down?", "TelenorSupport", "", kT0},
      {"q3", "lise", "is your network down?", "telia_norge", "", kT0 + 1000}};
  const std::vector<InquiryEvent> events = Read(*reader, posts);
  ASSERT_EQ(events.size(), 2u);
  {
    Result<std::unique_ptr<StateStore>> store = StateStore::Open(StateOptions{directory.string()});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto merger = Rule();
    Merge(*merger, {Epoch(kA, 1, SourceRange{0, 0, 2, kT0, false}, events)}, INT64_MIN);
    StateStore::Commit commit = (*store)->NewCommit();
    ASSERT_TRUE(merger->Snapshot(commit).ok());
    ASSERT_TRUE((*store)->Write(commit).ok());
  }
  previous_watermark_ = INT64_MIN;
  Result<std::unique_ptr<StateStore>> store = StateStore::Open(StateOptions{directory.string()});
  ASSERT_TRUE(store.ok());
  auto restored = Rule();
  ASSERT_TRUE(restored->Restore(**store, *brands_).ok());
  restored->ClearBrands({"telia"});  // telia's partials partition moved away
  StateStore::Commit commit = (*store)->NewCommit();
  ASSERT_TRUE(restored->Snapshot(commit).ok());
  ASSERT_TRUE((*store)->Write(commit).ok());
  Merge(*restored, {}, kT0 + 60 * kMinute);
  StateStore::Commit released = (*store)->NewCommit();
  ASSERT_TRUE(restored->Snapshot(released).ok());
  ASSERT_TRUE((*store)->Write(released).ok());
  std::vector<std::string> ids;
  for (const FiredAlert& alert : fired_) ids.push_back(alert.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"sla/telenor/q1"}));
  EXPECT_EQ(Count(InquiryObservation::Kind::kOpened), 1u);

  auto again = Rule();  // the store holds neither telia's event nor q1's (released, alerted)
  ASSERT_TRUE(again->Restore(**store, *brands_).ok());
  fired_.clear();
  observations_.clear();
  previous_watermark_ = INT64_MIN;
  Merge(*again, {}, kT0 + 60 * kMinute);
  EXPECT_EQ(Count(InquiryObservation::Kind::kOpened), 0u);  // released before: not held any more
  EXPECT_TRUE(fired_.empty());
  fs::remove_all(directory);
}

// Stop 25: a merger that keeps telenor's partials partition gains telia's (its owner died) and
// replays it from the beginning beside the kept one, as PipelineRun does since `unanswered` no
// longer forces a reset (DropMergedPartitions: RuleSet::ClearBrands of the gained brands first;
// ClusterInquiries: their held events released below the replayed log's own watermark,
// CatchUpWatermark, not the merged one; OnWatermark under the lower of the two). Telenor's open
// inquiry stays in the store through the gain, and the alerts and observations are one process's
// byte for byte (but `emitted_at`, the wall clock) although telia's log applies a reply before
// the inquiry it answers. Released by the merged watermark instead, that reply would come first
// and the answered inquiry would fire: the last part shows the test tells the two apart.
TEST_F(ClusterInquiryMerge, AGainedPartitionIsReplayedBesideAKeptOneAsInOneProcess) {
  // Source partition 0 is read by A, 1 by B; every post in event-time order is one process.
  const std::vector<Said> partition0_1 = {  // A's first epoch
      {"q1", "kari", "why is my fiber down?", "TelenorSupport", "", kT0},
      {"q3", "lise", "is your network down?", "telia_norge", "", kT0 + kMinute}};
  const std::vector<Said> partition1_1 = {  // B's first epoch: answers q3
      {"r3", "telia_norge", "fixed now", "lise", "q3", kT0 + 4 * kMinute}};
  const std::vector<Said> partition0_2 = {
      {"q4", "per", "no answer from you?", "telia_norge", "", kT0 + 6 * kMinute},
      {"q5", "anne", "refund please?", "telia_norge", "", kT0 + 7 * kMinute}};
  const std::vector<Said> partition1_2 = {  // q5's answer after its deadline (17 min)
      {"r5", "telia_norge", "sorry", "anne", "", kT0 + 20 * kMinute},
      {"b1", "bob", "nice weather", "", "", kT0 + 30 * kMinute}};
  const std::vector<Said> partition0_3 = {  // open at telenor's merger when telia's moves there
      {"q6", "ola", "is telenor down again?", "TelenorSupport", "", kT0 + 25 * kMinute},
      {"a1", "alf", "hello", "", "", kT0 + 40 * kMinute}};
  const std::vector<Said> partition0_4 = {{"a2", "alf", "bye", "", "", kT0 + 70 * kMinute}};
  const std::vector<Said> partition1_3 = {{"b2", "bob", "bye", "", "", kT0 + 70 * kMinute}};

  std::vector<FiredAlert> single_fired;
  std::vector<InquiryObservation> single;
  {
    std::vector<Said> all;
    for (const auto* part : {&partition0_1, &partition1_1, &partition0_2, &partition1_2,
                             &partition0_3, &partition0_4, &partition1_3}) {
      all.insert(all.end(), part->begin(), part->end());
    }
    std::sort(all.begin(), all.end(),
              [](const Said& a, const Said& b) { return a.time_ms < b.time_ms; });
    auto rule = Rule();
    Batch batch;
    Fill(all, batch);
    RuleContext context{*brands_, INT64_MIN, single_fired, false, &single};
    ASSERT_TRUE(rule->OnBatch(batch, context).ok());
    context.watermark_ms = kT0 + 70 * kMinute;
    ASSERT_TRUE(rule->OnWatermark(context).ok());
  }

  // The epochs as the partials partitions hold them, in this log order: B's first epoch (the
  // reply r3) before A's (the inquiry q3). Each record holds its brands' events only.
  auto reader_a = Rule();
  auto reader_b = Rule();
  struct Published {
    EpochId epoch;
    SourceRange range;
    std::vector<InquiryEvent> events;
  };
  std::vector<Published> published;
  auto publish = [&](uint64_t nonce, uint64_t seq, SourceRange range, AlertRule& reader,
                     const std::vector<Said>& posts) {
    published.push_back(Published{EpochId{nonce, seq}, range, Read(reader, posts)});
  };
  publish(kB, 1, SourceRange{1, 0, 1, kT0 + 4 * kMinute, false}, *reader_b, partition1_1);
  publish(kA, 1, SourceRange{0, 0, 2, kT0 + kMinute, false}, *reader_a, partition0_1);
  publish(kA, 2, SourceRange{0, 2, 4, kT0 + 7 * kMinute, false}, *reader_a, partition0_2);
  publish(kB, 2, SourceRange{1, 1, 3, kT0 + 30 * kMinute, false}, *reader_b, partition1_2);
  publish(kA, 3, SourceRange{0, 4, 6, kT0 + 40 * kMinute, false}, *reader_a, partition0_3);
  const size_t before_the_end = published.size();
  publish(kA, 4, SourceRange{0, 6, 7, kT0 + 70 * kMinute, false}, *reader_a, partition0_4);
  publish(kB, 3, SourceRange{1, 3, 4, kT0 + 70 * kMinute, false}, *reader_b, partition1_3);
  // One partials partition's record of an epoch: the events of its brand, through the codec.
  auto record = [&](const Published& epoch, const std::string& brand) {
    std::vector<InquiryEvent> events;
    for (const InquiryEvent& event : epoch.events) {
      if (event.brand_id == brand) events.push_back(event);
    }
    return Epoch(epoch.epoch.nonce, epoch.epoch.seq, epoch.range, std::move(events));
  };
  // Applies the next epoch of a partials partition's log (record, then marker).
  auto apply = [&](PartialsMergeLog& log, const Published& epoch, const std::string& brand) {
    std::vector<PreparedPartials> applied;
    log.OnPrepared(record(epoch, brand), applied);
    log.OnMarker(epoch.epoch, applied);
    EXPECT_EQ(applied.size(), 1u);
    return applied;
  };

  // Runs the merger through the whole story; `release_by_merged`: main's bound for the replay.
  auto run_merger = [&](bool release_by_merged, std::vector<FiredAlert>& fired,
                        std::vector<InquiryObservation>& observations, std::string* kept_state) {
    const fs::path directory = MakeTempDirectory("cluster-inquiry-replay");
    Result<std::unique_ptr<StateStore>> store = StateStore::Open(StateOptions{directory.string()});
    EXPECT_TRUE(store.ok());
    auto merger = Rule();
    PartialsMergeLog telenor_log;
    int64_t merged = INT64_MIN;  // the merged watermark (out-of-orderness 0)
    auto commit = [&](const std::vector<PreparedPartials>& applied, int64_t release_before,
                      int64_t judged_under, int64_t watermark) {
      std::vector<InquiryEvent> events;
      for (const PreparedPartials& epoch : applied) {
        events.insert(events.end(), epoch.inquiries.begin(), epoch.inquiries.end());
      }
      RuleContext context{*brands_, judged_under, fired, false, &observations};
      ASSERT_TRUE(merger->OnInquiryEvents(events, release_before, context).ok());
      context.watermark_ms = watermark;
      ASSERT_TRUE(merger->OnWatermark(context).ok());
      StateStore::Commit write = (*store)->NewCommit();
      ASSERT_TRUE(merger->Snapshot(write).ok());
      ASSERT_TRUE((*store)->Write(write).ok());
    };
    // 1. The merger owns telenor's partials partition only.
    for (size_t index = 0; index < before_the_end; ++index) {
      std::vector<PreparedPartials> applied = apply(telenor_log, published[index], "telenor");
      const int64_t previous = merged;
      merged = std::max(merged, telenor_log.Watermark(0).value_or(INT64_MIN));
      commit(applied, merged, previous, merged);
    }
    EXPECT_EQ(merged, kT0 + 30 * kMinute);
    // 2. Telia's partition is gained without local state: what the merger held of telia goes
    // (nothing here), telenor's open inquiry q6 stays, in memory and in the store.
    merger->ClearBrands({"telia"});
    {
      StateStore::Commit write = (*store)->NewCommit();
      ASSERT_TRUE(merger->Snapshot(write).ok());
      ASSERT_TRUE((*store)->Write(write).ok());
    }
    if (kept_state != nullptr) {
      ASSERT_TRUE((*store)->ScanRuleState("sla", [&](std::string_view key, std::string_view) {
        *kept_state += std::string(key) + "\n";
      }).ok());
    }
    // 3. Telia's log is replayed from its beginning, one epoch a commit; the merged watermark
    // waits (it is the minimum over both logs, never moving back). Telia's events are released
    // below its own log's watermark, and judged by its own closed-through (the last bound).
    PartialsMergeLog telia_log;
    int64_t telia_through = INT64_MIN;
    for (size_t index = 0; index < before_the_end; ++index) {
      std::vector<PreparedPartials> applied = apply(telia_log, published[index], "telia");
      const int64_t catch_up = telia_log.Watermark(0).value_or(INT64_MIN);
      const int64_t bound = release_by_merged ? merged : std::min(merged, catch_up);
      commit(applied, bound, std::min(merged, telia_through), std::min(merged, catch_up));
      telia_through = std::min(merged, catch_up);
    }
    EXPECT_EQ(telia_through, merged);  // caught up
    // 4. Both logs go on to the end; the merged watermark moves past q6's deadline.
    for (size_t index = before_the_end; index < published.size(); ++index) {
      std::vector<PreparedPartials> applied = apply(telenor_log, published[index], "telenor");
      std::vector<PreparedPartials> replayed = apply(telia_log, published[index], "telia");
      applied.insert(applied.end(), replayed.begin(), replayed.end());
      const int64_t previous = merged;
      merged = std::max(merged, std::min(telenor_log.Watermark(0).value_or(INT64_MIN),
                                         telia_log.Watermark(0).value_or(INT64_MIN)));
      commit(applied, merged, previous, merged);
    }
    EXPECT_EQ(merged, kT0 + 70 * kMinute);
    store->reset();
    fs::remove_all(directory);
  };

  auto payloads = [](const std::vector<FiredAlert>& fired) {
    std::vector<std::string> lines;
    for (const FiredAlert& alert : fired) {
      std::string payload = alert.payload;
      // `emitted_at` is the wall clock: its value goes.
      const size_t value = payload.find("\"emitted_at\":\"");
      if (value != std::string::npos) {
        payload.erase(value + 14, payload.find('"', value + 14) - value - 14);
      }
      lines.push_back(alert.id + " " + payload);
    }
    std::sort(lines.begin(), lines.end());
    return lines;
  };

  std::string kept_state;
  std::vector<FiredAlert> fired;
  std::vector<InquiryObservation> observations;
  run_merger(false, fired, observations, &kept_state);
  EXPECT_NE(kept_state.find("open/telenor\x1fq6"), std::string::npos) << kept_state;
  // (q1 alerted, its answer still measured)
  EXPECT_NE(kept_state.find("open/telenor\x1fq1"), std::string::npos) << kept_state;
  EXPECT_EQ(payloads(fired), payloads(single_fired));
  EXPECT_EQ(SortedIds(fired), (std::vector<std::string>{"sla/telenor/q1", "sla/telenor/q6",
                                                 "sla/telia/q4", "sla/telia/q5"}));
  EXPECT_EQ(Summary(observations), Summary(single));

  // Released by the merged watermark (already past the whole replay), r3 closes nothing and q3
  // fires: not one process's alerts.
  std::vector<FiredAlert> fired_by_merged;
  std::vector<InquiryObservation> observed_by_merged;
  run_merger(true, fired_by_merged, observed_by_merged, nullptr);
  EXPECT_NE(payloads(fired_by_merged), payloads(single_fired));
  EXPECT_TRUE(std::any_of(fired_by_merged.begin(), fired_by_merged.end(),
                          [](const FiredAlert& alert) { return alert.id == "sla/telia/q3"; }));
}

}  // namespace
}  // namespace brandpulse
