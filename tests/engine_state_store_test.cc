// The RocksDB state store on real on-disk directories: key encoding, atomic commits that survive
// reopening and a kill -9 of the writing process, merges folded across flushes and compactions,
// range scans, retention, the per-sink outbox, rule state, the state format (migration of a
// format-2 store, refusal of older and newer ones), commits and scans from several threads, and
// corrupt operands and meta values reported as Corruption.
#include "engine/state_store.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <thread>
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
    commit.PutRuleState("crash", "round", std::to_string(round));
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

  using RawFamilies = std::map<std::string, rocksdb::ColumnFamilyHandle*>;
  // Opens the state directory with plain RocksDB, not through StateStore, to plant bytes that the
  // store would not write (bad values, older or newer formats). `create` non-empty: creates the
  // database with exactly these column families (besides default); otherwise opens every family
  // it has.
  void WithRawDatabase(const std::vector<std::string>& create,
                       const std::function<void(rocksdb::DB&, RawFamilies&)>& use) {
    rocksdb::DBOptions db_options;
    std::vector<std::string> families = create;
    if (create.empty()) {
      ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(db_options, directory_.string(), &families).ok());
    } else {
      families.insert(families.begin(), rocksdb::kDefaultColumnFamilyName);
      db_options.create_if_missing = true;
      db_options.create_missing_column_families = true;
      fs::create_directories(directory_);
    }
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& name : families) {
      rocksdb::ColumnFamilyOptions options;
      options.merge_operator = std::make_shared<OpaqueMergeOperator>();
      descriptors.emplace_back(name, options);
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    rocksdb::Status opened =
        rocksdb::DB::Open(db_options, directory_.string(), descriptors, &handles, &raw);
    ASSERT_TRUE(opened.ok()) << opened.ToString();
    std::unique_ptr<rocksdb::DB> db(raw);
    RawFamilies by_name;
    for (rocksdb::ColumnFamilyHandle* handle : handles) by_name[handle->GetName()] = handle;
    use(*db, by_name);
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
    }
    ASSERT_TRUE(db->Close().ok());
  }

  // Writes through RocksDB directly, with the store's column families, to plant bad bytes.
  // `merge` writes a merge operand, otherwise a value.
  void WriteRawWindow(const WindowKey& key, std::string_view bytes, bool merge) {
    WithRawDatabase({}, [&](rocksdb::DB& db, RawFamilies& families) {
      ASSERT_TRUE(families.count("windows"));
      rocksdb::Slice value(bytes.data(), bytes.size());
      rocksdb::Status status =
          merge
              ? db.Merge(rocksdb::WriteOptions(), families["windows"], EncodeWindowKey(key), value)
              : db.Put(rocksdb::WriteOptions(), families["windows"], EncodeWindowKey(key), value);
      EXPECT_TRUE(status.ok()) << status.ToString();
    });
  }

  std::vector<std::string> FamiliesOnDisk() {
    std::vector<std::string> families;
    EXPECT_TRUE(
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), directory_.string(), &families).ok());
    std::sort(families.begin(), families.end());
    return families;
  }

  static std::vector<std::string> Outbox(StateStore& store, std::string_view sink) {
    std::vector<std::string> seen;
    Status status = store.ScanOutbox(sink, [&](std::string_view id, std::string_view payload) {
      seen.push_back(fmt::format("{}={}", id, payload));
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return seen;
  }

  static std::vector<std::string> RuleState(StateStore& store, std::string_view rule) {
    std::vector<std::string> seen;
    Status status = store.ScanRuleState(rule, [&](std::string_view key, std::string_view value) {
      seen.push_back(fmt::format("{}={}", key, value));
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return seen;
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
    commit.PutOutbox("alerts", "alert-1", "{\"brand\":\"telenor\"}");
    commit.PutRuleState("spike", "telenor", "baseline=3");
    EXPECT_EQ(commit.operation_count(), 8u);
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
  ASSERT_TRUE(store
                  ->ScanOutbox("alerts",
                               [&](std::string_view id, std::string_view payload) {
                                 outbox.push_back(fmt::format("{}={}", id, payload));
                               })
                  .ok());
  EXPECT_EQ(outbox, std::vector<std::string>{"alert-1={\"brand\":\"telenor\"}"});
  std::vector<std::string> rule_state;
  ASSERT_TRUE(store
                  ->ScanRuleState("spike",
                                  [&](std::string_view key, std::string_view value) {
                                    rule_state.push_back(fmt::format("{}={}", key, value));
                                  })
                  .ok());
  EXPECT_EQ(rule_state, std::vector<std::string>{"telenor=baseline=3"});
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
  // Rule state is in the same batch: it names the same last round.
  std::vector<std::string> rule_state;
  ASSERT_TRUE(store
                  ->ScanRuleState("crash",
                                  [&](std::string_view key, std::string_view value) {
                                    rule_state.push_back(fmt::format("{}={}", key, value));
                                  })
                  .ok());
  EXPECT_EQ(rule_state, std::vector<std::string>{fmt::format("round={}", last_round)});
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

// Issue 11 (snapshots and partition drops): the windows of given brands, and no other brand's —
// not one whose id extends a given one ("a" / "ab" / "a\x01"), not one between two given ones —
// from memtables and SST files, after a retention range deletion.
TEST_F(StateStoreTest, ScanBrandWindowsReadsExactlyTheGivenBrands) {
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  const std::vector<std::string> brands = {"a", "ab", std::string("a\x01"), "b", "c", "telenor"};
  StateStore::Commit commit = store->NewCommit();
  for (const std::string& brand : brands) {
    for (int64_t start : {-60000, 0, 60000, 120000}) {
      commit.MergeWindow({brand, 60000, start}, Mentions(1, brand));
      commit.MergeWindow({brand, 60000, start, "lang=no"}, Mentions(1, brand));
    }
  }
  ASSERT_TRUE(store->Write(commit).ok());
  ASSERT_TRUE(store->Flush().ok());
  StateStore::Commit later = store->NewCommit();
  later.MergeWindow({"c", 3600000, 0}, Mentions(2, "c"));  // in the memtable
  ASSERT_TRUE(store->Write(later).ok());
  ASSERT_TRUE(store->DeleteWindowsEndingBefore(0).ok());  // -60000 goes for every brand

  auto scan = [&](const std::vector<std::string>& ids) {
    std::vector<std::string> seen;
    Status status = store->ScanBrandWindows(ids, [&](const WindowKey& key, const WindowMetrics& metrics) {
      EXPECT_GE(metrics.mentions, 1u);
      seen.push_back(fmt::format("{}|{}|{}|{}", key.brand_id, key.dimension, key.size_ms, key.start_ms));
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return seen;
  };
  // The same as ScanAllWindows filtered to the brands, in the same order.
  auto filtered = [&](const std::set<std::string>& ids) {
    std::vector<std::string> seen;
    EXPECT_TRUE(store->ScanAllWindows([&](const WindowKey& key, const WindowMetrics&) {
      if (ids.contains(key.brand_id)) {
        seen.push_back(fmt::format("{}|{}|{}|{}", key.brand_id, key.dimension, key.size_ms, key.start_ms));
      }
    }).ok());
    return seen;
  };
  EXPECT_EQ(scan({"a"}), filtered({"a"}));
  EXPECT_EQ(scan({"a"}).size(), 6u);  // 3 starts x 2 dimensions
  EXPECT_EQ(scan({"c", "a", "c"}), filtered({"a", "c"}));
  EXPECT_EQ(scan({"c"}).size(), 7u);
  EXPECT_EQ(scan({"ab", "telenor"}), filtered({"ab", "telenor"}));
  EXPECT_TRUE(scan({"nobody", "", "aa"}).empty());
  EXPECT_TRUE(scan({}).empty());
  std::vector<std::string> seen;
  EXPECT_EQ(store->ScanBrandWindows({"a", std::string("x\0y", 3)},
                                    [&](const WindowKey& key, const WindowMetrics&) {
                                      seen.push_back(key.brand_id);
                                    }).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(seen.empty());
}

TEST_F(StateStoreTest, OutboxPutScanDelete) {
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  StateStore::Commit commit = store->NewCommit();
  commit.PutOutbox("alerts", "rule/b/2", "{\"b\":2}");
  commit.PutOutbox("alerts", "rule/a/1", "{\"a\":1}");
  commit.PutOutbox("alerts", "rule/a/10", std::string("binary\0payload", 14));
  ASSERT_TRUE(store->Write(commit).ok());
  auto scan = [&] {
    std::vector<std::string> seen;
    EXPECT_TRUE(store
                    ->ScanOutbox("alerts",
                                 [&](std::string_view id, std::string_view payload) {
                                   seen.push_back(fmt::format("{}={}", id, payload.size()));
                                 })
                    .ok());
    return seen;
  };
  EXPECT_EQ(scan(), (std::vector<std::string>{"rule/a/1=7", "rule/a/10=14", "rule/b/2=7"}));
  StateStore::Commit deletion = store->NewCommit();
  deletion.DeleteOutbox("alerts", "rule/a/1");
  deletion.DeleteOutbox("alerts", "rule/never-written");
  ASSERT_TRUE(store->Write(deletion).ok());
  EXPECT_EQ(scan(), (std::vector<std::string>{"rule/a/10=14", "rule/b/2=7"}));
  store.reset();
  store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(scan(), (std::vector<std::string>{"rule/a/10=14", "rule/b/2=7"}));
  // A put and a delete of the same id in one commit: the later one wins.
  StateStore::Commit both = store->NewCommit();
  both.PutOutbox("alerts", "rule/c/1", "{}");
  both.DeleteOutbox("alerts", "rule/c/1");
  both.DeleteOutbox("alerts", "rule/b/2");
  both.PutOutbox("alerts", "rule/b/2", "{\"again\":1}");
  ASSERT_TRUE(store->Write(both).ok());
  EXPECT_EQ(scan(), (std::vector<std::string>{"rule/a/10=14", "rule/b/2=11"}));
}

TEST_F(StateStoreTest, TwoSinksAcknowledgeTheSameIdApart) {
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  StateStore::Commit commit = store->NewCommit();
  for (std::string_view sink : {"alerts", "webhook"}) {
    commit.PutOutbox(sink, "spike/telenor/60000", "{\"n\":1}");
    commit.PutOutbox(sink, "spike/telia/60000", "{\"n\":2}");
  }
  // Sinks whose names extend or are extended by "alerts": their entries stay theirs.
  commit.PutOutbox("alert", "x", "1");
  commit.PutOutbox("alerts2", "x", "2");
  commit.PutOutbox("alerts.0", "x", "3");
  // Ids may hold any byte, '/' and 0x00 included, and may be empty.
  commit.PutOutbox("webhook", std::string("a\0/b", 4), "binary");
  commit.PutOutbox("webhook", "", "empty");
  ASSERT_TRUE(store->Write(commit).ok());
  EXPECT_EQ(store->CountOutbox("alerts").value(), 2u);
  EXPECT_EQ(store->CountOutbox("webhook").value(), 4u);
  EXPECT_EQ(store->CountOutbox("nobody").value(), 0u);

  // The alerts sink acknowledges both; the webhook has delivered neither yet.
  StateStore::Commit acknowledge = store->NewCommit();
  acknowledge.DeleteOutbox("alerts", "spike/telenor/60000");
  acknowledge.DeleteOutbox("alerts", "spike/telia/60000");
  ASSERT_TRUE(store->Write(acknowledge).ok());
  EXPECT_EQ(Outbox(*store, "alerts"), std::vector<std::string>{});
  EXPECT_EQ(
      Outbox(*store, "webhook"),
      (std::vector<std::string>{"=empty", std::string("a\0/b=binary", 11),
                                "spike/telenor/60000={\"n\":1}", "spike/telia/60000={\"n\":2}"}));
  EXPECT_EQ(Outbox(*store, "alert"), std::vector<std::string>{"x=1"});
  EXPECT_EQ(Outbox(*store, "alerts2"), std::vector<std::string>{"x=2"});
  EXPECT_EQ(Outbox(*store, "alerts.0"), std::vector<std::string>{"x=3"});

  StateStore::Commit webhook = store->NewCommit();
  webhook.DeleteOutbox("webhook", "spike/telia/60000");
  ASSERT_TRUE(store->Write(webhook).ok());
  store.reset();
  store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->CountOutbox("alerts").value(), 0u);
  EXPECT_EQ(store->CountOutbox("webhook").value(), 3u);
  EXPECT_EQ(Outbox(*store, "webhook").back(), "spike/telenor/60000={\"n\":1}");
}

TEST_F(StateStoreTest, InvalidSinkOrRuleNameFailsTheWholeCommit) {
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  const std::vector<std::function<void(StateStore::Commit&)>> invalid = {
      [](StateStore::Commit& c) { c.PutOutbox("a/b", "id", "p"); },
      [](StateStore::Commit& c) { c.PutOutbox(std::string("a\0b", 3), "id", "p"); },
      [](StateStore::Commit& c) { c.PutOutbox("", "id", "p"); },
      [](StateStore::Commit& c) { c.DeleteOutbox("a/b", "id"); },
      [](StateStore::Commit& c) { c.PutRuleState(std::string("r\0", 2), "k", "v"); },
      [](StateStore::Commit& c) { c.PutRuleState("", "k", "v"); },
      [](StateStore::Commit& c) { c.DeleteRuleState(std::string("\0", 1), "k"); },
      [](StateStore::Commit& c) { c.DeleteAllRuleState(std::string("r\0x", 3)); },
  };
  for (size_t index = 0; index < invalid.size(); ++index) {
    StateStore::Commit commit = store->NewCommit();
    commit.MergeWindow({"good", 1000, 0}, Mentions(1, "a"));
    commit.PutOutbox("alerts", "kept-out", "p");
    commit.PutRuleState("rule", "kept-out", "v");
    invalid[index](commit);
    commit.SetPosition("file:/x", 0, 100);
    Status status = store->Write(commit);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << index << ": " << status.ToString();
  }
  EXPECT_FALSE(store->ReadWindow({"good", 1000, 0})->has_value());
  EXPECT_FALSE(store->ReadPosition("file:/x", 0)->has_value());
  EXPECT_EQ(store->CountOutbox("alerts").value(), 0u);
  EXPECT_EQ(RuleState(*store, "rule"), std::vector<std::string>{});
  auto ignore = [](std::string_view, std::string_view) {};
  EXPECT_EQ(store->ScanOutbox("a/b", ignore).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->ScanOutbox("", ignore).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->CountOutbox(std::string("a\0", 2)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store->ScanRuleState(std::string("r\0", 2), ignore).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store->ScanRuleState("", ignore).code(), StatusCode::kInvalidArgument);
}

TEST_F(StateStoreTest, RuleStatePutScanDeleteAndDeleteAll) {
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  StateStore::Commit commit = store->NewCommit();
  commit.PutRuleState("spike", "telenor", "b=10");
  commit.PutRuleState("spike", "telia", "b=20");
  commit.PutRuleState("spike", std::string("bin\0key", 7), std::string("v\0", 2));
  commit.PutRuleState("spike", "", "empty key");
  // Rules whose names extend "spike" or sort right after its range keep their state.
  commit.PutRuleState("spike2", "telenor", "other");
  commit.PutRuleState("spike\x01", "telenor", "next");
  commit.PutRuleState("timer", "telenor", "t=5");
  ASSERT_TRUE(store->Write(commit).ok());
  EXPECT_EQ(RuleState(*store, "spike"),
            (std::vector<std::string>{"=empty key", std::string("bin\0key=v\0", 10), "telenor=b=10",
                                      "telia=b=20"}));
  EXPECT_EQ(RuleState(*store, "spike2"), std::vector<std::string>{"telenor=other"});
  EXPECT_EQ(RuleState(*store, "spike\x01"), std::vector<std::string>{"telenor=next"});

  StateStore::Commit deletion = store->NewCommit();
  deletion.DeleteRuleState("spike", "telia");
  deletion.DeleteRuleState("spike", "never-written");
  ASSERT_TRUE(store->Write(deletion).ok());
  ASSERT_TRUE(store->Flush().ok());  // the range deletion below then covers keys in an SST

  // Delete all of a rule's state, and write new state for it in the same commit: the range
  // deletion covers what came before it, not what comes after.
  StateStore::Commit reset = store->NewCommit();
  reset.PutRuleState("spike", "before", "dropped");
  reset.DeleteAllRuleState("spike");
  reset.PutRuleState("spike", "telenor", "b=0");
  EXPECT_EQ(reset.operation_count(), 3u);
  ASSERT_TRUE(store->Write(reset).ok());
  for (int pass = 0; pass < 3; ++pass) {
    if (pass == 1) {
      ASSERT_TRUE(store->Compact().ok());
    }
    if (pass == 2) {
      store.reset();
      store = Open();
      ASSERT_NE(store, nullptr);
    }
    EXPECT_EQ(RuleState(*store, "spike"), std::vector<std::string>{"telenor=b=0"}) << pass;
    EXPECT_EQ(RuleState(*store, "spike2"), std::vector<std::string>{"telenor=other"}) << pass;
    EXPECT_EQ(RuleState(*store, "spike\x01"), std::vector<std::string>{"telenor=next"}) << pass;
    EXPECT_EQ(RuleState(*store, "timer"), std::vector<std::string>{"telenor=t=5"}) << pass;
  }
}

TEST_F(StateStoreTest, RuleStateIsAtomicWithTheWindowsOfItsCommit) {
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  for (int epoch = 0; epoch < 3; ++epoch) {
    StateStore::Commit commit = store->NewCommit();
    commit.MergeWindow({"telenor", 60000, 0}, Mentions(2, fmt::format("e{}-", epoch)));
    commit.PutRuleState("spike", "telenor", fmt::format("epoch={}", epoch));
    commit.SetPosition("file:/x", 0, 2 * (epoch + 1));
    commit.PutOutbox("alerts", fmt::format("spike/telenor/{}", epoch), "{}");
    ASSERT_TRUE(store->Write(commit).ok());
  }
  // A commit that fails writes its rule state no more than its windows.
  StateStore::Commit failing = store->NewCommit();
  failing.MergeWindow({"telenor", 60000, 0}, Mentions(2, "lost-"));
  failing.PutRuleState("spike", "telenor", "epoch=lost");
  failing.PutOutbox("bad/sink", "id", "{}");
  EXPECT_EQ(store->Write(failing).code(), StatusCode::kInvalidArgument);
  store.reset();
  store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(StoredWindow(*store, {"telenor", 60000, 0}).mentions, 6u);
  EXPECT_EQ(store->ReadPosition("file:/x", 0)->value_or(0), 6u);
  EXPECT_EQ(RuleState(*store, "spike"), std::vector<std::string>{"telenor=epoch=2"});
  EXPECT_EQ(store->CountOutbox("alerts").value(), 3u);
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

// ---- State format -------------------------------------------------------------------------

// The column families of a brandpulse 0.2 (format 2) store, and of one of 0.1 (format 1).
const std::vector<std::string> kFormat2Families = {"windows", "positions", "meta", "outbox"};

std::string Format1WindowKey(std::string_view brand, uint64_t size_ms, int64_t start_ms) {
  std::string key(brand);
  key.push_back('\0');
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(size_ms >> shift));
  uint64_t start = static_cast<uint64_t>(start_ms) ^ (uint64_t{1} << 63);
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(start >> shift));
  return key;
}

TEST_F(StateStoreTest, NewStoreRecordsItsFormat) {
  {
    std::unique_ptr<StateStore> store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->ReadMetaInteger(kStateFormatKey).value(), std::optional<int64_t>(3));
  }
  EXPECT_EQ(FamiliesOnDisk(), (std::vector<std::string>{"default", "meta", "outbox", "positions",
                                                        "rules", "windows"}));
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->ReadMetaInteger(kStateFormatKey).value(), std::optional<int64_t>(kStateFormat));
  // A read-only opener beside the writer (as `brandpulse query` does) reads the same format.
  auto read_only = StateStore::Open(StateOptions{directory_.string(), 16 << 20, true});
  ASSERT_TRUE(read_only.ok()) << read_only.status().ToString();
  EXPECT_EQ((*read_only)->ReadMetaInteger(kStateFormatKey).value(),
            std::optional<int64_t>(kStateFormat));
  EXPECT_EQ((*read_only)->CountOutbox("alerts").value(), 0u);
}

TEST_F(StateStoreTest, Format2StoreIsMigratedInOneBatch) {
  WindowMetrics stored = Mentions(4, "a");
  std::string encoded;
  stored.EncodeTo(encoded);
  WithRawDatabase(kFormat2Families, [&](rocksdb::DB& db, RawFamilies& families) {
    rocksdb::WriteBatch batch;
    ASSERT_TRUE(
        batch.Put(families["windows"], EncodeWindowKey({"telenor", 60000, 0}), encoded).ok());
    ASSERT_TRUE(batch.Put(families["meta"], "watermark", "120000").ok());
    // Bare alert ids, some of which are what another becomes ("x" → "alerts/x"), sorting after
    // it ("x") and before it ("a" → "alerts/a").
    ASSERT_TRUE(batch.Put(families["outbox"], "spike/telenor/0", "{\"a\":1}").ok());
    ASSERT_TRUE(batch.Put(families["outbox"], "x", "plain x").ok());
    ASSERT_TRUE(batch.Put(families["outbox"], "alerts/x", "prefixed x").ok());
    ASSERT_TRUE(batch.Put(families["outbox"], "a", "plain a").ok());
    ASSERT_TRUE(batch.Put(families["outbox"], "alerts/a", "prefixed a").ok());
    ASSERT_TRUE(db.Write(rocksdb::WriteOptions(), &batch).ok());
  });

  // Read-only, a format-2 store is read as it is: windows and meta, not the outbox.
  {
    auto read_only = StateStore::Open(StateOptions{directory_.string(), 16 << 20, true});
    ASSERT_TRUE(read_only.ok()) << read_only.status().ToString();
    StateStore& store = **read_only;
    EXPECT_TRUE(StoredWindow(store, {"telenor", 60000, 0}) == stored);
    EXPECT_EQ(store.ReadMetaInteger("watermark").value(), std::optional<int64_t>(120000));
    EXPECT_FALSE(store.ReadMetaInteger(kStateFormatKey)->has_value());
    Status outbox = store.ScanOutbox("alerts", [](std::string_view, std::string_view) {});
    EXPECT_EQ(outbox.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(outbox.message().find("format 2"), std::string::npos) << outbox.ToString();
    EXPECT_EQ(store.ScanRuleState("spike", [](std::string_view, std::string_view) {}).code(),
              StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(FamiliesOnDisk(),
            (std::vector<std::string>{"default", "meta", "outbox", "positions", "windows"}));

  for (int open = 0; open < 2; ++open) {  // the second open finds format 3: nothing moves again
    std::unique_ptr<StateStore> store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->ReadMetaInteger(kStateFormatKey).value(), std::optional<int64_t>(3));
    EXPECT_EQ(Outbox(*store, "alerts"),
              (std::vector<std::string>{"a=plain a", "alerts/a=prefixed a", "alerts/x=prefixed x",
                                        "spike/telenor/0={\"a\":1}", "x=plain x"}));
    EXPECT_TRUE(StoredWindow(*store, {"telenor", 60000, 0}) == stored);
    EXPECT_EQ(store->ReadMetaInteger("watermark").value(), std::optional<int64_t>(120000));
    StateStore::Commit commit = store->NewCommit();
    commit.PutRuleState("spike", "telenor", fmt::format("open {}", open));
    commit.DeleteOutbox("alerts", "x");
    ASSERT_TRUE(store->Write(commit).ok());
    EXPECT_EQ(RuleState(*store, "spike"),
              std::vector<std::string>{fmt::format("telenor=open {}", open)});
    // Restore the entry for the second round's expectations.
    StateStore::Commit again = store->NewCommit();
    again.PutOutbox("alerts", "x", "plain x");
    ASSERT_TRUE(store->Write(again).ok());
  }
  EXPECT_EQ(FamiliesOnDisk(), (std::vector<std::string>{"default", "meta", "outbox", "positions",
                                                        "rules", "windows"}));
  // No bare key is left behind in the outbox family.
  WithRawDatabase({}, [&](rocksdb::DB& db, RawFamilies& families) {
    std::unique_ptr<rocksdb::Iterator> it(
        db.NewIterator(rocksdb::ReadOptions(), families["outbox"]));
    std::vector<std::string> keys;
    for (it->SeekToFirst(); it->Valid(); it->Next()) keys.push_back(it->key().ToString());
    EXPECT_EQ(keys, (std::vector<std::string>{"alerts/a", "alerts/alerts/a", "alerts/alerts/x",
                                              "alerts/spike/telenor/0", "alerts/x"}));
  });
}

TEST_F(StateStoreTest, EmptyFormat2StoreIsMigratedToo) {
  WithRawDatabase(kFormat2Families, [](rocksdb::DB&, RawFamilies&) {});
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->ReadMetaInteger(kStateFormatKey).value(), std::optional<int64_t>(3));
  EXPECT_EQ(store->CountOutbox("alerts").value(), 0u);
}

TEST_F(StateStoreTest, Format1StoreIsRefusedUntouched) {
  WithRawDatabase(kFormat2Families, [&](rocksdb::DB& db, RawFamilies& families) {
    ASSERT_TRUE(db.Put(rocksdb::WriteOptions(), families["windows"],
                       Format1WindowKey("telenor", 60000, 0), "\x01\x01\x0a\x00")
                    .ok());
  });
  for (bool read_only : {false, true}) {
    auto store = StateStore::Open(StateOptions{directory_.string(), 16 << 20, read_only});
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
    const std::string& message = store.status().message();
    EXPECT_NE(message.find(directory_.string()), std::string::npos) << message;
    EXPECT_NE(message.find("older brandpulse (state format 1"), std::string::npos) << message;
    EXPECT_NE(message.find("--fresh"), std::string::npos) << message;
  }
  EXPECT_EQ(FamiliesOnDisk(),
            (std::vector<std::string>{"default", "meta", "outbox", "positions", "windows"}));
}

TEST_F(StateStoreTest, NewerFormatIsRefusedUntouched) {
  { ASSERT_NE(Open(), nullptr); }
  WithRawDatabase({}, [&](rocksdb::DB& db, RawFamilies& families) {
    ASSERT_TRUE(db.Put(rocksdb::WriteOptions(), families["meta"], "state_format", "4").ok());
  });
  for (bool read_only : {false, true}) {
    auto store = StateStore::Open(StateOptions{directory_.string(), 16 << 20, read_only});
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(store.status().message().find("newer brandpulse (state format 4)"), std::string::npos)
        << store.status().ToString();
  }

  // A newer layout with a family this build does not know and without one it does: still a
  // clear refusal (not RocksDB's "column families not opened"), and no family is created.
  fs::remove_all(directory_);
  WithRawDatabase(
      {"windows", "positions", "meta", "outbox", "rules", "timers"},
      [&](rocksdb::DB& db, RawFamilies& families) {
        ASSERT_TRUE(db.DropColumnFamily(families["rules"]).ok());
        ASSERT_TRUE(db.Put(rocksdb::WriteOptions(), families["meta"], "state_format", "7").ok());
      });
  std::vector<std::string> before = FamiliesOnDisk();
  auto store = StateStore::Open(StateOptions{directory_.string(), 16 << 20});
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("newer brandpulse (state format 7)"), std::string::npos)
      << store.status().ToString();
  EXPECT_EQ(FamiliesOnDisk(), before);
  EXPECT_EQ(std::count(before.begin(), before.end(), "rules"), 0);
}

TEST_F(StateStoreTest, DatabaseThatIsNoStateIsRefused) {
  WithRawDatabase({"something"}, [](rocksdb::DB&, RawFamilies&) {});
  auto store = StateStore::Open(StateOptions{directory_.string(), 16 << 20});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(store.status().message().find("not a brandpulse state"), std::string::npos)
      << store.status().ToString();
}

// A kill while the first Open creates the store leaves a database with some of its families:
// the next Open finishes the creation instead of refusing it (the short crash test once killed
// a run exactly there).
TEST_F(StateStoreTest, InterruptedCreationIsFinishedByTheNextOpen) {
  for (const std::vector<std::string>& partial :
       std::vector<std::vector<std::string>>{{}, {"windows"}, {"windows", "positions", "meta"}}) {
    fs::remove_all(directory_);
    fs::create_directories(directory_);
    {
      rocksdb::DBOptions db_options;
      db_options.create_if_missing = true;
      db_options.create_missing_column_families = true;
      std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
          {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()}};
      for (const std::string& name : partial) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
      std::vector<rocksdb::ColumnFamilyHandle*> handles;
      rocksdb::DB* raw = nullptr;
      ASSERT_TRUE(rocksdb::DB::Open(db_options, directory_.string(), descriptors, &handles, &raw).ok());
      for (rocksdb::ColumnFamilyHandle* handle : handles) raw->DestroyColumnFamilyHandle(handle);
      delete raw;
    }
    {
      auto store = StateStore::Open(StateOptions{directory_.string(), 16 << 20});
      ASSERT_TRUE(store.ok()) << partial.size() << " families: " << store.status().ToString();
      EXPECT_EQ((*store)->ReadMetaInteger(kStateFormatKey).value(),
                std::optional<int64_t>(kStateFormat));
      StateStore::Commit commit = (*store)->NewCommit();
      commit.SetPosition("file:x", 0, 42);
      ASSERT_TRUE((*store)->Write(commit).ok());
    }
    auto reopened = StateStore::Open(StateOptions{directory_.string(), 16 << 20});
    ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
    EXPECT_EQ((*reopened)->ReadPosition("file:x", 0).value(), std::optional<uint64_t>(42));
  }
  // The same shape with data in the default family is not an unfinished state: refused.
  fs::remove_all(directory_);
  WithRawDatabase({"windows"}, [](rocksdb::DB& db, RawFamilies&) {
    ASSERT_TRUE(db.Put(rocksdb::WriteOptions(), "someone else's", "data").ok());
  });
  auto foreign = StateStore::Open(StateOptions{directory_.string(), 16 << 20});
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.status().message().find("not a brandpulse state"), std::string::npos)
      << foreign.status().ToString();
}

// ---- Meta integers ----------------------------------------------------------------------------

TEST_F(StateStoreTest, CorruptMetaIntegerIsCorruptionNotAnException) {
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  const std::vector<std::pair<std::string, int64_t>> good = {{"0", 0},
                                                             {"-5", -5},
                                                             {"1767225600000", 1767225600000},
                                                             {"9223372036854775807", INT64_MAX},
                                                             {"-9223372036854775808", INT64_MIN}};
  for (const auto& [text, number] : good) {
    StateStore::Commit commit = store->NewCommit();
    commit.SetMeta("watermark", text);
    ASSERT_TRUE(store->Write(commit).ok());
    Result<std::optional<int64_t>> read = store->ReadMetaInteger("watermark");
    ASSERT_TRUE(read.ok()) << text << ": " << read.status().ToString();
    EXPECT_EQ(*read, std::optional<int64_t>(number)) << text;
  }
  EXPECT_EQ(store->ReadMetaInteger("absent").value(), std::nullopt);
  const std::vector<std::string> bad = {"",
                                        "12x",
                                        " 12",
                                        "12 ",
                                        "+12",
                                        "1.5",
                                        "0x10",
                                        "--1",
                                        "9223372036854775808",
                                        "abc",
                                        std::string("1\0", 2),
                                        "\xff\xfe"};
  for (const std::string& text : bad) {
    StateStore::Commit commit = store->NewCommit();
    commit.SetMeta("watermark", text);
    ASSERT_TRUE(store->Write(commit).ok());
    Result<std::optional<int64_t>> read = store->ReadMetaInteger("watermark");
    ASSERT_FALSE(read.ok()) << fmt::format("{:?}", text);
    EXPECT_EQ(read.status().code(), StatusCode::kCorruption);
    EXPECT_NE(read.status().message().find("watermark"), std::string::npos)
        << read.status().ToString();
  }
  StateStore::Commit commit = store->NewCommit();
  commit.SetMeta("max_event_time", "17x");
  ASSERT_TRUE(store->Write(commit).ok());
  Result<std::optional<int64_t>> read = store->ReadMetaInteger("max_event_time");
  EXPECT_EQ(read.status().message(),
            "meta max_event_time holds \"17x\", not a decimal 64-bit integer");

  // A state_format that is no number makes Open fail with Corruption, not throw.
  commit.SetMeta(kStateFormatKey, "three");
  ASSERT_TRUE(store->Write(commit).ok());
  store.reset();
  auto reopened = StateStore::Open(StateOptions{directory_.string(), 16 << 20});
  EXPECT_EQ(reopened.status().code(), StatusCode::kCorruption) << reopened.status().ToString();
}

// ---- Threads ----------------------------------------------------------------------------------

// The coordinator commits epochs (a window, two outbox entries, rule state, the watermark) while
// the alerts sink deletes each entry it acknowledges from its own thread, and a third thread
// scans, reads and runs retention. Every scan must see whole commits: the two rule state keys
// written together agree, the webhook's outbox holds a gap-free prefix of the ids.
TEST_F(StateStoreTest, CommitsFromTwoThreadsWhileAThirdScans) {
  std::unique_ptr<StateStore> store = Open();
  ASSERT_NE(store, nullptr);
  constexpr int kEpochs = 3000;
  auto id = [](int epoch) { return fmt::format("spike/telenor/{:08}", epoch); };
  std::atomic<int> committed{0};
  std::atomic<int> acknowledged{0};
  std::atomic<bool> stop{false};
  std::atomic<int> scans{0};

  std::thread coordinator([&] {
    while (scans.load() == 0 && !stop.load()) std::this_thread::yield();  // overlap the reader
    StateStore::Commit commit = store->NewCommit();
    for (int epoch = 0; epoch < kEpochs; ++epoch) {
      commit.MergeWindow({"telenor", 1000, epoch * 1000}, Mentions(1, fmt::format("{}-", epoch)));
      commit.PutOutbox("alerts", id(epoch), fmt::format("{{\"epoch\":{}}}", epoch));
      commit.PutOutbox("webhook", id(epoch), fmt::format("{{\"epoch\":{}}}", epoch));
      commit.PutRuleState("spike", "a", std::to_string(epoch));
      commit.PutRuleState("spike", "b", std::to_string(epoch));
      commit.SetMeta("watermark", std::to_string(epoch));
      Status status = store->Write(commit);
      if (!status.ok()) {
        ADD_FAILURE() << "coordinator: " << status.ToString();
        stop.store(true);
        break;
      }
      committed.store(epoch + 1, std::memory_order_release);
    }
  });
  std::thread alerts_sink([&] {
    int next = 0;
    while (next < kEpochs && !stop.load()) {
      int ready = committed.load(std::memory_order_acquire);
      if (next == ready) {
        std::this_thread::yield();
        continue;
      }
      for (; next < ready; ++next) {  // one small commit per acknowledged entry
        StateStore::Commit commit = store->NewCommit();
        commit.DeleteOutbox("alerts", id(next));
        Status status = store->Write(commit);
        if (!status.ok()) {
          ADD_FAILURE() << "sink: " << status.ToString();
          stop.store(true);
          return;
        }
      }
      acknowledged.store(next);
    }
  });
  int64_t retained_from = 0;  // every window ending at or before it has been deleted
  std::thread reader([&] {
    while (acknowledged.load() < kEpochs && !stop.load()) {
      int scan = ++scans;
      int before = committed.load(std::memory_order_acquire);
      std::map<std::string, std::string> pair;
      Status status =
          store->ScanRuleState("spike", [&](std::string_view key, std::string_view value) {
            pair[std::string(key)] = std::string(value);
          });
      EXPECT_TRUE(status.ok()) << status.ToString();
      // Nothing yet, or both keys of one commit.
      EXPECT_TRUE(pair.empty() || (pair.size() == 2 && pair["a"] == pair["b"]))
          << "a scan saw half a commit";
      int seen = pair.size() == 2 ? std::stoi(pair["a"]) + 1 : 0;
      EXPECT_GE(seen, before);
      std::vector<std::string> webhook;
      status = store->ScanOutbox("webhook", [&](std::string_view entry, std::string_view) {
        webhook.emplace_back(entry);
      });
      EXPECT_TRUE(status.ok()) << status.ToString();
      EXPECT_GE(webhook.size(), static_cast<size_t>(seen));
      for (size_t index = 0; index < webhook.size(); ++index) {
        if (webhook[index] != id(static_cast<int>(index))) {
          ADD_FAILURE() << "webhook outbox has a gap at " << index;
          break;
        }
      }
      std::string previous;
      status = store->ScanOutbox("alerts", [&](std::string_view entry, std::string_view) {
        EXPECT_LT(previous, entry);
        previous = entry;
      });
      EXPECT_TRUE(status.ok()) << status.ToString();
      Result<std::optional<int64_t>> watermark = store->ReadMetaInteger("watermark");
      EXPECT_TRUE(watermark.ok()) << watermark.status().ToString();
      // Retention of windows the coordinator has moved past.
      if (scan % 4 == 0 && seen > 100) {
        retained_from = std::max<int64_t>(retained_from, (seen - 100) * int64_t{1000});
        status = store->DeleteWindowsEndingBefore(retained_from);
        EXPECT_TRUE(status.ok()) << status.ToString();
      }
      if (::testing::Test::HasFailure()) stop.store(true);
    }
  });
  coordinator.join();
  alerts_sink.join();
  stop.store(true);
  reader.join();
  ASSERT_FALSE(::testing::Test::HasFailure());
  EXPECT_GT(scans.load(), 0);

  EXPECT_EQ(store->CountOutbox("alerts").value(), 0u);
  EXPECT_EQ(store->CountOutbox("webhook").value(), static_cast<uint64_t>(kEpochs));
  EXPECT_EQ(RuleState(*store, "spike"),
            (std::vector<std::string>{fmt::format("a={}", kEpochs - 1),
                                      fmt::format("b={}", kEpochs - 1)}));
  int windows = 0;
  ASSERT_TRUE(store
                  ->ScanAllWindows([&](const WindowKey& key, const WindowMetrics& metrics) {
                    EXPECT_GT(key.start_ms + key.size_ms, retained_from);
                    EXPECT_EQ(metrics.mentions, 1u);
                    ++windows;
                  })
                  .ok());
  EXPECT_EQ(windows, kEpochs - retained_from / 1000);
}

}  // namespace
}  // namespace brandpulse
