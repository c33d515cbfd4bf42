// StateStore: brandpulse's durable state in RocksDB (docs/state.md has the exact layout).
// Column families: windows (merge operator "brandpulse.window_metrics.v1"), positions, meta,
// outbox. Everything added to one Commit is written atomically in one WriteBatch, which is how
// window deltas, source positions and alerts can never disagree after a crash.
// Thread safety: one thread (the pipeline's coordinator) uses a StateStore at a time.
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
class DB;
class ColumnFamilyHandle;
class WriteBatch;
}  // namespace rocksdb

namespace brandpulse {

struct WindowKey {
  std::string brand_id;  // never contains 0x00
  int64_t size_ms = 0;
  int64_t start_ms = 0;
};

// brand_id, 0x00, big-endian u64 size, big-endian u64 start with the sign bit flipped (so
// negative times sort before positive ones).
std::string EncodeWindowKey(const WindowKey& key);
std::optional<WindowKey> DecodeWindowKey(std::string_view bytes);

struct StateOptions {
  std::string directory;
  // Split: a third to one block cache shared by all column families, the rest to write buffers.
  uint64_t memory_budget_bytes = 256ull << 20;
};

class StateStore {
 public:
  // Creates the directory and column families when missing.
  static Result<std::unique_ptr<StateStore>> Open(const StateOptions& options);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // A set of changes written atomically by Write().
  class Commit {
   public:
    ~Commit();
    Commit(Commit&&) noexcept;
    void MergeWindow(const WindowKey& key, const WindowMetrics& delta);
    void SetPosition(std::string_view source_id, uint32_t partition, uint64_t position);
    void SetMeta(std::string_view key, std::string_view value);
    void PutOutbox(std::string_view alert_id, std::string_view payload);
    void DeleteOutbox(std::string_view alert_id);
    size_t operation_count() const { return operations_; }

   private:
    friend class StateStore;
    explicit Commit(StateStore& store);
    StateStore* store_;
    std::unique_ptr<rocksdb::WriteBatch> batch_;
    std::string scratch_;
    size_t operations_ = 0;
  };

  Commit NewCommit() { return Commit(*this); }
  // With `sync`, the WAL is fsynced before returning.
  Status Write(Commit& commit, bool sync = false);

  Result<std::optional<uint64_t>> ReadPosition(std::string_view source_id, uint32_t partition);
  Result<std::optional<std::string>> ReadMeta(std::string_view key);
  Result<std::optional<WindowMetrics>> ReadWindow(const WindowKey& key);
  // Windows of one brand and size with start in [from_ms, to_ms), in time order.
  Status ScanBrandWindows(std::string_view brand_id, int64_t size_ms, int64_t from_ms,
                          int64_t to_ms,
                          const std::function<void(const WindowKey&, const WindowMetrics&)>& visit);
  Status ScanAllWindows(const std::function<void(const WindowKey&, const WindowMetrics&)>& visit);
  // In alert id order.
  Status ScanOutbox(
      const std::function<void(std::string_view alert_id, std::string_view payload)>& visit);
  // Retention: deletes every window whose end (start + size) <= end_before_ms.
  Status DeleteWindowsEndingBefore(int64_t end_before_ms);
  // Memtables to SST files.
  Status Flush();

 private:
  StateStore() = default;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // owned; destroyed before db_
  rocksdb::ColumnFamilyHandle* windows_ = nullptr;
  rocksdb::ColumnFamilyHandle* positions_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* outbox_ = nullptr;
};

}  // namespace brandpulse
