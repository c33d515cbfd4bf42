// The runner through its seams: a scripted multi-partition source that loses a partition mid-run,
// sinks that fail and recover (nothing lost, ingestion never blocked by them), a full outbox
// (backpressure, nothing dropped), a transform inserted into the chain (reload still works), and
// an alert rule whose state goes into the epoch's commit. Time is a SimulatedClock, so back-offs
// take no wall time.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/clock.h"
#include "engine/state_store.h"
#include "generator/firehose_generator.h"
#include "generator/generator_source.h"
#include "operators/registry.h"
#include "operators/watchlist.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
using brandpulse_test::ReadFile;
using brandpulse_test::WriteFile;
using brandpulse_test::Lines;
using brandpulse_test::DumpWindows;

// ---- A scripted source: records per partition, an assignment change at a chosen fill --------

struct Script {
  std::map<uint32_t, std::vector<std::string>> records;  // by partition
  // After this many Fill() calls the source reports that `lose` is about to be lost.
  int lose_after_fills = -1;
  uint32_t lose = 1;
  // Partitions assigned later (not at start): gained after `gain_after_fills` Fill() calls.
  std::vector<uint32_t> gain;
  int gain_after_fills = -1;
  // What the runner did, in order, as the source saw it.
  std::mutex mutex;
  std::vector<std::string> events;
  std::map<uint32_t, uint64_t> last_committed;  // by partition, from OnCommitted
  std::map<uint32_t, uint64_t> read_before_loss;
  std::atomic<bool> ended{false};  // Fill() returned kEndOfInput
  std::atomic<int> commits{0};
};

class ScriptedSource final : public Source {
 public:
  explicit ScriptedSource(std::shared_ptr<Script> script) : script_(std::move(script)) {
    for (const auto& [partition, records] : script_->records) {
      if (std::find(script_->gain.begin(), script_->gain.end(), partition) == script_->gain.end()) {
        assigned_.push_back(partition);
      }
    }
  }
  const std::string& id() const override { return id_; }
  std::vector<uint32_t> partitions() const override { return assigned_; }
  Status Seek(uint32_t partition, uint64_t position) override {
    next_[partition] = position;
    return Status::Ok();
  }
  Result<SourceRead> Fill(Batch& batch, size_t max_records) override {
    ++fills_;
    if (fills_ == script_->lose_after_fills || fills_ == script_->gain_after_fills) {
      gaining_ = fills_ == script_->gain_after_fills;
      batch.PadInput();
      return SourceRead::kAssignmentChanged;
    }
    // Round-robin over the assigned partitions with records left; one partition per batch.
    for (size_t tries = 0; tries < assigned_.size(); ++tries) {
      uint32_t partition = assigned_[turn_++ % assigned_.size()];
      const std::vector<std::string>& records = script_->records[partition];
      uint64_t& next = next_[partition];
      if (next >= records.size()) continue;
      batch.partition = partition;
      while (batch.size() < max_records && next < records.size()) {
        batch.AddRecord(records[next], next + 1);
        ++next;
      }
      batch.PadInput();
      return SourceRead::kHaveData;
    }
    batch.PadInput();
    script_->ended = true;
    return SourceRead::kEndOfInput;
  }
  AssignmentChange TakeAssignmentChange() override {
    std::lock_guard lock(script_->mutex);
    if (gaining_) {
      script_->events.push_back("change: gain");
      for (uint32_t partition : script_->gain) assigned_.push_back(partition);
      return AssignmentChange{script_->gain, {}};
    }
    script_->events.push_back(fmt::format("change: lose {}", script_->lose));
    script_->read_before_loss[script_->lose] = next_[script_->lose];
    return AssignmentChange{{}, {script_->lose}};
  }
  Status CompleteAssignmentChange() override {
    std::lock_guard lock(script_->mutex);
    if (gaining_) return Status::Ok();
    script_->events.push_back(fmt::format("released {}", script_->lose));
    std::erase(assigned_, script_->lose);
    return Status::Ok();
  }
  Status OnCommitted(const PositionMap& positions) override {
    std::lock_guard lock(script_->mutex);
    std::string event = "commit";
    for (const auto& [partition, position] : positions) {
      event += fmt::format(" {}@{}", partition, position);
      script_->last_committed[partition] = position;
    }
    script_->events.push_back(event);
    ++script_->commits;
    return Status::Ok();
  }

