// The `unanswered` rule's memory of the brands' own posts (operators/unanswered_rule.h, issue 11):
// a reply to one of a brand's posts addresses the brand even when it names no handle (Mastodon's
// in_reply_to_account_id without a mention, a Jetstream reply whose parent DID has no known
// handle, X v2 without includes.users). That memory is rule state, committed with the epoch, so a
// restart between the brand's post and the reply changes nothing: the alerts are those of a run
// without the restart, byte for byte (but `emitted_at`, the wall clock).
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "operators/unanswered_rule.h"
#include "operators/watchlist_brands.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"
#include "tests/test_support.h"
#include "tests/unanswered_test_util.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
using brandpulse_test::Lines;
using brandpulse_test::MakeTempDirectory;
using brandpulse_test::ReadFile;
using brandpulse_test::StripAlertTimes;
using brandpulse_test::WriteFile;

using cluster_test::kMinute;
using cluster_test::kT0;

class UnansweredOwnPosts : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(cluster_test::MakeBrands(
        {unanswered_test::TelenorWithSupport(), unanswered_test::Telia()}, brands_));
    directory_ = MakeTempDirectory("unanswered-own-posts");
  }
  void TearDown() override { fs::remove_all(directory_); }

  std::unique_ptr<AlertRule> Rule() { return unanswered_test::SlaRule(brands_.get()); }

  struct Said {
    std::string id, author, text, reply_to_handle, reply_to_post;
    int64_t time_ms;
  };
  // One batch of these posts, then the watermark; what changed goes to the store (a commit).
  void Run(AlertRule& rule, StateStore& store, const std::vector<Said>& posts, int64_t watermark) {
    Batch batch;
    for (const Said& said : posts) batch.posts.push_back(unanswered_test::PostOf(said));
    RuleContext context{*brands_, watermark, fired_, false, &observations_};
    ASSERT_TRUE(rule.OnBatch(batch, context).ok());
    ASSERT_TRUE(rule.OnWatermark(context).ok());
    StateStore::Commit commit = store.NewCommit();
    ASSERT_TRUE(rule.Snapshot(commit).ok());
    ASSERT_TRUE(store.Write(commit).ok());
  }

  std::vector<std::string> Payloads() const {
    std::vector<std::string> lines;
    for (const FiredAlert& alert : fired_) {
      lines.push_back(alert.id + " " + StripAlertTimes(alert.payload + "\n"));
    }
    return lines;
  }

  std::unique_ptr<WatchlistBrands> brands_;
  fs::path directory_;
  std::vector<FiredAlert> fired_;
  std::vector<InquiryObservation> observations_;
};

// The brand's support profile posts; the process restarts; kari replies to that post with a
// question and no handle: the reply still addresses Telenor (profile "support") and fires when
// nobody answers, as it does without the restart. Before issue 11's own-post state the restarted
// rule had forgotten the post: no inquiry, no alert.
TEST_F(UnansweredOwnPosts, AReplyToTheBrandsPostAfterARestartStillOpensTheInquiry) {
  const std::vector<Said> before = {
      {"o1", "TelenorSupport", "New fiber prices from today", "", "", kT0},
      {"o2", "telia_norge", "Telia news", "", "", kT0 + 1000}};
  const std::vector<Said> after = {
      {"q1", "kari", "why is it so expensive?", "", "o1", kT0 + kMinute},
      {"q2", "ola", "is this for everyone?", "", "o2", kT0 + 2 * kMinute},
      {"n1", "per", "what about mine?", "", "not-an-own-post", kT0 + 3 * kMinute}};
  const int64_t past_deadlines = kT0 + 30 * kMinute;

  std::vector<std::string> whole;
  {
    Result<std::unique_ptr<StateStore>> store =
        StateStore::Open(StateOptions{(directory_ / "whole").string()});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto rule = Rule();
    Run(*rule, **store, before, INT64_MIN);
    Run(*rule, **store, after, past_deadlines);
    whole = Payloads();
  }
  ASSERT_EQ(whole.size(), 2u);
  EXPECT_EQ(fired_[0].id, "sla/telenor/q1");
  EXPECT_NE(fired_[0].payload.find("\"addressed_profile\":\"support\","), std::string::npos)
      << fired_[0].payload;
  EXPECT_NE(fired_[0].payload.find("\"addressed_handle\":\"@TelenorSupport\","), std::string::npos);
  EXPECT_EQ(fired_[1].id, "sla/telia/q2");

  fired_.clear();
  observations_.clear();
  const std::string path = (directory_ / "restarted").string();
  {
    Result<std::unique_ptr<StateStore>> store = StateStore::Open(StateOptions{path});
    ASSERT_TRUE(store.ok());
    auto rule = Rule();
    Run(*rule, **store, before, INT64_MIN);
  }
  Result<std::unique_ptr<StateStore>> store = StateStore::Open(StateOptions{path});
  ASSERT_TRUE(store.ok());
  auto restarted = Rule();
  ASSERT_TRUE(restarted->Restore(**store, *brands_).ok());
  Run(*restarted, **store, after, past_deadlines);
  EXPECT_EQ(Payloads(), whole);
}

