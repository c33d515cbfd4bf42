// Hot reload under load: a pipeline runs while its watchlist file is rewritten and reloaded many
// times (same brands, different order, so every brand index changes); every window must equal a
// run without reloads. A watchlist that does not load keeps the old one running, counted, with
// the error's file:line:column.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"
#include "engine/state_store.h"
#include "generator/firehose_generator.h"
#include "generator/generator_source.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
using brandpulse_test::WriteFile;
using brandpulse_test::DumpWindows;

constexpr const char* kBrands[][2] = {
    {"telenor", "Telenor"}, {"telia", "Telia"}, {"ice", "Ice"}, {"elisa", "Elisa"}, {"dna", "DNA"}};

std::string WatchlistYaml(bool reversed) {
  std::string yaml = "brands:\n";
  for (int i = 0; i < 5; ++i) {
    int index = reversed ? 4 - i : i;
    yaml += fmt::format("  - id: {}\n    terms: [{}]\n    group: nordic\n", kBrands[index][0],
                        kBrands[index][1]);
  }
  return yaml;
}

class WatchlistReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = fs::temp_directory_path() / fmt::format("brandpulse-reload-{}", ::getpid());
    fs::remove_all(work_);
    fs::create_directories(work_);
    WriteFile(work_ / "watchlist.yaml", WatchlistYaml(false));
    Diagnostics diagnostics;
    std::optional<WatchlistSpec> watchlist =
        LoadWatchlist((work_ / "watchlist.yaml").string(), diagnostics);
    ASSERT_TRUE(watchlist) << diagnostics.ToString();
    GeneratorSpec generator;
    generator.count = 60'000;
    generator.seed = 21;
    generator.mention_share = 0.2;
    generator.posts_per_second = 100;
    generator.max_disorder_ms = 20'000;
    generator.brands = GeneratedBrandsFrom(*watchlist);
    auto made = FirehoseGenerator::Make(generator);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    std::ofstream out(work_ / "firehose.jsonl", std::ios::binary);
    std::string record;
    while ((*made)->Next(record)) {
      out << record << '\n';
      record.clear();
    }
  }
  void TearDown() override { fs::remove_all(work_); }

  PipelineSpec Spec(const std::string& state, bool follow = false) {
    std::ofstream pipeline(work_ / "pipeline.yaml");
    pipeline << fmt::format(R"(name: reload
source: {{type: file, path: firehose.jsonl, follow: {}}}
decode: {{format: twitter-v2}}
watchlist: watchlist.yaml
workers: 2
batch_records: 128
state: {{directory: {}, commit_every_records: 400}}
time: {{max_out_of_orderness: 30s, allowed_lateness: 1m}}
windows:
  - {{name: 1m, size: 1m, dimensions: [lang]}}
  - {{name: 10m, type: sliding, size: 10m, every: 1m}}
alerts:
  - {{name: busy, type: threshold, window: 1m, metric: mentions, above: 100}}
sinks:
  alerts: {{type: file, path: out-{}/alerts.jsonl}}
  dead_letter: {{type: file, path: out-{}/dead.jsonl}}
)", follow, state, state, state);
    pipeline.close();
    Diagnostics diagnostics;
    std::optional<PipelineSpec> spec = LoadPipelineSpec((work_ / "pipeline.yaml").string(), diagnostics);
    EXPECT_TRUE(spec) << diagnostics.ToString();
    return spec.value_or(PipelineSpec{});
  }

  // The same pipeline without any reload, into state `reference`.
  Result<RunSummary> RunReference() {
    RunOptions options;
    options.fresh = true;
    return RunPipeline(Spec("reference"), options);
  }

  fs::path work_;
};