 private:
  std::string id_ = "scripted";
  std::shared_ptr<Script> script_;
  std::vector<uint32_t> assigned_;
  std::map<uint32_t, uint64_t> next_;
  size_t turn_ = 0;
  int fills_ = 0;
  bool gaining_ = false;
};

// ---- A sink that fails until told otherwise, and records what it got ---------------------------

struct SinkControl {
  std::atomic<int> failures_left{0};      // transient failures still to give
  std::atomic<bool> down{false};          // fails every call while set
  std::atomic<int> failed_calls{0};
  std::string refuse_id;  // refused for good (like an HTTP 400) whenever it comes first
  std::mutex mutex;
  std::vector<std::string> delivered_ids;  // in delivery order
};

class FlakySink final : public Sink {
 public:
  FlakySink(std::string name, std::shared_ptr<SinkControl> control)
      : name_(std::move(name)), control_(std::move(control)) {}
  const std::string& name() const override { return name_; }
  std::string description() const override { return "flaky"; }
  Status Append(const SideRecord&) override { return Status::Ok(); }
  Status Flush() override { return Status::Ok(); }
  DeliveryOutcome Deliver(std::span<const OutboxEntry> entries) override {
    DeliveryOutcome outcome;
    if (control_->down.load() || control_->failures_left.fetch_sub(1) > 0) {
      ++control_->failed_calls;
      // A real receiver takes time to refuse; without it a simulated clock's back-off spins.
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      outcome.error = Status::Unavailable("receiver down");
      return outcome;
    }
    std::lock_guard lock(control_->mutex);
    for (const OutboxEntry& entry : entries) {
      if (entry.id == control_->refuse_id) {
        outcome.error = Status::InvalidArgument("400 bad request");
        outcome.permanent = true;
        return outcome;
      }
      control_->delivered_ids.push_back(entry.id);
      ++outcome.delivered;
    }
    return outcome;
  }

 private:
  std::string name_;
  std::shared_ptr<SinkControl> control_;
};

// ---- A transform that only looks (to be inserted anywhere in the chain) ----------------------

std::atomic<uint64_t> posts_seen_by_probe{0};

class ProbeTransform final : public Transform {
 public:
  std::string_view name() const override { return "probe"; }
  Result<std::unique_ptr<TransformState>> MakeState() const override {
    return std::unique_ptr<TransformState>(std::make_unique<TransformState>());
  }
  Status Process(Batch& batch, TransformState&) const override {
    posts_seen_by_probe += batch.posts.size();
    return Status::Ok();
  }
};

// ---- An alert rule with state: counts closed windows, keeps the count in the commit ----------

class CountingRule final : public AlertRule {
 public:
  explicit CountingRule(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  bool WatchesWindow(uint32_t) const override { return true; }
  Status Restore(StateStore& store, const BrandDirectory&) override {
    return store.ScanRuleState(name_, [&](std::string_view key, std::string_view value) {
      if (key == "closed") closed_ = std::stoull(std::string(value));
    });
  }
  Status OnWindowClosed(const ClosedWindow&, RuleContext&) override {
    ++closed_;
    return Status::Ok();
  }
  Status Snapshot(StateStore::Commit& commit) override {
    commit.PutRuleState(name_, "closed", std::to_string(closed_));
    return Status::Ok();
  }

 private:
  std::string name_;
  uint64_t closed_ = 0;
};

class SeamsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = fs::temp_directory_path() / fmt::format("brandpulse-seams-{}", ::getpid());
    fs::remove_all(work_);
    fs::create_directories(work_);
    watchlist_path_ = std::string(BRANDPULSE_SOURCE_DIR) +
                      "/pipelines/watchlists/nordic-spanish-telecoms.yaml";
    Diagnostics diagnostics;
    std::optional<WatchlistSpec> watchlist = LoadWatchlist(watchlist_path_, diagnostics);
    ASSERT_TRUE(watchlist.has_value()) << diagnostics.ToString();
    GeneratorSpec generator;
    generator.format = FirehoseFormat::kTwitterV2;
    generator.seed = 77;
    generator.count = 12000;
    generator.mention_share = 0.3;
    generator.malformed_share = 0.01;
    generator.posts_per_second = 20;
    generator.max_disorder_ms = 5000;
    generator.brands = GeneratedBrandsFrom(*watchlist);
    auto made = FirehoseGenerator::Make(generator);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    std::string lines;
    for (std::string record; (*made)->Next(record); record.clear()) {
      records_.push_back(record);
      lines += record + "\n";
    }
    WriteFile(work_ / "firehose.jsonl", lines);

