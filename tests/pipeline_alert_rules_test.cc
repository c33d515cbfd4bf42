// Alert rules end to end (docs/alerts.md): each case of tests/alert_golden/ (posts + pipeline →
// the exact alerts computed by hand in its README) is run whole, and again stopped half-way and
// resumed from the state on disk: the alerts delivered over both runs are the same set (rule
// state — open inquiries, baselines, series positions, cooldowns, held groups — is exact across
// a restart; a restart may deliver an alert again, never a different one).
#include <cstdlib>
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "operators/unanswered_rule.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"
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
  }
  fs::remove_all(work);
}

INSTANTIATE_TEST_SUITE_P(Cases, AlertGoldenTest,
                         ::testing::Values("unanswered", "noise", "spike"),
                         [](const auto& info) { return info.param; });

TEST(UnansweredCue, QuestionAndComplaintWithoutEnrichment) {
  EXPECT_EQ(CheapInquiryCue("why is it down?"), 1u);
  EXPECT_EQ(CheapInquiryCue("¿funciona la red"), 1u);
  EXPECT_EQ(CheapInquiryCue("Still waiting for my REFUND"), 2u);
  EXPECT_EQ(CheapInquiryCue("nettet fungerer ikke, hvorfor?"), 3u);
  EXPECT_EQ(CheapInquiryCue("love it"), 0u);
}

}  // namespace
}  // namespace brandpulse
