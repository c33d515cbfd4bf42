// The RocksDB state store on real on-disk directories: key encoding, atomic commits that survive
// reopening and a kill -9 of the writing process, merges folded across flushes and compactions,
// range scans, retention, the outbox, and corrupt operands reported as Corruption.
#include "engine/state_store.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <tuple>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>

#include "engine/hash.h"

extern char** environ;

namespace brandpulse {
namespace {

namespace fs = std::filesystem;

// ---- The crash test's writer process ------------------------------------------------------
// The crash test re-executes this binary with these variables set; the process then becomes a
// writer that commits in a loop and acknowledges each commit on a pipe until it is killed. It
// takes over in a global test environment's SetUp, i.e. after main() started (RocksDB is linked
// statically, so its own globals are not ready during static initialisation), and before any
// test runs. (A fork() of the test process would inherit RocksDB's thread pools without their
// threads.)
constexpr char kWriterDirectoryVariable[] = "BRANDPULSE_STATE_TEST_WRITER_DIRECTORY";
constexpr char kWriterPipeVariable[] = "BRANDPULSE_STATE_TEST_WRITER_FD";

// Mentions written by commit `round`; the position after it is the sum over rounds 0..round.
uint64_t MentionsInRound(uint64_t round) { return 1 + round % 7; }

[[noreturn]] void RunWriter(const char* directory, int acknowledge_fd) {
  auto store = StateStore::Open(StateOptions{directory, 16 << 20});
  if (!store.ok()) _exit(2);
  uint64_t position = 0;
  for (uint64_t round = 0;; ++round) {
    StateStore::Commit commit = (*store)->NewCommit();
    WindowMetrics delta;
    for (uint64_t i = 0; i < MentionsInRound(round); ++i) {
      delta.AddMention(HashBytes(fmt::format("{}/{}", round, i)), 1);
    }
    position += MentionsInRound(round);
    commit.MergeWindow({"crash", 1000, static_cast<int64_t>(round % 5) * 1000}, delta);
    commit.SetPosition("file:/input", 0, position);
    commit.SetMeta("round", std::to_string(round));
    if (!(*store)->Write(commit).ok()) _exit(3);
    if (write(acknowledge_fd, &position, sizeof(position)) != sizeof(position)) _exit(4);
  }
}

class WriterEnvironment final : public ::testing::Environment {
 public:
  WriterEnvironment(const char* directory, int acknowledge_fd)
      : directory_(directory), acknowledge_fd_(acknowledge_fd) {}
  void SetUp() override { RunWriter(directory_, acknowledge_fd_); }

 private:
  const char* directory_;
  int acknowledge_fd_;
};

[[maybe_unused]] const bool kWriterMode = [] {
  const char* directory = std::getenv(kWriterDirectoryVariable);
  const char* pipe = std::getenv(kWriterPipeVariable);
  if (directory == nullptr || pipe == nullptr) return false;
  ::testing::AddGlobalTestEnvironment(new WriterEnvironment(directory, std::atoi(pipe)));
  return true;
}();

// ---- Helpers --------------------------------------------------------------------------------

WindowMetrics Mentions(uint64_t count, std::string_view author_prefix, int64_t followers = 10) {
  WindowMetrics metrics;
  for (uint64_t i = 0; i < count; ++i) {
    metrics.AddMention(HashBytes(fmt::format("{}{}", author_prefix, i)), followers);
  }
  return metrics;
}

// The stored metrics of `key`; a failed read or a missing window fails the test.
WindowMetrics StoredWindow(StateStore& store, const WindowKey& key) {
  Result<std::optional<WindowMetrics>> window = store.ReadWindow(key);
  EXPECT_TRUE(window.ok()) << window.status().ToString();
  if (!window.ok()) return WindowMetrics{};
  EXPECT_TRUE(window->has_value());
  return std::move(window).value().value_or(WindowMetrics{});
}

std::string Describe(const WindowKey& key) {
  return fmt::format("{}/{}/{}", key.brand_id, key.size_ms, key.start_ms);
}

// Stands in for brandpulse's merge operator when the tests write through RocksDB directly; it is
// never asked to merge.
class OpaqueMergeOperator final : public rocksdb::MergeOperator {
 public:
  const char* Name() const override { return "brandpulse.window_metrics.v1"; }
  bool FullMergeV2(const MergeOperationInput&, MergeOperationOutput*) const override {
    return false;
  }
};

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = fs::temp_directory_path() /
                 fmt::format("brandpulse-state-{}-{}", ::getpid(),
                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(directory_);
  }
  void TearDown() override { fs::remove_all(directory_); }

