// The query layer and the HTTP API over real RocksDB state: windows written by hand with known
// counts, answers checked against sums done here; the HTTP server answered through a real socket
// (cpp-httplib's client), and served live from inside a running pipeline.
#include "pipeline/window_queries.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "pipeline/http_api.h"
#include "pipeline/pipeline_runner.h"
#include "generator/firehose_generator.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
using brandpulse_test::MakeTempDirectory;

constexpr int64_t kMinute = 60'000;
constexpr int64_t kStart = 1767225600000;  // 2026-01-01T00:00:00Z

WindowSpec Tumbling(std::string name, int64_t size_ms) {
  WindowSpec window;
  window.name = std::move(name);
  window.size_ms = size_ms;
  return window;
}

BrandSpec Brand(std::string id, std::string group) {
  BrandSpec brand;
  brand.name = id + " Inc";
  brand.id = std::move(id);
  brand.group = std::move(group);
  return brand;
}

WindowMetrics Metrics(uint64_t mentions, uint64_t first_author, uint64_t authors, uint64_t reach) {
  WindowMetrics metrics;
  for (uint64_t i = 0; i < mentions; ++i) {
    metrics.AddMention(0x9E3779B97F4A7C15ull * (first_author + i % authors), 0);
  }
  metrics.reach = reach;
  return metrics;
}

class WindowQueriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = MakeTempDirectory("window-queries");
    spec_.name = "queries";
    spec_.state_directory = (work_ / "state").string();
    spec_.windows = {Tumbling("1m", kMinute), Tumbling("10m", 10 * kMinute)};
    spec_.watchlist.brands = {Brand("acme", "shops"), Brand("bolt", "shops"), Brand("cirrus", "")};
    auto store = StateStore::Open(StateOptions{spec_.state_directory});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    StateStore::Commit commit = (*store)->NewCommit();
    // acme: 1-minute windows 0..9 with 10+i mentions; bolt: minutes 5 and 6 with 100 each;
    // cirrus: minute 2 only. 10-minute windows hold the sums.
    WindowMetrics acme_ten, bolt_ten, cirrus_ten;
    for (int minute = 0; minute < 10; ++minute) {
      WindowMetrics acme = Metrics(10 + minute, minute * 5, 5, 1000 + minute);
      commit.MergeWindow(WindowKey{"acme", kMinute, kStart + minute * kMinute}, acme);
      acme_ten.Merge(acme);
    }
    for (int minute : {5, 6}) {
      WindowMetrics bolt = Metrics(100, 10'000, 40, 7);
      commit.MergeWindow(WindowKey{"bolt", kMinute, kStart + minute * kMinute}, bolt);
      bolt_ten.Merge(bolt);
    }
    cirrus_ten = Metrics(3, 500, 3, 0);
    commit.MergeWindow(WindowKey{"cirrus", kMinute, kStart + 2 * kMinute}, cirrus_ten);
    commit.MergeWindow(WindowKey{"acme", 10 * kMinute, kStart}, acme_ten);
    commit.MergeWindow(WindowKey{"bolt", 10 * kMinute, kStart}, bolt_ten);
    commit.MergeWindow(WindowKey{"cirrus", 10 * kMinute, kStart}, cirrus_ten);
    commit.SetMeta("max_event_time", std::to_string(kStart + 9 * kMinute + 30'000));
    ASSERT_TRUE((*store)->Write(commit).ok());
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(work_);
  }

  fs::path work_;
  PipelineSpec spec_;
  std::unique_ptr<StateStore> store_;
};

TEST(ParseQueryTimeTest, AcceptsEpochIsoNowAndRelative) {
  const int64_t now = kStart + 5 * kMinute;
  EXPECT_EQ(ParseQueryTime("1767225600000", now), kStart);
  EXPECT_EQ(ParseQueryTime("2026-01-01T00:00:00Z", now), kStart);
  EXPECT_EQ(ParseQueryTime("2026-01-01T00:01:00.250Z", now), kStart + kMinute + 250);
  EXPECT_EQ(ParseQueryTime("2026-01-01", now), kStart);
  EXPECT_EQ(ParseQueryTime("now", now), now);
  EXPECT_EQ(ParseQueryTime("-2m", now), kStart + 3 * kMinute);
  EXPECT_EQ(ParseQueryTime("yesterday", now), std::nullopt);
  EXPECT_EQ(ParseQueryTime("2026-13-01T00:00:00Z", now), std::nullopt);
  EXPECT_EQ(ParseQueryTime("2026-01-01T00:00:00+02:00", now), std::nullopt);
  EXPECT_EQ(ParseQueryTime("", now), std::nullopt);
}

TEST_F(WindowQueriesTest, NowIsTheNewestCommittedEventTime) {
  WindowQueries queries(*store_, spec_);
  auto now = queries.Now();
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(*now, kStart + 9 * kMinute + 30'000);
}

TEST_F(WindowQueriesTest, SeriesListsEveryWindowWithDataInTheCoveredRange) {
  WindowQueries queries(*store_, spec_);
  // [00:02:30, 00:05:10) widens to whole minutes [00:02, 00:06).
  auto answer = queries.Series("acme", *ParseQueryMetric("mentions"), "1m", "", kStart + 150'000,
                               kStart + 5 * kMinute + 10'000);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->range.from_ms, kStart + 2 * kMinute);
  EXPECT_EQ(answer->range.to_ms, kStart + 6 * kMinute);
  ASSERT_EQ(answer->points.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(answer->points[i].start_ms, kStart + static_cast<int64_t>(i + 2) * kMinute);
    EXPECT_EQ(answer->points[i].totals.mentions, 12 + i);
    EXPECT_EQ(answer->points[i].totals.reach, 1002 + i);
    EXPECT_EQ(answer->points[i].totals.unique_authors, 5u);  // HLL is exact at this size
  }
  std::string json = SeriesToJson(*answer);
  EXPECT_NE(json.find("\"start\":\"2026-01-01T00:02:00.000Z\",\"start_ms\":1767225720000,\"value\":12"),
            std::string::npos) << json;

  auto unknown_window = queries.Series("acme", *ParseQueryMetric("mentions"), "5m", "", kStart, kStart + 1);
  EXPECT_EQ(unknown_window.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown_window.status().message().find("1m, 10m"), std::string::npos);
}

TEST_F(WindowQueriesTest, TopBrandsSumsWindowsAndUnitesAuthorSketches) {
  WindowQueries queries(*store_, spec_);
  auto answer = queries.TopBrands(*ParseQueryMetric("mentions"), "1m", "", kStart + 4 * kMinute,
                                  kStart + 7 * kMinute, 10);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  ASSERT_EQ(answer->brands.size(), 2u);  // cirrus has no window in [00:04, 00:07)
  EXPECT_EQ(answer->brands[0].id, "bolt");
  EXPECT_EQ(answer->brands[0].totals.mentions, 200u);
  EXPECT_EQ(answer->brands[0].totals.unique_authors, 40u);  // same 40 authors both minutes
  EXPECT_EQ(answer->brands[1].id, "acme");
  EXPECT_EQ(answer->brands[1].totals.mentions, 14u + 15u + 16u);
  EXPECT_EQ(answer->brands[1].totals.unique_authors, 15u);  // authors 20..34, disjoint per minute
  EXPECT_EQ(answer->total, 245u);

  auto by_reach = queries.TopBrands(*ParseQueryMetric("reach"), "10m", "", kStart, kStart + 10 * kMinute, 1);
  ASSERT_TRUE(by_reach.ok());
  ASSERT_EQ(by_reach->brands.size(), 1u);
  EXPECT_EQ(by_reach->brands[0].id, "acme");
  EXPECT_EQ(by_reach->brands[0].totals.reach, 10'045u);
}

TEST_F(WindowQueriesTest, ShareOfVoiceCoversEveryBrandOfTheGroup) {
  WindowQueries queries(*store_, spec_);
  auto answer = queries.ShareOfVoice("shops", *ParseQueryMetric("mentions"), "10m", "", kStart,
                                     kStart + 10 * kMinute);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  ASSERT_EQ(answer->brands.size(), 2u);
  const uint64_t acme = 145, bolt = 200;  // 10+11+...+19 and 2 x 100
  EXPECT_EQ(answer->total, acme + bolt);
  EXPECT_EQ(answer->brands[0].id, "bolt");
  EXPECT_DOUBLE_EQ(answer->brands[0].share, static_cast<double>(bolt) / (acme + bolt));
  EXPECT_DOUBLE_EQ(answer->brands[0].share + answer->brands[1].share, 1.0);

  // A group member without data still appears, with share 0.
  auto quiet = queries.ShareOfVoice("shops", *ParseQueryMetric("mentions"), "1m", "", kStart,
                                    kStart + 2 * kMinute);
  ASSERT_TRUE(quiet.ok());
  ASSERT_EQ(quiet->brands.size(), 2u);
  EXPECT_EQ(quiet->brands[1].id, "bolt");
  EXPECT_EQ(quiet->brands[1].share, 0.0);

  EXPECT_EQ(queries.ShareOfVoice("nobody", *ParseQueryMetric("mentions"), "1m", "", kStart, kStart + 1)
                .status().code(),
            StatusCode::kNotFound);
}

TEST_F(WindowQueriesTest, HttpApiAnswersOverARealSocket) {
  WindowQueries queries(*store_, spec_);
  HttpApiOptions options;
  options.port = 0;  // any free port
  auto api = HttpApi::Start(options, [&](const auto& use) {
    use(queries);
    return Status::Ok();
  });
  ASSERT_TRUE(api.ok()) << api.status().ToString();
  httplib::Client client("127.0.0.1", (*api)->port());

  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  // "last 3m" ends at now (00:09:30): [00:06:30, 00:09:30] overlaps minutes 6..9.
  auto top = client.Get("/api/v1/top?window=1m&last=3m&metric=mentions");
  ASSERT_TRUE(top);
  EXPECT_EQ(top->status, 200);
  EXPECT_EQ(top->get_header_value("Content-Type"), "application/json");
  EXPECT_NE(top->body.find("\"from\":\"2026-01-01T00:06:00.000Z\""), std::string::npos) << top->body;
  EXPECT_NE(top->body.find("\"total\":170,\"brands\":[{\"brand\":\"bolt\""), std::string::npos)
      << top->body;
  EXPECT_NE(top->body.find("{\"brand\":\"acme\",\"name\":\"acme Inc\",\"value\":70"),
            std::string::npos) << top->body;

  // The HTTP body is exactly what the shared request handler (and so the CLI) returns.
  auto series = client.Get("/api/v1/series?brand=acme&window=10m&from=2026-01-01T00:00:00Z&to=now");
  ASSERT_TRUE(series);
  ApiResponse direct = AnswerApiRequest(queries, "series", [](std::string_view name) -> std::string {
    if (name == "brand") return "acme";
    if (name == "window") return "10m";
    if (name == "from") return "2026-01-01T00:00:00Z";
    if (name == "to") return "now";
    return "";
  });
  EXPECT_EQ(series->body, direct.json + "\n");
  EXPECT_NE(series->body.find("\"value\":145"), std::string::npos) << series->body;

  auto missing = client.Get("/api/v1/series?window=1m");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 400);
  EXPECT_NE(missing->body.find("parameter 'brand' is required"), std::string::npos);
  auto bad_metric = client.Get("/api/v1/top?metric=likes");
  ASSERT_TRUE(bad_metric);
  EXPECT_EQ(bad_metric->status, 400);
  auto unknown = client.Get("/api/v1/share-of-voice?group=nobody");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  auto no_endpoint = client.Get("/api/v1/trends");
  ASSERT_TRUE(no_endpoint);
  EXPECT_EQ(no_endpoint->status, 404);
}

TEST_F(WindowQueriesTest, ReadOnlyStoreSeesCommitsWhileTheWriterHoldsTheLock) {
  StateOptions options{spec_.state_directory};
  options.read_only = true;
  auto reader = StateStore::Open(options);  // store_ (the writer) is still open
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  WindowQueries queries(**reader, spec_);
  auto answer = queries.TopBrands(*ParseQueryMetric("mentions"), "10m", "", kStart, kStart + 1, 5);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->total, 145u + 200u + 3u);
  StateStore::Commit write = (*reader)->NewCommit();
  write.SetMeta("x", "y");
  EXPECT_FALSE((*reader)->Write(write).ok());
}

// The API served from inside a running pipeline: asked while the run is in progress, it answers
// from the pipeline's own store.
TEST(HttpApiInPipelineTest, ServesWhileThePipelineRuns) {
  fs::path work = MakeTempDirectory("api-in-pipeline");
  GeneratorSpec generator;
  generator.count = 20'000;
  generator.seed = 11;
  generator.mention_share = 0.3;
  generator.brands = {GeneratedBrand{"acme", {"Acme"}}, GeneratedBrand{"bolt", {"Bolt"}}};
  auto made = FirehoseGenerator::Make(generator);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  {
    std::ofstream out(work / "firehose.jsonl", std::ios::binary);
    std::string record;
    while ((*made)->Next(record)) {
      out << record << '\n';
      record.clear();
    }
    std::ofstream watchlist(work / "watchlist.yaml");
    watchlist << "brands:\n  - {id: acme, terms: [Acme], group: rivals}\n"
                 "  - {id: bolt, terms: [Bolt], group: rivals}\n";
    std::ofstream pipeline(work / "pipeline.yaml");
    pipeline << "name: live\nsource: {type: file, path: firehose.jsonl}\n"
                "decode: {format: twitter-v2}\nwatchlist: watchlist.yaml\n"
                "state: {directory: state, commit_every_records: 2000}\n"
                "windows:\n  - {name: 1m, size: 1m}\n"
                "sinks:\n  alerts: {type: file, path: out/alerts.jsonl}\n"
                "  dead_letter: {type: file, path: out/dead.jsonl}\n";
  }
  Diagnostics diagnostics;
  std::optional<PipelineSpec> spec = LoadPipelineSpec((work / "pipeline.yaml").string(), diagnostics);
  ASSERT_TRUE(spec) << diagnostics.ToString();

  RunOptions options;
  options.fresh = true;
  options.api_listen = "127.0.0.1:0";
  std::string brands_body;
  int health_status = 0;
  options.on_api_ready = [&](const std::string& address) {
    httplib::Client client(address);
    if (auto health = client.Get("/healthz")) health_status = health->status;
    if (auto brands = client.Get("/api/v1/brands")) brands_body = brands->body;
  };
  auto summary = RunPipeline(*spec, options);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(health_status, 200);
  EXPECT_NE(brands_body.find("\"pipeline\":\"live\""), std::string::npos) << brands_body;
  EXPECT_NE(brands_body.find("\"group\":\"rivals\""), std::string::npos) << brands_body;
  EXPECT_FALSE(summary->api_address.empty());
  fs::remove_all(work);
}

}  // namespace
}  // namespace brandpulse
