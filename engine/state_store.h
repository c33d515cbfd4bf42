// StateStore: brandpulse's durable state in RocksDB. docs/state.md has the exact key and value
// encodings, the state format version, the commit protocol and what survives a crash.
//
// Column families: `windows` (WindowMetrics under the merge operator
// "brandpulse.window_metrics.v1"), `positions` (source positions), `meta` (watermark, state
// format and other small values), `outbox` (per sink: entries written with the state that
// produced them, deleted once that sink has delivered them), `rules` (keyed state of alert
// rules: baselines, timers). Everything added to one Commit is written atomically in one
// WriteBatch with the WAL on, which is how window counts, source positions, rule state and alerts
// never disagree after a crash.
//
// Thread safety: a StateStore keeps no mutable state after Open() — every call uses its own key
// buffers, iterators and WriteBatch, and RocksDB's DB is thread-safe — so NewCommit, Write,
// ReadPosition, ReadMeta, ReadMetaInteger, ReadWindow, every Scan*, CountOutbox,
// DeleteWindowsEndingBefore, Flush and Compact may be called from several threads at once (the
// coordinator commits while sinks delete the outbox entries they acknowledged). Each Write is
// atomic for readers too: a read or scan sees a commit entirely or not at all, and a scan reads
// one consistent snapshot, taken when it starts. Writes from several threads are applied in some
// order; two threads that write the same key race (the last applied wins), so threads should own
// disjoint keys (a sink deletes only its own outbox entries). Retention deletes whatever window it
// finds expired, so it must not run against windows a concurrent commit still merges into.
// Visitors run on the calling thread with no lock held; they may call the store.
// A Commit is NOT thread-safe: build and Write() it from one thread at a time. Open() and the
// destructor must not overlap any other call, and a Commit must not outlive the StateStore that
// made it. RocksDB's own background threads (flush, compaction) are internal.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "engine/window_metrics.h"

namespace rocksdb {
class Cache;
class ColumnFamilyHandle;
struct ColumnFamilyOptions;
class DB;
class MergeOperator;
class WriteBatch;
struct WriteOptions;
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
// "input_identity/<source id>/<partition>": Batch::input_identity at the committed position (a
// followed file: "device:inode:prefix bytes:prefix hash"), so a restart can tell a rotated,
// truncated or rewritten file from the one the position is in.
inline std::string InputIdentityKey(std::string_view source_id, uint32_t partition) {
  return std::string("input_identity/").append(source_id).append("/").append(
      std::to_string(partition));
}
// Decimal state format version (docs/state.md), written when a store is created or migrated.
inline constexpr std::string_view kStateFormatKey = "state_format";

// The layout this build writes. 1: brandpulse 0.1 (window keys without dimension and slide;
// refused). 2: brandpulse 0.2 (no `state_format` key, bare outbox keys, no `rules` family;
// migrated on a read-write Open). 3: outbox keyed per sink, `rules` family, `state_format` key.
inline constexpr int64_t kStateFormat = 3;
// The sink a format-2 outbox's entries belong to after migration: the pipeline's alerts sink.
inline constexpr std::string_view kAlertsOutboxSink = "alerts";

struct StateOptions {
  std::string directory;
  // All of RocksDB's caching memory: a third to one LRU block cache shared by every column
  // family, the rest to memtables (write buffers). Values below 8 MiB are raised to 8 MiB.
  uint64_t memory_budget_bytes = 256ull << 20;
  // Opens what was committed when Open() ran, without taking RocksDB's lock, so `brandpulse
  // query` can read while a pipeline writes. Writes then fail; later commits are not seen.
  bool read_only = false;
};

// Deletes the state in `directory` (a fresh run), holding the store's lock while it does so.
// IoError, and nothing deleted, while another process has the store open (a running pipeline).
// Ok when there is nothing to delete.
Status RemoveState(const std::string& directory);

class StateStore {
 public:
  // Opens the store in options.directory. A directory without a database gets a new one with the
  // column families windows, positions, meta, outbox and rules, and state_format = kStateFormat.
  // Recovers from the WAL after a crash. An existing store of format 2 (no state_format key) is
  // migrated in one WriteBatch (docs/state.md); read-only, it is not, and then only windows,
  // positions and meta can be read (outbox and rule state calls return InvalidArgument).
  // InvalidArgument, with a message saying what to do, for a state of format 1 (brandpulse 0.1),
  // of a format newer than kStateFormat, or a database that is no brandpulse state; its keys and
  // column families are left as they were. IoError when the directory cannot be created or RocksDB
  // cannot open (e.g. another process holds its lock); Corruption when RocksDB finds the files
  // damaged or state_format is not a number.
  static Result<std::unique_ptr<StateStore>> Open(const StateOptions& options);
  ~StateStore();  // closes the database; anything written stays in the WAL
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // A set of changes that Write() applies atomically: after a crash either all of them are in
  // the store or none is, and concurrent readers see all of them or none. Operations apply in the
  // order they were added. Building a commit does no I/O. Invalid input (a brand id or dimension
  // containing 0x00, an empty sink name or one containing '/' or 0x00, an empty rule name or one
  // containing 0x00) is remembered and reported by Write() as InvalidArgument; it then writes
  // nothing. Not thread-safe (see the top of this file).
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
    // Removes the stored window `key` (issue 11: a merger drops a partition it no longer owns).
    void DeleteWindow(const WindowKey& key);
    // Sets the position to resume `source_id`'s `partition` from (overwrites, not a max).
    void SetPosition(std::string_view source_id, uint32_t partition, uint64_t position);
    void SetMeta(std::string_view key, std::string_view value);
    // Outbox entry `id` of `sink` (key `<sink>/<id>`): each sink acknowledges its entries apart,
    // so two sinks may hold the same id. Ids may contain any byte.
    void PutOutbox(std::string_view sink, std::string_view id, std::string_view payload);
    void DeleteOutbox(std::string_view sink, std::string_view id);
    // Keyed state of alert rule `rule` (key: rule, 0x00, key). Keys and values may hold any byte.
    void PutRuleState(std::string_view rule, std::string_view key, std::string_view value);
    void DeleteRuleState(std::string_view rule, std::string_view key);
    // Every key of `rule` written before this commit or earlier in it (one range deletion);
    // PutRuleState calls added after it in the same commit survive.
    void DeleteAllRuleState(std::string_view rule);
    // Keys of `rule` in [from_key, to_key) (one range deletion; issue 14: the de-duplication
    // set expires its oldest ids with it). Operations after it in the commit survive.
    void DeleteRuleStateRange(std::string_view rule, std::string_view from_key,
                              std::string_view to_key);
    // Operations added since the commit was made or last written.
    size_t operation_count() const { return operation_count_; }