    registry_ = OperatorRegistry::Default();
    registry_.AddSource("scripted", [this](YamlMap& section, const ConfigContext&)
                                        -> Result<std::unique_ptr<SourceSpec>> {
      RETURN_IF_ERROR(section.Finish());
      return SourceSpecOf("scripted", [script = script_](const SourceBuildContext&) {
        return Result<std::unique_ptr<Source>>(std::make_unique<ScriptedSource>(script));
      });
    });
    registry_.AddSink("flaky", [this](YamlMap& section, const ConfigContext&)
                                   -> Result<std::unique_ptr<SinkSpec>> {
      RETURN_IF_ERROR(section.Finish());
      return SinkSpecOf("flaky", [control = sink_](const SinkBuildContext& context) {
        return Result<std::unique_ptr<Sink>>(std::make_unique<FlakySink>(context.name, control));
      });
    });
    registry_.AddTransform("probe", [](YamlMap& section, const ConfigContext&)
                                        -> Result<std::unique_ptr<TransformSpec>> {
      RETURN_IF_ERROR(section.Finish());
      return TransformSpecOf(
          "probe",
          [](const TransformBuildContext&) {
            return Result<std::unique_ptr<Transform>>(std::make_unique<ProbeTransform>());
          },
          TransformTraits{.needs_before = {"decode"}});
    });
    registry_.AddAlertRule("count_closed", [](const std::string& name, YamlMap& section,
                                              const ConfigContext&)
                                               -> Result<std::unique_ptr<AlertRuleSpec>> {
      RETURN_IF_ERROR(section.Finish());
      return AlertRuleSpecOf(name, "count_closed", [name](const RuleBuildContext&) {
        return Result<std::unique_ptr<AlertRule>>(std::make_unique<CountingRule>(name));
      });
    });
  }
  void TearDown() override { fs::remove_all(work_); }

  // A pipeline over the firehose; `source`, `transforms`, `alerts_sink` and `extra_rules` are
  // YAML fragments.
  PipelineSpec Spec(const std::string& name, const std::string& source,
                    const std::string& alerts_sink, const std::string& transforms = "",
                    const std::string& extra_rules = "", const std::string& state_extra = "") {
    fs::path file = work_ / (name + ".yaml");
    WriteFile(file, fmt::format(R"(name: {name}
source: {source}
decode: {{format: twitter-v2}}
{transforms}
watchlist: {watchlist}
workers: 2
batch_records: 200
state: {{directory: state-{name}, commit_every_records: 1000{state_extra}}}
time: {{max_out_of_orderness: 30s, allowed_lateness: 30s}}
windows:
  - {{name: 1m, size: 1m, dimensions: [lang]}}
  - {{name: 5m, type: sliding, size: 5m, every: 1m}}
alerts:
  - {{name: busy, type: threshold, window: 1m, metric: mentions, above: 3}}
  - {{name: chatter, type: threshold, window: 5m, metric: replies, above: 2}}
{extra_rules}
sinks:
  alerts: {alerts_sink}
  dead_letter: {{type: file, path: out-{name}/dead.jsonl}}
)",
                                fmt::arg("name", name), fmt::arg("source", source),
                                fmt::arg("transforms", transforms),
                                fmt::arg("watchlist", watchlist_path_),
                                fmt::arg("state_extra", state_extra),
                                fmt::arg("extra_rules", extra_rules),
                                fmt::arg("alerts_sink", alerts_sink)));
    Diagnostics diagnostics;
    std::optional<PipelineSpec> spec = LoadPipelineSpec(file.string(), diagnostics, registry_);
    EXPECT_TRUE(spec.has_value()) << diagnostics.ToString();
    return spec.value_or(PipelineSpec{});
  }

  // The diagnostics of a pipeline that is wrong in its `transforms` line (line 3) or `sinks`.
  std::string ConfigErrors(const std::string& transforms, const std::string& sinks) {
    fs::path file = work_ / "bad-order.yaml";
    WriteFile(file, fmt::format(R"(source: {{type: file, path: firehose.jsonl}}
decode: {{format: twitter-v2}}
{}
watchlist: {}
state: {{directory: state-bad}}
windows: [{{name: 1m, size: 1m}}]
sinks:
{}
)", transforms, watchlist_path_, sinks));
    Diagnostics diagnostics;
    EXPECT_FALSE(LoadPipelineSpec(file.string(), diagnostics, registry_).has_value());
    return diagnostics.ToString();
  }

  // The reference: the same input from a file, alerts to a file.
  std::vector<std::string> ReferenceAlertIds(RunSummary* summary = nullptr) {
    PipelineSpec spec = Spec("reference", "{type: file, path: firehose.jsonl}",
                             "{type: file, path: out-reference/alerts.jsonl}");
    RunOptions options;
    options.fresh = true;
    Result<RunSummary> run = RunPipeline(spec, options);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    if (summary != nullptr && run.ok()) *summary = *run;
    std::vector<std::string> ids;
    for (const std::string& line : Lines(ReadFile(work_ / "out-reference" / "alerts.jsonl"))) {
      size_t begin = line.find("\"alert_id\":\"") + 12;
      ids.push_back(line.substr(begin, line.find('"', begin) - begin));
    }
    return ids;
  }

  fs::path work_;
  std::string watchlist_path_;
  std::vector<std::string> records_;
  OperatorRegistry registry_;
  std::shared_ptr<Script> script_ = std::make_shared<Script>();
  std::shared_ptr<SinkControl> sink_ = std::make_shared<SinkControl>();
};

