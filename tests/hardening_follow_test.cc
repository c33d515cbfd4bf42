// Follow mode with `tail -F` semantics (issue 16, failure 8): a followed file that is rotated
// (renamed and replaced), truncated (copytruncate) or rewritten in place is neither skipped nor
// read from the middle of a line, while running and across a restart. In process on the source
// (its batches, positions and identities), then with the real binary and its state.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/metrics.h"
#include "operators/file_source.h"
#include "tests/cli_test_support.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;

uint64_t CounterValue(const char* name) {
  return MetricsRegistry::Default().GetCounter(name, "").value();
}

// Appends (or, with `truncate`, rewrites in place: same inode) without renaming.
void WriteInPlace(const fs::path& path, const std::string& contents, bool truncate) {
  std::ofstream out(path, truncate ? std::ios::binary | std::ios::trunc
                                   : std::ios::binary | std::ios::app);
  out << contents;
}

// `count` JSON lines "{"n":"<tag>-<i>"}".
std::string Lines(const std::string& tag, int count) {
  std::string text;
  for (int i = 0; i < count; ++i) text += fmt::format("{{\"n\":\"{}-{}\"}}\n", tag, i);
  return text;
}

struct Read {
  std::string bytes;
  uint64_t end_position;
  std::string identity;
};

class FollowSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = brandpulse_test::MakeTempDirectory("follow-source");
    path_ = directory_ / "in.jsonl";
  }
  void TearDown() override { fs::remove_all(directory_); }

  // Fills batches until the source has nothing more now; every record with its batch's identity.
  std::vector<Read> Drain(Source& source, size_t batch_records = 3) {
    std::vector<Read> records;
    for (int round = 0; round < 10000; ++round) {
      Batch batch;
      Result<SourceRead> read = source.Fill(batch, batch_records);
      EXPECT_TRUE(read.ok()) << read.status().ToString();
      if (!read.ok()) break;
      if (!batch.empty()) EXPECT_FALSE(batch.input_identity.empty());
      for (uint32_t i = 0; i < batch.size(); ++i) {
        records.push_back({std::string(batch.RecordBytes(i)), batch.records[i].end_position,
                           batch.input_identity});
      }
      if (*read != SourceRead::kHaveData) break;
    }
    return records;
  }
  static std::vector<std::string> Texts(const std::vector<Read>& records) {
    std::vector<std::string> texts;
    for (const Read& record : records) texts.push_back(record.bytes);
    return texts;
  }
  static std::vector<std::string> Expected(std::initializer_list<std::string> parts) {
    std::vector<std::string> texts;
    for (const std::string& part : parts) {
      for (std::string& line : brandpulse_test::Lines(part)) texts.push_back(std::move(line));
    }
    return texts;
  }
  std::unique_ptr<Source> Open(bool follow = true) {
    auto source = MakeJsonLinesFileSource(path_.string(), follow);
    EXPECT_TRUE(source.ok()) << source.status().ToString();
    return std::move(*source);
  }

  fs::path directory_;
  fs::path path_;
};

TEST_F(FollowSourceTest, RotatedFileIsFinishedThenTheNewOneIsReadFromItsStart) {
  WriteInPlace(path_, Lines("a", 5), true);
  auto source = Open();
  EXPECT_EQ(Drain(*source).size(), 5u);
  const uint64_t rotations = CounterValue("brandpulse_file_source_rotations_total");
  // logrotate's create mode: the writer appends a last few lines, the file is renamed, a new
  // one is created and written, and only then does the source look again.
  WriteInPlace(path_, Lines("b", 4) + "{\"n\":\"b-last-without-newline\"}", false);
  fs::rename(path_, directory_ / "in.jsonl.1");
  WriteInPlace(path_, Lines("c", 7) + "{\"n\":\"c-partial", true);
  std::vector<Read> records = Drain(*source);
  EXPECT_EQ(Texts(records),
            Expected({Lines("b", 4), "{\"n\":\"b-last-without-newline\"}\n", Lines("c", 7)}));
  EXPECT_EQ(CounterValue("brandpulse_file_source_rotations_total"), rotations + 1);
  // Positions of the new file start again at its beginning, under another identity, and no
  // batch mixes the two files.
  ASSERT_EQ(records.size(), 12u);
  EXPECT_EQ(records[5].end_position, Lines("c", 1).size());
  EXPECT_NE(records[4].identity, records[5].identity);
  // The partial line waits for its end in the new file.
  WriteInPlace(path_, "\"}\n", false);
  EXPECT_EQ(Texts(Drain(*source)), std::vector<std::string>{"{\"n\":\"c-partial\"}"});
}