// The memory is bounded as before issue 11: the 100,000 most recently read own posts (by count,
// in read order, over all brands). What falls out is deleted from the store too, so a restart
// restores exactly the kept ones: a reply to the oldest no longer addresses the brand, a reply to
// the newest does.
TEST_F(UnansweredOwnPosts, TheBoundIsTheHundredThousandNewestOwnPostsAcrossARestart) {
  const std::string path = (directory_ / "bound").string();
  {
    Result<std::unique_ptr<StateStore>> store = StateStore::Open(StateOptions{path});
    ASSERT_TRUE(store.ok());
    auto rule = Rule();
    std::vector<Said> posts;
    for (int index = 0; index < 100001; ++index) {
      posts.push_back({fmt::format("o{}", index), "telia_norge", "news", "", "", kT0 + index});
    }
    Run(*rule, **store, posts, INT64_MIN);
  }
  Result<std::unique_ptr<StateStore>> store = StateStore::Open(StateOptions{path});
  ASSERT_TRUE(store.ok());
  size_t stored = 0;
  ASSERT_TRUE((*store)->ScanRuleState("sla", [&](std::string_view key, std::string_view) {
    stored += key.starts_with("own/");
  }).ok());
  EXPECT_EQ(stored, 100000u);
  auto restarted = Rule();
  ASSERT_TRUE(restarted->Restore(**store, *brands_).ok());
  Run(*restarted, **store,
      {{"q0", "kari", "is this true?", "", "o0", kT0 + 200000},
       {"q1", "ola", "is this true?", "", "o1", kT0 + 200001}},
      kT0 + 60 * kMinute);
  ASSERT_EQ(fired_.size(), 1u);
  EXPECT_EQ(fired_[0].id, "sla/telia/q1");
}

// End to end through the pipeline (decode `json` with reply_to_post_id and no reply_to_handle):
// stopped after the brand's post and resumed from the state on disk, the run gives the alerts of
// a whole run. Before issue 11's own-post state the resumed run fired nothing.
TEST(UnansweredOwnPostsPipeline, StoppedAfterTheBrandsPostAndResumedGivesTheWholeRunsAlerts) {
  const fs::path work = MakeTempDirectory("unanswered-own-posts-pipeline");
  WriteFile(work / "watchlist.yaml",
            "brands:\n"
            "  - id: telenor\n"
            "    name: Telenor\n"
            "    terms: [telenor]\n"
            "    handles: [\"@telenor_norge\"]\n"
            "    profiles: {support: \"@TelenorSupport\"}\n");
  WriteFile(work / "pipeline.yaml",
            "name: own-posts\n"
            "source: {type: file, path: input.jsonl}\n"
            "decode:\n"
            "  format: json\n"
            "  fields: {id: /id, text: /text, author_id: /author, author_handle: /author,\n"
            "           event_time: /ts, reply_to_handle: /reply_to, reply_to_post_id: /reply_to_post}\n"
            "watchlist: watchlist.yaml\n"
            "workers: 1\n"
            "batch_records: 1\n"
            "state:\n"
            "  directory: ${BRANDPULSE_TEST_STATE}\n"
            "  commit_every_records: 1\n"
            "time: {max_out_of_orderness: 10s, allowed_lateness: 5s}\n"
            "windows:\n"
            "  - {name: 1m, size: 1m}\n"
            "alerts:\n"
            "  - {name: sla, type: unanswered, within: 10m}\n"
            "sinks:\n"
            "  alerts: {type: file, path: \"${BRANDPULSE_TEST_OUT}/alerts.jsonl\"}\n"
            "  dead_letter: {type: file, path: \"${BRANDPULSE_TEST_OUT}/dead-letter.jsonl\"}\n");
  WriteFile(work / "input.jsonl",
            fmt::format(
                "{{\"id\": \"o1\", \"ts\": {}, \"author\": \"TelenorSupport\", \"text\": \"New "
                "fiber prices from today\"}}\n"
                "{{\"id\": \"n1\", \"ts\": {}, \"author\": \"per\", \"text\": \"nice day\"}}\n"
                "{{\"id\": \"q1\", \"ts\": {}, \"author\": \"kari\", \"text\": \"why is it so "
                "expensive?\", \"reply_to_post\": \"o1\"}}\n"
                "{{\"id\": \"x1\", \"ts\": {}, \"author\": \"z\", \"text\": \"later\"}}\n",
                kT0, kT0 + 1000, kT0 + kMinute, kT0 + 30 * kMinute));

  auto run = [&](const std::string& name, uint64_t stop_after_records) {
    setenv("BRANDPULSE_TEST_STATE", (work / name / "state").c_str(), 1);
    setenv("BRANDPULSE_TEST_OUT", (work / name / "out").c_str(), 1);
    Diagnostics diagnostics;
    std::optional<PipelineSpec> spec = LoadPipelineSpec((work / "pipeline.yaml").string(), diagnostics);
    ASSERT_TRUE(spec.has_value()) << diagnostics.ToString();
    RunOptions options;
    options.stop_after_records = stop_after_records;
    Result<RunSummary> summary = RunPipeline(*spec, options);
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  };
  run("whole", 0);
  const std::string whole = StripAlertTimes(ReadFile(work / "whole" / "out" / "alerts.jsonl"));
  ASSERT_EQ(Lines(whole).size(), 1u) << whole;
  EXPECT_NE(whole.find("\"alert_id\":\"sla/telenor/q1\""), std::string::npos);
  EXPECT_NE(whole.find("\"addressed_profile\":\"support\""), std::string::npos);

  run("split", 2);  // the brand's post and one more, committed; then the rest
  EXPECT_EQ(ReadFile(work / "split" / "out" / "alerts.jsonl"), "");
  run("split", 0);
  EXPECT_EQ(StripAlertTimes(ReadFile(work / "split" / "out" / "alerts.jsonl")), whole);
  fs::remove_all(work);
}

}  // namespace
}  // namespace brandpulse
