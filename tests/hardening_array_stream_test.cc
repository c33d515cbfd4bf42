// Array documents are streamed (issue 16, item 7): a large JSON array document is read in chunks
// with memory bounded by the record-size limit plus a buffer (it used to be read whole, ≈3.2× the
// file); elements split across reads, strings holding brackets and escapes, nested arrays and
// escaped keys are cut right; elements past max_record_bytes and a malformed or truncated tail
// are dead letters with the reason; a restart skips to its position.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/batch.h"
#include "operators/file_source.h"
#include "operators/json_array_records.h"
#include "tests/test_support.h"


namespace brandpulse {
namespace {

namespace fs = std::filesystem;

struct Read {
  std::vector<std::string> records;
  std::vector<std::string> reasons;  // per record: empty unless refused
  std::vector<uint64_t> positions;
};

Read ReadAll(Source& source, size_t batch_records = 1000) {
  Read read;
  while (true) {
    Batch batch;
    Result<SourceRead> result = source.Fill(batch, batch_records);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    if (!result.ok()) return read;
    for (uint32_t index = 0; index < batch.size(); ++index) {
      read.records.emplace_back(batch.RecordBytes(index));
      read.positions.push_back(batch.records[index].end_position);
      std::string reason;
      for (const DeadLetter& dead : batch.dead_letters) {
        if (dead.record_index == index) reason = std::string(dead.reason);
      }
      read.reasons.push_back(reason);
    }
    if (*result == SourceRead::kEndOfInput) return read;
  }
}

// Reads `document` through a JsonArrayReader handing it over `chunk` bytes at a time.
struct ChunkedRead {
  Status found;
  std::vector<std::string> elements;
  std::vector<std::string> reasons;
};
ChunkedRead ReadChunked(const std::string& document, std::string_view pointer, size_t chunk,
                        size_t max_element_bytes = 1 << 20) {
  size_t at = 0;
  JsonArrayReader reader(
      [&](char* into, size_t capacity) -> Result<size_t> {
        size_t count = std::min({capacity, chunk, document.size() - at});
        document.copy(into, count, at);
        at += count;
        return count;
      },
      max_element_bytes, chunk);
  ChunkedRead read;
  read.found = reader.FindArray(pointer);
  if (!read.found.ok()) return read;
  JsonArrayReader::Element element;
  while (true) {
    Result<bool> more = reader.Next(element);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) break;
    read.elements.emplace_back(element.bytes);
    read.reasons.push_back(element.refused);
  }
  return read;
}

TEST(JsonArrayReaderTest, ElementsAreCutRightWhateverTheReadBoundaries) {
  const std::vector<std::string> expected = {
      R"({"text":"a ] } [ { , \" still inside \\","n":1})",
      R"([[1,[2,[3]]],{"a":[]}])",
      R"("a string ] with \"brackets\" [")",
      "-12.5e3",
      "true",
      "null",
      R"({"emoji":"\ud83d\ude00 ÆØÅ","empty":{}})",
      "{}",
  };
  std::string document = "\xEF\xBB\xBF {\"meta\":{\"statuses\":5,\"x\":\"]\"},\"sta\\u0074uses\" :\n [ ";
  for (size_t i = 0; i < expected.size(); ++i) {
    document += (i > 0 ? " ,\n\t" : "") + expected[i];
  }
  document += " ] , \"after\": [1,2]}";
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{64}, size_t{1} << 16}) {
    ChunkedRead read = ReadChunked(document, "/statuses", chunk);
    ASSERT_TRUE(read.found.ok()) << chunk << ": " << read.found.ToString();
    EXPECT_EQ(read.elements, expected) << "chunk " << chunk;
    for (const std::string& reason : read.reasons) EXPECT_EQ(reason, "") << chunk;
  }
}

