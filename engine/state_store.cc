#include "engine/state_store.h"

#include <filesystem>

#include <fmt/format.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

namespace brandpulse {
namespace {

constexpr char kWindowsFamily[] = "windows";
constexpr char kPositionsFamily[] = "positions";
constexpr char kMetaFamily[] = "meta";
constexpr char kOutboxFamily[] = "outbox";

void AppendBigEndian64(std::string& out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

uint64_t ReadBigEndian64(const char* bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

uint64_t FlipSign(int64_t value) { return static_cast<uint64_t>(value) ^ (uint64_t{1} << 63); }
int64_t UnflipSign(uint64_t value) { return static_cast<int64_t>(value ^ (uint64_t{1} << 63)); }

Status FromRocks(const rocksdb::Status& status, std::string_view what) {
  if (status.ok()) return Status::Ok();
  if (status.IsCorruption()) {
    return Status::Corruption(fmt::format("{}: {}", what, status.ToString()));
  }
  return Status::IoError(fmt::format("{}: {}", what, status.ToString()));
}

// Window metrics add up: counts sum, sketches take the register-wise maximum. A malformed
// operand makes the merge fail, which RocksDB reports to the reader as Corruption.
class WindowMetricsMergeOperator final : public rocksdb::MergeOperator {
 public:
  const char* Name() const override { return "brandpulse.window_metrics.v1"; }

  bool FullMergeV2(const MergeOperationInput& input,
                   MergeOperationOutput* output) const override {
    WindowMetrics total;
    if (input.existing_value != nullptr) {
      Result<WindowMetrics> existing = WindowMetrics::Decode(
          std::string_view(input.existing_value->data(), input.existing_value->size()));
      if (!existing.ok()) return false;
      total = std::move(existing).value();
    }
    for (const rocksdb::Slice& operand : input.operand_list) {
      Result<WindowMetrics> delta =
          WindowMetrics::Decode(std::string_view(operand.data(), operand.size()));
      if (!delta.ok()) return false;
      total.Merge(*delta);
    }
    output->new_value.clear();
    total.EncodeTo(output->new_value);
    return true;
  }

  bool PartialMergeMulti(const rocksdb::Slice& key,
                         const std::deque<rocksdb::Slice>& operands, std::string* new_value,
                         rocksdb::Logger* logger) const override {
    WindowMetrics total;
    for (const rocksdb::Slice& operand : operands) {
      Result<WindowMetrics> delta =
          WindowMetrics::Decode(std::string_view(operand.data(), operand.size()));
      if (!delta.ok()) return false;
      total.Merge(*delta);
    }
    new_value->clear();
    total.EncodeTo(*new_value);
    return true;
  }

  bool AllowSingleOperand() const override { return true; }
};

std::string PositionKey(std::string_view source_id, uint32_t partition) {
  std::string key(source_id);
  key.push_back('\0');
  for (int shift = 24; shift >= 0; shift -= 8) key.push_back(static_cast<char>(partition >> shift));
  return key;
}

}  // namespace

std::string EncodeWindowKey(const WindowKey& key) {
  std::string out;
  out.reserve(key.brand_id.size() + 17);
  out.append(key.brand_id);
  out.push_back('\0');
  AppendBigEndian64(out, static_cast<uint64_t>(key.size_ms));
  AppendBigEndian64(out, FlipSign(key.start_ms));
  return out;
}

std::optional<WindowKey> DecodeWindowKey(std::string_view bytes) {
  size_t separator = bytes.find('\0');
  if (separator == std::string_view::npos || bytes.size() != separator + 17) return std::nullopt;
  WindowKey key;
  key.brand_id = std::string(bytes.substr(0, separator));
  key.size_ms = static_cast<int64_t>(ReadBigEndian64(bytes.data() + separator + 1));
  key.start_ms = UnflipSign(ReadBigEndian64(bytes.data() + separator + 9));
  return key;
}

Result<std::unique_ptr<StateStore>> StateStore::Open(const StateOptions& options) {
  std::error_code error;
  std::filesystem::create_directories(options.directory, error);
  if (error) {
    return Status::IoError(
        fmt::format("cannot create state directory {}: {}", options.directory, error.message()));
  }
  uint64_t cache_bytes = options.memory_budget_bytes / 3;
  uint64_t write_buffer_bytes = options.memory_budget_bytes - cache_bytes;
  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(cache_bytes);
  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_cache = cache;
  table_options.cache_index_and_filter_blocks = true;

  auto family_options = [&](uint64_t write_buffer) {
    rocksdb::ColumnFamilyOptions family;
    family.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
    family.write_buffer_size = write_buffer;
    family.max_write_buffer_number = 2;
    return family;
  };
  // Windows take most of the write buffer budget; the other families are tiny.
  rocksdb::ColumnFamilyOptions windows_options = family_options(write_buffer_bytes / 2 / 2);
  windows_options.merge_operator = std::make_shared<WindowMetricsMergeOperator>();
  // Bounds the operands a read must fold (a hot key with 100k operands took 5.9 ms to read).
  windows_options.max_successive_merges = 64;
  rocksdb::ColumnFamilyOptions small_options = family_options(4 << 20);

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.db_write_buffer_size = write_buffer_bytes;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 3;

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, small_options},
      {kWindowsFamily, windows_options},
      {kPositionsFamily, small_options},
      {kMetaFamily, small_options},
      {kOutboxFamily, small_options},
  };
  std::unique_ptr<StateStore> store(new StateStore());
  rocksdb::DB* db = nullptr;
  rocksdb::Status status =
      rocksdb::DB::Open(db_options, options.directory, families, &store->handles_, &db);
  if (!status.ok()) return FromRocks(status, fmt::format("open state {}", options.directory));
  store->db_.reset(db);
  store->windows_ = store->handles_[1];
  store->positions_ = store->handles_[2];
  store->meta_ = store->handles_[3];
  store->outbox_ = store->handles_[4];
  return store;
}

StateStore::~StateStore() {
  if (db_ != nullptr) {
    for (rocksdb::ColumnFamilyHandle* handle : handles_) {
      db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    }
    db_->Close().PermitUncheckedError();  // errors on close leave the WAL to recover from
  }
}

StateStore::Commit::Commit(StateStore& store)
    : store_(&store), batch_(std::make_unique<rocksdb::WriteBatch>()) {}
StateStore::Commit::~Commit() = default;
StateStore::Commit::Commit(Commit&&) noexcept = default;

void StateStore::Commit::MergeWindow(const WindowKey& key, const WindowMetrics& delta) {
  scratch_.clear();
  delta.EncodeTo(scratch_);
  batch_->Merge(store_->windows_, EncodeWindowKey(key), scratch_).PermitUncheckedError();
  ++operations_;
}

void StateStore::Commit::SetPosition(std::string_view source_id, uint32_t partition,
                                     uint64_t position) {
  scratch_.clear();
  AppendBigEndian64(scratch_, position);
  batch_->Put(store_->positions_, PositionKey(source_id, partition), scratch_)
      .PermitUncheckedError();
  ++operations_;
}

void StateStore::Commit::SetMeta(std::string_view key, std::string_view value) {
  batch_->Put(store_->meta_, rocksdb::Slice(key.data(), key.size()),
              rocksdb::Slice(value.data(), value.size()))
      .PermitUncheckedError();
  ++operations_;
}

void StateStore::Commit::PutOutbox(std::string_view alert_id, std::string_view payload) {
  batch_->Put(store_->outbox_, rocksdb::Slice(alert_id.data(), alert_id.size()),
              rocksdb::Slice(payload.data(), payload.size()))
      .PermitUncheckedError();
  ++operations_;
}

void StateStore::Commit::DeleteOutbox(std::string_view alert_id) {
  batch_->Delete(store_->outbox_, rocksdb::Slice(alert_id.data(), alert_id.size()))
      .PermitUncheckedError();
  ++operations_;
}

Status StateStore::Write(Commit& commit, bool sync) {
  rocksdb::WriteOptions write_options;
  write_options.sync = sync;
  return FromRocks(db_->Write(write_options, commit.batch_.get()), "commit state");
}

Result<std::optional<uint64_t>> StateStore::ReadPosition(std::string_view source_id,
                                                         uint32_t partition) {
  std::string value;
  rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), positions_, PositionKey(source_id, partition), &value);
  if (status.IsNotFound()) return std::optional<uint64_t>();
  RETURN_IF_ERROR(FromRocks(status, "read position"));
  if (value.size() != 8) return Status::Corruption("position value is not 8 bytes");
  return std::optional<uint64_t>(ReadBigEndian64(value.data()));
}

