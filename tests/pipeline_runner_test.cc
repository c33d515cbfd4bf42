// End-to-end tests of the pipeline runner on real files and a real RocksDB directory:
// golden cases computed by hand, identical results for 1, 2 and 4 workers, and exact resumption
// after a stop.
#include "pipeline/pipeline_runner.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "pipeline/pipeline_config.h"
#include "engine/state_store.h"
#include "generator/firehose_generator.h"
#include "generator/generator_source.h"
#include "operators/watchlist.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
using brandpulse_test::ReadFile;
using brandpulse_test::WriteFile;
using brandpulse_test::MakeTempDirectory;
using brandpulse_test::DumpWindows;

PipelineSpec LoadOrDie(const std::string& path) {
  Diagnostics diagnostics;
  std::optional<PipelineSpec> spec = LoadPipelineSpec(path, diagnostics);
  EXPECT_TRUE(spec.has_value()) << diagnostics.ToString();
  return spec.value_or(PipelineSpec{});
}

TEST(PipelineRunnerTest, GoldenCasesGiveExactlyTheExpectedAlerts) {
  fs::path golden_root = fs::path(BRANDPULSE_SOURCE_DIR) / "tests" / "golden";
  int cases = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(golden_root)) {
    if (!entry.is_directory()) continue;
    SCOPED_TRACE(entry.path().filename().string());
    ++cases;
    fs::path work = MakeTempDirectory("golden-" + entry.path().filename().string());
    setenv("BRANDPULSE_TEST_STATE", (work / "state").c_str(), 1);
    setenv("BRANDPULSE_TEST_OUT", (work / "out").c_str(), 1);
    PipelineSpec spec = LoadOrDie((entry.path() / "pipeline.yaml").string());
    RunOptions options;
    options.fresh = true;
    Result<RunSummary> summary = RunPipeline(spec, options);
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();

    EXPECT_EQ(brandpulse_test::StripAlertTimes(ReadFile(work / "out" / "alerts.jsonl")),
              ReadFile(entry.path() / "expected_alerts.jsonl"));
    std::string actual_summary = fmt::format(
        "records {}\nposts {}\ndead_letters {}\nlate_posts {}\nmentions {}\nalerts {}\n",
        summary->records, summary->posts, summary->dead_letters, summary->late_posts,
        summary->mentions, summary->alerts);
    EXPECT_EQ(actual_summary, ReadFile(entry.path() / "expected_summary.txt"));
    if (fs::exists(entry.path() / "expected_windows.txt")) {
      // brand, dimension ('-' for the total), size, slide, start, mentions, questions
      std::string windows;
      {
        auto store = StateStore::Open(StateOptions{(work / "state").string()});
        ASSERT_TRUE(store.ok()) << store.status().ToString();
        ASSERT_TRUE((*store)->ScanAllWindows([&](const WindowKey& key, const WindowMetrics& metrics) {
          windows += fmt::format("{} {} {} {} {} {} {}\n", key.brand_id,
                                 key.dimension.empty() ? "-" : key.dimension, key.size_ms,
                                 key.slide_ms, key.start_ms, metrics.mentions, metrics.questions);
        }).ok());
      }
      EXPECT_EQ(windows, ReadFile(entry.path() / "expected_windows.txt"));
    }
    fs::remove_all(work);
  }
  EXPECT_GE(cases, 1);
}

