// Alert rules end to end (docs/alerts.md): each case of tests/alert_golden/ (posts + pipeline →
// the exact alerts computed by hand in its README) is run whole, and again stopped half-way and
// resumed from the state on disk: the alerts delivered over both runs are the same set (rule
// state — open inquiries, baselines, series positions, cooldowns, held groups — is exact across
// a restart; a restart may deliver an alert again, never a different one).
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>

#include <gtest/gtest.h>

#include "engine/metrics.h"
#include "operators/unanswered_rule.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"
#include "pipeline/http_api.h"
#include "pipeline/window_closer.h"
#include "pipeline/window_queries.h"
#include "tests/cli_test_support.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
using brandpulse_test::Lines;
using brandpulse_test::MakeTempDirectory;
using brandpulse_test::ReadFile;
using brandpulse_test::StripAlertTimes;

PipelineSpec LoadOrDie(const fs::path& path) {
  Diagnostics diagnostics;
  std::optional<PipelineSpec> spec = LoadPipelineSpec(path.string(), diagnostics);
  EXPECT_TRUE(spec.has_value()) << diagnostics.ToString();
  return spec.value_or(PipelineSpec{});
}

std::set<std::string> LineSet(const std::string& text) {
  std::vector<std::string> lines = Lines(text);
  return std::set<std::string>(lines.begin(), lines.end());
}

