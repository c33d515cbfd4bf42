// The file source against hostile files (issue 16): records longer than max_record_bytes are
// dead letters with the reason and a prefix while memory stays bounded (also per element of an
// array document); FIFOs, devices and directories are refused; and (issue 14) a file of
// pretty-printed JSON documents, or one array, is read as records.
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/batch.h"
#include "operators/file_source.h"
#include "tests/test_support.h"


namespace brandpulse {
namespace {

namespace fs = std::filesystem;

struct Read {
  std::vector<std::string> records;
  std::vector<std::string> reasons;  // per record: empty unless refused
};

Read ReadAll(Source& source) {
  Read read;
  while (true) {
    Batch batch;
    Result<SourceRead> result = source.Fill(batch, 1000);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    if (!result.ok()) return read;
    for (uint32_t index = 0; index < batch.size(); ++index) {
      read.records.emplace_back(batch.RecordBytes(index));
      std::string reason;
      for (const DeadLetter& dead : batch.dead_letters) {
        if (dead.record_index == index) reason = std::string(dead.reason);
      }
      EXPECT_EQ(batch.records[index].refused, !reason.empty());
      read.reasons.push_back(reason);
    }
    if (*result == SourceRead::kEndOfInput) return read;
  }
}

class HardeningFileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override { work_ = brandpulse_test::MakeTempDirectory("hardening-file-source"); }
  void TearDown() override { fs::remove_all(work_); }
  fs::path work_;
};

TEST_F(HardeningFileSourceTest, LongLineIsADeadLetterWithItsPrefix) {
  std::string long_line = "{\"text\":\"" + std::string(20 << 20, 'a') + "\"}";
  brandpulse_test::WriteFile(work_ / "in.jsonl", "{\"n\":1}\n" + long_line + "\n{\"n\":2}\n");
  auto source = MakeJsonLinesFileSource((work_ / "in.jsonl").string(), false, 1 << 20);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  Read read = ReadAll(**source);
  ASSERT_EQ(read.records.size(), 3u);
  EXPECT_EQ(read.records[0], "{\"n\":1}");
  EXPECT_EQ(read.records[2], "{\"n\":2}");
  EXPECT_EQ(read.records[1], long_line.substr(0, 256));
  EXPECT_NE(read.reasons[1].find(fmt::format("record of {} bytes is longer than max_record_bytes "
                                             "(1048576)",
                                             long_line.size())),
            std::string::npos)
      << read.reasons[1];
}


// The issue's 200 MB line took ≈10× its size; one line of 96 MiB (not inside an array) with the
// default max_record_bytes (8 MiB) is a dead letter with the reason and a prefix, its
// neighbours are read, and peak memory grows by a few MiB, not by the line. Reading it whole
// (max_record_bytes at 256 MiB) makes the peak grow by more than the line.
TEST_F(HardeningFileSourceTest, A96MegabyteLineIsADeadLetterReadInBoundedMemory) {
  const size_t max_record_bytes = kDefaultMaxRecordBytes;
  const fs::path path = work_ / "long.jsonl";
  const size_t text_bytes = size_t{96} << 20;
  {
    std::ofstream out(path, std::ios::binary);
    out << "{\"n\":1}\n{\"text\":\"";
    const std::string piece(1 << 20, 'a');
    for (size_t written = 0; written < text_bytes; written += piece.size()) out << piece;
    out << "\"}\n{\"n\":2}\n";
  }
  const size_t line_bytes = 9 + text_bytes + 2;  // {"text":" + the text + "}
  brandpulse_test::ResetPeakMemory();
  const long base = brandpulse_test::ProcStatusKib("VmHWM:");
#ifdef BRANDPULSE_TEST_SANITIZER_HEAP
  const size_t live_base = __sanitizer_get_current_allocated_bytes();
  size_t live_peak = live_base;
#endif
  auto source = MakeJsonLinesFileSource(path.string(), false, max_record_bytes);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  std::vector<std::string> records;
  std::vector<std::string> reasons;
  while (true) {
    Batch batch;
    Result<SourceRead> result = (*source)->Fill(batch, 1000);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
#ifdef BRANDPULSE_TEST_SANITIZER_HEAP
    live_peak = std::max(live_peak, __sanitizer_get_current_allocated_bytes());
#endif
    for (uint32_t index = 0; index < batch.size(); ++index) {
      std::string_view bytes = batch.RecordBytes(index);
      records.emplace_back(bytes.substr(0, 300));
      std::string reason;
      for (const DeadLetter& dead : batch.dead_letters) {
        if (dead.record_index == index) reason = std::string(dead.reason);
      }
      reasons.push_back(reason);
    }
    if (*result == SourceRead::kEndOfInput) break;
  }
  const long peak = brandpulse_test::ProcStatusKib("VmHWM:");
  std::printf("peak RSS grew by %ld KiB reading a %zu-byte line\n", peak - base, line_bytes);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0], "{\"n\":1}");
  EXPECT_EQ(records[2], "{\"n\":2}");
  EXPECT_EQ(records[1], "{\"text\":\"" + std::string(256 - 9, 'a'));
  EXPECT_EQ(reasons[0], "");
  EXPECT_NE(reasons[1].find(fmt::format("record of {} bytes is longer than max_record_bytes ({})",
                                        line_bytes, max_record_bytes)),
            std::string::npos)
      << reasons[1];
