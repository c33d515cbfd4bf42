// The JSON-lines sink: outbox entries and side records as whole lines, and a file whose last
// line was cut off (a kill inside write()) repaired on open so the re-sent line is not glued on.
#include "operators/json_lines_sink.h"

#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
using brandpulse_test::ReadFile;

class JsonLinesSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() / fmt::format("brandpulse-sink-{}.jsonl", ::getpid());
    fs::remove(path_);
  }
  void TearDown() override { fs::remove(path_); }
  void Write(std::string_view contents) {
    std::ofstream out(path_, std::ios::binary);
    out << contents;
  }
  Result<std::unique_ptr<Sink>> Open(bool truncate = false) {
    return MakeJsonLinesSink(JsonLinesSinkOptions{LineFile::Kind::kFile, path_.string()}, "alerts",
                             truncate);
  }
  fs::path path_;
};

TEST_F(JsonLinesSinkTest, DeliveredEntriesAreWholeLinesOnDisk) {
  auto sink = Open();
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  std::vector<OutboxEntry> entries = {{"a", "{\"alert_id\":\"a\"}", 0}, {"b", "{\"alert_id\":\"b\"}", 0}};
  DeliveryOutcome outcome = (*sink)->Deliver(entries);
  EXPECT_TRUE(outcome.error.ok()) << outcome.error.ToString();
  EXPECT_EQ(outcome.delivered, 2u);
  EXPECT_EQ(ReadFile(path_), "{\"alert_id\":\"a\"}\n{\"alert_id\":\"b\"}\n");
}

TEST_F(JsonLinesSinkTest, TornLastLineIsRemovedBeforeTheResentLine) {
  Write("{\"alert_id\":\"a\"}\n{\"alert_id\":\"b\",\"val");
  auto sink = Open();
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  std::vector<OutboxEntry> entries = {{"b", "{\"alert_id\":\"b\",\"value\":1}", 0}};
  ASSERT_EQ((*sink)->Deliver(entries).delivered, 1u);
  EXPECT_EQ(ReadFile(path_), "{\"alert_id\":\"a\"}\n{\"alert_id\":\"b\",\"value\":1}\n");
}

TEST_F(JsonLinesSinkTest, FileOfOneTornLineBecomesEmptyAndWholeFilesAreKept) {
  Write(std::string(10000, 'x'));  // longer than one look-back block, no newline at all
  ASSERT_TRUE(Open().ok());
  EXPECT_EQ(ReadFile(path_), "");
  Write("{\"a\":1}\n");
  ASSERT_TRUE(Open().ok());
  EXPECT_EQ(ReadFile(path_), "{\"a\":1}\n");
}

// A delivery that fails half-way (here: the file may not grow past a limit, as on a full disk)
// leaves nothing behind, so its retry writes every line once.
TEST_F(JsonLinesSinkTest, FailedDeliveryLeavesNoPartOfItForTheRetryToDuplicate) {
  auto sink = Open(/*truncate=*/true);
  ASSERT_TRUE(sink.ok());
  std::vector<OutboxEntry> first = {{"a", std::string(100, 'a'), 0}};
  ASSERT_EQ((*sink)->Deliver(first).delivered, 1u);
  std::vector<OutboxEntry> entries = {{"b", std::string(300, 'b'), 0}, {"c", std::string(300, 'c'), 0}};

  std::signal(SIGXFSZ, SIG_IGN);
  rlimit previous{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &previous), 0);
  rlimit small = previous;
  small.rlim_cur = 400;  // 'a' fits, 'b' only partly
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  for (int attempt = 0; attempt < 3; ++attempt) {
    DeliveryOutcome failed = (*sink)->Deliver(entries);
    EXPECT_FALSE(failed.error.ok());
    EXPECT_EQ(failed.delivered, 0u);
  }
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &previous), 0);
  EXPECT_EQ(ReadFile(path_).size(), 101u) << "the failed attempts left nothing";

  DeliveryOutcome recovered = (*sink)->Deliver(entries);
  EXPECT_TRUE(recovered.error.ok()) << recovered.error.ToString();
  EXPECT_EQ(ReadFile(path_), std::string(100, 'a') + "\n" + std::string(300, 'b') + "\n" +
                                 std::string(300, 'c') + "\n");
}

TEST_F(JsonLinesSinkTest, SideRecordsAreFormattedByTheSink) {
  auto sink = Open(/*truncate=*/true);
  ASSERT_TRUE(sink.ok());
  SideRecord dead;
  dead.kind = SideRecord::Kind::kDeadLetter;
  dead.reason = "invalid JSON";
  dead.source_id = "file:x";
  dead.position = 42;
  dead.record = "{\"broken";
  SideRecord late;
  late.kind = SideRecord::Kind::kLatePost;
  late.reason = "late";
  late.post_id = "7";
  late.event_time_ms = 0;
  late.watermark_ms = 60000;
  late.record = "{}";
  ASSERT_TRUE((*sink)->Append(dead).ok());
  ASSERT_TRUE((*sink)->Append(late).ok());
  ASSERT_TRUE((*sink)->Flush().ok());
  EXPECT_EQ(ReadFile(path_),
            "{\"reason\":\"invalid JSON\",\"source\":\"file:x\",\"position\":42,"
            "\"record\":\"{\\\"broken\"}\n"
            "{\"reason\":\"late\",\"post_id\":\"7\",\"event_time\":\"1970-01-01T00:00:00.000Z\","
            "\"watermark\":\"1970-01-01T00:01:00.000Z\",\"record\":\"{}\"}\n");
}

}  // namespace
}  // namespace brandpulse