// A generated firehose with disorder, late posts and malformed lines, and a pipeline over it.
class GeneratedFirehoseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = MakeTempDirectory("generated");
    Diagnostics diagnostics;
    std::string watchlist_path = std::string(BRANDPULSE_SOURCE_DIR) +
                                 "/pipelines/watchlists/nordic-spanish-telecoms.yaml";
    std::optional<WatchlistSpec> watchlist = LoadWatchlist(watchlist_path, diagnostics);
    ASSERT_TRUE(watchlist.has_value()) << diagnostics.ToString();

    GeneratorSpec generator;
    generator.format = FirehoseFormat::kTwitterV2;
    generator.seed = 4242;
    generator.count = 40000;
    generator.mention_share = 0.2;
    generator.malformed_share = 0.005;
    generator.posts_per_second = 50;
    generator.max_disorder_ms = 90000;  // more than out-of-orderness + lateness: some are late
    generator.brands = GeneratedBrandsFrom(*watchlist);
    auto made = FirehoseGenerator::Make(generator);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    std::string lines, record;
    while (true) {
      record.clear();
      if (!(*made)->Next(record)) break;
      lines += record;
      lines += '\n';
      records_.push_back(record);
    }
    WriteFile(work_ / "firehose.jsonl", lines);
    WriteFile(work_ / "pipeline.yaml", fmt::format(R"(name: generated
source: {{type: file, path: firehose.jsonl}}
decode: {{format: twitter-v2}}
watchlist: {}
batch_records: 256
state: {{directory: state, commit_every_records: 3000}}
time: {{max_out_of_orderness: 30s, allowed_lateness: 30s}}
windows:
  - {{name: 1m, size: 1m}}
  - {{name: 10m, size: 10m}}
alerts:
  - {{name: busy-minute, type: threshold, window: 1m, metric: mentions, above: 60}}
  - {{name: busy-ten, type: threshold, window: 10m, metric: unique_authors, above: 300}}
sinks:
  alerts: {{type: file, path: out/alerts.jsonl}}
  dead_letter: {{type: file, path: out/dead-letter.jsonl}}
  late: {{type: file, path: out/late.jsonl}}
)", watchlist_path));
  }
  void TearDown() override { fs::remove_all(work_); }

  struct Outputs {
    std::string alerts, dead_letters, late;
    std::map<std::string, std::string> windows;
    RunSummary summary;
  };

  Outputs RunWith(int workers, bool fresh, uint64_t stop_after_records = 0) {
    PipelineSpec spec = LoadOrDie((work_ / "pipeline.yaml").string());
    RunOptions options;
    options.fresh = fresh;
    options.workers = workers;
    options.stop_after_records = stop_after_records;
    Result<RunSummary> summary = RunPipeline(spec, options);
    EXPECT_TRUE(summary.ok()) << summary.status().ToString();
    Outputs outputs;
    if (summary.ok()) outputs.summary = *summary;
    outputs.alerts = brandpulse_test::StripAlertTimes(ReadFile(work_ / "out" / "alerts.jsonl"));
    outputs.dead_letters = ReadFile(work_ / "out" / "dead-letter.jsonl");
    outputs.late = ReadFile(work_ / "out" / "late.jsonl");
    outputs.windows = DumpWindows((work_ / "state").string());
    return outputs;
  }

  fs::path work_;
  std::vector<std::string> records_;
};

TEST_F(GeneratedFirehoseTest, ResultsAreIdenticalForOneTwoAndFourWorkers) {
  Outputs one = RunWith(1, true);
  ASSERT_GT(one.summary.alerts, 0u) << "the thresholds should make some alerts fire";
  ASSERT_GT(one.summary.dead_letters, 0u);
  ASSERT_GT(one.summary.late_posts, 0u) << "disorder beyond lateness should make late posts";
  ASSERT_GT(one.windows.size(), 10u);
  for (int workers : {2, 4}) {
    SCOPED_TRACE(fmt::format("{} workers", workers));
    Outputs many = RunWith(workers, true);
    EXPECT_EQ(many.summary.workers, workers);
    EXPECT_EQ(many.alerts, one.alerts);
    EXPECT_EQ(many.dead_letters, one.dead_letters);
    EXPECT_EQ(many.late, one.late);
    EXPECT_EQ(many.windows, one.windows);
    EXPECT_EQ(many.summary.mentions, one.summary.mentions);
  }
}

TEST_F(GeneratedFirehoseTest, StoppedAndResumedRunEqualsOneUninterruptedRun) {
  Outputs uninterrupted = RunWith(2, true);
  // Stop after roughly a quarter, a half, then run to the end: three processes' worth of runs.
  RunWith(2, true, 10000);
  RunWith(1, false, 20000);
  Outputs resumed = RunWith(2, false);
  EXPECT_TRUE(resumed.summary.resumed);
  EXPECT_GT(resumed.summary.resumed_position, 0u);
  EXPECT_LT(resumed.summary.records, uninterrupted.summary.records);
  EXPECT_EQ(resumed.windows, uninterrupted.windows);
  EXPECT_EQ(resumed.alerts, uninterrupted.alerts);
  EXPECT_EQ(resumed.dead_letters, uninterrupted.dead_letters);
  EXPECT_EQ(resumed.late, uninterrupted.late);
}

TEST_F(GeneratedFirehoseTest, DeadLettersCarryReasonAndOriginalBytes) {
  Outputs outputs = RunWith(2, true);
  std::istringstream lines(outputs.dead_letters);
  std::string line;
  uint64_t count = 0;
  while (std::getline(lines, line)) {
    ++count;
    EXPECT_NE(line.find("\"reason\":"), std::string::npos) << line;
    EXPECT_TRUE(line.find("\"record\":") != std::string::npos ||
                line.find("\"record_base64\":") != std::string::npos)
        << line;
  }
  EXPECT_EQ(count, outputs.summary.dead_letters);
  EXPECT_EQ(outputs.summary.records, records_.size());
}