TEST_F(FollowSourceTest, CopyTruncateReadsTheFileAgainFromItsStart) {
  WriteInPlace(path_, Lines("a", 20), true);
  auto source = Open();
  EXPECT_EQ(Drain(*source).size(), 20u);
  const uint64_t truncations = CounterValue("brandpulse_file_source_truncations_total");
  fs::copy_file(path_, directory_ / "in.jsonl.1");
  fs::resize_file(path_, 0);
  WriteInPlace(path_, Lines("new", 3), false);
  std::vector<Read> records = Drain(*source);
  EXPECT_EQ(Texts(records), Expected({Lines("new", 3)}));
  EXPECT_EQ(CounterValue("brandpulse_file_source_truncations_total"), truncations + 1);
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.back().end_position, Lines("new", 3).size());
}

TEST_F(FollowSourceTest, RewrittenInPlaceLongerThanBeforeIsReadFromItsStart) {
  // The old code went on at its offset: in the middle of a line of the new contents.
  WriteInPlace(path_, Lines("a", 10), true);
  auto source = Open();
  EXPECT_EQ(Drain(*source).size(), 10u);
  WriteInPlace(path_, Lines("rewritten", 40), true);
  EXPECT_EQ(Texts(Drain(*source)), Expected({Lines("rewritten", 40)}));
}

TEST_F(FollowSourceTest, RestartAfterTheFileWasRewrittenLongerReadsItFromItsStart) {
  // The issue's case: a restart skipped the new records and began mid-line.
  WriteInPlace(path_, Lines("a", 100), true);
  std::vector<Read> first = Drain(*Open());
  ASSERT_EQ(first.size(), 100u);
  WriteInPlace(path_, Lines("rewritten-while-stopped", 300), true);
  auto source = Open();
  ASSERT_TRUE(source->SeekIdentified(0, first.back().end_position, first.back().identity).ok());
  EXPECT_EQ(Texts(Drain(*source)), Expected({Lines("rewritten-while-stopped", 300)}));
}

TEST_F(FollowSourceTest, RestartAfterATruncationWithoutAStoredIdentityReadsFromTheStart) {
  // A state written before identities were stored: the size and the line end still tell.
  WriteInPlace(path_, Lines("a", 100), true);
  std::vector<Read> first = Drain(*Open());
  WriteInPlace(path_, Lines("short", 5), true);
  auto source = Open();
  ASSERT_TRUE(source->Seek(0, first.back().end_position).ok());
  EXPECT_EQ(Texts(Drain(*source)), Expected({Lines("short", 5)}));
  // Longer, but the committed position falls inside a line.
  WriteInPlace(path_, "{\"long\":\"" + std::string(first.back().end_position, 'x') + "\"}\n", true);
  source = Open();
  ASSERT_TRUE(source->Seek(0, first.back().end_position).ok());
  EXPECT_EQ(Drain(*source).size(), 1u);
}

TEST_F(FollowSourceTest, RestartAfterARotationFinishesTheRotatedFileFirst) {
  WriteInPlace(path_, Lines("a", 50), true);
  std::vector<Read> first = Drain(*Open());
  ASSERT_EQ(first.size(), 50u);
  // While stopped: more lines, rotation, a new file.
  WriteInPlace(path_, Lines("b", 6), false);
  fs::rename(path_, directory_ / "in.jsonl.1");
  WriteInPlace(path_, Lines("c", 4), true);
  const uint64_t rotations = CounterValue("brandpulse_file_source_rotations_total");
  auto source = Open();
  ASSERT_TRUE(source->SeekIdentified(0, first.back().end_position, first.back().identity).ok());
  EXPECT_EQ(Texts(Drain(*source)), Expected({Lines("b", 6), Lines("c", 4)}));
  EXPECT_EQ(CounterValue("brandpulse_file_source_rotations_total"), rotations + 2);
}

TEST_F(FollowSourceTest, RestartResumesAnUnchangedOrReplacedButLongerFile) {
  WriteInPlace(path_, Lines("a", 50), true);
  std::vector<Read> first = Drain(*Open());
  // Appended: resumes exactly after the last record.
  WriteInPlace(path_, Lines("b", 3), false);
  auto source = Open();
  ASSERT_TRUE(source->SeekIdentified(0, first.back().end_position, first.back().identity).ok());
  EXPECT_EQ(Texts(Drain(*source)), Expected({Lines("b", 3)}));
  // Written elsewhere and renamed over it (a new inode) with the same beginning: resumes too.
  brandpulse_test::WriteFile(path_, Lines("a", 50) + Lines("b", 3) + Lines("c", 2));
  source = Open();
  ASSERT_TRUE(source->SeekIdentified(0, first.back().end_position, first.back().identity).ok());
  EXPECT_EQ(Texts(Drain(*source)), Expected({Lines("b", 3), Lines("c", 2)}));
}