TEST_F(SeamsTest, SinkThatFailsThenRecoversLosesNothingAndNeverBlocksIngestion) {
  std::vector<std::string> reference = ReferenceAlertIds();
  ASSERT_GT(reference.size(), 10u) << "the input must fire alerts for this test to mean much";

  // The receiver is down until the whole input has been read and committed.
  script_->records[0] = records_;
  sink_->down = true;
  SimulatedClock clock;
  PipelineSpec spec = Spec("flaky", "{type: scripted}", "{type: flaky}");
  RunOptions options;
  options.fresh = true;
  options.clock = &clock;
  int commits_while_down = 0;
  size_t delivered_while_down = 0;
  std::thread reviver([&] {
    while (!script_->ended) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    commits_while_down = script_->commits.load();
    {
      std::lock_guard lock(sink_->mutex);
      delivered_while_down = sink_->delivered_ids.size();
    }
    sink_->failures_left = 3;  // and a few more failures on the way back
    sink_->down = false;
  });
  Result<RunSummary> run = RunPipeline(spec, options);
  reviver.join();
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->records, records_.size());
  EXPECT_GE(commits_while_down, static_cast<int>(records_.size() / 1000) - 1)
      << "ingestion and commits went on while the receiver was down";
  EXPECT_EQ(delivered_while_down, 0u);
  EXPECT_GE(sink_->failed_calls.load(), 4);
  // Everything arrived, once, in the order the rules fired it.
  EXPECT_EQ(sink_->delivered_ids, reference);
  ASSERT_EQ(run->sinks.size(), 2u);
  EXPECT_EQ(run->sinks[0].name, "alerts");
  EXPECT_EQ(run->sinks[0].delivered, reference.size());
  EXPECT_GE(run->sinks[0].failures, 4u);
  EXPECT_EQ(run->sinks[0].pending, 0u);
  EXPECT_EQ(run->backpressure_waits, 0u) << "the default outbox bound was never reached";
}

TEST_F(SeamsTest, FullOutboxSlowsIngestionDownAndDropsNothing) {
  std::vector<std::string> reference = ReferenceAlertIds();
  // The receiver is down until the pipeline says it paused for the full outbox: so the pause
  // must happen, and ingestion must resume once the receiver is back.
  sink_->down = true;
  SimulatedClock clock;
  PipelineSpec spec = Spec("bounded", "{type: file, path: firehose.jsonl}", "{type: flaky}", "", "",
                           ", outbox_limit: 2");
  RunOptions options;
  options.fresh = true;
  options.clock = &clock;
  std::vector<std::string> notices;
  options.on_notice = [&](const std::string& message) {
    notices.push_back(message);
    if (message.find("ingestion paused") != std::string::npos) sink_->down = false;
  };
  Result<RunSummary> run = RunPipeline(spec, options);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_GE(run->backpressure_waits, 1u);
  EXPECT_EQ(run->records, records_.size());
  EXPECT_EQ(sink_->delivered_ids, reference);
  bool resumed = false;
  for (const std::string& notice : notices) resumed |= notice.find("ingestion resumed") != std::string::npos;
  EXPECT_TRUE(resumed) << "the pipeline says when it goes on";
}

