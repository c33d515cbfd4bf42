// StateStore: brandpulse's durable state in RocksDB. docs/state.md has the exact key and value
// encodings, the commit protocol and what survives a crash.
//
// Column families: `windows` (WindowMetrics under the merge operator
// "brandpulse.window_metrics.v1"), `positions` (source positions), `meta` (watermark and other
// small values), `outbox` (alerts written with the state that fired them, deleted once
// delivered). Everything added to one Commit is written atomically in one WriteBatch with the
// WAL on, which is how window counts, source positions and alerts never disagree after a crash.
//
// Thread safety: none inside. All methods, and the Commit objects of a store, must be used by one
// thread at a time (the pipeline's coordinator); RocksDB's own background threads (flush,
// compaction) are internal. A Commit must not outlive the StateStore that made it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "engine/window_metrics.h"

namespace rocksdb {
class Cache;
class ColumnFamilyHandle;
class DB;
class MergeOperator;
class WriteBatch;
}  // namespace rocksdb

namespace brandpulse {

struct WindowKey {
  std::string brand_id;  // never contains 0x00
  int64_t size_ms = 0;
  int64_t start_ms = 0;
  // "" = all of the brand's posts; otherwise one slice of them: "lang=no", "platform=bluesky",
  // "author=own" (docs/state.md). Never contains 0x00.
  std::string dimension;
  int64_t slide_ms = 0;  // hopping windows: the slide; 0 for tumbling windows and buckets
  bool operator==(const WindowKey&) const = default;
};

// windows key: brand_id bytes, 0x00, dimension bytes, 0x00, big-endian u64 size_ms, big-endian
// u64 slide_ms, big-endian u64 start_ms with the sign bit flipped. Bytewise order is then
// (brand, dimension, size, slide, start) with negative starts before positive ones, so one
// series — a brand's windows of one dimension and shape — is a contiguous, time-ordered range.
std::string EncodeWindowKey(const WindowKey& key);
// nullopt unless `bytes` is exactly one encoded key.
std::optional<WindowKey> DecodeWindowKey(std::string_view bytes);

// Keys of the `meta` column family the pipeline runner writes (docs/state.md).
inline constexpr std::string_view kWatermarkKey = "watermark";           // decimal epoch ms
inline constexpr std::string_view kMaxEventTimeKey = "max_event_time";   // decimal epoch ms
inline constexpr std::string_view kPartitionTimesKey = "partition_max_event_times";

struct StateOptions {
  std::string directory;
  // All of RocksDB's caching memory: a third to one LRU block cache shared by every column
  // family, the rest to memtables (write buffers). Values below 8 MiB are raised to 8 MiB.
  uint64_t memory_budget_bytes = 256ull << 20;
  // Opens what was committed when Open() ran, without taking RocksDB's lock, so `brandpulse
  // query` can read while a pipeline writes. Writes then fail; later commits are not seen.
  bool read_only = false;
};

class StateStore {
 public:
  // Opens the store in options.directory, creating the directory, the database and the column
  // families windows, positions, meta and outbox when missing. Recovers from the WAL after a
  // crash. IoError when the directory cannot be created or RocksDB cannot open (e.g. another
  // process holds its lock); Corruption when RocksDB finds the files damaged.
  static Result<std::unique_ptr<StateStore>> Open(const StateOptions& options);
  ~StateStore();  // closes the database; anything written stays in the WAL
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // A set of changes that Write() applies atomically: after a crash either all of them are in
  // the store or none is. Building a commit does no I/O. Invalid input (a brand id containing
  // 0x00) is remembered and reported by Write(), which then writes nothing.
  class Commit {
   public:
    ~Commit();
    Commit(Commit&&) noexcept;
    Commit& operator=(Commit&&) noexcept;