TEST(JsonArrayReaderTest, PointersThroughObjectsAndArrays) {
  const std::string document = R"({"pages":[{"items":[0]},{"items":[1,2]}],"a/b":{"m~n":[7]}})";
  ChunkedRead read = ReadChunked(document, "/pages/1/items", 5);
  ASSERT_TRUE(read.found.ok()) << read.found.ToString();
  EXPECT_EQ(read.elements, (std::vector<std::string>{"1", "2"}));
  read = ReadChunked(document, "/a~1b/m~0n", 5);
  ASSERT_TRUE(read.found.ok()) << read.found.ToString();
  EXPECT_EQ(read.elements, (std::vector<std::string>{"7"}));
  read = ReadChunked(R"([{"x":1},{"x":2}])", "", 3);
  ASSERT_TRUE(read.found.ok());
  EXPECT_EQ(read.elements.size(), 2u);

  for (const auto& [pointer, why] : std::vector<std::pair<std::string, std::string>>{
           {"/statuses", "has no key 'statuses'"},
           {"/pages/5/items", "has no element 5"},
           {"/pages/x", "is not an index"},
           {"/a~1b", "not '['"}}) {
    read = ReadChunked(document, pointer, 4);
    ASSERT_FALSE(read.found.ok()) << pointer;
    EXPECT_NE(read.found.message().find(fmt::format("no array at '{}'", pointer)), std::string::npos)
        << read.found.ToString();
    EXPECT_NE(read.found.message().find(why), std::string::npos) << read.found.ToString();
    EXPECT_NE(read.found.message().find("(byte "), std::string::npos) << read.found.ToString();
  }
  read = ReadChunked(R"({"statuses":[1,2)", "/statuses", 2);  // found; the tail is the problem
  EXPECT_TRUE(read.found.ok());
  read = ReadChunked(R"({"other":[1,2)", "/statuses", 2);
  EXPECT_FALSE(read.found.ok());
}

TEST(JsonArrayReaderTest, MalformedAndTruncatedTailsAreRefusedWithTheReason) {
  struct Case {
    std::string document;
    std::vector<std::string> good;
    std::string reason;
  };
  for (const Case& c : std::vector<Case>{
           {R"([{"a":1} {"b":2}])", {R"({"a":1})"}, "expected ',' or ']' after element 1 at byte 9, found '{'"},
           {R"([{"a":1},{"b":)", {R"({"a":1})"}, "the input ends inside element 2 (it starts at byte 9"},
           {R"([{"a":1},)", {R"({"a":1})"}, "before the array's closing ']'"},
           {R"([{"a":1})", {R"({"a":1})"}, "before the array's closing ']'"},
           {R"([1,])", {"1"}, "expected element 2 at byte 3, found ']'"},
           {R"([{"s":"never closed])", {}, "the input ends inside element 1"},
       }) {
    for (size_t chunk : {size_t{1}, size_t{4}, size_t{1} << 16}) {
      ChunkedRead read = ReadChunked(c.document, "", chunk);
      ASSERT_TRUE(read.found.ok()) << c.document;
      ASSERT_EQ(read.elements.size(), c.good.size() + 1) << c.document;
      for (size_t i = 0; i < c.good.size(); ++i) {
        EXPECT_EQ(read.elements[i], c.good[i]);
        EXPECT_EQ(read.reasons[i], "");
      }
      EXPECT_NE(read.reasons.back().find(c.reason), std::string::npos)
          << c.document << " chunk " << chunk << ": " << read.reasons.back();
    }
  }
}

class ArrayStreamSourceTest : public ::testing::Test {
 protected:
  void SetUp() override { work_ = brandpulse_test::MakeTempDirectory("array-stream"); }
  void TearDown() override { fs::remove_all(work_); }
  fs::path work_;
};

TEST_F(ArrayStreamSourceTest, MalformedTailIsADeadLetterAfterTheGoodElements) {
  // Used to refuse the whole file at start ("cannot read the array"), good elements and all.
  brandpulse_test::WriteFile(work_ / "page.json",
                             R"({"statuses":[{"n":1},{"n":2},{"n":3} {"n":4},{"n":5}]})");
  auto source = MakeJsonArrayFileSource((work_ / "page.json").string(), "/statuses");
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  Read read = ReadAll(**source);
  ASSERT_EQ(read.records.size(), 4u);
  EXPECT_EQ(read.records[2], R"({"n":3})");
  EXPECT_EQ(read.reasons[2], "");
  EXPECT_NE(read.reasons[3].find("malformed array: expected ',' or ']' after element 3"),
            std::string::npos)
      << read.reasons[3];
  EXPECT_EQ(read.records[3], R"({"n":4},{"n":5}]})");  // the rest, for the dead-letter output
  // And a truncated file: every whole element, then the cut one as a dead letter.
  brandpulse_test::WriteFile(work_ / "cut.json", R"({"statuses":[{"n":1},{"n":2},{"text":"abc)");
  source = MakeJsonArrayFileSource((work_ / "cut.json").string(), "/statuses");
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  read = ReadAll(**source);
  ASSERT_EQ(read.records.size(), 3u);
  EXPECT_NE(read.reasons[2].find("the input ends inside element 3"), std::string::npos);
  EXPECT_EQ(read.records[2], R"({"text":"abc)");
}

