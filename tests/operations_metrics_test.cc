// Operations (docs/operations.md): the metrics registry and its text format, the pipeline's
// metrics scraped from a running pipeline over HTTP and checked by `promtool check metrics`,
// /healthz and /readyz, the dashboard's JSON, and secrets kept out of logs.
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "engine/log.h"
#include "engine/metrics.h"
#include "generator/firehose_generator.h"
#include "generator/generator_source.h"
#include "operators/watchlist.h"
#include "pipeline/http_operations.h"
#include "pipeline/metrics.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
using brandpulse_test::MakeTempDirectory;
using brandpulse_test::ReadFile;
using brandpulse_test::WriteFile;

// The value of one sample ("name{labels}") in a text exposition, or -1 when absent.
double SampleValue(const std::string& text, const std::string& sample) {
  size_t at = 0;
  while ((at = text.find(sample + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + sample.size() + 1));
    at += sample.size();
  }
  return -1;
}

// Runs `promtool check metrics` on `text`: its exit code and what it said.
std::pair<int, std::string> PromtoolCheck(const std::string& text, const fs::path& work) {
  WriteFile(work / "scrape.txt", text);
  std::string command = fmt::format("promtool check metrics < '{}' 2>&1", (work / "scrape.txt").string());
  std::FILE* pipe = ::popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  size_t count;
  while ((count = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, count);
  int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

bool HavePromtool() { return std::system("command -v promtool >/dev/null 2>&1") == 0; }

TEST(MetricsRegistryTest, RendersCountersGaugesHistogramsAndCollectorsInTextFormat) {
  MetricsRegistry registry;
  MetricCounter& requests = registry.GetCounter("demo_requests_total", "Requests", {{"code", "200"}});
  requests.Add(3);
  registry.GetCounter("demo_requests_total", "Requests", {{"code", "200"}}).Add();  // same one
  registry.GetCounter("demo_requests_total", "Requests", {{"code", "5\"x\\\n"}}).Add(2);
  registry.GetGauge("demo_temperature_celsius", "Heat").Set(21.5);
  MetricHistogram& latency = registry.GetHistogram("demo_latency_seconds", "Latency", {0.1, 1});
  latency.Observe(0.05);
  latency.Observe(0.5);
  latency.Observe(7);
  registry.DescribeCounterFamily("demo_events_total", "Events, by kind (none yet)");
  MetricsCollectorHandle handle = registry.AddCollector([](MetricsWriter& writer) {
    writer.Gauge("demo_depth", "Depth", {{"sink", "a"}}, 4);
  });
  std::string text = registry.Render();
  EXPECT_EQ(SampleValue(text, "demo_requests_total{code=\"200\"}"), 4);
  EXPECT_NE(text.find("demo_requests_total{code=\"5\\\"x\\\\\\n\"} 2\n"), std::string::npos) << text;
  EXPECT_EQ(SampleValue(text, "demo_temperature_celsius"), 21.5);
  EXPECT_EQ(SampleValue(text, "demo_latency_seconds_bucket{le=\"0.1\"}"), 1);
  EXPECT_EQ(SampleValue(text, "demo_latency_seconds_bucket{le=\"1\"}"), 2);
  EXPECT_EQ(SampleValue(text, "demo_latency_seconds_bucket{le=\"+Inf\"}"), 3);
  EXPECT_EQ(SampleValue(text, "demo_latency_seconds_count"), 3);
  EXPECT_EQ(SampleValue(text, "demo_latency_seconds_sum"), 7.55);
  EXPECT_EQ(SampleValue(text, "demo_depth{sink=\"a\"}"), 4);
  EXPECT_NE(text.find("# TYPE demo_latency_seconds histogram\n"), std::string::npos);
  // A described family is listed before anything happened.
  EXPECT_NE(text.find("# TYPE demo_events_total counter\n"), std::string::npos) << text;
  // One HELP and TYPE per family, before its samples.
  EXPECT_EQ(text.find("# TYPE demo_requests_total counter"),
            text.rfind("# TYPE demo_requests_total counter"));
  handle.Reset();
  EXPECT_EQ(registry.Render().find("demo_depth"), std::string::npos);
  if (!HavePromtool()) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  fs::path work = MakeTempDirectory("metrics-registry");
  auto [code, said] = PromtoolCheck(text, work);
  EXPECT_EQ(code, 0) << said << text;
}

TEST(PipelineMetricsTest, BrandMentionsKeepBoundedLabelsAndOnlyGoUp) {
  MetricsRegistry registry;
  PipelineMetrics metrics(registry, "top", 2);
  auto publish = [&](std::vector<std::pair<std::string, uint64_t>> counts) {
    std::vector<BrandFigures> brands;
    for (auto& [id, mentions] : counts) brands.push_back(BrandFigures{id, id, mentions, 0});
    metrics.PublishBrands(std::move(brands));
    return registry.Render();
  };
  std::string first = publish({{"a", 5}, {"b", 50}, {"c", 0}, {"d", 1}});
  // Top 2 by mentions get labels; the rest are "other".
  EXPECT_EQ(SampleValue(first, "brandpulse_brand_mentions_total{brand=\"b\"}"), 50);
  EXPECT_EQ(SampleValue(first, "brandpulse_brand_mentions_total{brand=\"a\"}"), 5);
  EXPECT_EQ(SampleValue(first, "brandpulse_brand_mentions_total{brand=\"other\"}"), 1);
  EXPECT_EQ(SampleValue(first, "brandpulse_brand_mentions_total{brand=\"d\"}"), -1);
  // d overtakes a: the labelled set stays (no series disappears), d's growth goes to "other".
  std::string second = publish({{"a", 6}, {"b", 60}, {"c", 0}, {"d", 100}});
  EXPECT_EQ(SampleValue(second, "brandpulse_brand_mentions_total{brand=\"a\"}"), 6);
  EXPECT_EQ(SampleValue(second, "brandpulse_brand_mentions_total{brand=\"b\"}"), 60);
  EXPECT_EQ(SampleValue(second, "brandpulse_brand_mentions_total{brand=\"other\"}"), 100);
  EXPECT_EQ(SampleValue(second, "brandpulse_brand_mentions_total{brand=\"d\"}"), -1);
}

TEST(PipelineMetricsTest, DeadLetterReasonsDropDetailsAfterTheColon) {
  EXPECT_EQ(PipelineMetrics::ReasonLabel("invalid JSON: unexpected byte at 17"), "invalid JSON");
  EXPECT_EQ(PipelineMetrics::ReasonLabel("record is not a JSON object"), "record is not a JSON object");
  EXPECT_EQ(PipelineMetrics::ReasonLabel(""), "unknown");
  EXPECT_EQ(PipelineMetrics::ReasonLabel(std::string(300, 'x')).size(), 64u);
}

TEST(OperationsRoutesTest, ReadyzIs503UntilThePipelineIsReady) {
  MetricsRegistry registry;
  PipelineMetrics metrics(registry, "health");
  HttpRoutes routes;
  AddOperationsRoutes(routes, registry, &metrics);
  auto server = HttpServer::Start(HttpServerOptions{}, std::move(routes));
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  int port = (*server)->port();
  ASSERT_GT(port, 0);
  httplib::Client client("127.0.0.1", port);
  auto healthz = client.Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);
  auto not_ready = client.Get("/readyz");
  ASSERT_TRUE(not_ready);
  EXPECT_EQ(not_ready->status, 503);
  metrics.SetReady(true);
  auto ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  auto page = client.Get("/dashboard/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("brandpulse dashboard"), std::string::npos);
  auto chart = client.Get("/dashboard/vendor/uplot-1.6.31.min.js");
  ASSERT_TRUE(chart);
  EXPECT_EQ(chart->status, 200);
  EXPECT_GT(chart->body.size(), 10000u);
  EXPECT_EQ(client.Get("/dashboard/nope.js")->status, 404);
  EXPECT_EQ(client.Get("/ops/alerts?after=x")->status, 400);
}

TEST(LogTest, SecretsAreMaskedInTextAndJsonLines) {
  EXPECT_EQ(RedactSecrets("POST https://bot:hunter2@hooks.example.com/x failed"),
            "POST https://bot:***@hooks.example.com/x failed");
  EXPECT_EQ(RedactSecrets("https://h.example.com/hook?token=s3cr3t&x=1"),
            "https://h.example.com/hook?token=***&x=1");
  EXPECT_EQ(RedactSecrets("Authorization: Bearer abc.def"), "Authorization: Bearer ***");
  EXPECT_EQ(RedactSecrets("sasl.password=pa55 api_key: k3y"), "sasl.password=*** api_key: ***");
  EXPECT_EQ(RedactSecrets("config.yaml:3:7: unknown key 'brands'"),
            "config.yaml:3:7: unknown key 'brands'");

  ConfigureLogging(LogLevel::kInfo, LogFormat::kJson);
  testing::internal::CaptureStderr();
  LogWarn("delivery failed", {{"url", "https://u:hunter2@example.com/?token=s3cr3t"}});
  LogDebug("not shown at info");
  std::string json = testing::internal::GetCapturedStderr();
  ConfigureLogging(LogLevel::kInfo, LogFormat::kText);
  EXPECT_EQ(json.find("hunter2"), std::string::npos) << json;
  EXPECT_EQ(json.find("s3cr3t"), std::string::npos) << json;
  EXPECT_EQ(json.find("not shown"), std::string::npos) << json;
  EXPECT_TRUE(std::regex_search(
      json, std::regex(R"(^\{"ts":"[0-9T:.-]+Z","level":"warning","msg":"delivery failed","url":"https://u:\*\*\*@example.com/\?token=\*\*\*"\}\n$)")))
      << json;
}

// A pipeline that follows a file while the test appends to it, with the API on a free port.
class RunningPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = MakeTempDirectory("operations-metrics");
    Diagnostics diagnostics;
    std::string watchlist_path = std::string(BRANDPULSE_SOURCE_DIR) +
                                 "/pipelines/watchlists/nordic-spanish-telecoms.yaml";
    std::optional<WatchlistSpec> watchlist = LoadWatchlist(watchlist_path, diagnostics);
    ASSERT_TRUE(watchlist.has_value()) << diagnostics.ToString();
    GeneratorSpec generator;
    generator.format = FirehoseFormat::kTwitterV2;
    generator.seed = 15;
    generator.count = 6000;
    generator.mention_share = 0.5;
    generator.malformed_share = 0.01;
    generator.posts_per_second = 5;
    generator.brands = GeneratedBrandsFrom(*watchlist);
    auto made = FirehoseGenerator::Make(generator);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    std::string record;
    while (true) {
      record.clear();
      if (!(*made)->Next(record)) break;
      records_.push_back(record);
    }
    WriteFile(work_ / "firehose.jsonl", "");
    WriteFile(work_ / "pipeline.yaml", fmt::format(R"(name: operations
source: {{type: file, path: firehose.jsonl, follow: true}}
decode: {{format: twitter-v2}}
watchlist: {}
batch_records: 256
state: {{directory: state, commit_every_records: 1000, commit_interval: 100ms}}
time: {{max_out_of_orderness: 30s, allowed_lateness: 30s}}
windows:
  - {{name: 5m, size: 5m}}
alerts:
  - {{name: busy, type: threshold, window: 5m, metric: mentions, above: 20}}
sinks:
  alerts: {{type: file, path: out/alerts.jsonl}}
  dead_letter: {{type: file, path: out/dead.jsonl}}
)",
                                                   watchlist_path));
  }
  void TearDown() override { fs::remove_all(work_); }

  void Append(size_t begin, size_t end) {
    std::ofstream out(work_ / "firehose.jsonl", std::ios::app | std::ios::binary);
    for (size_t i = begin; i < end; ++i) out << records_[i] << '\n';
  }

  fs::path work_;
  std::vector<std::string> records_;
};

TEST_F(RunningPipelineTest, MetricsMoveWhileRunningAndPassPromtool) {
  Diagnostics diagnostics;
  std::optional<PipelineSpec> spec = LoadPipelineSpec((work_ / "pipeline.yaml").string(), diagnostics);
  ASSERT_TRUE(spec.has_value()) << diagnostics.ToString();
  std::atomic<bool> stop{false};
  std::atomic<int> port{0};
  RunOptions options;
  options.fresh = true;
  options.stop_requested = &stop;
  options.api_listen = "127.0.0.1:0";
  options.on_api_ready = [&](const std::string& address) {
    port = std::stoi(address.substr(address.rfind(':') + 1));
  };
  Result<RunSummary> summary = Status::Internal("not run");
  std::thread runner([&] { summary = RunPipeline(*spec, options); });
  for (int i = 0; i < 200 && port.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_NE(port.load(), 0);
  httplib::Client client("127.0.0.1", port.load());
  auto ready = [&] {
    auto response = client.Get("/readyz");
    return response && response->status == 200;
  };
  for (int i = 0; i < 200 && !ready(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(ready());
  auto scrape_when = [&](const std::function<bool(const std::string&)>& done) {
    std::string text;
    for (int i = 0; i < 300; ++i) {
      auto response = client.Get("/metrics");
      if (response && response->status == 200) {
        text = response->body;
        if (done(text)) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    return text;
  };
  const size_t half = records_.size() / 2;
  Append(0, half);
  std::string first = scrape_when([&](const std::string& text) {
    return SampleValue(text, "brandpulse_records_read_total") >= half;
  });
  Append(half, records_.size());
  std::string second = scrape_when([&](const std::string& text) {
    return SampleValue(text, "brandpulse_records_read_total") >= records_.size();
  });
  auto status = client.Get("/ops/status");
  auto alerts = client.Get("/ops/alerts?after=0");
  stop = true;
  runner.join();
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();

  // The registry is the process's: other runs in this process count too, so compare deltas
  // between the two scrapes, and this run's totals with its summary.
  double records_1 = SampleValue(first, "brandpulse_records_read_total");
  double records_2 = SampleValue(second, "brandpulse_records_read_total");
  EXPECT_GE(records_1, half);
  EXPECT_EQ(records_2 - records_1, records_.size() - half) << second;
  EXPECT_GT(SampleValue(second, "brandpulse_posts_decoded_total"),
            SampleValue(first, "brandpulse_posts_decoded_total"));
  EXPECT_GT(SampleValue(second, "brandpulse_mentions_total"), SampleValue(first, "brandpulse_mentions_total"));
  EXPECT_GT(SampleValue(second, "brandpulse_posts_matched_total"), 0);
  EXPECT_LE(SampleValue(second, "brandpulse_posts_matched_total"), SampleValue(second, "brandpulse_mentions_total"));
  EXPECT_GT(SampleValue(second, "brandpulse_batches_total"), SampleValue(first, "brandpulse_batches_total"));
  EXPECT_GT(SampleValue(second, "brandpulse_commits_total"), 0);
  EXPECT_GT(SampleValue(second, "brandpulse_commit_duration_seconds_count"), 0);
  EXPECT_GT(SampleValue(second, "brandpulse_window_updates_total"), 0);
  EXPECT_GT(SampleValue(second, "brandpulse_windows_closed_total"), 0);
  EXPECT_GE(SampleValue(second, "brandpulse_windows_open"), 0);
  EXPECT_GT(SampleValue(second, "brandpulse_watermark_timestamp_seconds"), 1.6e9);
  EXPECT_EQ(SampleValue(second, "brandpulse_ready"), 1);
  EXPECT_GT(SampleValue(second, "brandpulse_rocksdb_memory_bytes{kind=\"memtables\"}"), 0);
  EXPECT_GE(SampleValue(second, "brandpulse_rocksdb_write_stalls_total{kind=\"stop\"}"), 0);
  EXPECT_GE(SampleValue(second, "brandpulse_outbox_entries{sink=\"alerts\"}"), 0) << second;
  EXPECT_GE(SampleValue(second, "brandpulse_sink_deliveries_total{sink=\"alerts\"}"), 0);
  EXPECT_GT(SampleValue(second, "brandpulse_alerts_total{rule=\"busy\"}"), 0) << second;
  EXPECT_NE(second.find("brandpulse_dead_letters_total{reason="), std::string::npos) << second;
  EXPECT_NE(second.find("brandpulse_brand_mentions_total{brand=\"telenor\"}"), std::string::npos);
  EXPECT_NE(second.find("brandpulse_brand_mentions_total{brand=\"other\"}"), std::string::npos);
  EXPECT_EQ(summary->records, records_.size());

  // The dashboard's JSON.
  ASSERT_TRUE(status);
  EXPECT_NE(status->body.find("\"pipeline\":\"operations\""), std::string::npos) << status->body;
  EXPECT_NE(status->body.find(fmt::format("\"records\":{}", records_.size())), std::string::npos)
      << status->body;
  ASSERT_TRUE(alerts);
  EXPECT_NE(alerts->body.find("\"rule\":\"busy\""), std::string::npos) << alerts->body;

  if (!HavePromtool()) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  auto [code, said] = PromtoolCheck(second, work_);
  EXPECT_EQ(code, 0) << said << "\n" << second;
}

TEST_F(RunningPipelineTest, WatchlistReloadsAndTheLastErrorAreExported) {
  std::string original = ReadFile(fs::path(BRANDPULSE_SOURCE_DIR) /
                                  "pipelines/watchlists/nordic-spanish-telecoms.yaml");
  WriteFile(work_ / "watchlist.yaml", original);
  std::string pipeline = ReadFile(work_ / "pipeline.yaml");
  size_t at = pipeline.find("watchlist: ");
  pipeline.replace(at, pipeline.find('\n', at) - at, "watchlist: watchlist.yaml");
  WriteFile(work_ / "pipeline.yaml", pipeline);
  Diagnostics diagnostics;
  std::optional<PipelineSpec> spec = LoadPipelineSpec((work_ / "pipeline.yaml").string(), diagnostics);
  ASSERT_TRUE(spec.has_value()) << diagnostics.ToString();
  std::atomic<bool> stop{false};
  std::atomic<int> port{0};
  std::atomic<int> reloads{0};
  RunOptions options;
  options.fresh = true;
  options.stop_requested = &stop;
  options.watch_watchlist_file = false;
  options.api_listen = "127.0.0.1:0";
  options.on_api_ready = [&](const std::string& address) {
    port = std::stoi(address.substr(address.rfind(':') + 1));
  };
  options.on_reload = [&](bool, const std::string&) { ++reloads; };
  Result<RunSummary> summary = Status::Internal("not run");
  std::thread runner([&] { summary = RunPipeline(*spec, options); });
  for (int i = 0; i < 200 && port.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_NE(port.load(), 0);
  httplib::Client client("127.0.0.1", port.load());
  auto reload_and_wait = [&](int count) {
    client.Post("/api/v1/reload", "", "text/plain");
    for (int i = 0; i < 300 && reloads.load() < count; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(reloads.load(), count);
    return client.Get("/metrics")->body;
  };
  std::string before = client.Get("/metrics")->body;
  WriteFile(work_ / "watchlist.yaml", "brands:\n  - id: broken\n    terms: [\n");
  std::string failed = reload_and_wait(1);
  std::string status = client.Get("/ops/status")->body;
  WriteFile(work_ / "watchlist.yaml", original);
  std::string swapped = reload_and_wait(2);
  stop = true;
  runner.join();
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  const std::string kFailures = "brandpulse_watchlist_reloads_total{result=\"failure\"}";
  const std::string kSuccesses = "brandpulse_watchlist_reloads_total{result=\"success\"}";
  EXPECT_EQ(SampleValue(failed, kFailures) - SampleValue(before, kFailures), 1);
  EXPECT_EQ(SampleValue(failed, "brandpulse_watchlist_last_reload_failed"), 1);
  EXPECT_GT(SampleValue(failed, "brandpulse_watchlist_last_reload_timestamp_seconds"), 1.6e9);
  EXPECT_NE(status.find("\"last_reload_error\":\""), std::string::npos);
  EXPECT_NE(status.find("watchlist.yaml:"), std::string::npos) << status;  // file:line:column
  EXPECT_EQ(SampleValue(swapped, kSuccesses) - SampleValue(before, kSuccesses), 1);
  EXPECT_EQ(SampleValue(swapped, "brandpulse_watchlist_last_reload_failed"), 0);
}

TEST_F(RunningPipelineTest, MetricsListenerServesWithoutTheQueryApi) {
  Diagnostics diagnostics;
  std::optional<PipelineSpec> spec = LoadPipelineSpec((work_ / "pipeline.yaml").string(), diagnostics);
  ASSERT_TRUE(spec.has_value()) << diagnostics.ToString();
  std::atomic<bool> stop{false};
  std::atomic<int> port{0};
  RunOptions options;
  options.fresh = true;
  options.stop_requested = &stop;
  options.metrics_listen = "127.0.0.1:0";
  options.on_metrics_ready = [&](const std::string& address) {
    port = std::stoi(address.substr(address.rfind(':') + 1));
  };
  Result<RunSummary> summary = Status::Internal("not run");
  std::thread runner([&] { summary = RunPipeline(*spec, options); });
  for (int i = 0; i < 200 && port.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_NE(port.load(), 0);
  httplib::Client client("127.0.0.1", port.load());
  auto metrics = client.Get("/metrics");
  auto query = client.Get("/api/v1/brands");
  stop = true;
  runner.join();
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("# TYPE brandpulse_records_read_total counter"), std::string::npos);
  ASSERT_TRUE(query);
  EXPECT_EQ(query->status, 404);  // the query API is off on this listener
}

}  // namespace
}  // namespace brandpulse