    // Adds `delta` to the stored metrics of `key` (a merge operand: no read happens).
    void MergeWindow(const WindowKey& key, const WindowMetrics& delta);
    // Replaces the stored metrics of `key`, and every merge added before it in this commit (a
    // closed window's final, bounded value).
    void PutWindow(const WindowKey& key, const WindowMetrics& value);
    // Sets the position to resume `source_id`'s `partition` from (overwrites, not a max).
    void SetPosition(std::string_view source_id, uint32_t partition, uint64_t position);
    void SetMeta(std::string_view key, std::string_view value);
    void PutOutbox(std::string_view alert_id, std::string_view payload);
    void DeleteOutbox(std::string_view alert_id);
    // Operations added since the commit was made or last written.
    size_t operation_count() const { return operation_count_; }

   private:
    friend class StateStore;
    explicit Commit(StateStore& store);
    void Record(const Status& status);
    // Validates `key` and encodes key and value into the scratch buffers; false (recorded) when
    // the key is invalid.
    bool EncodeWindow(const WindowKey& key, const WindowMetrics& metrics);

    StateStore* store_;
    std::unique_ptr<rocksdb::WriteBatch> batch_;
    std::string key_scratch_;
    std::string value_scratch_;
    size_t operation_count_ = 0;
    Status error_;  // the first invalid operation, reported by Write()
  };

  Commit NewCommit() { return Commit(*this); }
  // Writes `commit` atomically (WAL on). With `sync`, the WAL is fsynced before returning, so the
  // commit also survives a power loss; without it, it survives a process crash. On success the
  // commit is emptied and may be reused; on failure nothing of it was applied and it is left as
  // it was. An empty commit writes nothing.
  Status Write(Commit& commit, bool sync = false);

  Result<std::optional<uint64_t>> ReadPosition(std::string_view source_id, uint32_t partition);
  Result<std::optional<std::string>> ReadMeta(std::string_view key);
  // Folds the stored value and all pending merge operands. Corruption when one of them does not
  // decode (the merge operator refuses it, RocksDB reports it); the store stays usable.
  Result<std::optional<WindowMetrics>> ReadWindow(const WindowKey& key);

  // The visitors' arguments live only for the duration of the call.
  using WindowVisitor = std::function<void(const WindowKey& key, const WindowMetrics& metrics)>;
  // Windows of one series (`series` gives brand, dimension, size and slide; its start is
  // ignored) with start in [from_ms, to_ms), in time order: one range scan. InvalidArgument when
  // the brand id or dimension contains 0x00.
  Status ScanSeries(const WindowKey& series, int64_t from_ms, int64_t to_ms,
                    const WindowVisitor& visit);
  // Every window, ordered by (brand, size, start). Does not fill the block cache.
  Status ScanAllWindows(const WindowVisitor& visit);
  // Pending alerts in alert id (bytewise) order.
  Status ScanOutbox(
      const std::function<void(std::string_view alert_id, std::string_view payload)>& visit);

  // Retention: deletes every window whose end (start + size) <= end_before_ms, in every series,
  // atomically, with one range deletion per series that has expired windows. Cost: one seek per
  // series present. See docs/state.md for why range deletions and not a
  // compaction filter.
  Status DeleteWindowsEndingBefore(int64_t end_before_ms);
  // Memtables of every column family to SST files (tests, shutdown).
  Status Flush();
  // Full manual compaction of every column family: folds merge operands into values and drops
  // what range deletions cover (tests, maintenance after retention).
  Status Compact();

 private:
  StateStore() = default;

  // Declared before db_ so they are destroyed after it: the options RocksDB keeps refer to them.
  std::shared_ptr<rocksdb::MergeOperator> merge_operator_;  // shared: RocksDB's options hold it
  std::shared_ptr<rocksdb::Cache> block_cache_;             // shared by every column family
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // owned; destroyed before db_ closes
  rocksdb::ColumnFamilyHandle* windows_ = nullptr;
  rocksdb::ColumnFamilyHandle* positions_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* outbox_ = nullptr;
};

}  // namespace brandpulse
