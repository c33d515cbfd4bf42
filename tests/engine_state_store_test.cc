// HyperLogLog accuracy and determinism, window metric encoding, and the RocksDB state store on a
// real on-disk directory: atomic commits, reopen, range scans, retention, outbox, corruption.
#include "engine/state_store.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "engine/hash.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;

TEST(HyperLogLogTest, ErrorWithinThreeStandardErrors) {
  const double standard_error = 1.04 / std::sqrt(4096.0);
  for (uint64_t distinct : {1000ull, 10000ull, 100000ull, 1000000ull}) {
    HyperLogLog sketch;
    for (uint64_t i = 0; i < distinct; ++i) sketch.AddHash(MixBits(i * 0x9e3779b97f4a7c15ULL + 17));
    double error = std::abs(static_cast<double>(sketch.Estimate()) - distinct) / distinct;
    EXPECT_LT(error, 3 * standard_error) << distinct << " distinct, estimate " << sketch.Estimate();
  }
}

TEST(HyperLogLogTest, SmallCountsAreExactEnough) {
  HyperLogLog sketch;
  for (uint64_t i = 0; i < 5; ++i) {
    sketch.AddHash(HashBytes(std::to_string(i)));
    sketch.AddHash(HashBytes(std::to_string(i)));  // duplicates do not count
  }
  EXPECT_EQ(sketch.Estimate(), 5u);
}

TEST(HyperLogLogTest, OrderAndGroupingDoNotChangeRegisters) {
  std::vector<uint64_t> hashes;
  for (uint64_t i = 0; i < 20000; ++i) hashes.push_back(HashBytes(std::to_string(i % 7000)));
  HyperLogLog in_order;
  for (uint64_t hash : hashes) in_order.AddHash(hash);
  // Three parts merged the other way round, one of them still sparse.
  HyperLogLog first, second, third;
  for (size_t i = 0; i < hashes.size(); ++i) {
    (i < 100 ? first : i % 2 ? second : third).AddHash(hashes[hashes.size() - 1 - i]);
  }
  third.Merge(first);
  second.Merge(third);
  EXPECT_TRUE(second == in_order);
  std::string a, b;
  in_order.EncodeTo(a);
  second.EncodeTo(b);
  EXPECT_EQ(a, b);
}

TEST(HyperLogLogTest, EncodingRoundTripsSparseAndDense) {
  for (uint64_t count : {0ull, 3ull, 200ull, 50000ull}) {
    HyperLogLog sketch;
    for (uint64_t i = 0; i < count; ++i) sketch.AddHash(MixBits(i + 1));
    std::string encoded;
    sketch.EncodeTo(encoded);
    std::string_view view = encoded;
    std::optional<HyperLogLog> decoded = HyperLogLog::DecodeFrom(view);
    ASSERT_TRUE(decoded.has_value()) << count;
    EXPECT_TRUE(view.empty());
    EXPECT_TRUE(*decoded == sketch);
    EXPECT_EQ(decoded->Estimate(), sketch.Estimate());
    if (count == 3) EXPECT_LT(encoded.size(), 16u) << "a sparse sketch stays small";
  }
}