TEST_F(ArrayStreamSourceTest, RestartSkipsToItsPositionAndLongElementsAreDeadLetters) {
  std::string document = "{\"statuses\":[";
  for (int i = 0; i < 50; ++i) {
    if (i > 0) document += ",";
    document += i == 20 ? fmt::format("{{\"n\":{},\"t\":\"{}\"}}", i, std::string(5000, 'x'))
                        : fmt::format("{{\"n\":{}}}", i);
  }
  document += "]}";
  brandpulse_test::WriteFile(work_ / "page.json", document);
  auto source = MakeJsonArrayFileSource((work_ / "page.json").string(), "/statuses", 1000);
  ASSERT_TRUE(source.ok());
  Read all = ReadAll(**source, 7);
  ASSERT_EQ(all.records.size(), 50u);
  EXPECT_NE(all.reasons[20].find("record of 5015 bytes is longer than max_record_bytes (1000)"),
            std::string::npos)
      << all.reasons[20];
  EXPECT_EQ(all.records[20].size(), 256u);
  EXPECT_EQ(all.records[21], "{\"n\":21}");
  EXPECT_EQ(all.positions.back(), 50u);
  // A restart at 30 hands on records 31.. with the same positions.
  auto again = MakeJsonArrayFileSource((work_ / "page.json").string(), "/statuses", 1000);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->Seek(0, 30).ok());
  Read rest = ReadAll(**again);
  ASSERT_EQ(rest.records.size(), 20u);
  EXPECT_EQ(rest.records[0], "{\"n\":30}");
  EXPECT_EQ(rest.positions[0], 31u);
  // Seeking back re-reads from the start.
  ASSERT_TRUE((*again)->Seek(0, 2).ok());
  Read from_two = ReadAll(**again);
  ASSERT_EQ(from_two.records.size(), 48u);
  EXPECT_EQ(from_two.records[0], "{\"n\":2}");
}


TEST_F(ArrayStreamSourceTest, A96MegabyteArrayIsReadInBoundedMemory) {
  // 96 MiB of ~1 KB elements, one of them 2 MiB (under the limit), written in pieces.
  const fs::path path = work_ / "big.json";
  {
    std::ofstream out(path, std::ios::binary);
    out << R"({"search_metadata":{"count":1},"statuses":[)";
    const std::string filler(900, 'w');
    size_t written = 0;
    for (int i = 0; written < (96u << 20); ++i) {
      std::string element = fmt::format(
          R"({}{{"id":{},"text":"[{{\"quoted\"}}] {}","entities":{{"tags":[[1],[2,[3]]]}}}})",
          i > 0 ? "," : "", i, i == 5000 ? std::string(2 << 20, 'L') : filler);
      out << element;
      written += element.size();
    }
    out << "]}";
  }
  brandpulse_test::ResetPeakMemory();
  const long base = brandpulse_test::ProcStatusKib("VmHWM:");
#ifdef BRANDPULSE_TEST_SANITIZER_HEAP
  const size_t live_base = __sanitizer_get_current_allocated_bytes();
  size_t live_peak = live_base;
#endif
  auto source = MakeJsonArrayFileSource(path.string(), "/statuses", 8 << 20);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  size_t records = 0;
  size_t refused = 0;
  while (true) {
    Batch batch;
    Result<SourceRead> result = (*source)->Fill(batch, 1024);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
#ifdef BRANDPULSE_TEST_SANITIZER_HEAP
    live_peak = std::max(live_peak, __sanitizer_get_current_allocated_bytes());
#endif
    records += batch.size();
    refused += batch.dead_letters.size();
    if (*result == SourceRead::kEndOfInput) break;
  }
  const long peak = brandpulse_test::ProcStatusKib("VmHWM:");
  std::printf("peak RSS grew by %ld KiB reading a %lld-byte array document\n", peak - base,
              static_cast<long long>(fs::file_size(path)));
  EXPECT_GT(records, 90000u);
  EXPECT_EQ(refused, 0u);
  // The whole file would be ≥ 96 MiB (and was ≈3× that); a batch of 1,024 elements, the
  // 2 MiB element and the read buffer are a few MiB.
#ifdef BRANDPULSE_TEST_SANITIZER_HEAP
  std::printf("live heap grew by %zu KiB at most after a batch (sanitizer build)\n",
              (live_peak - live_base) >> 10);
  EXPECT_LT(live_peak - live_base, size_t{24} << 20) << "RSS now " << brandpulse_test::ProcStatusKib("VmRSS:") << " KiB";
#else
  EXPECT_LT(peak - base, 24 * 1024) << "peak grew by " << (peak - base) << " KiB; RSS now "
                                    << brandpulse_test::ProcStatusKib("VmRSS:");
#endif
}

}  // namespace
}  // namespace brandpulse
