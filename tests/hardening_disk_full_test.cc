// A full disk under the state directory and under the output files (issue 16): a real tmpfs of
// a few MiB mounted for the test (root only; skipped otherwise). The run pauses with a message
// naming the state and the cause instead of aborting, keeps what it committed, resumes by itself
// when space returns (or, stopped while it waits, returns an error and a rerun resumes), and
// finishes with the same windows as a run that never ran out of space. Output
// files never keep half a line.
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "generator/firehose_generator.h"
#include "generator/generator_source.h"
#include "operators/json_lines_sink.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = brandpulse_test::MakeTempDirectory("hardening-disk-full");
    small_ = work_ / "small";
    fs::create_directories(small_);
    if (::geteuid() != 0 ||
        ::mount("tmpfs", small_.c_str(), "tmpfs", 0, "size=3m") != 0) {
      GTEST_SKIP() << "needs root to mount a small tmpfs";
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(small_.c_str(), MNT_DETACH);
    fs::remove_all(work_);
  }
  void Resize(const char* size) {
    ASSERT_EQ(::mount("tmpfs", small_.c_str(), "tmpfs", MS_REMOUNT,
                      fmt::format("size={}", size).c_str()),
              0);
  }

  fs::path work_;
  fs::path small_;
  bool mounted_ = false;
};

TEST_F(DiskFullTest, OutputFileOnAFullDiskKeepsWholeLines) {
  auto file = LineFile::Open(LineFile::Kind::kFile, (small_ / "alerts.jsonl").string(), false);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  std::string line = "{\"alert\":\"" + std::string(1000, 'x') + "\"}";
  Status status = Status::Ok();
  int written = 0;
  for (; written < 10000 && status.ok(); ++written) {
    status = (*file)->Append(line);
    if (status.ok()) status = (*file)->Flush(true);
  }
  ASSERT_FALSE(status.ok()) << "the 3 MiB disk never filled";
  EXPECT_NE(status.message().find("No space left"), std::string::npos) << status.ToString();
  ASSERT_TRUE((*file)->Rollback().ok());
  file->reset();
  Resize("8m");
  // Reopened (a restart): the re-sent line lands on a line of its own.
  auto reopened = LineFile::Open(LineFile::Kind::kFile, (small_ / "alerts.jsonl").string(), false);
  ASSERT_TRUE(reopened.ok());
  ASSERT_TRUE((*reopened)->Append(line).ok());
  ASSERT_TRUE((*reopened)->Flush(true).ok());
  for (const std::string& each : brandpulse_test::Lines(brandpulse_test::ReadFile(small_ / "alerts.jsonl"))) {
    EXPECT_EQ(each, line);
  }
}

