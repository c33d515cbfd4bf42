// Configuration an unlucky operator writes (issue 16, failure 9): a watchlist that is a
// directory, a memory budget RocksDB cannot take, durations that overflow, and file-level
// errors that pointed at :0:0.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "operators/watchlist.h"
#include "pipeline/pipeline_config.h"
#include "tests/cli_test_support.h"
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

// Runs `load` on a thread; true when it returns within 5 s. Otherwise it is blocked reading
// `fifo` (opening a FIFO for reading waits for a writer): a writer is opened and closed until
// the reader sees the end, so a regression fails the test instead of hanging it.
bool ReturnsWithoutBlocking(const fs::path& fifo, const std::function<void()>& load) {
  std::promise<void> done;
  std::future<void> finished = done.get_future();
  std::thread thread([&] {
    load();
    done.set_value();
  });
  const bool in_time = finished.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  while (finished.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
    int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  thread.join();
  return in_time;
}

// docs/limits.md: a pipeline or watchlist file that is a FIFO is refused at once with one error
// at its 1:1, by the pipeline loader, the watchlist loader and a pipeline naming it.
TEST_F(HardeningConfigTest, PipelineOrWatchlistThatIsAFifoIsRefusedWithoutBlocking) {
  const fs::path fifo = work_ / "fifo.yaml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string expected = fifo.string() + ":1:1: error: is not a regular file";

  Diagnostics pipeline;
  bool pipeline_loaded = true;
  EXPECT_TRUE(ReturnsWithoutBlocking(fifo, [&] {
    pipeline_loaded = LoadPipelineSpec(fifo.string(), pipeline).has_value();
  })) << "loading a pipeline file that is a FIFO blocked";
  EXPECT_FALSE(pipeline_loaded);
  EXPECT_EQ(pipeline.size(), 1u) << pipeline.ToString();
  EXPECT_NE(pipeline.ToString().find(expected), std::string::npos) << pipeline.ToString();

  Diagnostics watchlist;
  bool watchlist_loaded = true;
  EXPECT_TRUE(ReturnsWithoutBlocking(fifo, [&] {
    watchlist_loaded = LoadWatchlist(fifo.string(), watchlist).has_value();
  })) << "loading a watchlist file that is a FIFO blocked";
  EXPECT_FALSE(watchlist_loaded);
  EXPECT_NE(watchlist.ToString().find(expected), std::string::npos) << watchlist.ToString();

  std::string errors;
  EXPECT_TRUE(ReturnsWithoutBlocking(fifo, [&] { errors = Errors("", "fifo.yaml"); }))
      << "a pipeline naming a watchlist that is a FIFO blocked";
  EXPECT_NE(errors.find("fifo.yaml:1:1: error: is not a regular file (a device, FIFO or socket)"),
            std::string::npos)
      << errors;
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

// Validation messages as they are printed (`brandpulse validate`): a NUL in a value no longer ends
// the message, a 1 MB term is echoed by its first 200 bytes and its length, and a problem without
// a place points at the file's start, not at :0:0.
std::string Validate(const fs::path& directory, const std::string& file) {
  return brandpulse_cli_test::RunBrandpulse("validate " + file, directory).output;
}

TEST_F(HardeningConfigTest, ValidationMessagesWithANulByteAreNotCut) {
  brandpulse_test::WriteFile(work_ / "nul.yaml",
                             std::string("brands:\n  - id: \"a\\0b\"\n    terms: [\"te\\0st\"]\n"));
  const std::string output = Validate(work_, "nul.yaml");
  EXPECT_NE(output.find("nul.yaml:2:9: error: brand id 'a\\x00b'"), std::string::npos) << output;
  EXPECT_NE(output.find("'te\\x00st'"), std::string::npos) << output;
  EXPECT_EQ(output.find('\0'), std::string::npos);
}

TEST_F(HardeningConfigTest, AOneMegabyteTermIsEchoedByItsFirst200Bytes) {
  brandpulse_test::WriteFile(work_ / "long.yaml", "brands:\n  - id: a\n    terms: [\"" +
                                                      std::string(1'000'000, 'x') + "\"]\n");
  const std::string output = Validate(work_, "long.yaml");
  EXPECT_LT(output.size(), 2000u) << output.substr(0, 2000);
  EXPECT_NE(output.find(std::string(200, 'x') + "\u2026 (1000000 bytes)'"), std::string::npos)
      << output.substr(0, 2000);
  EXPECT_EQ(output.find(":0:0"), std::string::npos) << output.substr(0, 2000);
  EXPECT_NE(output.find("long.yaml:1:1: error:"), std::string::npos) << output.substr(0, 2000);
}

TEST(PrintableMessageTest, QuotedValuesAreCutOnACharacterBoundary) {
  // 199 ASCII bytes, then a two-byte character across the 200-byte cut.
  const std::string value = std::string(199, 'a') + "\xc3\xb8" + std::string(50, 'b');
  EXPECT_EQ(PrintableMessage("term '" + value + "' is long"),
            "term '" + std::string(199, 'a') + "\u2026 (251 bytes)' is long");
  EXPECT_EQ(PrintableMessage("short 'ok' and a\ttab"), "short 'ok' and a\ttab");
  EXPECT_EQ(PrintableMessage(std::string("bell\a and \x7f\0!", 13)),
            "bell\\x07 and \\x7f\\x00!");
}

}  // namespace
}  // namespace brandpulse