TEST_F(GeneratedFirehoseTest, FollowModeReadsAppendedDataUntilStopped) {
  // When the watermark moves depends on when a followed file goes quiet, so which posts are late
  // depends on timing; with lateness beyond the generator's disorder no post is late in either run
  // and the windows must be identical. The same firehose read at once is the reference.
  std::string pipeline = ReadFile(work_ / "pipeline.yaml");
  pipeline.replace(pipeline.find("allowed_lateness: 30s}"), 22, "allowed_lateness: 5m}");
  WriteFile(work_ / "pipeline.yaml", pipeline);
  Outputs batch_run = RunWith(2, true);
  ASSERT_EQ(batch_run.summary.late_posts, 0u);
  fs::rename(work_ / "state", work_ / "batch-state");
  // Start on an empty file, append the firehose in two parts while the pipeline runs.
  WriteFile(work_ / "firehose.jsonl", "");
  pipeline.replace(pipeline.find("path: firehose.jsonl}"), 21,
                   "path: firehose.jsonl, follow: true}");
  pipeline.replace(pipeline.find("commit_every_records: 3000}"), 27,
                   "commit_every_records: 3000, commit_interval: 100ms}");
  WriteFile(work_ / "pipeline.yaml", pipeline);
  PipelineSpec spec = LoadOrDie((work_ / "pipeline.yaml").string());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> records_seen{0};
  RunOptions options;
  options.fresh = true;
  options.stop_requested = &stop;
  options.on_progress = [&](const RunSummary& progress) { records_seen = progress.records; };
  Result<RunSummary> summary = Status::Internal("not run");
  std::thread runner([&] { summary = RunPipeline(spec, options); });
  auto append = [&](size_t begin, size_t end) {
    std::ofstream out(work_ / "firehose.jsonl", std::ios::app | std::ios::binary);
    for (size_t i = begin; i < end; ++i) out << records_[i] << '\n';
  };
  auto wait_for = [&](uint64_t records) {
    for (int tries = 0; tries < 200 && records_seen.load() < records; ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return records_seen.load();
  };
  append(0, records_.size() / 2);
  EXPECT_EQ(wait_for(records_.size() / 2), records_.size() / 2);
  append(records_.size() / 2, records_.size());
  EXPECT_EQ(wait_for(records_.size()), records_.size());
  stop = true;
  runner.join();
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->records, records_.size());
  EXPECT_GT(summary->mentions, 0u);
  // Every post reached the windows: the committed state equals the batch run's.
  EXPECT_EQ(summary->mentions, batch_run.summary.mentions);
  EXPECT_EQ(summary->dead_letters, batch_run.summary.dead_letters);
  EXPECT_EQ(summary->late_posts, 0u);
  // Counts, reach and author sketches: byte for byte.
  EXPECT_EQ(DumpWindows((work_ / "state").string(), true),
            DumpWindows((work_ / "batch-state").string(), true));
  // Term summaries too, for every window the follow run has closed: they are exact while a
  // window is open and bounded once at close, so where the time-driven commits fell does not
  // matter. (Stopping a follow run leaves the newest windows open; the batch run closed all.)
  std::optional<std::string> watermark;
  {
    auto store = StateStore::Open(StateOptions{(work_ / "state").string()});
    ASSERT_TRUE(store.ok());
    auto read = (*store)->ReadMeta("watermark");
    ASSERT_TRUE(read.ok() && read->has_value());
    watermark = **read;
  }
  const int64_t closed_before = std::stoll(*watermark) - 5 * 60 * 1000;  // allowed lateness 5m
  auto follow = DumpWindows((work_ / "state").string());
  auto batch = DumpWindows((work_ / "batch-state").string());
  size_t closed = 0;
  for (const auto& [key, value] : follow) {
    std::istringstream fields(key);
    std::string brand, dimension;
    int64_t size = 0, slide = 0, start = 0;
    // "brand dimension size slide start" with an empty dimension for brand totals
    std::vector<std::string> parts;
    for (std::string part; std::getline(fields, part, ' ');) parts.push_back(part);
    ASSERT_EQ(parts.size(), 5u) << key;
    size = std::stoll(parts[2]);
    start = std::stoll(parts[4]);
    (void)slide;
    if (start + size > closed_before) continue;
    ++closed;
    EXPECT_EQ(value, batch[key]) << key;
  }
  EXPECT_GT(closed, 10u);
}

}  // namespace
}  // namespace brandpulse