#ifdef BRANDPULSE_TEST_SANITIZER_HEAP
  std::printf("live heap grew by %zu KiB at most after a batch (sanitizer build)\n",
              (live_peak - live_base) >> 10);
  EXPECT_LT(live_peak - live_base, size_t{24} << 20);
#else
  EXPECT_LT(peak - base, 24 * 1024) << "peak grew by " << (peak - base) << " KiB; RSS now "
                                    << brandpulse_test::ProcStatusKib("VmRSS:") << " KiB";
#endif
}

TEST_F(HardeningFileSourceTest, LongLastLineWithoutNewline) {
  brandpulse_test::WriteFile(work_ / "in.jsonl", "{\"n\":1}\n" + std::string(5000, 'x'));
  auto source = MakeJsonLinesFileSource((work_ / "in.jsonl").string(), false, 1000);
  ASSERT_TRUE(source.ok());
  Read read = ReadAll(**source);
  ASSERT_EQ(read.records.size(), 2u);
  EXPECT_NE(read.reasons[1].find("record of 5000 bytes"), std::string::npos) << read.reasons[1];
}

TEST_F(HardeningFileSourceTest, LongArrayElementIsADeadLetter) {
  brandpulse_test::WriteFile(work_ / "page.json", "{\"statuses\":[{\"n\":1},{\"t\":\"" +
                                                      std::string(3000, 'b') + "\"},{\"n\":3}]}");
  auto source = MakeJsonArrayFileSource((work_ / "page.json").string(), "/statuses", 1000);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  Read read = ReadAll(**source);
  ASSERT_EQ(read.records.size(), 3u);
  EXPECT_EQ(read.reasons[0], "");
  EXPECT_NE(read.reasons[1].find("longer than max_record_bytes (1000)"), std::string::npos);
  EXPECT_EQ(read.records[1].size(), 256u);
  EXPECT_EQ(read.records[2], "{\"n\":3}");
}

TEST_F(HardeningFileSourceTest, FifoDeviceAndDirectoryAreRefused) {
  ASSERT_EQ(::mkfifo((work_ / "fifo").c_str(), 0600), 0);
  for (const std::string& path : {(work_ / "fifo").string(), std::string("/dev/zero"),
                                  work_.string()}) {
    auto lines = MakeJsonLinesFileSource(path, false);
    ASSERT_FALSE(lines.ok()) << path;
    EXPECT_NE(lines.status().message().find("not a regular file"), std::string::npos)
        << lines.status().ToString();
    auto documents = MakeJsonDocumentsFileSource(path);
    EXPECT_FALSE(documents.ok()) << path;
  }
}

// Mastodon's own Status example is pretty-printed; several such documents in one file, and a
// file that is one array of them, are records one per document.
TEST_F(HardeningFileSourceTest, PrettyPrintedDocumentsAndOneArray) {
  const std::string status = R"({
  "id": "103270115826048975",
  "created_at": "2019-12-08T03:48:33.901Z",
  "content": "<p>a {brace} in \"text\" ]</p>",
  "account": {"acct": "Gargron", "fields": [{"name": "x"}]}
})";
  brandpulse_test::WriteFile(work_ / "docs.json", "\xEF\xBB\xBF" + status + "\n\n" + status + status);
  auto source = MakeJsonDocumentsFileSource((work_ / "docs.json").string());
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  Read read = ReadAll(**source);
  ASSERT_EQ(read.records.size(), 3u);
  for (const std::string& record : read.records) EXPECT_EQ(record, status);

  brandpulse_test::WriteFile(work_ / "array.json", "[\n" + status + ",\n" + status + "\n]\n");
  auto array = MakeJsonDocumentsFileSource((work_ / "array.json").string());
  ASSERT_TRUE(array.ok()) << array.status().ToString();
  Read elements = ReadAll(**array);
  ASSERT_EQ(elements.records.size(), 2u);
  EXPECT_EQ(elements.records[0], status);

  // An unterminated last document is one record (the decoder dead-letters it), not a hang.
  brandpulse_test::WriteFile(work_ / "cut.json", status + "\n{\"id\": \"2\", \"content\": \"[");
  auto cut = MakeJsonDocumentsFileSource((work_ / "cut.json").string());
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(ReadAll(**cut).records.size(), 2u);
}

}  // namespace
}  // namespace brandpulse