  std::unique_ptr<StateStore> Open() {
    Result<std::unique_ptr<StateStore>> store =
        StateStore::Open(StateOptions{directory_.string(), 64 << 20});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  static std::vector<std::string> AllWindows(StateStore& store) {
    std::vector<std::string> keys;
    Status status = store.ScanAllWindows(
        [&](const WindowKey& key, const WindowMetrics&) { keys.push_back(Describe(key)); });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return keys;
  }

  // Writes through RocksDB directly, with the store's column families, to plant bad bytes.
  // `merge` writes a merge operand, otherwise a value.
  void WriteRawWindow(const WindowKey& key, std::string_view bytes, bool merge) {
    rocksdb::DBOptions db_options;
    std::vector<std::string> families;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(db_options, directory_.string(), &families).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& name : families) {
      rocksdb::ColumnFamilyOptions options;
      options.merge_operator = std::make_shared<OpaqueMergeOperator>();
      descriptors.emplace_back(name, options);
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(db_options, directory_.string(), descriptors, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    size_t windows = std::find(families.begin(), families.end(), "windows") - families.begin();
    ASSERT_LT(windows, handles.size());
    rocksdb::Slice value(bytes.data(), bytes.size());
    rocksdb::Status status =
        merge ? db->Merge(rocksdb::WriteOptions(), handles[windows], EncodeWindowKey(key), value)
              : db->Put(rocksdb::WriteOptions(), handles[windows], EncodeWindowKey(key), value);
    EXPECT_TRUE(status.ok()) << status.ToString();
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
    }
    ASSERT_TRUE(db->Close().ok());
  }

  fs::path directory_;
};

// ---- Window keys ----------------------------------------------------------------------------

TEST(WindowKeyTest, EncodingIsExplicitBigEndian) {
  using namespace std::string_literals;
  const std::string no_slide = "\x00\x00\x00\x00\x00\x00\x00\x00"s;
  EXPECT_EQ(EncodeWindowKey({"ab", 60000, 0}),
            "ab\x00\x00"s "\x00\x00\x00\x00\x00\x00\xea\x60"s + no_slide +
                "\x80\x00\x00\x00\x00\x00\x00\x00"s);
  EXPECT_EQ(EncodeWindowKey({"ab", 1, -1}),
            "ab\x00\x00"s "\x00\x00\x00\x00\x00\x00\x00\x01"s + no_slide +
                "\x7f\xff\xff\xff\xff\xff\xff\xff"s);
  EXPECT_EQ(EncodeWindowKey({"", 1, INT64_MAX}),
            "\x00\x00"s "\x00\x00\x00\x00\x00\x00\x00\x01"s + no_slide +
                "\xff\xff\xff\xff\xff\xff\xff\xff"s);
  // A hopping window of one language: dimension text between the two 0x00, then the slide.
  EXPECT_EQ(EncodeWindowKey({"ab", 3600000, 0, "lang:no", 300000}),
            "ab\x00lang:no\x00"s "\x00\x00\x00\x00\x00\x36\xee\x80"s
            "\x00\x00\x00\x00\x00\x04\x93\xe0"s "\x80\x00\x00\x00\x00\x00\x00\x00"s);
}

TEST(WindowKeyTest, BytewiseOrderIsBrandDimensionSizeSlideThenTime) {
  std::mt19937_64 random(7);
  std::vector<WindowKey> keys;
  const std::vector<std::string> brands = {"a", "ab", "b", "a\x01", "\xc3\xa6gir", "z"};
  const std::vector<std::string> dimensions = {"", "lang:en", "lang:no", "platform:bluesky", "author:own"};
  const std::vector<int64_t> starts = {INT64_MIN, -86400000, -1, 0, 1, 1767225600000, INT64_MAX};
  for (int i = 0; i < 600; ++i) {
    int64_t start = starts[random() % starts.size()];
    if (random() % 2 == 1 && start > INT64_MIN + 2 && start < INT64_MAX - 2) {
      start += static_cast<int64_t>(random() % 5) - 2;
    }
    keys.push_back(WindowKey{brands[random() % brands.size()],
                             static_cast<int64_t>(1000 * (1 + random() % 3)), start,
                             dimensions[random() % dimensions.size()],
                             static_cast<int64_t>(500 * (random() % 3))});
  }
  auto as_tuple = [](const WindowKey& key) {
    return std::tuple(key.brand_id, key.dimension, key.size_ms, key.slide_ms, key.start_ms);
  };
  for (size_t i = 1; i < keys.size(); ++i) {
    const WindowKey& a = keys[i - 1];
    const WindowKey& b = keys[i];
    EXPECT_EQ(as_tuple(a) < as_tuple(b), EncodeWindowKey(a) < EncodeWindowKey(b))
        << Describe(a) << " vs " << Describe(b);
  }
  for (const WindowKey& key : keys) {
    std::optional<WindowKey> decoded = DecodeWindowKey(EncodeWindowKey(key));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, key);
  }
}

TEST(WindowKeyTest, DecodeRejectsMalformedKeys) {
  std::string good = EncodeWindowKey({"brand", 60000, 120000});
  EXPECT_TRUE(DecodeWindowKey(good).has_value());
  EXPECT_FALSE(DecodeWindowKey("no-separator").has_value());
  EXPECT_FALSE(DecodeWindowKey(good.substr(0, good.size() - 1)).has_value());
  EXPECT_FALSE(DecodeWindowKey(good + "x").has_value());
  EXPECT_FALSE(DecodeWindowKey(std::string("br\0and", 6) + good.substr(5)).has_value());
  // A third 0x00 before the fixed suffix (brand, dimension, and one more) is not a key.
  EXPECT_FALSE(DecodeWindowKey(std::string("br\0a\0d", 7) + good.substr(5)).has_value());
}

// ---- Commits ----------------------------------------------------------------------------------

TEST_F(StateStoreTest, CommitIsAtomicAndSurvivesReopen) {
  {
    std::unique_ptr<StateStore> store = Open();
    ASSERT_NE(store, nullptr);
    StateStore::Commit commit = store->NewCommit();
    commit.MergeWindow({"telenor", 60000, 0}, Mentions(3, "a"));
    commit.MergeWindow({"telenor", 60000, 0}, Mentions(2, "b"));
    commit.MergeWindow({"telia", 60000, 0}, Mentions(1, "a", 1000));
    commit.SetPosition("file:/x", 0, 12345);
    commit.SetPosition("file:/x", 3, 99);
    commit.SetMeta("watermark", "42");
    commit.PutOutbox("alert-1", "{\"brand\":\"telenor\"}");
    EXPECT_EQ(commit.operation_count(), 7u);
    ASSERT_TRUE(store->Write(commit, /*sync=*/true).ok());
    EXPECT_EQ(commit.operation_count(), 0u) << "a written commit is emptied for reuse";
  }
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  Result<std::optional<uint64_t>> position = store->ReadPosition("file:/x", 0);
  ASSERT_TRUE(position.ok());
  EXPECT_EQ(position->value_or(0), 12345u);
  EXPECT_EQ(store->ReadPosition("file:/x", 3)->value_or(0), 99u);
  EXPECT_FALSE(store->ReadPosition("file:/x", 1)->has_value());
  EXPECT_FALSE(store->ReadPosition("file:/y", 0)->has_value());
  EXPECT_EQ(store->ReadMeta("watermark")->value_or(""), "42");
  EXPECT_FALSE(store->ReadMeta("missing")->has_value());
  Result<std::optional<WindowMetrics>> window = store->ReadWindow({"telenor", 60000, 0});
  ASSERT_TRUE(window.ok());
  ASSERT_TRUE(window->has_value());
  EXPECT_EQ((*window)->mentions, 5u);
  EXPECT_EQ((*window)->reach, 50u);
  EXPECT_EQ((*window)->authors.Estimate(), 5u);
  EXPECT_EQ(StoredWindow(*store, {"telia", 60000, 0}).reach, 1000u);
  EXPECT_FALSE(store->ReadWindow({"telenor", 60000, 60000})->has_value());
  std::vector<std::string> outbox;
  ASSERT_TRUE(store->ScanOutbox([&](std::string_view id, std::string_view payload) {
    outbox.push_back(fmt::format("{}={}", id, payload));
  }).ok());
  EXPECT_EQ(outbox, std::vector<std::string>{"alert-1={\"brand\":\"telenor\"}"});
}

TEST_F(StateStoreTest, InvalidCommitWritesNothing) {
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  StateStore::Commit commit = store->NewCommit();
  commit.SetPosition("file:/x", 0, 100);
  commit.MergeWindow({std::string("bad\0brand", 9), 1000, 0}, Mentions(1, "a"));
  commit.MergeWindow({"good", 1000, 0}, Mentions(1, "a"));
  Status status = store->Write(commit);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_FALSE(store->ReadPosition("file:/x", 0)->has_value());
  EXPECT_FALSE(store->ReadWindow({"good", 1000, 0})->has_value());

  std::unique_ptr<StateStore> other;
  {
    fs::path other_directory = directory_.string() + "-other";
    auto opened = StateStore::Open(StateOptions{other_directory.string(), 16 << 20});
    ASSERT_TRUE(opened.ok());
    other = std::move(opened).value();
    StateStore::Commit foreign = other->NewCommit();
    foreign.SetMeta("k", "v");
    EXPECT_EQ(store->Write(foreign).code(), StatusCode::kInvalidArgument);
    other.reset();
    fs::remove_all(other_directory);
  }
  StateStore::Commit empty = store->NewCommit();
  EXPECT_TRUE(store->Write(empty).ok());
  EXPECT_EQ(store->ScanSeries(WindowKey{std::string("a\0b", 3), 1000, 0}, 0, 1,
                              [](const WindowKey&, const WindowMetrics&) {})
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store->ScanSeries(WindowKey{"a", 1000, 0, std::string("lang\0", 5)}, 0, 1,
                              [](const WindowKey&, const WindowMetrics&) {})
                .code(),
            StatusCode::kInvalidArgument);
}

TEST_F(StateStoreTest, OpenReportsErrorsInsteadOfCrashing) {
  EXPECT_EQ(StateStore::Open(StateOptions{}).status().code(), StatusCode::kInvalidArgument);
  fs::create_directories(directory_);
  std::string file = (directory_ / "a-file").string();
  { std::ofstream(file) << "not a directory"; }
  Result<std::unique_ptr<StateStore>> on_file = StateStore::Open(StateOptions{file + "/state"});
  EXPECT_FALSE(on_file.ok());
  EXPECT_EQ(on_file.status().code(), StatusCode::kIoError) << on_file.status().ToString();

  std::string state = (directory_ / "state").string();
  Result<std::unique_ptr<StateStore>> first = StateStore::Open(StateOptions{state, 16 << 20});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Result<std::unique_ptr<StateStore>> second = StateStore::Open(StateOptions{state, 16 << 20});
  EXPECT_FALSE(second.ok()) << "RocksDB's lock keeps a second opener out";
}

// kill -9 of a process that commits in a loop: after reopening, the position and the windows
// agree exactly (each commit moved the position by the mentions it merged), and every commit the
// writer saw acknowledged is there.
TEST_F(StateStoreTest, KilledWriterLeavesPositionAndWindowsInStep) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  std::string directory = directory_.string();
  std::string directory_setting = fmt::format("{}={}", kWriterDirectoryVariable, directory);
  std::string pipe_setting = fmt::format("{}={}", kWriterPipeVariable, pipe_fds[1]);
  std::vector<char*> environment;
  for (char** variable = environ; *variable != nullptr; ++variable) {
    environment.push_back(*variable);
  }
  environment.push_back(directory_setting.data());
  environment.push_back(pipe_setting.data());
  environment.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  std::string self = fs::read_symlink("/proc/self/exe").string();
  char* arguments[] = {self.data(), nullptr};
  pid_t writer = 0;
  ASSERT_EQ(posix_spawn(&writer, self.c_str(), &actions, nullptr, arguments, environment.data()),
            0);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);

  // Kill it in the middle of writing, after a few thousand acknowledged commits.
  uint64_t acknowledged = 0;
  for (int commits = 0; commits < 3000; ++commits) {
    ASSERT_EQ(read(pipe_fds[0], &acknowledged, sizeof(acknowledged)),
              static_cast<ssize_t>(sizeof(acknowledged)))
        << "the writer stopped early";
  }
  ASSERT_EQ(kill(writer, SIGKILL), 0);
  int wait_status = 0;
  ASSERT_EQ(waitpid(writer, &wait_status, 0), writer);
  EXPECT_TRUE(WIFSIGNALED(wait_status));
  uint64_t later = 0;
  while (read(pipe_fds[0], &later, sizeof(later)) == static_cast<ssize_t>(sizeof(later))) {
    acknowledged = later;
  }
  close(pipe_fds[0]);

  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  std::optional<uint64_t> position = store->ReadPosition("file:/input", 0).value();
  ASSERT_TRUE(position.has_value());
  EXPECT_GE(*position, acknowledged);
  uint64_t mentions = 0, reach = 0;
  ASSERT_TRUE(store->ScanAllWindows([&](const WindowKey&, const WindowMetrics& metrics) {
    mentions += metrics.mentions;
    reach += metrics.reach;
  }).ok());
  EXPECT_EQ(mentions, *position);
  EXPECT_EQ(reach, *position);
  uint64_t last_round = std::stoull(store->ReadMeta("round")->value_or("0"));
  uint64_t expected = 0;
  for (uint64_t round = 0; round <= last_round; ++round) expected += MentionsInRound(round);
  EXPECT_EQ(expected, *position);
}