TEST(WindowMetricsTest, MergeAddsAndDecodeRejectsGarbage) {
  WindowMetrics a, b;
  a.AddMention(HashBytes("alice"), 100);
  a.AddMention(HashBytes("bob"), 5);
  b.AddMention(HashBytes("alice"), 100);
  b.AddMention(HashBytes("carol"), -1);  // unknown followers add no reach
  a.Merge(b);
  EXPECT_EQ(a.mentions, 4u);
  EXPECT_EQ(a.reach, 205u);
  EXPECT_EQ(a.authors.Estimate(), 3u);
  std::string encoded;
  a.EncodeTo(encoded);
  Result<WindowMetrics> decoded = WindowMetrics::Decode(encoded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(*decoded == a);
  EXPECT_EQ(WindowMetrics::Decode("").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(WindowMetrics::Decode("\x09garbage").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(WindowMetrics::Decode(encoded.substr(0, encoded.size() - 1)).status().code(),
            StatusCode::kCorruption);
}

TEST(WindowKeyTest, BigEndianKeysSortByBrandSizeThenTime) {
  std::vector<WindowKey> keys = {{"a", 60000, -120000}, {"a", 60000, -60000}, {"a", 60000, 0},
                                 {"a", 60000, 1767225600000}, {"a", 3600000, 0}, {"b", 1000, -5}};
  for (size_t i = 1; i < keys.size(); ++i) {
    EXPECT_LT(EncodeWindowKey(keys[i - 1]), EncodeWindowKey(keys[i])) << i;
  }
  std::optional<WindowKey> decoded = DecodeWindowKey(EncodeWindowKey(keys[0]));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->brand_id, "a");
  EXPECT_EQ(decoded->size_ms, 60000);
  EXPECT_EQ(decoded->start_ms, -120000);
  EXPECT_FALSE(DecodeWindowKey("no-separator").has_value());
}

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = fs::temp_directory_path() / fmt::format("brandpulse-state-{}-{}", ::getpid(),
                                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(directory_);
  }
  void TearDown() override { fs::remove_all(directory_); }
  std::unique_ptr<StateStore> Open() {
    auto store = StateStore::Open(StateOptions{directory_.string(), 64 << 20});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  static WindowMetrics Mentions(uint64_t count, const std::string& author_prefix) {
    WindowMetrics metrics;
    for (uint64_t i = 0; i < count; ++i) metrics.AddMention(HashBytes(author_prefix + std::to_string(i)), 10);
    return metrics;
  }
  fs::path directory_;
};

TEST_F(StateStoreTest, CommitIsAtomicAndSurvivesReopen) {
  {
    auto store = Open();
    StateStore::Commit commit = store->NewCommit();
    commit.MergeWindow({"telenor", 60000, 0}, Mentions(3, "a"));
    commit.MergeWindow({"telenor", 60000, 0}, Mentions(2, "b"));
    commit.SetPosition("file:/x", 0, 12345);
    commit.SetMeta("watermark", "42");
    EXPECT_EQ(commit.operation_count(), 4u);
    ASSERT_TRUE(store->Write(commit, true).ok());
  }
  auto store = Open();
  auto position = store->ReadPosition("file:/x", 0);
  ASSERT_TRUE(position.ok());
  EXPECT_EQ(position->value_or(0), 12345u);
  EXPECT_FALSE(store->ReadPosition("file:/x", 1)->has_value());
  EXPECT_EQ(store->ReadMeta("watermark")->value_or(""), "42");
  auto window = store->ReadWindow({"telenor", 60000, 0});
  ASSERT_TRUE(window.ok());
  ASSERT_TRUE(window->has_value());
  EXPECT_EQ((*window)->mentions, 5u);
  EXPECT_EQ((*window)->reach, 50u);
  EXPECT_EQ((*window)->authors.Estimate(), 5u);
}

TEST_F(StateStoreTest, ManyMergesEqualTheirSum) {
  auto store = Open();
  WindowMetrics expected;
  for (int round = 0; round < 300; ++round) {
    StateStore::Commit commit = store->NewCommit();
    WindowMetrics delta = Mentions(1 + round % 5, fmt::format("r{}-", round % 50));
    expected.Merge(delta);
    commit.MergeWindow({"x", 1000, 5000}, delta);
    ASSERT_TRUE(store->Write(commit).ok());
    if (round == 150) ASSERT_TRUE(store->Flush().ok());
  }
  auto window = store->ReadWindow({"x", 1000, 5000});
  ASSERT_TRUE(window.ok() && window->has_value());
  EXPECT_TRUE(**window == expected);
}

TEST_F(StateStoreTest, ScanBrandWindowsReturnsTheRangeInTimeOrder) {
  auto store = Open();
  StateStore::Commit commit = store->NewCommit();
  for (int64_t start : {-120000LL, -60000LL, 0LL, 60000LL, 120000LL, 1767225600000LL}) {
    commit.MergeWindow({"a", 60000, start}, Mentions(1, "x"));
  }
  commit.MergeWindow({"a", 3600000, 0}, Mentions(1, "x"));
  commit.MergeWindow({"ab", 60000, 0}, Mentions(1, "x"));
  ASSERT_TRUE(store->Write(commit).ok());
  std::vector<int64_t> starts;
  ASSERT_TRUE(store->ScanBrandWindows("a", 60000, -60000, 120000,
                                      [&](const WindowKey& key, const WindowMetrics&) {
                                        EXPECT_EQ(key.brand_id, "a");
                                        starts.push_back(key.start_ms);
                                      }).ok());
  EXPECT_EQ(starts, (std::vector<int64_t>{-60000, 0, 60000}));
}

TEST_F(StateStoreTest, RetentionDeletesExactlyTheExpiredWindows) {
  auto store = Open();
  StateStore::Commit commit = store->NewCommit();
  for (const char* brand : {"a", "b"}) {
    for (int64_t start = 0; start < 600000; start += 60000) {
      commit.MergeWindow({brand, 60000, start}, Mentions(1, "x"));
    }
    commit.MergeWindow({brand, 3600000, 0}, Mentions(1, "x"));
  }
  ASSERT_TRUE(store->Write(commit).ok());
  ASSERT_TRUE(store->DeleteWindowsEndingBefore(300000).ok());
  std::vector<std::string> left;
  ASSERT_TRUE(store->ScanAllWindows([&](const WindowKey& key, const WindowMetrics&) {
    left.push_back(fmt::format("{}/{}/{}", key.brand_id, key.size_ms, key.start_ms));
  }).ok());
  // Windows ending at or before 300000 are gone: 1-minute windows starting at or before 240000.
  std::vector<std::string> expected;
  for (const char* brand : {"a", "b"}) {
    for (int64_t start = 300000; start < 600000; start += 60000) {
      expected.push_back(fmt::format("{}/60000/{}", brand, start));
    }
    expected.push_back(fmt::format("{}/3600000/0", brand));
  }
  EXPECT_EQ(left, expected);
}

TEST_F(StateStoreTest, OutboxPutScanDelete) {
  auto store = Open();
  StateStore::Commit commit = store->NewCommit();
  commit.PutOutbox("rule/b/2", "{\"b\":2}");
  commit.PutOutbox("rule/a/1", "{\"a\":1}");
  ASSERT_TRUE(store->Write(commit).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(store->ScanOutbox([&](std::string_view id, std::string_view payload) {
    seen.push_back(fmt::format("{}={}", id, payload));
  }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"rule/a/1={\"a\":1}", "rule/b/2={\"b\":2}"}));
  StateStore::Commit deletion = store->NewCommit();
  deletion.DeleteOutbox("rule/a/1");
  ASSERT_TRUE(store->Write(deletion).ok());
  seen.clear();
  ASSERT_TRUE(store->ScanOutbox([&](std::string_view id, std::string_view) { seen.emplace_back(id); }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"rule/b/2"}));
}

TEST_F(StateStoreTest, CorruptOperandIsReportedNotCrashed) {
  { auto store = Open(); }
  {
    // Write a garbage operand straight through RocksDB with the same column family layout.
    rocksdb::Options options;
    std::vector<std::string> families;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(options, directory_.string(), &families).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& name : families) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), directory_.string(), descriptors, &handles, &db).ok());
    size_t windows = std::find(families.begin(), families.end(), "windows") - families.begin();
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[windows], EncodeWindowKey({"x", 1000, 0}), "\x07junk").ok());
    for (auto* handle : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
    delete db;
  }
  auto store = Open();
  StateStore::Commit commit = store->NewCommit();
  commit.MergeWindow({"x", 1000, 0}, Mentions(1, "y"));
  ASSERT_TRUE(store->Write(commit).ok());
  auto window = store->ReadWindow({"x", 1000, 0});
  EXPECT_FALSE(window.ok());
  EXPECT_EQ(window.status().code(), StatusCode::kCorruption) << window.status().ToString();
}

}  // namespace
}  // namespace brandpulse