TEST_F(SeamsTest, UndeliveredAlertsStayInTheOutboxAndGoOutAfterARestart) {
  std::vector<std::string> reference = ReferenceAlertIds();
  script_->records[0] = records_;
  sink_->down = true;
  std::atomic<bool> stop{false};
  SimulatedClock clock;
  PipelineSpec spec = Spec("restart", "{type: scripted}", "{type: flaky}");
  RunOptions options;
  options.fresh = true;
  options.clock = &clock;
  options.stop_requested = &stop;
  // The input ends, the receiver stays down, the operator stops the engine.
  std::thread stopper([&] {
    while (!script_->ended) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop = true;
  });
  Result<RunSummary> first = RunPipeline(spec, options);
  stopper.join();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(sink_->delivered_ids.empty());
  EXPECT_EQ(first->sinks[0].pending, reference.size());

  // Restart with the receiver back: the outbox's leftovers go out first, nothing is lost.
  sink_->down = false;
  stop = false;
  options.fresh = false;
  Result<RunSummary> second = RunPipeline(spec, options);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->records, 0u) << "the input was committed to its end by the first run";
  // Leftovers go out in outbox (id) order, each once.
  std::vector<std::string> delivered = sink_->delivered_ids;
  std::sort(delivered.begin(), delivered.end());
  std::sort(reference.begin(), reference.end());
  EXPECT_EQ(delivered, reference);
}

TEST_F(SeamsTest, EntryRefusedForGoodGoesToTheDeadLettersAndTheRestIsDelivered) {
  std::vector<std::string> reference = ReferenceAlertIds();
  ASSERT_GT(reference.size(), 3u);
  sink_->refuse_id = reference[2];
  SimulatedClock clock;
  PipelineSpec spec = Spec("refused", "{type: file, path: firehose.jsonl}", "{type: flaky}");
  RunOptions options;
  options.fresh = true;
  options.clock = &clock;
  std::vector<std::string> notices;
  options.on_notice = [&](const std::string& message) { notices.push_back(message); };
  Result<RunSummary> run = RunPipeline(spec, options);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  std::vector<std::string> expected = reference;
  expected.erase(expected.begin() + 2);
  EXPECT_EQ(sink_->delivered_ids, expected);
  EXPECT_EQ(run->sinks[0].given_up, 1u);
  EXPECT_EQ(run->sinks[0].pending, 0u);
  std::string dead = ReadFile(work_ / "out-refused" / "dead.jsonl");
  EXPECT_NE(dead.find("\"reason\":\"refused by sink 'alerts': invalid argument: 400 bad request\""),
            std::string::npos) << dead.substr(0, 2000);
  EXPECT_NE(dead.find(reference[2]), std::string::npos) << "the refused alert itself is kept";
  bool said_so = false;
  for (const std::string& notice : notices) said_so |= notice.find("refused") != std::string::npos;
  EXPECT_TRUE(said_so);
}