// ---- Merges -----------------------------------------------------------------------------------

TEST_F(StateStoreTest, ManyMergesEqualTheirSumAcrossFlushesAndCompactions) {
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  const WindowKey hot{"x", 1000, 5000};
  WindowMetrics expected;
  std::vector<WindowMetrics> expected_spread(10);
  for (int round = 0; round < 1000; ++round) {
    StateStore::Commit commit = store->NewCommit();
    // Early rounds have few authors (sparse sketches), later ones many (dense).
    WindowMetrics delta = Mentions(1 + round % 5 + (round > 500 ? 40 : 0),
                                   fmt::format("r{}-", round % 97));
    expected.Merge(delta);
    commit.MergeWindow(hot, delta);
    commit.MergeWindow({"y", 1000, (round % 10) * 1000}, delta);
    expected_spread[round % 10].Merge(delta);
    ASSERT_TRUE(store->Write(commit).ok());
    if (round == 300) {
      ASSERT_TRUE(store->Flush().ok());
    }
    if (round == 600) {
      ASSERT_TRUE(store->Compact().ok());
    }
    if (round % 250 == 0) {
      Result<std::optional<WindowMetrics>> partial = store->ReadWindow(hot);
      ASSERT_TRUE(partial.ok() && partial->has_value());
      EXPECT_TRUE(**partial == expected) << "round " << round;
    }
  }
  EXPECT_FALSE(expected.authors.empty());
  for (bool compacted : {false, true}) {
    if (compacted) {
      ASSERT_TRUE(store->Compact().ok());
    }
    Result<std::optional<WindowMetrics>> window = store->ReadWindow(hot);
    ASSERT_TRUE(window.ok() && window->has_value()) << window.status().ToString();
    EXPECT_TRUE(**window == expected);
    EXPECT_EQ((*window)->mentions, expected.mentions);
    EXPECT_EQ((*window)->reach, expected.reach);
    for (int start = 0; start < 10; ++start) {
      Result<std::optional<WindowMetrics>> spread = store->ReadWindow({"y", 1000, start * 1000});
      ASSERT_TRUE(spread.ok() && spread->has_value());
      EXPECT_TRUE(**spread == expected_spread[start]) << start;
    }
  }
}