// Mention records carry the wall-clock time the engine read the post: compared as "*".
std::string StripIngestTimes(const std::string& mentions) {
  return std::regex_replace(mentions, std::regex(R"("ingest_time":"[^"]*")"), R"("ingest_time":"*")");
}

class AlertGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(AlertGoldenTest, ExactAlertsWholeAndAcrossARestart) {
  const fs::path golden = fs::path(BRANDPULSE_SOURCE_DIR) / "tests" / "alert_golden" / GetParam();
  const std::string expected = ReadFile(golden / "expected_alerts.jsonl");
  ASSERT_FALSE(expected.empty());
  const size_t records = Lines(ReadFile(golden / "input.jsonl")).size();

  fs::path work = MakeTempDirectory("alert-golden-" + GetParam());
  setenv("BRANDPULSE_TEST_STATE", (work / "state").c_str(), 1);
  setenv("BRANDPULSE_TEST_OUT", (work / "out").c_str(), 1);
  PipelineSpec spec = LoadOrDie(golden / "pipeline.yaml");
  RunOptions options;
  options.fresh = true;
  Result<RunSummary> whole = RunPipeline(spec, options);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(StripAlertTimes(ReadFile(work / "out" / "alerts.jsonl")), expected);
  // A case with a mentions sink (sinks.mentions) also checks the mention records: one per post
  // that names a brand, exact.
  const std::string expected_mentions =
      fs::exists(golden / "expected_mentions.jsonl") ? ReadFile(golden / "expected_mentions.jsonl") : "";
  if (!expected_mentions.empty()) {
    EXPECT_EQ(StripIngestTimes(ReadFile(work / "out" / "mentions.jsonl")), expected_mentions);
  }

  for (size_t stop : {records / 3, records / 2, 2 * records / 3}) {
    SCOPED_TRACE(fmt::format("stopped after {} records", stop));
    setenv("BRANDPULSE_TEST_STATE", (work / fmt::format("state-{}", stop)).c_str(), 1);
    setenv("BRANDPULSE_TEST_OUT", (work / fmt::format("out-{}", stop)).c_str(), 1);
    PipelineSpec split = LoadOrDie(golden / "pipeline.yaml");
    RunOptions first = options;
    first.stop_after_records = stop;
    ASSERT_TRUE(RunPipeline(split, first).ok());
    RunOptions second;
    Result<RunSummary> resumed = RunPipeline(split, second);
    ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
    EXPECT_EQ(LineSet(StripAlertTimes(ReadFile(work / fmt::format("out-{}", stop) / "alerts.jsonl"))),
              LineSet(expected));
    if (!expected_mentions.empty()) {  // at least once: a restart may deliver a record again
      EXPECT_EQ(LineSet(StripIngestTimes(
                    ReadFile(work / fmt::format("out-{}", stop) / "mentions.jsonl"))),
                LineSet(expected_mentions));
    }
  }
  fs::remove_all(work);
}

INSTANTIATE_TEST_SUITE_P(Cases, AlertGoldenTest,
                         ::testing::Values("unanswered", "noise", "spike", "share_of_voice",
                                           "sentiment_shift", "viral_post", "response_times",
                                           "viral_public"),
                         [](const auto& info) { return info.param; });

// The new rule types' mistakes: each at file:line:column, with "did you mean" where a name is
// close; and a sentiment_shift rule without enrichment validates with a note saying so.
TEST(AlertRuleValidation, ShareSentimentViralErrorsAndTheEnrichmentNote) {
  fs::path work = MakeTempDirectory("alert-rule-validation");
  brandpulse_test::WriteFile(work / "watchlist.yaml",
                             "brands:\n"
                             "  - {id: acme, name: Acme, terms: [acme], group: widgets}\n"
                             "  - {id: globex, name: Globex, terms: [globex], group: widgets}\n"
                             "  - {id: solo, name: Solo, terms: [solo]}\n");
  const std::string head =
      "name: v\nsource: {type: file, path: in.jsonl}\nwatchlist: watchlist.yaml\n"
      "state: {directory: state}\nwindows:\n  - {name: 1h, size: 1h}\n"
      "decode: {format: json, fields: {id: /id, text: /text, event_time: /ts}}\n"
      "sinks: {alerts: {type: file, path: a.jsonl}, dead_letter: {type: file, path: d.jsonl}}\n"
      "alerts:\n";
  brandpulse_test::WriteFile(
      work / "bad.yaml",
      head +
          "  - {name: a, type: share_of_voice, window: 1h, chnage: 10}\n"
          "  - {name: b, type: share_of_voice, window: 1h, change: 10, brands: [solo]}\n"
          "  - {name: c, type: sentiment_shift, window: 1hh, margin: 10}\n"
          "  - {name: d, type: viral_post, within: 10m}\n"
          "  - {name: e, type: viral_post, replies: 5, withn: 10m}\n"
          "  - {name: f, type: share_of_voice, window: 1h, change: 10, direction: upward}\n"
          "  - {name: g, type: share_of_voice, window: 1h, change: 10, group: widget}\n"
          "  - {name: h, type: threshold, window: 1h, metric: inquiries_unanswered, above: 5}\n");
  Diagnostics diagnostics;
  EXPECT_FALSE(LoadPipelineSpec((work / "bad.yaml").string(), diagnostics).has_value() &&
               diagnostics.empty());
  const std::string text = diagnostics.ToString();
  const std::string file = (work / "bad.yaml").string();
  for (const std::string& expected : {
           file + ":10:49: error: unknown key 'chnage' in alert rule (hint: did you mean 'change'?)",
           file + ":10:5: error: alert rule 'a' needs change, above or below",
           file + ":11:69: error: alert rule 'b': brand 'solo' is in no competitor group",
           file + ":12:46: error: no window named '1hh' (hint: did you mean '1h'?)",
           file + ":13:5: error: alert rule 'd' needs replies, reposts, quotes, likes or reach",
           file + ":14:45: error: unknown key 'withn' in alert rule (hint: did you mean 'within'?)",
           file + ":15:72: error: 'upward' is not a valid direction",
           file + ":16:68: error: alert rule 'g': no competitor group named 'widget' (hint: did you mean 'widgets'?)",
           file + ":17:52: error: metric 'inquiries_unanswered' cannot be read by a window rule"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << "missing: " << expected << "\n" << text;
  }

  brandpulse_test::WriteFile(work / "off.yaml",
                             head + "  - {name: mood, type: sentiment_shift, window: 1h}\n");
  Diagnostics off;
  std::optional<PipelineSpec> spec = LoadPipelineSpec((work / "off.yaml").string(), off);
  ASSERT_TRUE(spec.has_value()) << off.ToString();
  EXPECT_TRUE(off.empty()) << off.ToString();
  ASSERT_EQ(spec->notes.size(), 1u);
  EXPECT_NE(spec->notes[0].message.find("enrichment is off"), std::string::npos);
  EXPECT_EQ(spec->notes[0].location.line, 10);

  brandpulse_test::WriteFile(work / "on.yaml",
                             head + "  - {name: mood, type: sentiment_shift, window: 1h}\n"
                                    "transforms: [decode, match, enrich, window]\n");
  Diagnostics on;
  spec = LoadPipelineSpec((work / "on.yaml").string(), on);
  ASSERT_TRUE(spec.has_value()) << on.ToString();
  EXPECT_TRUE(spec->notes.empty());
  fs::remove_all(work);
}

// The value of one sample ("name{labels}") in a text exposition, or -1 when absent.
double SampleValue(const std::string& text, const std::string& sample) {
  size_t at = 0;
  while ((at = text.find(sample + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + sample.size() + 1));
    at += sample.size();
  }
  return -1;
}

// Response-time metrics of the `unanswered` golden case (its README): q1 to Telenor's support
// profile answered after 120 s; q2 to @telenor_norge and q3 to @telia_norge unanswered.
TEST(ResponseTimeMetrics, InquiriesAnsweredUnansweredAndTheResponseTimeHistogram) {
  const fs::path golden = fs::path(BRANDPULSE_SOURCE_DIR) / "tests" / "alert_golden" / "unanswered";
  fs::path work = MakeTempDirectory("response-time-metrics");
  setenv("BRANDPULSE_TEST_STATE", (work / "state").c_str(), 1);
  setenv("BRANDPULSE_TEST_OUT", (work / "out").c_str(), 1);
  PipelineSpec spec = LoadOrDie(golden / "pipeline.yaml");
  MetricsRegistry registry;
  RunOptions options;
  options.fresh = true;
  options.metrics_registry = &registry;
  Result<RunSummary> run = RunPipeline(spec, options);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  const std::string text = registry.Render();
  const std::string support = R"({brand="telenor",profile="support"})";
  const std::string norge = R"({brand="telenor",profile="@telenor_norge"})";
  const std::string telia = R"({brand="telia",profile="@telia_norge"})";
  EXPECT_EQ(SampleValue(text, "brandpulse_inquiries_total" + support), 1) << text;
  EXPECT_EQ(SampleValue(text, "brandpulse_inquiries_answered_total" + support), 1);
  EXPECT_EQ(SampleValue(text, "brandpulse_inquiries_unanswered_total" + support), 0);
  EXPECT_EQ(SampleValue(text, "brandpulse_response_time_seconds_sum" + support), 120);
  EXPECT_EQ(SampleValue(text, "brandpulse_response_time_seconds_count" + support), 1);
  EXPECT_EQ(SampleValue(text, R"(brandpulse_response_time_seconds_bucket{brand="telenor",profile="support",le="60"})"), 0);
  EXPECT_EQ(SampleValue(text, R"(brandpulse_response_time_seconds_bucket{brand="telenor",profile="support",le="120"})"), 1);
  EXPECT_EQ(SampleValue(text, "brandpulse_inquiries_total" + norge), 1);
  EXPECT_EQ(SampleValue(text, "brandpulse_inquiries_unanswered_total" + norge), 1);
  EXPECT_EQ(SampleValue(text, "brandpulse_inquiries_answered_total" + norge), 0);
  EXPECT_EQ(SampleValue(text, "brandpulse_inquiries_total" + telia), 1);
  EXPECT_EQ(SampleValue(text, "brandpulse_inquiries_unanswered_total" + telia), 1);
  if (std::system("command -v promtool >/dev/null 2>&1") == 0) {
    brandpulse_test::WriteFile(work / "scrape.txt", text);
    EXPECT_EQ(std::system(fmt::format("promtool check metrics < '{}'", (work / "scrape.txt").string()).c_str()), 0)
        << text;
  }
  fs::remove_all(work);
}

// Every committed window, encoded, by key: two runs that stored the same windows compare equal.
std::map<std::string, std::string> AllWindows(const fs::path& state) {
  std::map<std::string, std::string> windows;
  auto store = StateStore::Open(StateOptions{state.string()});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return windows;
  EXPECT_TRUE((*store)->ScanAllWindows([&](const WindowKey& key, const WindowMetrics& metrics) {
    std::string encoded;
    metrics.EncodeTo(encoded);
    windows[fmt::format("{}/{}/{}/{}/{}", key.brand_id, key.dimension, key.size_ms, key.slide_ms,
                        key.start_ms)] = encoded;
  }).ok());
  return windows;
}

// Response times as window metrics (tests/alert_golden/response_times/README.md, by hand): per
// window, inquiries opened, first answers, late answers (after `within`, still measured after
// the alert) and the median / p90 of the response time — read through WindowQueries, the HTTP
// API's handler and `brandpulse query`; the stored windows are the same, byte for byte, whole,
// resumed after a stop at records 3 and 7, and with 2 workers.
TEST(ResponseTimeWindows, CountsAndQuantilesPerWindowExactAcrossRestartsAndWorkers) {
  const fs::path golden =
      fs::path(BRANDPULSE_SOURCE_DIR) / "tests" / "alert_golden" / "response_times";
  fs::path work = MakeTempDirectory("response-time-windows");
  setenv("BRANDPULSE_TEST_STATE", (work / "state").c_str(), 1);
  setenv("BRANDPULSE_TEST_OUT", (work / "out").c_str(), 1);
  setenv("BRANDPULSE_TEST_WORKERS", "1", 1);
  PipelineSpec spec = LoadOrDie(golden / "pipeline.yaml");
  RunOptions options;
  options.fresh = true;
  MetricsRegistry registry;
  options.metrics_registry = &registry;
  ASSERT_TRUE(RunPipeline(spec, options).ok());
  // The late answer (r3, 390 s, after the alert) is measured.
  EXPECT_EQ(SampleValue(registry.Render(),
                        R"(brandpulse_inquiries_answered_total{brand="telenor",profile="@telenor_norge"})"),
            1);
  const std::map<std::string, std::string> whole = AllWindows(work / "state");
  {
    auto store = StateStore::Open(StateOptions{(work / "state").string()});
    ASSERT_TRUE(store.ok());
    WindowQueries queries(**store, spec);
    auto value = [&](const SeriesAnswer& answer, int64_t start_s, std::string_view metric) -> int64_t {
      for (const SeriesPoint& point : answer.points) {
        if (point.start_ms == 1767225600000 + start_s * 1000) {
          return static_cast<int64_t>(point.totals.Value(*ParseQueryMetric(metric)));
        }
      }
      return -1;
    };
    auto series = [&](std::string_view metric, std::string_view window,
                      std::string_view dimension = "") {
      Result<SeriesAnswer> answer = queries.Series("telenor", *ParseQueryMetric(metric), window,
                                                   dimension, 1767225600000, 1767225600000 + 3600000);
      EXPECT_TRUE(answer.ok()) << answer.status().ToString();
      return answer.ok() ? *answer : SeriesAnswer{};
    };
    SeriesAnswer inquiries = series("inquiries", "1m");
    EXPECT_EQ(value(inquiries, 0, "inquiries"), 3);
    EXPECT_EQ(value(inquiries, 60, "inquiries_answered"), 1);
    EXPECT_EQ(value(inquiries, 60, "response_time_p50_seconds"), 120);   // r1: 100 s in (90, 120]
    EXPECT_EQ(value(inquiries, 120, "inquiries_answered"), 1);           // r2: 120 s
    EXPECT_EQ(value(inquiries, 360, "inquiries_answered"), 1);           // r3: 390 s, late
    EXPECT_EQ(value(inquiries, 360, "inquiries_answered_late"), 1);
    EXPECT_EQ(value(inquiries, 360, "response_time_p90_seconds"), 420);  // in (300, 420]
    SeriesAnswer hour = series("inquiries", "1h");
    EXPECT_EQ(value(hour, 0, "inquiries"), 3);
    EXPECT_EQ(value(hour, 0, "inquiries_answered"), 3);
    EXPECT_EQ(value(hour, 0, "inquiries_answered_late"), 1);
    EXPECT_EQ(value(hour, 0, "response_time_p50_seconds"), 120);
    EXPECT_EQ(value(hour, 0, "response_time_p90_seconds"), 420);
    // Unanswered (q3, deadline 140 s), in the inquiry's window: the 1m window at 0 was final
    // (closed at 65 s) when q3 went unanswered, and takes the count all the same.
    EXPECT_EQ(value(inquiries, 0, "inquiries_unanswered"), 1);
    EXPECT_EQ(value(inquiries, 60, "inquiries_unanswered"), 0);
    EXPECT_EQ(value(hour, 0, "inquiries_unanswered"), 1);
    // Per profile (the 1h window keeps `dimensions: [profile]`): q1 and q2 to profile support,
    // q3 to the handle @telenor_norge.
    SeriesAnswer support = series("inquiries", "1h", "profile:support");
    EXPECT_EQ(value(support, 0, "inquiries"), 2);
    EXPECT_EQ(value(support, 0, "inquiries_answered"), 2);
    EXPECT_EQ(value(support, 0, "inquiries_unanswered"), 0);
    EXPECT_EQ(value(support, 0, "response_time_p90_seconds"), 120);
    SeriesAnswer handle = series("inquiries", "1h", "profile:@telenor_norge");
    EXPECT_EQ(value(handle, 0, "inquiries"), 1);
    EXPECT_EQ(value(handle, 0, "inquiries_unanswered"), 1);
    EXPECT_EQ(value(handle, 0, "inquiries_answered_late"), 1);
    EXPECT_EQ(value(handle, 0, "response_time_p50_seconds"), 420);
    ApiResponse api = AnswerApiRequest(queries, "series", [](std::string_view name) -> std::string {
      if (name == "brand") return "telenor";
      if (name == "window") return "1h";
      if (name == "metric") return "response_time_p90_seconds";
      if (name == "from") return "2026-01-01T00:00:00Z";
      if (name == "to") return "2026-01-01T01:00:00Z";
      return "";
    });
    EXPECT_NE(api.json.find("\"value\":420"), std::string::npos) << api.json;
  }
  brandpulse_cli_test::CommandResult cli = brandpulse_cli_test::RunBrandpulse(
      "query series -p pipeline.yaml -b telenor -w 1h -m response_time_p50_seconds "
      "--from 2026-01-01T00:00:00Z --to 2026-01-01T01:00:00Z",
      golden, fmt::format("BRANDPULSE_TEST_STATE='{}' BRANDPULSE_TEST_OUT='{}'",
                          (work / "state").string(), (work / "out").string()));
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_NE(cli.output.find("\"value\":120"), std::string::npos) << cli.output;

  for (size_t stop : {3, 7}) {
    SCOPED_TRACE(fmt::format("stopped after {} records", stop));
    const fs::path state = work / fmt::format("state-{}", stop);
    setenv("BRANDPULSE_TEST_STATE", state.c_str(), 1);
    PipelineSpec split = LoadOrDie(golden / "pipeline.yaml");
    RunOptions first = options;
    first.metrics_registry = nullptr;
    first.stop_after_records = stop;
    ASSERT_TRUE(RunPipeline(split, first).ok());
    ASSERT_TRUE(RunPipeline(split, RunOptions{}).ok());
    EXPECT_EQ(AllWindows(state), whole);
  }
  setenv("BRANDPULSE_TEST_STATE", (work / "state-2-workers").c_str(), 1);
  setenv("BRANDPULSE_TEST_WORKERS", "2", 1);
  PipelineSpec two = LoadOrDie(golden / "pipeline.yaml");
  RunOptions fresh;
  fresh.fresh = true;
  ASSERT_TRUE(RunPipeline(two, fresh).ok());
  EXPECT_EQ(AllWindows(work / "state-2-workers"), whole);
  unsetenv("BRANDPULSE_TEST_WORKERS");
  fs::remove_all(work);
}

// An inquiry found unanswered after its window closed adds its count to that final window (the
// runner merges it into the store), and the window closer must not reopen the window for it: a
// reopened window would be shown to the rules again, with only that count in it (a `below` rule
// would fire on a window that had mentions).
TEST(UnansweredInFinalWindows, TheCloserDoesNotReopenAFinalWindow) {
  class OneBrand final : public BrandDirectory {
   public:
    uint32_t brand_count() const override { return 1; }
    BrandInfo brand_info(uint32_t) const override { return BrandInfo{"acme", "Acme", ""}; }
    std::optional<uint32_t> FindBrand(std::string_view id) const override {
      return id == "acme" ? std::optional<uint32_t>(0) : std::nullopt;
    }
  };
  fs::path work = MakeTempDirectory("closer-final");
  auto store = StateStore::Open(StateOptions{(work / "state").string()});
  ASSERT_TRUE(store.ok());
  WindowSpec minute;
  minute.name = "1m";
  minute.size_ms = 60000;
  const std::vector<WindowSpec> windows{minute};
  OneBrand brands;
  WindowCloser closer(windows, 0, [](uint32_t) { return true; });
  ASSERT_TRUE(closer.Restore(**store, brands, INT64_MIN).ok());
  WindowDeltaMap deltas;
  deltas[WindowDeltaKey{0, 0, kBrandTotal, 0}].AddMention(1, 10);
  closer.Track(deltas);
  int shown = 0;
  auto count = [&](const ClosedWindow&) {
    ++shown;
    return Status::Ok();
  };
  std::vector<WindowDeltaKey> replaced;
  StateStore::Commit commit = (*store)->NewCommit();
  ASSERT_TRUE(closer.Close(60000, false, deltas, brands, **store, commit, count, replaced).ok());
  EXPECT_EQ(shown, 1);
  // Later: the window's inquiry went unanswered (a counter delta for the final window).
  WindowDeltaMap late;
  late[WindowDeltaKey{0, 0, kBrandTotal, 0}].AddCounter(0, 1);
  closer.Track(late);
  EXPECT_EQ(closer.open_count(), 0u);
  ASSERT_TRUE(closer.Close(120000, false, late, brands, **store, commit, count, replaced).ok());
  EXPECT_EQ(shown, 1);
  // The same after a restart: the restored watermark makes the window final.
  WindowCloser restarted(windows, 0, [](uint32_t) { return true; });
  ASSERT_TRUE(restarted.Restore(**store, brands, 120000).ok());
  restarted.Track(late);
  EXPECT_EQ(restarted.open_count(), 0u);
  fs::remove_all(work);
}

// An inquiry read after its window was final is not counted there (a late post), so it is not
// counted as unanswered there either: inquiries_unanswered never exceeds inquiries. Its open
// windows count both.
TEST(UnansweredInFinalWindows, ALateInquiryCountsInNeitherWhereItWasLate) {
  fs::path work = MakeTempDirectory("unanswered-late");
  brandpulse_test::WriteFile(work / "watchlist.yaml",
                             "brands:\n"
                             "  - {id: acme, name: Acme, terms: [acme], handles: [\"@acme_help\"]}\n");
  // t (s after 2026-01-01): a0 at 0, a1 at 200 (the watermark passes 1m @ 0's close at 60), then
  // q at 10 — a question to @acme_help, late for 1m @ 0 but not for 1h @ 0 — and z at 1000.
  brandpulse_test::WriteFile(
      work / "in.jsonl",
      "{\"id\":\"a0\",\"ts\":1767225600000,\"author\":\"x\",\"text\":\"acme\"}\n"
      "{\"id\":\"a1\",\"ts\":1767225800000,\"author\":\"y\",\"text\":\"acme\"}\n"
      "{\"id\":\"q\",\"ts\":1767225610000,\"author\":\"kari\",\"reply_to\":\"acme_help\",\"text\":\"acme why?\"}\n"
      "{\"id\":\"z\",\"ts\":1767226600000,\"author\":\"z\",\"text\":\"acme\"}\n");
  brandpulse_test::WriteFile(
      work / "pipeline.yaml",
      "name: v\nsource: {type: file, path: in.jsonl}\nwatchlist: watchlist.yaml\n"
      "batch_records: 1\nstate: {directory: state, commit_every_records: 1}\n"
      "time: {max_out_of_orderness: 0s, allowed_lateness: 0s}\n"
      "windows:\n  - {name: 1m, size: 1m}\n  - {name: 1h, size: 1h}\n"
      "decode: {format: json, fields: {id: /id, text: /text, author_id: /author, "
      "author_handle: /author, event_time: /ts, reply_to_handle: /reply_to}}\n"
      "sinks: {alerts: {type: file, path: a.jsonl}, dead_letter: {type: file, path: d.jsonl}}\n"
      "alerts:\n  - {name: sla, type: unanswered, within: 1m}\n");
  PipelineSpec spec = LoadOrDie(work / "pipeline.yaml");
  RunOptions options;
  options.fresh = true;
  ASSERT_TRUE(RunPipeline(spec, options).ok());
  EXPECT_NE(ReadFile(work / "a.jsonl").find("sla/acme/q"), std::string::npos);  // it alerts
  auto store = StateStore::Open(StateOptions{(work / "state").string()});
  ASSERT_TRUE(store.ok());
  WindowQueries queries(**store, spec);
  auto value = [&](std::string_view window, std::string_view metric) -> int64_t {
    Result<SeriesAnswer> answer = queries.Series("acme", *ParseQueryMetric(metric), window, "",
                                                 1767225600000, 1767225600000 + 60000);
    EXPECT_TRUE(answer.ok()) << answer.status().ToString();
    if (!answer.ok()) return -1;
    for (const SeriesPoint& point : answer->points) {
      if (point.start_ms == 1767225600000) {
        return static_cast<int64_t>(point.totals.Value(*ParseQueryMetric(metric)));
      }
    }
    return -1;
  };
  EXPECT_EQ(value("1m", "inquiries"), 0);
  EXPECT_EQ(value("1m", "inquiries_unanswered"), 0);
  EXPECT_EQ(value("1h", "inquiries"), 1);
  EXPECT_EQ(value("1h", "inquiries_unanswered"), 1);
  fs::remove_all(work);
}

// viral_post with only `reach` decides when the post is read and tracks nothing; it gives the
// same alerts as the tracking path (the same rule with a replies limit no post reaches), and both
// give one alert per brand the post names (before, a post naming two brands alerted the first).
TEST(ViralPostReach, OneAlertPerBrandWithOrWithoutTracking) {
  fs::path work = MakeTempDirectory("viral-reach");
  brandpulse_test::WriteFile(work / "watchlist.yaml",
                             "brands:\n"
                             "  - {id: acme, name: Acme, terms: [acme]}\n"
                             "  - {id: globex, name: Globex, terms: [globex]}\n");
  brandpulse_test::WriteFile(
      work / "in.jsonl",
      "{\"id\":\"p1\",\"ts\":1767225600000,\"author\":\"star\",\"followers\":500000,\"text\":\"acme and globex\"}\n"
      "{\"id\":\"p2\",\"ts\":1767225601000,\"author\":\"kari\",\"followers\":10,\"text\":\"acme again\"}\n"
      "{\"id\":\"p3\",\"ts\":1767225602000,\"author\":\"nova\",\"followers\":200000,\"text\":\"globex!\"}\n"
      "{\"id\":\"p1\",\"ts\":1767225600000,\"author\":\"star\",\"followers\":500000,\"text\":\"acme and globex\"}\n");
  auto run = [&](std::string_view rule, std::string_view tag) {
    const std::string pipeline = fmt::format(
        "name: v\nsource: {{type: file, path: in.jsonl}}\nwatchlist: watchlist.yaml\n"
        "state: {{directory: state-{0}}}\nwindows:\n  - {{name: 1h, size: 1h}}\n"
        "decode: {{format: json, fields: {{id: /id, text: /text, author_id: /author, "
        "author_handle: /author, event_time: /ts, author_followers: /followers}}}}\n"
        "sinks: {{alerts: {{type: file, path: a-{0}.jsonl}}, dead_letter: {{type: file, path: d-{0}.jsonl}}}}\n"
        "alerts:\n  - {1}\n",
        tag, rule);
    brandpulse_test::WriteFile(work / fmt::format("{}.yaml", tag), pipeline);
    RunOptions options;
    options.fresh = true;
    Result<RunSummary> summary = RunPipeline(LoadOrDie(work / fmt::format("{}.yaml", tag)), options);
    EXPECT_TRUE(summary.ok()) << summary.status().ToString();
    return StripAlertTimes(ReadFile(work / fmt::format("a-{}.jsonl", tag)));
  };
  const std::string reach_only = run("{name: viral, type: viral_post, reach: 100000}", "reach");
  const std::string tracked =
      run("{name: viral, type: viral_post, reach: 100000, replies: 1000000}", "tracked");
  EXPECT_EQ(reach_only, tracked);
  std::set<std::string> ids;
  for (const std::string& line : Lines(reach_only)) {
    const size_t at = line.find("\"alert_id\":\"");
    ASSERT_NE(at, std::string::npos) << line;
    ids.insert(line.substr(at + 12, line.find('"', at + 12) - at - 12));
  }
  EXPECT_EQ(ids, (std::set<std::string>{"viral/acme/p1", "viral/globex/p1", "viral/globex/p3"}));
  EXPECT_EQ(Lines(reach_only).size(), 3u);  // p1 read again: the same ids, dropped
  fs::remove_all(work);
}

// The mentions stream (tests/alert_golden/mentions/README.md, by hand): every accepted hit of
// each brand with its kind and offsets, and the brands an `exclude:` entry or a query's NOT
// branch removed; exact whole, the same set at least once after a stop and resume.
TEST(MentionsStream, EveryHitPerBrandAndWhatExclusionsRemoved) {
  const fs::path golden = fs::path(BRANDPULSE_SOURCE_DIR) / "tests" / "alert_golden" / "mentions";
  const std::string expected = ReadFile(golden / "expected_mentions.jsonl");
  ASSERT_FALSE(expected.empty());
  fs::path work = MakeTempDirectory("mentions-stream");
  setenv("BRANDPULSE_TEST_STATE", (work / "state").c_str(), 1);
  setenv("BRANDPULSE_TEST_OUT", (work / "out").c_str(), 1);
  RunOptions options;
  options.fresh = true;
  ASSERT_TRUE(RunPipeline(LoadOrDie(golden / "pipeline.yaml"), options).ok());
  EXPECT_EQ(StripIngestTimes(ReadFile(work / "out" / "mentions.jsonl")), expected);

  setenv("BRANDPULSE_TEST_STATE", (work / "state-2").c_str(), 1);
  setenv("BRANDPULSE_TEST_OUT", (work / "out-2").c_str(), 1);
  PipelineSpec split = LoadOrDie(golden / "pipeline.yaml");
  RunOptions first = options;
  first.stop_after_records = 3;
  ASSERT_TRUE(RunPipeline(split, first).ok());
  ASSERT_TRUE(RunPipeline(split, RunOptions{}).ok());
  EXPECT_EQ(LineSet(StripIngestTimes(ReadFile(work / "out-2" / "mentions.jsonl"))), LineSet(expected));
  fs::remove_all(work);
}

TEST(UnansweredCue, QuestionAndComplaintWithoutEnrichment) {
  EXPECT_EQ(CheapInquiryCue("why is it down?"), 1u);
  EXPECT_EQ(CheapInquiryCue("¿funciona la red"), 1u);
  EXPECT_EQ(CheapInquiryCue("Still waiting for my REFUND"), 2u);
  EXPECT_EQ(CheapInquiryCue("nettet fungerer ikke, hvorfor?"), 3u);
  EXPECT_EQ(CheapInquiryCue("love it"), 0u);
}

}  // namespace
}  // namespace brandpulse