Result<std::optional<std::string>> StateStore::ReadMeta(std::string_view key) {
  std::string value;
  rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), meta_, rocksdb::Slice(key.data(), key.size()), &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  RETURN_IF_ERROR(FromRocks(status, "read meta"));
  return std::optional<std::string>(std::move(value));
}

Result<std::optional<WindowMetrics>> StateStore::ReadWindow(const WindowKey& key) {
  std::string value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), windows_, EncodeWindowKey(key), &value);
  if (status.IsNotFound()) return std::optional<WindowMetrics>();
  RETURN_IF_ERROR(FromRocks(status, "read window"));
  ASSIGN_OR_RETURN(WindowMetrics metrics, WindowMetrics::Decode(value));
  return std::optional<WindowMetrics>(std::move(metrics));
}

Status StateStore::ScanBrandWindows(
    std::string_view brand_id, int64_t size_ms, int64_t from_ms, int64_t to_ms,
    const std::function<void(const WindowKey&, const WindowMetrics&)>& visit) {
  std::string begin = EncodeWindowKey(WindowKey{std::string(brand_id), size_ms, from_ms});
  std::string end = EncodeWindowKey(WindowKey{std::string(brand_id), size_ms, to_ms});
  rocksdb::ReadOptions read_options;
  rocksdb::Slice upper(end);
  read_options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> iterator(db_->NewIterator(read_options, windows_));
  for (iterator->Seek(begin); iterator->Valid(); iterator->Next()) {
    std::optional<WindowKey> key = DecodeWindowKey(iterator->key().ToStringView());
    if (!key) return Status::Corruption("malformed window key");
    ASSIGN_OR_RETURN(WindowMetrics metrics, WindowMetrics::Decode(iterator->value().ToStringView()));
    visit(*key, metrics);
  }
  return FromRocks(iterator->status(), "scan windows");
}