TEST_F(StateStoreTest, ManyMergesOfOneKeyInOneBatch) {
  // More operands for one key than max_successive_merges, in one WriteBatch and across batches.
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  WindowMetrics expected;
  for (int batch = 0; batch < 3; ++batch) {
    StateStore::Commit commit = store->NewCommit();
    for (int i = 0; i < 200; ++i) {
      WindowMetrics delta = Mentions(1, fmt::format("b{}-{}-", batch, i));
      expected.Merge(delta);
      commit.MergeWindow({"hot", 60000, -60000}, delta);
    }
    ASSERT_TRUE(store->Write(commit).ok());
  }
  Result<std::optional<WindowMetrics>> window = store->ReadWindow({"hot", 60000, -60000});
  ASSERT_TRUE(window.ok() && window->has_value());
  EXPECT_EQ((*window)->mentions, 600u);
  EXPECT_TRUE(**window == expected);
  store.reset();
  store = Open();  // and once more after replaying the WAL
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(StoredWindow(*store, {"hot", 60000, -60000}) == expected);
}

// ---- Scans ------------------------------------------------------------------------------------

TEST_F(StateStoreTest, ScanSeriesReturnsTheRangeInTimeOrder) {
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  StateStore::Commit commit = store->NewCommit();
  const std::vector<int64_t> starts = {INT64_MIN, -120000, -60000, 0, 60000, 120000,
                                       1767225600000, INT64_MAX};
  // Written out of order, and neighbours that must not leak into the scan.
  for (auto start = starts.rbegin(); start != starts.rend(); ++start) {
    commit.MergeWindow({"a", 60000, *start}, Mentions(1, "x"));
    commit.MergeWindow({"ab", 60000, *start}, Mentions(1, "x"));
    commit.MergeWindow({"a", 3600000, *start}, Mentions(1, "x"));
    commit.MergeWindow({"a", 1000, *start}, Mentions(1, "x"));
  }
  ASSERT_TRUE(store->Write(commit).ok());
  ASSERT_TRUE(store->Flush().ok());  // some of it from SST files
  StateStore::Commit later = store->NewCommit();
  later.MergeWindow({"a", 60000, 180000}, Mentions(2, "y"));
  // Other series of the same brand and size: a dimension, a hopping slide. Not in the scan.
  later.MergeWindow({"a", 60000, 0, "lang:no"}, Mentions(1, "z"));
  later.MergeWindow({"a", 60000, 30000, "", 30000}, Mentions(1, "z"));
  ASSERT_TRUE(store->Write(later).ok());

  auto scan = [&](int64_t from, int64_t to) {
    std::vector<int64_t> seen;
    Status status = store->ScanSeries(
        WindowKey{"a", 60000, 0}, from, to, [&](const WindowKey& key, const WindowMetrics& metrics) {
          EXPECT_EQ(key.brand_id, "a");
          EXPECT_EQ(key.size_ms, 60000);
          EXPECT_GE(metrics.mentions, 1u);
          seen.push_back(key.start_ms);
        });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return seen;
  };
  EXPECT_EQ(scan(-60000, 120000), (std::vector<int64_t>{-60000, 0, 60000}));
  EXPECT_EQ(scan(-60001, 120001), (std::vector<int64_t>{-60000, 0, 60000, 120000}));
  EXPECT_EQ(scan(-119999, -60000), std::vector<int64_t>{});
  EXPECT_EQ(scan(60000, 60000), std::vector<int64_t>{});
  EXPECT_EQ(scan(120000, 0), std::vector<int64_t>{});
  EXPECT_EQ(scan(100000, INT64_MAX),
            (std::vector<int64_t>{120000, 180000, 1767225600000}));  // end is exclusive
  EXPECT_EQ(scan(INT64_MIN, -60000), (std::vector<int64_t>{INT64_MIN, -120000}));
  EXPECT_EQ(scan(INT64_MIN, INT64_MAX).size(), starts.size());  // all but INT64_MAX, plus 180000
  std::vector<int64_t> none;
  ASSERT_TRUE(store->ScanSeries(WindowKey{"c", 60000, 0}, INT64_MIN, INT64_MAX,
                                [&](const WindowKey& key, const WindowMetrics&) {
                                  none.push_back(key.start_ms);
                                }).ok());
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(AllWindows(*store).size(), 4 * starts.size() + 3);  // + 180000, the two other series
}

