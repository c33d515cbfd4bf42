// Sources: JSON lines files (blank lines, CRLF, a last line without newline, long lines,
// seeking to a committed position, following appended data) and JSON array documents.
#include "operators/file_source.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "operators/window_aggregate.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;

class FileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() / fmt::format("brandpulse-source-{}-{}.jsonl", ::getpid(),
                                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { fs::remove(path_); }
  void Write(const std::string& contents, bool append = false) {
    std::ofstream out(path_, append ? std::ios::app | std::ios::binary : std::ios::binary);
    out << contents;
  }
  // Reads everything the source gives until it stops having data.
  std::vector<std::pair<std::string, uint64_t>> Drain(Source& source, SourceRead* last = nullptr,
                                                      size_t batch_records = 2) {
    std::vector<std::pair<std::string, uint64_t>> records;
    while (true) {
      Batch batch;
      Result<SourceRead> read = source.Fill(batch, batch_records);
      EXPECT_TRUE(read.ok()) << read.status().ToString();
      for (uint32_t i = 0; i < batch.size(); ++i) {
        records.emplace_back(std::string(batch.RecordBytes(i)), batch.records[i].end_position);
        EXPECT_GE(batch.RecordCapacity(i), batch.records[i].length + kInputPadding);
      }
      if (!read.ok() || *read != SourceRead::kHaveData) {
        if (last != nullptr && read.ok()) *last = *read;
        break;
      }
    }
    return records;
  }
  fs::path path_;
};

TEST_F(FileSourceTest, LinesPositionsBlankLinesAndMissingFinalNewline) {
  Write("{\"a\":1}\n\n  \n{\"b\":2}\r\n{\"c\":3}");
  auto source = MakeJsonLinesFileSource(path_.string(), false);
  ASSERT_TRUE(source.ok());
  SourceRead last;
  auto records = Drain(**source, &last);
  EXPECT_EQ(last, SourceRead::kEndOfInput);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0], (std::pair<std::string, uint64_t>{"{\"a\":1}", 8}));
  EXPECT_EQ(records[1], (std::pair<std::string, uint64_t>{"{\"b\":2}", 21}));
  EXPECT_EQ(records[2], (std::pair<std::string, uint64_t>{"{\"c\":3}", 28}));
}

TEST_F(FileSourceTest, SeekResumesAfterACommittedPosition) {
  Write("{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
  auto source = MakeJsonLinesFileSource(path_.string(), false);
  ASSERT_TRUE(source.ok());
  ASSERT_TRUE((*source)->Seek(0, 8).ok());
  auto records = Drain(**source);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].first, "{\"b\":2}");
  EXPECT_EQ(records[1].second, 24u);
}

TEST_F(FileSourceTest, LinesLongerThanTheBufferArriveWhole) {
  // Longer than the 4 MiB initial buffer, shorter than the 8 MiB default max_record_bytes.
  std::string long_line = "{\"text\":\"" + std::string(6 << 20, 'x') + "\"}";
  Write("{\"a\":1}\n" + long_line + "\n{\"b\":2}\n");
  auto source = MakeJsonLinesFileSource(path_.string(), false);
  ASSERT_TRUE(source.ok());
  auto records = Drain(**source);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].first.size(), long_line.size());
  EXPECT_EQ(records[2].first, "{\"b\":2}");
}

TEST_F(FileSourceTest, FollowingReadsAppendedLinesAndWaitsForPartialOnes) {
  Write("{\"a\":1}\n{\"b\":");
  auto source = MakeJsonLinesFileSource(path_.string(), true);
  ASSERT_TRUE(source.ok());
  SourceRead last;
  auto first = Drain(**source, &last);
  EXPECT_EQ(last, SourceRead::kNoDataYet);
  ASSERT_EQ(first.size(), 1u);
  Write("2}\n{\"c\":3}\n", true);
  auto second = Drain(**source, &last);
  EXPECT_EQ(last, SourceRead::kNoDataYet);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].first, "{\"b\":2}");
  EXPECT_EQ(second[1], (std::pair<std::string, uint64_t>{"{\"c\":3}", 24}));
}

TEST_F(FileSourceTest, ArrayDocumentGivesOneRecordPerElement) {
  Write(R"({"search_metadata":{"count":2},"statuses":[{"id_str":"1","text":"a"}, {"id_str":"2","text":"b [x]"}]})");
  auto source = MakeJsonArrayFileSource(path_.string(), "/statuses");
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  SourceRead last;
  auto records = Drain(**source, &last, 10);
  EXPECT_EQ(last, SourceRead::kEndOfInput);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].first, R"({"id_str":"1","text":"a"})");
  EXPECT_EQ(records[1].first, R"({"id_str":"2","text":"b [x]"})");
  EXPECT_EQ(records[1].second, 2u);
  auto missing = MakeJsonArrayFileSource(path_.string(), "/nope");
  EXPECT_FALSE(missing.ok());
}

TEST(WindowStartTest, FloorsAlsoForNegativeTimes) {
  EXPECT_EQ(WindowStart(0, 60000), 0);
  EXPECT_EQ(WindowStart(59999, 60000), 0);
  EXPECT_EQ(WindowStart(60000, 60000), 60000);
  EXPECT_EQ(WindowStart(-1, 60000), -60000);
  EXPECT_EQ(WindowStart(-60000, 60000), -60000);
  EXPECT_EQ(WindowStart(1767225659999, 60000), 1767225600000);
}

}  // namespace
}  // namespace brandpulse