// The real binary following a file, stopped and started, with its state on disk: every line of
// every file is one mention, once.
class FollowRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = brandpulse_test::MakeTempDirectory("follow-run");
    brandpulse_test::WriteFile(work_ / "watchlist.yaml",
                               "brands:\n  - id: telenor\n    terms: [Telenor]\n");
    brandpulse_test::WriteFile(work_ / "pipeline.yaml", R"(name: follow
source: {type: file, path: in.jsonl, follow: true}
decode: {format: twitter-v2}
watchlist: watchlist.yaml
workers: 1
state: {directory: state, commit_interval: 100ms}
time: {max_out_of_orderness: 0s, allowed_lateness: 0s}
windows:
  - {name: 1m, size: 1m}
sinks:
  dead_letter: {type: file, path: out/dead.jsonl}
  late: {type: file, path: out/late.jsonl}
)");
  }
  void TearDown() override {
    Stop();
    fs::remove_all(work_);
  }
  // `count` posts, each later than every earlier one (nothing is late).
  std::string Posts(int count) {
    std::string text;
    for (int i = 0; i < count; ++i, ++next_second_) {
      text += fmt::format(
          R"({{"data":{{"id":"{}","text":"Telenor {}","created_at":"2026-01-01T{:02}:{:02}:{:02}Z"}}}})"
          "\n",
          next_second_, next_second_, next_second_ / 3600, (next_second_ / 60) % 60,
          next_second_ % 60);
    }
    return text;
  }
  void Start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      if (::chdir(work_.c_str()) != 0) ::_exit(127);
      std::freopen("run.log", "a", stdout);
      std::freopen("run.log", "a", stderr);
      ::execl(BRANDPULSE_BINARY, BRANDPULSE_BINARY, "run", "--quiet", "pipeline.yaml",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  // Mentions in the committed windows (query dump reads beside the running pipeline).
  uint64_t CommittedMentions() {
    auto dump = brandpulse_cli_test::RunBrandpulse("query dump --state state", work_);
    uint64_t total = 0;
    for (const std::string& line : brandpulse_test::Lines(dump.output)) {
      std::istringstream fields(line);
      std::string brand, dimension;
      int64_t size = 0, slide = 0, start = 0;
      uint64_t mentions = 0;
      if (fields >> brand >> dimension >> size >> slide >> start >> mentions) total += mentions;
    }
    return total;
  }
  // Waits up to 30 s for `expected` committed mentions; returns what was seen last.
  uint64_t WaitForMentions(uint64_t expected) {
    uint64_t seen = 0;
    for (int i = 0; i < 150 && (seen = CommittedMentions()) < expected; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return seen;
  }
  std::string Log() { return brandpulse_test::ReadFile(work_ / "run.log"); }

  fs::path work_;
  pid_t pid_ = -1;
  int next_second_ = 0;
};

TEST_F(FollowRunTest, RotationTruncationAndRewritesWhileRunningAndStoppedLoseNothing) {
  const fs::path input = work_ / "in.jsonl";
  WriteInPlace(input, Posts(300), true);
  Start();
  ASSERT_EQ(WaitForMentions(300), 300u) << Log();

  // Running: the writer appends, the file is rotated (renamed, a new one created).
  WriteInPlace(input, Posts(50), false);
  fs::rename(input, work_ / "in.jsonl.1");
  WriteInPlace(input, Posts(100), true);
  ASSERT_EQ(WaitForMentions(450), 450u) << Log();

  // Running: copytruncate.
  fs::copy_file(input, work_ / "in.jsonl.2");
  fs::resize_file(input, 0);
  WriteInPlace(input, Posts(80), false);
  ASSERT_EQ(WaitForMentions(530), 530u) << Log();

  // Stopped: rewritten in place, longer than before.
  Stop();
  WriteInPlace(input, Posts(400), true);
  Start();
  ASSERT_EQ(WaitForMentions(930), 930u) << Log();

  // Stopped: appended, rotated, a new file.
  Stop();
  WriteInPlace(input, Posts(20), false);
  fs::rename(input, work_ / "in.jsonl.3");
  WriteInPlace(input, Posts(30), true);
  Start();
  ASSERT_EQ(WaitForMentions(980), 980u) << Log();
  Stop();

  EXPECT_EQ(CommittedMentions(), 980u);
  // Nothing read from the middle of a line, nothing late.
  EXPECT_EQ(brandpulse_test::ReadFile(work_ / "out/dead.jsonl"), "");
  EXPECT_EQ(brandpulse_test::ReadFile(work_ / "out/late.jsonl"), "");
  const std::string log = Log();
  EXPECT_NE(log.find("input file was rotated"), std::string::npos) << log;
  EXPECT_NE(log.find("input file was truncated or rewritten"), std::string::npos) << log;
  EXPECT_NE(log.find("begins with other bytes"), std::string::npos) << log;
  EXPECT_NE(log.find("rotated while stopped"), std::string::npos) << log;
}

}  // namespace
}  // namespace brandpulse