TEST_F(StateStoreTest, OutboxPutScanDelete) {
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  StateStore::Commit commit = store->NewCommit();
  commit.PutOutbox("rule/b/2", "{\"b\":2}");
  commit.PutOutbox("rule/a/1", "{\"a\":1}");
  commit.PutOutbox("rule/a/10", std::string("binary\0payload", 14));
  ASSERT_TRUE(store->Write(commit).ok());
  auto scan = [&] {
    std::vector<std::string> seen;
    EXPECT_TRUE(store->ScanOutbox([&](std::string_view id, std::string_view payload) {
      seen.push_back(fmt::format("{}={}", id, payload.size()));
    }).ok());
    return seen;
  };
  EXPECT_EQ(scan(), (std::vector<std::string>{"rule/a/1=7", "rule/a/10=14", "rule/b/2=7"}));
  StateStore::Commit deletion = store->NewCommit();
  deletion.DeleteOutbox("rule/a/1");
  deletion.DeleteOutbox("rule/never-written");
  ASSERT_TRUE(store->Write(deletion).ok());
  EXPECT_EQ(scan(), (std::vector<std::string>{"rule/a/10=14", "rule/b/2=7"}));
  store.reset();
  store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(scan(), (std::vector<std::string>{"rule/a/10=14", "rule/b/2=7"}));
  // A put and a delete of the same id in one commit: the later one wins.
  StateStore::Commit both = store->NewCommit();
  both.PutOutbox("rule/c/1", "{}");
  both.DeleteOutbox("rule/c/1");
  both.DeleteOutbox("rule/b/2");
  both.PutOutbox("rule/b/2", "{\"again\":1}");
  ASSERT_TRUE(store->Write(both).ok());
  EXPECT_EQ(scan(), (std::vector<std::string>{"rule/a/10=14", "rule/b/2=11"}));
}

