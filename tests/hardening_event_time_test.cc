// Event-time sanity (issue 16, failure 6 of the report, item 2 of the fixes): one post dated
// 9999-12-31 moved the watermark forever and made every later mention late; posts dated 0000 and
// 1970 opened windows there. Such posts are dead letters with the reason, counted, and never
// move the watermark; a partition cannot run ahead of the others by more than the skew; live
// sources are held to the wall clock.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/batch.h"
#include "engine/event_time.h"
#include "engine/json_writer.h"
#include "engine/watermark.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;

std::string Tweet(int id, const std::string& time) {
  return fmt::format(R"({{"data":{{"id":"{}","text":"Telenor {}","created_at":"{}"}}}})"
                     "\n",
                     id, id, time);
}

std::string Minute(int i) {
  return fmt::format("2026-01-01T{:02}:{:02}:{:02}Z", i / 3600, (i / 60) % 60, i % 60);
}

class EventTimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = brandpulse_test::MakeTempDirectory("hardening-event-time");
    brandpulse_test::WriteFile(work_ / "watchlist.yaml",
                               "brands:\n  - id: telenor\n    terms: [Telenor]\n");
  }
  void TearDown() override { fs::remove_all(work_); }

  // follow: the file is a live source (it does not end), held to the wall clock; the run stops
  // once `stop_at_records` records were read.
  Result<RunSummary> Run(const std::string& input, const std::string& time_section = "",
                         bool follow = false, uint64_t stop_at_records = 0) {
    brandpulse_test::WriteFile(work_ / "in.jsonl", input);
    brandpulse_test::WriteFile(work_ / "pipeline.yaml", fmt::format(R"(name: times
source: {{type: file, path: in.jsonl, follow: {}}}
decode: {{format: twitter-v2}}
watchlist: watchlist.yaml
workers: 2
batch_records: 50
state: {{directory: state, commit_every_records: 100}}
time: {{max_out_of_orderness: 10s, allowed_lateness: 0s{}}}
windows:
  - {{name: 1m, size: 1m}}
sinks:
  dead_letter: {{type: file, path: dead.jsonl}}
  late: {{type: file, path: late.jsonl}}
)", follow ? "true" : "false", time_section));
    Diagnostics diagnostics;
    std::optional<PipelineSpec> spec =
        LoadPipelineSpec((work_ / "pipeline.yaml").string(), diagnostics);
    if (!spec) return Status::InvalidArgument(diagnostics.ToString());
    RunOptions options;
    options.fresh = true;
    std::atomic<bool> stop{false};
    if (follow) {
      options.stop_requested = &stop;
      options.on_progress = [&stop, stop_at_records](const RunSummary& summary) {
        if (summary.records >= stop_at_records) stop.store(true);
      };
    }
    return RunPipeline(*spec, options);
  }

  fs::path work_;
};

TEST_F(EventTimeTest, PostFromYear9999IsADeadLetterAndLaterPostsAreNotLate) {
  std::string input;
  for (int i = 0; i < 1000; ++i) {
    input += Tweet(i, i == 300 ? "9999-12-31T00:00:00Z" : Minute(i));
  }
  Result<RunSummary> run = Run(input);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->event_times_refused, 1u);
  EXPECT_EQ(run->dead_letters, 1u);
  EXPECT_EQ(run->late_posts, 0u) << "the 9999 post moved the watermark";
  EXPECT_EQ(run->mentions, 999u);
  std::string dead = brandpulse_test::ReadFile(work_ / "dead.jsonl");
  EXPECT_NE(dead.find("event time 9999-12-31T00:00:00.000Z is after the newest allowed"),
            std::string::npos)
      << dead;
  EXPECT_NE(dead.find("Telenor 300"), std::string::npos) << dead;  // the record itself
}

TEST_F(EventTimeTest, Years0000And1970AreDeadLettersAndOpenNoWindows) {
  std::string input;
  for (int i = 0; i < 200; ++i) input += Tweet(i, Minute(i));
  input += Tweet(1000, "0000-01-01T00:00:00Z");
  input += Tweet(1001, "1970-01-01T00:00:00Z");
  input += R"({"data":{"id":"1002","text":"Telenor epoch","created_at":"0"}})" "\n";
  Result<RunSummary> run = Run(input);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_GE(run->event_times_refused, 2u);
  EXPECT_EQ(run->mentions, 200u);
  auto windows = brandpulse_test::DumpWindows(work_ / "state");
  EXPECT_FALSE(windows.empty());
  for (const auto& [window, value] : windows) {
    EXPECT_NE(window.find("17672"), std::string::npos) << "a window outside 2026: " << window;
  }
  std::string dead = brandpulse_test::ReadFile(work_ / "dead.jsonl");
  EXPECT_NE(dead.find("is before 2000-01-01T00:00:00.000Z (time.min_event_time)"),
            std::string::npos)
      << dead;
}