   private:
    friend class StateStore;
    explicit Commit(StateStore& store);
    void Record(const Status& status);
    // Validates `key` and encodes key and value into the scratch buffers; false (recorded) when
    // the key is invalid.
    bool EncodeWindow(const WindowKey& key, const WindowMetrics& metrics);
    // Validate and encode into key_scratch_; false (recorded) when the name is invalid.
    bool EncodeOutboxKey(std::string_view sink, std::string_view id);
    bool EncodeRuleKey(std::string_view rule, std::string_view key);

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
  // it was. An empty commit writes nothing. InvalidArgument for a commit with invalid input or
  // made by another store, and on a read-only store of format 2; the error of RocksDB otherwise
  // (a read-only store refuses every write).
  Status Write(Commit& commit, bool sync = false);
  //
  // After the first write that fails with an I/O error (a full disk, EIO), from any thread, the
  // store takes no more writes: Write, DeleteWindowsEndingBefore, Flush and Compact return an
  // IoError naming that first error, and RocksDB does not resume by itself either. Resuming in
  // place after a failed WAL append aborts on an assertion in Debian's librocksdb 7.8; a reopen
  // (the next run) replays the WAL and goes on from the last acknowledged write.
  //
  // True when the write that stopped the store (or the last Write() before that) found the disk
  // full (RocksDB's NoSpace, or its background error after one). Nothing of that commit was
  // applied: close the store, and reopen once there is space.
  bool out_of_space() const { return out_of_space_.load(std::memory_order_relaxed); }