TEST_F(SeamsTest, SourceThatLosesAPartitionCommitsItFirst) {
  // Two partitions: even records on 0, odd records on 1 (each in its own order).
  for (size_t index = 0; index < records_.size(); ++index) {
    script_->records[index % 2].push_back(records_[index]);
  }
  script_->lose = 1;
  script_->lose_after_fills = 12;  // after some batches of both partitions
  PipelineSpec spec = Spec("partitions", "{type: scripted}",
                           "{type: file, path: out-partitions/alerts.jsonl}");
  RunOptions options;
  options.fresh = true;
  Result<RunSummary> run = RunPipeline(spec, options);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->partitions_lost, 1u);

  // Before the source let partition 1 go, a commit held its last position.
  std::vector<std::string> events = script_->events;
  auto released = std::find(events.begin(), events.end(), "released 1");
  ASSERT_NE(released, events.end());
  ASSERT_NE(released, events.begin());
  const uint64_t read = script_->read_before_loss[1];
  EXPECT_GT(read, 0u);
  const std::string& commit = *(released - 1);
  EXPECT_TRUE(commit.starts_with("commit 0@")) << commit;
  EXPECT_TRUE(commit.ends_with(fmt::format(" 1@{}", read))) << commit;
  // After the loss, commits carry partition 0 only, and partition 0 was read to its end.
  EXPECT_EQ(events.back(), fmt::format("commit 0@{}", script_->records[0].size()));
  EXPECT_EQ(run->records, script_->records[0].size() + read);

  // The state holds exactly what was read: the committed position of each partition.
  auto store = StateStore::Open(StateOptions{(work_ / "state-partitions").string()});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->ReadPosition("scripted", 1).value(), std::optional<uint64_t>(read));
  EXPECT_EQ((*store)->ReadPosition("scripted", 0).value(),
            std::optional<uint64_t>(script_->records[0].size()));
}

// A partition that comes back (a rebalance gives it to this instance again) resumes from its
// committed position: every record is counted once over both runs.
TEST_F(SeamsTest, GainedPartitionResumesFromItsCommittedPosition) {
  for (size_t index = 0; index < records_.size(); ++index) {
    script_->records[index % 2].push_back(records_[index]);
  }
  PipelineSpec spec = Spec("gain", "{type: scripted}", "{type: file, path: out-gain/alerts.jsonl}");
  RunOptions first;
  first.fresh = true;
  first.stop_after_records = records_.size() / 3;  // both partitions part-way, committed
  Result<RunSummary> started = RunPipeline(spec, first);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  ASSERT_LT(started->records, records_.size());

  // Restart with only partition 0 assigned; partition 1 arrives after a few batches.
  script_->gain = {1};
  script_->gain_after_fills = 5;
  RunOptions second;
  Result<RunSummary> finished = RunPipeline(spec, second);
  ASSERT_TRUE(finished.ok()) << finished.status().ToString();
  EXPECT_EQ(finished->partitions_gained, 1u);
  EXPECT_EQ(started->records + finished->records, records_.size())
      << "each record read once over the two runs";
  auto store = StateStore::Open(StateOptions{(work_ / "state-gain").string()});
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->ReadPosition("scripted", 1).value(),
            std::optional<uint64_t>(script_->records[1].size()));
}

TEST_F(SeamsTest, TransformInsertedIntoTheChainAndReloadStillWork) {
  PipelineSpec plain = Spec("plain", "{type: file, path: firehose.jsonl}",
                            "{type: file, path: out-plain/alerts.jsonl}");
  RunOptions options;
  options.fresh = true;
  ASSERT_TRUE(RunPipeline(plain, options).ok());

  // The probe between decode and match: the positional runner assumed match came second.
  PipelineSpec probed = Spec("probed", "{type: file, path: firehose.jsonl}",
                             "{type: file, path: out-probed/alerts.jsonl}",
                             "transforms: [decode, probe, match, window]");
  ASSERT_EQ(probed.transforms.size(), 4u);
  std::atomic<bool> reload{true};
  RunOptions reloading;
  reloading.fresh = true;
  reloading.reload_requested = &reload;
  int reloads = 0;
  reloading.on_reload = [&](bool swapped, const std::string& error) {
    EXPECT_TRUE(swapped) << error;
    if (++reloads < 5) reload = true;  // ask again: several swaps during the run
  };
  posts_seen_by_probe = 0;
  Result<RunSummary> run = RunPipeline(probed, reloading);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_GE(run->watchlist_reloads, 2u);
  EXPECT_EQ(posts_seen_by_probe.load(), run->posts);
  EXPECT_EQ(DumpWindows(work_ / "state-probed"), DumpWindows(work_ / "state-plain"));
  EXPECT_EQ(brandpulse_test::StripAlertTimes(ReadFile(work_ / "out-probed" / "alerts.jsonl")),
            brandpulse_test::StripAlertTimes(ReadFile(work_ / "out-plain" / "alerts.jsonl")));
}