TEST_F(EventTimeTest, OldDataReplaysWithAConfiguredMinimum) {
  std::string input;
  for (int i = 0; i < 200; ++i) input += Tweet(i, fmt::format("1995-06-01T00:{:02}:{:02}Z", i / 60, i % 60));
  Result<RunSummary> refused = Run(input);
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_EQ(refused->mentions, 0u);
  Result<RunSummary> run = Run(input, ", min_event_time: 1990-01-01T00:00:00Z");
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->event_times_refused, 0u);
  EXPECT_EQ(run->mentions, 200u);
}

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Posts of the last ten minutes, one a second, and post 150 dated a day ahead of the wall clock.
std::string LivePostsWithOneFromTomorrow(int64_t now_ms) {
  const int64_t start = now_ms - now_ms % 1000 - 600'000;
  std::string input;
  for (int i = 0; i < 300; ++i) {
    input += Tweet(i, FormatIsoTime(i == 150 ? start + 86'400'000 : start + i * 1000));
  }
  return input;
}

// A live source (a followed file) is held to the wall clock: a post more than max_future_skew
// ahead of it is a counted dead letter with its reason, and it does not move the watermark
// (had it, every later post of the ten minutes before it would be late).
TEST_F(EventTimeTest, FutureDatedPostOnAFollowedFileIsADeadLetterAndMovesNoWatermark) {
  Result<RunSummary> run =
      Run(LivePostsWithOneFromTomorrow(WallClockMs()), ", max_future_skew: 5m", true, 300);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->records, 300u);
  EXPECT_EQ(run->event_times_refused, 1u);
  EXPECT_EQ(run->dead_letters, 1u);
  EXPECT_EQ(run->late_posts, 0u) << "the post from tomorrow moved the watermark";
  EXPECT_EQ(run->mentions, 299u);
  std::string dead = brandpulse_test::ReadFile(work_ / "dead.jsonl");
  EXPECT_NE(dead.find("is after the newest allowed"), std::string::npos) << dead;
  EXPECT_NE(dead.find("time.max_future_skew ahead of the wall clock"), std::string::npos) << dead;
  EXPECT_NE(dead.find("Telenor 150"), std::string::npos) << dead;
  EXPECT_EQ(brandpulse_test::ReadFile(work_ / "late.jsonl").size(), 0u) << "late posts written";
}

// A file that is not followed ends: it is a replay, not held to the wall clock. Old data and a
// post ahead of today's date (a fixture written with a skewed clock) are all counted.
TEST_F(EventTimeTest, AReplayedFileIsNotHeldToTheWallClock) {
  std::string input;
  for (int i = 0; i < 300; ++i) input += Tweet(i, Minute(i));  // 2026-01-01: old data
  input += Tweet(300, FormatIsoTime(WallClockMs() + 86'400'000));  // last: late-closes nothing
  Result<RunSummary> run = Run(input, ", max_future_skew: 5m");
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->event_times_refused, 0u);
  EXPECT_EQ(run->dead_letters, 0u);
  EXPECT_EQ(run->late_posts, 0u);
  EXPECT_EQ(run->mentions, 301u);
}

TEST(EventTimeLimitsTest, APartitionCannotRunAheadOfTheOthers) {
  WatermarkTracker tracker(0, 0);
  EXPECT_EQ(tracker.others_newest_ms(), WatermarkTracker::kNone);
  tracker.Observe(0, 1000, 0);
  EXPECT_EQ(tracker.others_newest_ms(), WatermarkTracker::kNone);  // one partition: no others
  tracker.Observe(1, 5000, 0);
  tracker.Observe(2, 3000, 0);
  EXPECT_EQ(tracker.others_newest_ms(), 3000);

  EventTimeLimits limits;
  limits.oldest_ms = 0;
  limits.newest_allowed_ms = tracker.others_newest_ms() + 500;
  Batch batch;
  batch.AddRecord("a", 1);
  batch.AddRecord("b", 2);
  batch.AddRecord("c", 3);
  for (uint32_t index = 0; index < 3; ++index) {
    Post post;
    post.record_index = index;
    post.event_time_ms = index == 1 ? 9000 : 3200 + index;
    batch.posts.push_back(post);
    batch.max_event_time_ms = std::max(batch.max_event_time_ms, post.event_time_ms);
  }
  ApplyEventTimeLimits(batch, limits);
  ASSERT_EQ(batch.posts.size(), 2u);
  EXPECT_EQ(batch.posts[1].record_index, 2u);
  EXPECT_EQ(batch.max_event_time_ms, 3202);
  ASSERT_EQ(batch.dead_letters.size(), 1u);
  EXPECT_EQ(batch.dead_letters[0].record_index, 1u);
  EXPECT_EQ(limits.rejected.load(), 1u);
}

TEST(EventTimeLimitsTest, ConfigErrorsNameTheirPlace) {
  fs::path work = brandpulse_test::MakeTempDirectory("hardening-event-time-config");
  brandpulse_test::WriteFile(work / "watchlist.yaml", "brands:\n  - id: a\n    terms: [a]\n");
  brandpulse_test::WriteFile(work / "p.yaml", R"(source: {type: stdin}
decode: {format: twitter-v2}
watchlist: watchlist.yaml
state: {directory: s}
time: {min_event_time: yesterday, max_future_skew: 5m}
windows:
  - {name: 1m, size: 1m}
sinks:
  dead_letter: {type: none}
)");
  Diagnostics diagnostics;
  EXPECT_FALSE(LoadPipelineSpec((work / "p.yaml").string(), diagnostics));
  EXPECT_NE(diagnostics.ToString().find("p.yaml:5:24: error: 'yesterday' is not a time"),
            std::string::npos)
      << diagnostics.ToString();
  fs::remove_all(work);
}

}  // namespace
}  // namespace brandpulse