TEST_F(DiskFullTest, FullStatePausesSaysSoAndResumesByItselfWhenSpaceReturns) {
  brandpulse_test::WriteFile(work_ / "watchlist.yaml",
                             "brands:\n  - id: telenor\n    terms: [Telenor]\n  - id: telia\n"
                             "    terms: [Telia]\n");
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> watchlist =
      LoadWatchlist((work_ / "watchlist.yaml").string(), diagnostics);
  ASSERT_TRUE(watchlist);
  GeneratorSpec generator;
  generator.count = 200'000;
  generator.seed = 5;
  generator.mention_share = 0.5;
  generator.posts_per_second = 20;
  generator.brands = GeneratedBrandsFrom(*watchlist);
  auto made = FirehoseGenerator::Make(generator);
  ASSERT_TRUE(made.ok());
  {
    std::ofstream out(work_ / "in.jsonl", std::ios::binary);
    std::string record;
    while ((*made)->Next(record)) {
      out << record << '\n';
      record.clear();
    }
  }
  auto spec_for = [&](const std::string& state, int min_free_mb) {
    brandpulse_test::WriteFile(work_ / "p.yaml", fmt::format(R"(name: full
source: {{type: file, path: in.jsonl}}
decode: {{format: twitter-v2}}
watchlist: watchlist.yaml
workers: 1
state: {{directory: {}, commit_every_records: 2000, memory_budget_mb: 16, watchlist_cache: none,
        min_free_mb: {}}}
windows:
  - {{name: 1m, size: 1m, dimensions: [lang, author]}}
metrics: {{co_terms: true, top_k: 50}}
sinks:
  dead_letter: {{type: file, path: dead.jsonl}}
)", state, min_free_mb));
    Diagnostics config_diagnostics;
    std::optional<PipelineSpec> spec =
        LoadPipelineSpec((work_ / "p.yaml").string(), config_diagnostics);
    EXPECT_TRUE(spec) << config_diagnostics.ToString();
    return spec.value_or(PipelineSpec{});
  };
  RunOptions fresh;
  fresh.fresh = true;
  Result<RunSummary> reference = RunPipeline(spec_for((work_ / "reference").string(), 0), fresh);
  ASSERT_TRUE(reference.ok()) << reference.status().ToString();
  const auto reference_windows = brandpulse_test::DumpWindows(work_ / "reference");

  // 1. No reserve: RocksDB itself runs out of space. The run must return (not abort) with a
  // message naming the state and the cause; a rerun once there is space finishes the same.
  {
    PipelineSpec small = spec_for((small_ / "state-a").string(), 0);
    Result<RunSummary> full = RunPipeline(small, fresh);
    ASSERT_FALSE(full.ok()) << "the state fit in 3 MiB; the test needs more input";
    const std::string message = full.status().ToString();
    EXPECT_NE(message.find("No space left"), std::string::npos) << message;
    EXPECT_NE(message.find("is full"), std::string::npos) << message;
    EXPECT_NE(message.find("a rerun resumes"), std::string::npos) << message;
    std::printf("RocksDB out of space: %s\n", message.c_str());
    Resize("256m");
    Result<RunSummary> rerun = RunPipeline(small, RunOptions{});
    ASSERT_TRUE(rerun.ok()) << rerun.status().ToString();
    EXPECT_EQ(brandpulse_test::DumpWindows(small_ / "state-a"), reference_windows);
    fs::remove_all(small_ / "state-a");
  }

  // 2. With a reserve (state.min_free_mb): below it the run pauses and says so, writing nothing.
  // Stopped while it waits, it returns an error that says so.
  Resize("8m");
  PipelineSpec small = spec_for((small_ / "state-b").string(), 6);
  std::atomic<bool> stop{false};
  std::string full_notice;
  RunOptions stopping = fresh;
  stopping.stop_requested = &stop;
  stopping.on_notice = [&](const std::string& message) {
    if (message.find("is full") == std::string::npos) return;
    full_notice = message;
    stop = true;
  };
  Result<RunSummary> stopped = RunPipeline(small, stopping);
  ASSERT_FALSE(stopped.ok()) << "the state fit in 2 MiB; the test needs more input";
  EXPECT_NE(stopped.status().ToString().find("stopped while the state directory"),
            std::string::npos)
      << stopped.status().ToString();
  EXPECT_NE(full_notice.find("ingestion paused"), std::string::npos) << full_notice;

  // Rerun: it pauses again, and when space returns a second later (the operator deletes
  // something) it resumes by itself and finishes with the windows of a run that never ran out.
  std::thread grow;
  int full_notices = 0;
  bool resumed_notice = false;
  RunOptions resume;
  resume.on_notice = [&](const std::string& message) {
    if (message.find("has space again") != std::string::npos) resumed_notice = true;
    if (message.find("is full") == std::string::npos || full_notices++ > 0) return;
    grow = std::thread([this] {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      Resize("256m");
    });
  };
  Result<RunSummary> resumed = RunPipeline(small, resume);
  if (grow.joinable()) grow.join();
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(full_notices, 1);
  EXPECT_TRUE(resumed_notice);
  EXPECT_EQ(resumed->state_full_pauses, 1u);
  EXPECT_EQ(brandpulse_test::DumpWindows(small_ / "state-b"), reference_windows);
}

}  // namespace
}  // namespace brandpulse