TEST_F(SeamsTest, TransformChainOrderIsChecked) {
  const std::string dead_letter = "  dead_letter: {type: file, path: dead.jsonl}";
  std::string text = ConfigErrors("transforms: [decode, window, match, probe2]", dead_letter);
  EXPECT_NE(text.find("bad-order.yaml:3:22: error: transform 'window' needs 'match' before it"),
            std::string::npos) << text;
  EXPECT_NE(text.find("unknown transform 'probe2' (hint: did you mean 'probe'?)"),
            std::string::npos) << text;

  // A transform twice would decode or count every post twice; options left at the top level
  // for a transform configured in its own entry are not silently ignored.
  text = ConfigErrors("transforms: [{type: decode, format: twitter-v2}, match, match, window]",
                      dead_letter);
  EXPECT_NE(text.find("bad-order.yaml:3:13: error: transform 'match' is listed twice"),
            std::string::npos) << text;
  EXPECT_NE(text.find("bad-order.yaml:2:9: error: 'decode:' is not used (hint: transforms: "
                      "configures decode in its own entry; move these options there)"),
            std::string::npos) << text;
}

TEST_F(SeamsTest, SeveralSinksOfAStreamAreNamedAndEachDeliversEverything) {
  std::vector<std::string> reference = ReferenceAlertIds();
  PipelineSpec spec = Spec("two", "{type: file, path: firehose.jsonl}",
                           "[{type: file, path: out-two/a.jsonl}, {type: flaky, name: pager}]");
  ASSERT_EQ(spec.SinksOf(kAlertsStream).size(), 2u);
  EXPECT_EQ(spec.SinksOf(kAlertsStream)[0]->name, "alerts");
  EXPECT_EQ(spec.SinksOf(kAlertsStream)[1]->name, "pager");
  sink_->failures_left = 5;  // the pager is flaky; the file is not held back by it
  SimulatedClock clock;
  RunOptions options;
  options.fresh = true;
  options.clock = &clock;
  Result<RunSummary> run = RunPipeline(spec, options);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(sink_->delivered_ids, reference);
  EXPECT_EQ(Lines(ReadFile(work_ / "out-two" / "a.jsonl")).size(), reference.size());

  std::string text = ConfigErrors(
      "",
      "  alerts: [{type: file, path: a.jsonl, name: x}, {type: stdout, name: x}, "
      "{type: file, path: b, name: a/b}]\n"
      "  dead_letter: {type: fiel, path: dead.jsonl}");
  EXPECT_NE(text.find("two sinks are named 'x'"), std::string::npos) << text;
  EXPECT_NE(text.find("invalid sink name 'a/b'"), std::string::npos) << text;
  EXPECT_NE(text.find("'fiel' is not a valid type for sink 'dead_letter' (hint: did you mean 'file'?"),
            std::string::npos) << text;
}

TEST_F(SeamsTest, AlertRuleStateIsCommittedWithTheEpochAndRestored) {
  const std::string rule = "  - {name: counter, type: count_closed}";
  PipelineSpec whole = Spec("whole", "{type: file, path: firehose.jsonl}",
                            "{type: file, path: out-whole/alerts.jsonl}", "", rule);
  RunOptions options;
  options.fresh = true;
  ASSERT_TRUE(RunPipeline(whole, options).ok());

  PipelineSpec halves = Spec("halves", "{type: file, path: firehose.jsonl}",
                             "{type: file, path: out-halves/alerts.jsonl}", "", rule);
  RunOptions first = options;
  first.stop_after_records = records_.size() / 2;
  ASSERT_TRUE(RunPipeline(halves, first).ok());
  RunOptions second;
  Result<RunSummary> resumed = RunPipeline(halves, second);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_TRUE(resumed->resumed);

  auto closed_count = [&](const std::string& name) {
    std::string value;
    auto store = StateStore::Open(StateOptions{(work_ / ("state-" + name)).string()});
    EXPECT_TRUE(store.ok());
    EXPECT_TRUE((*store)->ScanRuleState("counter", [&](std::string_view key, std::string_view v) {
      if (key == "closed") value = std::string(v);
    }).ok());
    return value;
  };
  EXPECT_FALSE(closed_count("whole").empty());
  EXPECT_NE(closed_count("whole"), "0");
  EXPECT_EQ(closed_count("halves"), closed_count("whole"));
  EXPECT_EQ(DumpWindows(work_ / "state-halves"), DumpWindows(work_ / "state-whole"));
}

}  // namespace
}  // namespace brandpulse