// ---- Retention --------------------------------------------------------------------------------

TEST_F(StateStoreTest, RetentionDeletesExactlyTheExpiredWindows) {
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  StateStore::Commit commit = store->NewCommit();
  std::vector<WindowKey> all;
  for (const char* brand : {"a", "ab", "b"}) {
    for (int64_t start = -300000; start < 600000; start += 60000) all.push_back({brand, 60000, start});
    for (int64_t start = -3600000; start < 7200000; start += 3600000) {
      all.push_back({brand, 3600000, start});
    }
    all.push_back({brand, 1000, INT64_MIN});
    all.push_back({brand, 1000, INT64_MAX - 500});  // its end overflows: it never expires
  }
  for (const WindowKey& key : all) commit.MergeWindow(key, Mentions(1, key.brand_id));
  ASSERT_TRUE(store->Write(commit).ok());
  ASSERT_TRUE(store->Flush().ok());

  auto expect_survivors = [&](int64_t end_before_ms) {
    std::vector<std::string> expected;
    for (const WindowKey& key : all) {
      __int128 end = static_cast<__int128>(key.start_ms) + key.size_ms;
      if (end > end_before_ms) expected.push_back(Describe(key));
    }
    std::sort(expected.begin(), expected.end());
    std::vector<std::string> left = AllWindows(*store);
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left, expected) << "end_before " << end_before_ms;
  };
  ASSERT_TRUE(store->DeleteWindowsEndingBefore(INT64_MIN).ok());
  expect_survivors(INT64_MIN);
  EXPECT_TRUE(store->ReadWindow({"a", 1000, INT64_MIN})->has_value()) << "ends at INT64_MIN+1000";

  // 300000: one-minute windows ending at or before it (start <= 240000) go; the one-hour window
  // [-3600000, 0) goes, [0, 3600000) stays.
  ASSERT_TRUE(store->DeleteWindowsEndingBefore(300000).ok());
  expect_survivors(300000);
  EXPECT_FALSE(store->ReadWindow({"a", 60000, 240000})->has_value());
  EXPECT_TRUE(store->ReadWindow({"a", 60000, 300000})->has_value());

  // A window deleted and merged into again starts from zero.
  StateStore::Commit again = store->NewCommit();
  again.MergeWindow({"a", 60000, 0}, Mentions(2, "new"));
  ASSERT_TRUE(store->Write(again).ok());
  EXPECT_EQ(StoredWindow(*store, {"a", 60000, 0}).mentions, 2u);
  ASSERT_TRUE(store->DeleteWindowsEndingBefore(300000).ok());
  expect_survivors(300000);

  ASSERT_TRUE(store->DeleteWindowsEndingBefore(3600000).ok());
  expect_survivors(3600000);
  ASSERT_TRUE(store->Compact().ok());
  store.reset();
  store = Open();
  ASSERT_NE(store, nullptr);
  expect_survivors(3600000);
  ASSERT_TRUE(store->DeleteWindowsEndingBefore(INT64_MAX).ok());
  expect_survivors(INT64_MAX);
  EXPECT_EQ(AllWindows(*store).size(), 3u) << "only the windows whose end overflows remain";
}

