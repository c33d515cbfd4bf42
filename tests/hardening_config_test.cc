// Configuration an unlucky operator writes (issue 16, failure 9): a watchlist that is a
// directory, a memory budget RocksDB cannot take, durations that overflow, and file-level
// errors that pointed at :0:0.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "pipeline/pipeline_config.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;

class HardeningConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = brandpulse_test::MakeTempDirectory("hardening-config");
    brandpulse_test::WriteFile(work_ / "watchlist.yaml", "brands:\n  - id: a\n    terms: [a]\n");
    fs::create_directories(work_ / "lists");
  }
  void TearDown() override { fs::remove_all(work_); }

  std::string Errors(const std::string& state_extra, const std::string& watchlist = "watchlist.yaml",
                     const std::string& time = "") {
    brandpulse_test::WriteFile(work_ / "p.yaml", "source: {type: stdin}\ndecode: {format: twitter-v2}\nwatchlist: " + watchlist +
                                                     "\nstate: {directory: s" + state_extra +
                                                     "}\ntime: {max_out_of_orderness: 1s" + time +
                                                     "}\nwindows:\n  - {name: 1m, size: 1m}\n"
                                                     "sinks:\n  dead_letter: {type: none}\n");
    Diagnostics diagnostics;
    std::optional<PipelineSpec> spec = LoadPipelineSpec((work_ / "p.yaml").string(), diagnostics);
    return spec ? std::string() : diagnostics.ToString();
  }

  fs::path work_;
};

TEST_F(HardeningConfigTest, ValidConfigIsValid) { EXPECT_EQ(Errors(""), ""); }

TEST_F(HardeningConfigTest, WatchlistThatIsADirectory) {
  std::string errors = Errors("", "lists");
  EXPECT_NE(errors.find("lists:1:1: error: is a directory, not a YAML file"), std::string::npos)
      << errors;
}

TEST_F(HardeningConfigTest, PipelineThatIsADirectoryOrDeviceIsOneErrorNotAtZero) {
  for (const std::string& path : {(work_ / "lists").string(), std::string("/dev/zero")}) {
    Diagnostics diagnostics;
    EXPECT_FALSE(LoadPipelineSpec(path, diagnostics));
    EXPECT_EQ(diagnostics.size(), 1u) << diagnostics.ToString();
    EXPECT_EQ(diagnostics.ToString().find(":0:0"), std::string::npos) << diagnostics.ToString();
  }
  brandpulse_test::WriteFile(work_ / "empty.yaml", "");
  Diagnostics diagnostics;
  EXPECT_FALSE(LoadPipelineSpec((work_ / "empty.yaml").string(), diagnostics));
  EXPECT_EQ(diagnostics.ToString().find(":0:0"), std::string::npos) << diagnostics.ToString();
}

TEST_F(HardeningConfigTest, MemoryBudgetRocksDbCannotTakeIsRefusedAtValidate) {
  std::string errors = Errors(", memory_budget_mb: 229376");
  EXPECT_NE(errors.find("memory_budget_mb"), std::string::npos) << errors;
  EXPECT_EQ(Errors(", memory_budget_mb: 4096"), "");
}

TEST_F(HardeningConfigTest, HugeDurationsAreRefusedNotWrapped) {
  std::string errors = Errors(", retention: 999999999999999d");
  EXPECT_NE(errors.find("p.yaml:4:34: error: 'retention' is too long"), std::string::npos) << errors;
  errors = Errors("", "watchlist.yaml", ", allowed_lateness: 99999999999999999999s");
  EXPECT_NE(errors.find("'allowed_lateness' is too long"), std::string::npos) << errors;
  EXPECT_EQ(Errors(", retention: 3650d"), "");
}

}  // namespace
}  // namespace brandpulse