  Result<std::optional<uint64_t>> ReadPosition(std::string_view source_id, uint32_t partition);
  Result<std::optional<std::string>> ReadMeta(std::string_view key);
  // A meta value that must be a decimal int64 (e.g. kWatermarkKey): nullopt when absent;
  // Corruption naming the key and the stored bytes when it is not exactly one optionally
  // negative decimal number that fits an int64.
  Result<std::optional<int64_t>> ReadMetaInteger(std::string_view key);
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
  // Every window, ordered by (brand, dimension, size, slide, start). Does not fill the block cache.
  Status ScanAllWindows(const WindowVisitor& visit);
  // The windows of `brand_ids` (any order, duplicates allowed), ordered by (brand, dimension,
  // size, slide, start): a window key starts with its brand id and 0x00, so one bounded range
  // scan per brand reads its keys and no other brand's. Cost: a seek per brand plus its windows,
  // not the store's. InvalidArgument for an id that contains 0x00 (nothing is visited). Does not
  // fill the block cache.
  Status ScanBrandWindows(const std::vector<std::string>& brand_ids, const WindowVisitor& visit);
  // `sink`'s pending entries in id (bytewise) order: one prefix range scan, other sinks' entries
  // are not read. InvalidArgument for an invalid sink name.
  Status ScanOutbox(
      std::string_view sink,
      const std::function<void(std::string_view id, std::string_view payload)>& visit);
  // The number of `sink`'s pending entries. A scan of them (cost grows with the depth): for
  // start-up, not for every commit.
  Result<uint64_t> CountOutbox(std::string_view sink);
  // Entries per sink name over the whole outbox (one scan; for start-up checks: entries of a
  // sink that a pipeline no longer has are never delivered).
  Result<std::map<std::string, uint64_t>> OutboxDepthBySink();
  // `rule`'s state in key (bytewise) order: one prefix range scan. InvalidArgument for an invalid
  // rule name.
  Status ScanRuleState(
      std::string_view rule,
      const std::function<void(std::string_view key, std::string_view value)>& visit);

  // One key of `rule`'s state (a point read; issue 14: the earlier version of an edited post).
  // nullopt when absent; InvalidArgument for an invalid rule name.
  Result<std::optional<std::string>> ReadRuleState(std::string_view rule, std::string_view key);

  // Retention: deletes every window whose end (start + size) <= end_before_ms, in every series,
  // atomically, with one range deletion per series that has expired windows. Cost: one seek per
  // series present. See docs/state.md for why range deletions and not a
  // compaction filter.
  Status DeleteWindowsEndingBefore(int64_t end_before_ms);
  // Memory and write stalls, for metrics (pipeline/metrics.h); summed over column families.
  // Thread-safe: may be called while another thread writes.
  struct Health {
    uint64_t memtable_bytes = 0;       // rocksdb.cur-size-all-mem-tables
    uint64_t block_cache_bytes = 0;    // rocksdb.block-cache-usage (the shared cache)
    uint64_t table_readers_bytes = 0;  // rocksdb.estimate-table-readers-mem
    uint64_t stall_slowdowns = 0;      // writes slowed down (cfstats io_stalls.total_slowdown)
    uint64_t stall_stops = 0;          // writes stopped (cfstats io_stalls.total_stop)
    bool write_stopped = false;        // rocksdb.is-write-stopped, now
  };
  Health health() const;
  // Memtables of every column family to SST files (tests, shutdown).
  Status Flush();
  // Full manual compaction of every column family: folds merge operands into values and drops
  // what range deletions cover (tests, maintenance after retention).
  Status Compact();

 private:
  StateStore() = default;
  // Points windows_ ... rules_ at the handles of those names (null when absent).
  void AssignHandles();
  // Writes state_format to a store just created; reads it from an existing one, refuses formats
  // this build cannot read and migrates a format-2 store opened for writing.
  Status CheckFormat(const StateOptions& options, bool created,
                     const rocksdb::ColumnFamilyOptions& rules_options);
  Status MigrateFromFormat2(const rocksdb::ColumnFamilyOptions& rules_options);
  // InvalidArgument unless the outbox and rules families are in this build's format.
  Status RequireCurrentFormat(std::string_view what) const;
  // Every write goes through here: refused after an earlier I/O error, latched on a new one.
  Status ApplyBatch(const rocksdb::WriteOptions& options, rocksdb::WriteBatch& batch,
                    std::string_view what);
  // Ok, or the IoError that says the store stopped taking writes, and why.
  Status WriteFailure() const;

  // Declared before db_ so they are destroyed after it: the options RocksDB keeps refer to them.
  std::shared_ptr<rocksdb::MergeOperator> merge_operator_;  // shared: RocksDB's options hold it
  std::shared_ptr<rocksdb::Cache> block_cache_;             // shared by every column family
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // owned; destroyed before db_ closes
  rocksdb::ColumnFamilyHandle* windows_ = nullptr;
  rocksdb::ColumnFamilyHandle* positions_ = nullptr;
  std::atomic<bool> out_of_space_{false};  // the last Write() found the disk full (any thread)
  std::atomic<bool> write_failed_{false};   // a write failed with an I/O error: no more writes
  mutable std::mutex write_failure_mutex_;  // guards write_failure_
  Status write_failure_;                    // that first error
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* outbox_ = nullptr;
  rocksdb::ColumnFamilyHandle* rules_ = nullptr;  // null only in a read-only format-2 store
  std::string directory_;
  int64_t format_ = kStateFormat;  // the format of what is stored; set by Open, then constant
};

}  // namespace brandpulse