Status StateStore::ScanAllWindows(
    const std::function<void(const WindowKey&, const WindowMetrics&)>& visit) {
  std::unique_ptr<rocksdb::Iterator> iterator(db_->NewIterator(rocksdb::ReadOptions(), windows_));
  for (iterator->SeekToFirst(); iterator->Valid(); iterator->Next()) {
    std::optional<WindowKey> key = DecodeWindowKey(iterator->key().ToStringView());
    if (!key) return Status::Corruption("malformed window key");
    ASSIGN_OR_RETURN(WindowMetrics metrics, WindowMetrics::Decode(iterator->value().ToStringView()));
    visit(*key, metrics);
  }
  return FromRocks(iterator->status(), "scan windows");
}

Status StateStore::ScanOutbox(
    const std::function<void(std::string_view alert_id, std::string_view payload)>& visit) {
  std::unique_ptr<rocksdb::Iterator> iterator(db_->NewIterator(rocksdb::ReadOptions(), outbox_));
  for (iterator->SeekToFirst(); iterator->Valid(); iterator->Next()) {
    visit(iterator->key().ToStringView(), iterator->value().ToStringView());
  }
  return FromRocks(iterator->status(), "scan outbox");
}

// Windows sort by brand, then size, then start: for each (brand, size) prefix the expired
// windows are one contiguous range, removed with one range deletion. Keys are visited by
// seeking from prefix to prefix, so the cost grows with brands × sizes, not with windows.
Status StateStore::DeleteWindowsEndingBefore(int64_t end_before_ms) {
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> iterator(db_->NewIterator(rocksdb::ReadOptions(), windows_));
  iterator->SeekToFirst();
  while (iterator->Valid()) {
    std::optional<WindowKey> key = DecodeWindowKey(iterator->key().ToStringView());
    if (!key) return Status::Corruption("malformed window key");
    // Windows of this (brand, size) end before the cut when start < end_before - size.
    int64_t start_limit = end_before_ms - key->size_ms + 1;
    if (key->start_ms < start_limit) {
      std::string begin = EncodeWindowKey(WindowKey{key->brand_id, key->size_ms, INT64_MIN});
      std::string end = EncodeWindowKey(WindowKey{key->brand_id, key->size_ms, start_limit});
      batch.DeleteRange(windows_, begin, end).PermitUncheckedError();
    }
    // Next (brand, size) prefix.
    std::string next = EncodeWindowKey(WindowKey{key->brand_id, key->size_ms, INT64_MAX});
    next.push_back('\0');
    iterator->Seek(next);
  }
  RETURN_IF_ERROR(FromRocks(iterator->status(), "scan windows for retention"));
  if (batch.Count() == 0) return Status::Ok();
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "delete expired windows");
}

Status StateStore::Flush() {
  rocksdb::FlushOptions flush_options;
  return FromRocks(db_->Flush(flush_options, handles_), "flush state");
}

}  // namespace brandpulse