// ---- Corruption -------------------------------------------------------------------------------

TEST_F(StateStoreTest, CorruptOperandIsReportedNotCrashed) {
  const WindowKey bad{"x", 1000, 0};
  const WindowKey good{"x", 1000, 1000};
  {
    std::unique_ptr<StateStore> store = Open();
    ASSERT_NE(store, nullptr);
    StateStore::Commit commit = store->NewCommit();
    commit.MergeWindow(bad, Mentions(1, "y"));
    commit.MergeWindow(good, Mentions(1, "y"));
    ASSERT_TRUE(store->Write(commit).ok());
    ASSERT_TRUE(store->Flush().ok());
  }
  WriteRawWindow(bad, "\x07junk", /*merge=*/true);
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  StateStore::Commit commit = store->NewCommit();
  commit.MergeWindow(bad, Mentions(1, "z"));
  ASSERT_TRUE(store->Write(commit).ok()) << "writing an operand never reads";

  for (int pass = 0; pass < 2; ++pass) {
    Result<std::optional<WindowMetrics>> window = store->ReadWindow(bad);
    EXPECT_FALSE(window.ok());
    EXPECT_EQ(window.status().code(), StatusCode::kCorruption) << window.status().ToString();
    Status scan = store->ScanAllWindows([](const WindowKey&, const WindowMetrics&) {});
    EXPECT_EQ(scan.code(), StatusCode::kCorruption) << scan.ToString();
    // The rest of the store keeps working.
    Result<std::optional<WindowMetrics>> other = store->ReadWindow(good);
    ASSERT_TRUE(other.ok() && other->has_value()) << other.status().ToString();
    EXPECT_EQ((*other)->mentions, 1u + pass);
    StateStore::Commit more = store->NewCommit();
    more.MergeWindow(good, Mentions(1, "w"));
    more.SetPosition("s", 0, pass);
    ASSERT_TRUE(store->Write(more).ok());
    // The second pass reads the operands from an SST: flushing operands without a base value
    // only tries a partial merge, which keeps them unmerged when it fails.
    if (pass == 0) {
      ASSERT_TRUE(store->Flush().ok());
    }
  }
  EXPECT_EQ(StoredWindow(*store, good).mentions, 3u);
  // Retention has to read the first window of each (brand, size) to find them: it reports the
  // damage too instead of skipping it silently.
  EXPECT_EQ(store->DeleteWindowsEndingBefore(1000).code(), StatusCode::kCorruption);
}

TEST_F(StateStoreTest, CorruptStoredValueIsReportedNotCrashed) {
  { ASSERT_NE(Open(), nullptr); }
  WriteRawWindow({"x", 1000, 0}, "\x01\x05", /*merge=*/false);  // truncated version-1 value
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  Result<std::optional<WindowMetrics>> plain = store->ReadWindow({"x", 1000, 0});
  EXPECT_EQ(plain.status().code(), StatusCode::kCorruption) << plain.status().ToString();
  StateStore::Commit commit = store->NewCommit();
  commit.MergeWindow({"x", 1000, 0}, Mentions(1, "y"));
  ASSERT_TRUE(store->Write(commit).ok());
  Result<std::optional<WindowMetrics>> merged = store->ReadWindow({"x", 1000, 0});
  EXPECT_FALSE(merged.ok());
  EXPECT_EQ(merged.status().code(), StatusCode::kCorruption) << merged.status().ToString();
}

}  // namespace
}  // namespace brandpulse