TEST_F(WatchlistReloadTest, ManyReloadsUnderLoadChangeNothing) {
  Result<RunSummary> reference = RunReference();
  ASSERT_TRUE(reference.ok()) << reference.status().ToString();

  PipelineSpec spec = Spec("reloaded");
  std::atomic<bool> reload{false};
  std::atomic<bool> done{false};
  std::atomic<int> swaps{0};
  RunOptions options;
  options.fresh = true;
  options.reload_requested = &reload;
  options.watch_watchlist_file = false;  // only the flag: the test decides when
  options.on_reload = [&](bool swapped, const std::string&) { swaps += swapped; };
  // Rewrite the watchlist with the brands in the other order and ask for a reload, over and
  // over, while the pipeline runs: every swap renumbers every brand.
  std::thread writer([&] {
    bool reversed = false;
    while (!done.load()) {
      reversed = !reversed;
      WriteFile(work_ / "watchlist.yaml", WatchlistYaml(reversed));
      reload = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });
  auto reloaded = RunPipeline(spec, options);
  done = true;
  writer.join();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().ToString();

  EXPECT_GE(reloaded->watchlist_reloads, 5u) << "the run ended before enough reloads";
  std::printf("watchlist swapped %llu times during %llu records\n",
              static_cast<unsigned long long>(reloaded->watchlist_reloads),
              static_cast<unsigned long long>(reloaded->records));
  EXPECT_EQ(reloaded->watchlist_reload_failures, 0u) << reloaded->last_reload_error;
  EXPECT_EQ(static_cast<uint64_t>(swaps.load()), reloaded->watchlist_reloads);
  EXPECT_EQ(reloaded->mentions, reference->mentions);
  EXPECT_EQ(reloaded->records, reference->records);
  std::map<std::string, uint64_t> by_brand, reference_by_brand;
  for (const BrandSummary& brand : reloaded->brands) by_brand[brand.id] = brand.mentions;
  for (const BrandSummary& brand : reference->brands) reference_by_brand[brand.id] = brand.mentions;
  EXPECT_EQ(by_brand, reference_by_brand);
  auto windows = DumpWindows(work_ / "reloaded");
  EXPECT_GT(windows.size(), 50u);
  EXPECT_EQ(windows, DumpWindows(work_ / "reference"));  // byte for byte, term summaries too
  // The same alerts; within one commit they follow the watchlist's brand order, which the
  // reloads changed, so compare them as sets.
  auto alert_lines = [&](const char* name) {
    std::ifstream in(work_ / name / "alerts.jsonl");
    std::multiset<std::string> lines;
    for (std::string line; std::getline(in, line);) {
      lines.insert(brandpulse_test::StripAlertTimes(line));
    }
    return lines;
  };
  EXPECT_FALSE(alert_lines("out-reference").empty());
  EXPECT_TRUE(alert_lines("out-reloaded") == alert_lines("out-reference"));
}

TEST_F(WatchlistReloadTest, BrokenWatchlistKeepsTheOldOneAndSaysWhere) {
  Result<RunSummary> reference = RunReference();
  ASSERT_TRUE(reference.ok()) << reference.status().ToString();

  PipelineSpec spec = Spec("broken");
  std::atomic<bool> reload{false};
  std::string error;
  RunOptions options;
  options.fresh = true;
  options.reload_requested = &reload;
  options.watch_watchlist_file = false;
  options.on_reload = [&](bool swapped, const std::string& message) {
    if (!swapped) error = message;
  };
  // A typo on line 5 ("term" for "terms") arrives before the run starts reading.
  WriteFile(work_ / "watchlist.yaml",
            "brands:\n  - id: telenor\n    terms: [Telenor]\n  - id: telia\n    term: [Telia]\n");
  reload = true;
  auto run = RunPipeline(spec, options);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->watchlist_reloads, 0u);
  EXPECT_EQ(run->watchlist_reload_failures, 1u);
  EXPECT_NE(run->last_reload_error.find("watchlist.yaml:5:5"), std::string::npos)
      << run->last_reload_error;
  EXPECT_EQ(error, run->last_reload_error);
  EXPECT_EQ(run->mentions, reference->mentions);  // the old watchlist ran throughout
  EXPECT_EQ(DumpWindows(work_ / "broken"), DumpWindows(work_ / "reference"));
}

TEST_F(WatchlistReloadTest, FileChangeIsNoticedAndANewBrandCounts) {
  // Follow the file so the run lasts until the new brand has been swapped in and seen posts.
  PipelineSpec spec = Spec("added", /*follow=*/true);
  std::atomic<bool> stop{false};
  RunOptions options;
  options.fresh = true;
  options.stop_requested = &stop;
  std::atomic<int> swaps{0};
  options.on_reload = [&](bool swapped, const std::string&) { swaps += swapped; };
  spec.commit_interval_ms = 50;
  std::thread editor([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    // A new brand watching a name the firehose is full of.
    WriteFile(work_ / "watchlist.yaml", WatchlistYaml(false) + "  - id: telenor-fans\n    terms: [Telenor]\n");
    for (int i = 0; i < 100 && swaps.load() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // Touch the input so a commit happens after the swap with some posts matched by the new brand.
    {
      std::ifstream in(work_ / "firehose.jsonl", std::ios::binary);
      std::string copy((std::istreambuf_iterator<char>(in)), {});
      std::ofstream out(work_ / "firehose.jsonl", std::ios::app | std::ios::binary);
      out << copy.substr(0, copy.find('\n', copy.size() / 10) + 1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    stop = true;
  });
  auto run = RunPipeline(spec, options);
  editor.join();
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->watchlist_reloads, 1u);
  uint64_t fans = 0;
  for (const BrandSummary& brand : run->brands) {
    if (brand.id == "telenor-fans") fans = brand.mentions;
  }
  EXPECT_GT(fans, 0u) << "posts appended after the swap match the new brand";
}

}  // namespace
}  // namespace brandpulse
