#include "engine/state_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <mutex>
#include <utility>

#include <fmt/format.h>
#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "engine/log.h"
#include "engine/state_store_internal.h"

namespace brandpulse {

using namespace state_internal;

namespace {

constexpr uint64_t kMinimumMemoryBudget = 8ull << 20;
constexpr size_t kWindowKeySuffixSize = 1 + 8 + 8 + 8;  // 0x00, size, slide, start

// RocksDB resumes by itself from a full disk (its SstFileManager polls the free space and calls
// Resume on a background thread) and from retryable I/O errors. After a failed WAL append that
// resume can leave the failed log writer in place, and the next write, from any of our threads,
// then aborts on an assertion in Debian's librocksdb 7.8 (`sync_without_flush_called_`,
// WritableFileWriter). So the store never resumes in place: after a write error it refuses
// writes (StateStore::ApplyBatch) until it is closed and opened again.
// RocksDB's info log (the LOG file in the state directory) goes to our log instead, errors only.
// On a full disk, once an append to LOG had failed, the next line RocksDB logged — the one that
// reports the failed commit — aborted on the same assertion in Debian's librocksdb 7.8 (gdb:
// ErrorHandler::HandleKnownErrors → EnvLogger::Logv → WritableFileWriter::Append). Our log
// (stderr) needs no space on the state's disk.
class StateLogger final : public rocksdb::Logger {
 public:
  explicit StateLogger(std::string directory)
      : rocksdb::Logger(rocksdb::InfoLogLevel::ERROR_LEVEL), directory_(std::move(directory)) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel() || level == rocksdb::InfoLogLevel::HEADER_LEVEL) return;
    char line[1024];
    const int length = std::vsnprintf(line, sizeof line, format, ap);
    if (length < 0) return;
    LogError("rocksdb error", {{"state", directory_}, {"message", line}});
  }

 private:
  std::string directory_;
};

class NoAutomaticResume final : public rocksdb::EventListener {
 public:
  const char* Name() const override { return "brandpulse.no_automatic_resume"; }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status bg_error,
                            bool* auto_recovery) override {
    bg_error.PermitUncheckedError();
    *auto_recovery = false;
  }
};

// Window metrics add up: counts sum, sketches take the register-wise maximum, term counts sum
// (exactly: term summaries are only bounded when their window closes, by a Put). That is
// associative, so RocksDB may fold operands in any grouping (PartialMergeMulti during flush and
// compaction, FullMergeV2 on reads) and get the same value. A malformed operand or value makes
// the merge return false: a read then fails with Corruption, a partial merge keeps the operands
// unmerged, and a flush or compaction that must fold it fails (docs/state.md).
class WindowMetricsMergeOperator final : public rocksdb::MergeOperator {
 public:
  const char* Name() const override { return "brandpulse.window_metrics.v1"; }

  bool FullMergeV2(const MergeOperationInput& input,
                   MergeOperationOutput* output) const override {
    WindowMetrics total;
    if (input.existing_value != nullptr && !Add(*input.existing_value, total)) return false;
    for (const rocksdb::Slice& operand : input.operand_list) {
      if (!Add(operand, total)) return false;
    }
    output->new_value.clear();
    total.EncodeTo(output->new_value);
    return true;
  }

  bool PartialMergeMulti(const rocksdb::Slice& key, const std::deque<rocksdb::Slice>& operands,
                         std::string* new_value, rocksdb::Logger* logger) const override {
    WindowMetrics total;
    for (const rocksdb::Slice& operand : operands) {
      if (!Add(operand, total)) return false;
    }
    new_value->clear();
    total.EncodeTo(*new_value);
    return true;
  }

 private:
  static bool Add(const rocksdb::Slice& encoded, WindowMetrics& total) {
    Result<WindowMetrics> metrics = WindowMetrics::Decode(ToView(encoded));
    if (!metrics.ok()) return false;
    total.Merge(*metrics);
    return true;
  }
};

void EncodePositionKey(std::string_view source_id, uint32_t partition, std::string& out) {
  out.assign(source_id);
  out.push_back('\0');
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(partition >> shift));
}

// Brand ids and dimensions separate the key's parts with 0x00, so they must not contain it.
Status CheckWindowKey(const WindowKey& key) {
  if (key.brand_id.find('\0') == std::string::npos &&
      key.dimension.find('\0') == std::string::npos) {
    return Status::Ok();
  }
  return Status::InvalidArgument(fmt::format(
      "window brand id {:?} or dimension {:?} contains a 0x00 byte", key.brand_id, key.dimension));
}

// Outbox keys are `<sink>/<id>`: a sink name without '/' makes `<sink>/` a prefix no other
// sink's key has, and [`<sink>/`, `<sink>0`) — '0' is the byte after '/' — exactly its range.
Status CheckSinkName(std::string_view sink) {
  if (sink.empty()) return Status::InvalidArgument("outbox sink name is empty");
  if (sink.find('/') == std::string_view::npos && sink.find('\0') == std::string_view::npos) {
    return Status::Ok();
  }
  return Status::InvalidArgument(
      fmt::format("outbox sink name {:?} contains '/' or a 0x00 byte", sink));
}

// Rule state keys are `<rule> 0x00 <key>`; the rule's range is [`<rule> 0x00`, `<rule> 0x01`).
Status CheckRuleName(std::string_view rule) {
  if (rule.empty()) return Status::InvalidArgument("rule name is empty");
  if (rule.find('\0') == std::string_view::npos) return Status::Ok();
  return Status::InvalidArgument(fmt::format("rule name {:?} contains a 0x00 byte", rule));
}

// The key range of one sink's outbox or one rule's state: [prefix, end).
struct PrefixRange {
  std::string prefix;
  std::string end;
};

PrefixRange OutboxRange(std::string_view sink) {
  return {fmt::format("{}/", sink), fmt::format("{}0", sink)};
}

PrefixRange RuleRange(std::string_view rule) {
  std::string prefix(rule);
  prefix.push_back('\0');
  std::string end(rule);
  end.push_back('\x01');
  return {std::move(prefix), std::move(end)};
}

// Visits every key of `range` in `family` with the prefix stripped; one seek, one bounded scan.
rocksdb::Status ScanRange(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* family,
                          const PrefixRange& range,
                          const std::function<void(std::string_view, std::string_view)>& visit) {
  rocksdb::Slice upper_bound(range.end);  // must outlive the iterator
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> iterator(db.NewIterator(read_options, family));
  for (iterator->Seek(range.prefix); iterator->Valid(); iterator->Next()) {
    std::string_view key = ToView(iterator->key());
    visit(key.substr(range.prefix.size()), ToView(iterator->value()));
  }
  return iterator->status();
}

WindowKey WithStart(const WindowKey& series, int64_t start_ms) {
  WindowKey key = series;
  key.start_ms = start_ms;
  return key;
}

// A key after every window of `series`: the exclusive end of its range. It sorts before every
// key of the next series because brand ids and dimensions contain no 0x00.
std::string EndOfSeries(const WindowKey& series) {
  std::string key = EncodeWindowKey(WithStart(series, INT64_MAX));
  key.push_back('\0');
  return key;
}

Status VisitWindows(rocksdb::Iterator& iterator, const StateStore::WindowVisitor& visit) {
  for (; iterator.Valid(); iterator.Next()) {
    std::optional<WindowKey> key = DecodeWindowKey(ToView(iterator.key()));
    if (!key) return Status::Corruption("malformed window key");
    Result<WindowMetrics> metrics = WindowMetrics::Decode(ToView(iterator.value()));
    if (!metrics.ok()) {
      return Status::Corruption(fmt::format("window {}/{}/{}/{}: {}", key->brand_id, key->dimension,
                                            key->size_ms, key->start_ms, metrics.status().message()));
    }
    visit(*key, *metrics);
  }
  return FromRocks(iterator.status(), "scan windows");
}

// True when every family of the database in `directory` holds no key (opened read-only).
Result<bool> FamiliesAreEmpty(const std::string& directory, const std::vector<std::string>& names) {
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status opened =
      rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), directory, descriptors, &handles, &raw);
  if (!opened.ok()) return FromRocks(opened, fmt::format("open state {}", directory));
  std::unique_ptr<rocksdb::DB> db(raw);
  bool empty = true;
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    std::unique_ptr<rocksdb::Iterator> iterator(db->NewIterator(rocksdb::ReadOptions(), handle));
    iterator->SeekToFirst();
    empty = empty && !iterator->Valid() && iterator->status().ok();
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles) db->DestroyColumnFamilyHandle(handle);
  return empty;
}

}  // namespace

std::string EncodeWindowKey(const WindowKey& key) {
  std::string out;
  out.reserve(key.brand_id.size() + 1 + key.dimension.size() + kWindowKeySuffixSize);
  out.append(key.brand_id);
  out.push_back('\0');
  out.append(key.dimension);
  out.push_back('\0');
  AppendBigEndian64(out, static_cast<uint64_t>(key.size_ms));
  AppendBigEndian64(out, static_cast<uint64_t>(key.slide_ms));
  AppendBigEndian64(out, FlipSign(key.start_ms));
  return out;
}

std::optional<WindowKey> DecodeWindowKey(std::string_view bytes) {
  if (bytes.size() < kWindowKeySuffixSize) return std::nullopt;
  size_t separator = bytes.size() - kWindowKeySuffixSize;
  if (bytes[separator] != '\0') return std::nullopt;
  std::string_view head = bytes.substr(0, separator);  // brand 0x00 dimension
  size_t brand_end = head.find('\0');
  if (brand_end == std::string_view::npos ||
      head.find('\0', brand_end + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  WindowKey key;
  key.brand_id = std::string(head.substr(0, brand_end));
  key.dimension = std::string(head.substr(brand_end + 1));
  key.size_ms = static_cast<int64_t>(ReadBigEndian64(bytes.data() + separator + 1));
  key.slide_ms = static_cast<int64_t>(ReadBigEndian64(bytes.data() + separator + 9));
  key.start_ms = UnflipSign(ReadBigEndian64(bytes.data() + separator + 17));
  return key;
}

namespace {

// RocksDB holds a POSIX write lock (fcntl) on <state>/LOCK while a database is open.
std::string InUseMessage(const std::string& directory) {
  return fmt::format(
      "state {} is in use by another running pipeline (it holds {}/LOCK); stop that pipeline "
      "first, or give this one another state.directory",
      directory, directory);
}

}  // namespace

Status RemoveState(const std::string& directory) {
  std::error_code error;
  if (!std::filesystem::exists(directory, error)) return Status::Ok();
  const std::string lock_path = directory + "/LOCK";
  int descriptor = ::open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
  if (descriptor >= 0) {
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    if (::fcntl(descriptor, F_SETLK, &lock) != 0) {
      int lock_errno = errno;
      ::close(descriptor);
      if (lock_errno == EACCES || lock_errno == EAGAIN) {
        return Status::IoError(InUseMessage(directory));
      }
      return Status::IoError(
          fmt::format("cannot lock {}: {}", lock_path, std::strerror(lock_errno)));
    }
  }
  // Held until the state is gone: a pipeline starting meanwhile waits for nothing it can use.
  std::filesystem::remove_all(directory, error);
  if (descriptor >= 0) ::close(descriptor);
  if (error) {
    return Status::IoError(fmt::format("cannot remove state {}: {}", directory, error.message()));
  }
  return Status::Ok();
}

Result<std::unique_ptr<StateStore>> StateStore::Open(const StateOptions& options) {
  if (options.directory.empty()) return Status::InvalidArgument("state directory is empty");
  if (options.read_only && !std::filesystem::exists(options.directory)) {
    return Status::NotFound(fmt::format("no state in {}", options.directory));
  }
  std::error_code error;
  std::filesystem::create_directories(options.directory, error);
  if (error) {
    return Status::IoError(
        fmt::format("cannot create state directory {}: {}", options.directory, error.message()));
  }
  // Whether a database exists decides between creating one (all families, state_format written)
  // and opening what is there: exactly its families, none created until its format is known,
  // so a state of another format is refused untouched.
  std::string directory = options.directory;
  bool created = !std::filesystem::exists(std::filesystem::path(directory) / "CURRENT", error);
  if (options.read_only && created) {
    return Status::NotFound(fmt::format("no state in {}", directory));
  }
  std::vector<std::string> existing;
  if (!created) {
    rocksdb::Status listed =
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), directory, &existing);
    if (!listed.ok()) return FromRocks(listed, fmt::format("open state {}", directory));
  }
  std::unique_ptr<StateStore> store(new StateStore());
  store->directory_ = directory;

  uint64_t budget = std::max(options.memory_budget_bytes, kMinimumMemoryBudget);
  uint64_t cache_bytes = budget / 3;
  uint64_t write_buffer_bytes = budget - cache_bytes;
  store->block_cache_ = rocksdb::NewLRUCache(cache_bytes);
  store->merge_operator_ = std::make_shared<WindowMetricsMergeOperator>();

  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_cache = store->block_cache_;
  // Index and filter blocks count against the budget instead of growing beside it.
  table_options.cache_index_and_filter_blocks = true;
  table_options.pin_l0_filter_and_index_blocks_in_cache = true;
  // Closing a window reads it by key; the filter spares the levels that do not hold it.
  table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  std::shared_ptr<rocksdb::TableFactory> table_factory(
      rocksdb::NewBlockBasedTableFactory(table_options));

  std::vector<rocksdb::CompressionType> supported = rocksdb::GetSupportedCompressions();
  auto is_supported = [&](rocksdb::CompressionType type) {
    return std::find(supported.begin(), supported.end(), type) != supported.end();
  };
  auto family_options = [&](uint64_t write_buffer_size) {
    rocksdb::ColumnFamilyOptions family;
    family.table_factory = table_factory;
    family.write_buffer_size = write_buffer_size;
    family.max_write_buffer_number = 2;
    family.level_compaction_dynamic_level_bytes = true;
    // Dense sketches are 4 KiB of small numbers: LZ4 is cheap on the write path, ZSTD shrinks
    // the cold bottom level further.
    if (is_supported(rocksdb::kLZ4Compression)) family.compression = rocksdb::kLZ4Compression;
    if (is_supported(rocksdb::kZSTD)) family.bottommost_compression = rocksdb::kZSTD;
    return family;
  };
  // windows gets the write buffers: the other families take a few bytes per commit.
  rocksdb::ColumnFamilyOptions windows_options = family_options(write_buffer_bytes / 2);
  windows_options.merge_operator = store->merge_operator_;
  // No max_successive_merges (issue 17): with it every Merge() counted the key's operands in the
  // memtable (a lookup per operand written, 426 instructions per post on the bench). Pipelines
  // pre-aggregate per commit, so a key gets one operand per commit; flushes fold them, and the
  // runner reads no window on the commit path (pipeline/window_closer.h keeps totals in memory).
  rocksdb::ColumnFamilyOptions small_options =
      family_options(std::clamp<uint64_t>(write_buffer_bytes / 16, 1ull << 20, 8ull << 20));

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = created;
  db_options.create_missing_column_families = created;
  // One cap on all memtables together, so the small families cannot push past the budget.
  db_options.db_write_buffer_size = write_buffer_bytes;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 3;
  db_options.max_log_file_size = 16ull << 20;
  db_options.info_log = std::make_shared<StateLogger>(directory);
  // No resume in place after a write error (NoAutomaticResume says why); a reopen resumes.
  db_options.listeners.push_back(std::make_shared<NoAutomaticResume>());
  db_options.max_bgerror_resume_count = 0;

  const std::map<std::string, rocksdb::ColumnFamilyOptions> known = {
      {rocksdb::kDefaultColumnFamilyName, small_options},
      {kWindowsFamily, windows_options},
      {kPositionsFamily, small_options},
      {kMetaFamily, small_options},
      {kOutboxFamily, small_options},
      {kRulesFamily, small_options},
  };
  // A kill while a store is being created can leave a database with only some of its families
  // (RocksDB adds them one at a time): such a store never held data, so its creation is finished
  // now. A database with a family this build does not know, or with data in the default family
  // (where brandpulse writes nothing), is someone else's and goes on to be refused.
  if (!created && !options.read_only) {
    bool all_known = std::all_of(existing.begin(), existing.end(), [&](const std::string& name) {
      return known.count(name) > 0;
    });
    bool has_core = true;
    for (const char* core : {kWindowsFamily, kPositionsFamily, kMetaFamily, kOutboxFamily}) {
      has_core = has_core && std::find(existing.begin(), existing.end(), core) != existing.end();
    }
    if (all_known && !has_core) {
      ASSIGN_OR_RETURN(bool empty, FamiliesAreEmpty(directory, existing));
      if (empty) {
        created = true;
        db_options.create_if_missing = true;
        db_options.create_missing_column_families = true;
      }
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  if (created) {
    for (const auto& [name, family] : known) families.emplace_back(name, family);
  } else {
    // RocksDB must be given every family a database has; one this build does not know (a newer
    // format's) is opened with plain options so that its state_format can be read and reported.
    for (const std::string& name : existing) {
      auto found = known.find(name);
      families.emplace_back(name, found != known.end() ? found->second : small_options);
    }
  }
  rocksdb::DB* db = nullptr;
  rocksdb::Status status =
      options.read_only
          ? rocksdb::DB::OpenForReadOnly(db_options, directory, families, &store->handles_, &db)
          : rocksdb::DB::Open(db_options, directory, families, &store->handles_, &db);
  if (status.IsIOError() && status.ToString().find("lock") != std::string::npos) {
    return Status::IoError(fmt::format("{} ({})", InUseMessage(directory), status.ToString()));
  }
  if (!status.ok()) return FromRocks(status, fmt::format("open state {}", directory));
  store->db_.reset(db);
  store->AssignHandles();
  RETURN_IF_ERROR(store->CheckFormat(options, created, small_options));
  return store;
}

void StateStore::AssignHandles() {
  windows_ = positions_ = meta_ = outbox_ = rules_ = nullptr;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    const std::string& name = handle->GetName();
    if (name == kWindowsFamily) windows_ = handle;
    if (name == kPositionsFamily) positions_ = handle;
    if (name == kMetaFamily) meta_ = handle;
    if (name == kOutboxFamily) outbox_ = handle;
    if (name == kRulesFamily) rules_ = handle;
  }
}

StateStore::~StateStore() {
  if (db_ == nullptr) return;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  // A failing close loses nothing that Write() acknowledged: it is in the WAL, replayed by the
  // next Open().
  db_->Close().PermitUncheckedError();
}

StateStore::Commit::Commit(StateStore& store)
    : store_(&store), batch_(std::make_unique<rocksdb::WriteBatch>()) {}
StateStore::Commit::~Commit() = default;
StateStore::Commit::Commit(Commit&&) noexcept = default;
StateStore::Commit& StateStore::Commit::operator=(Commit&&) noexcept = default;

void StateStore::Commit::Record(const Status& status) {
  if (error_.ok() && !status.ok()) error_ = status;
}

bool StateStore::Commit::EncodeWindow(const WindowKey& key, const WindowMetrics& metrics) {
  Status valid = CheckWindowKey(key);
  if (!valid.ok()) {
    Record(valid);
    return false;
  }
  key_scratch_ = EncodeWindowKey(key);
  value_scratch_.clear();
  metrics.EncodeTo(value_scratch_);
  ++operation_count_;
  return true;
}

void StateStore::Commit::MergeWindow(const WindowKey& key, const WindowMetrics& delta) {
  if (!EncodeWindow(key, delta)) return;
  Record(FromRocks(batch_->Merge(store_->windows_, key_scratch_, value_scratch_), "merge window"));
}

void StateStore::Commit::PutWindow(const WindowKey& key, const WindowMetrics& value) {
  if (!EncodeWindow(key, value)) return;
  Record(FromRocks(batch_->Put(store_->windows_, key_scratch_, value_scratch_), "put window"));
}

void StateStore::Commit::DeleteWindow(const WindowKey& key) {
  if (!EncodeWindow(key, WindowMetrics{})) return;
  Record(FromRocks(batch_->Delete(store_->windows_, key_scratch_), "delete window"));
}

void StateStore::Commit::SetPosition(std::string_view source_id, uint32_t partition,
                                     uint64_t position) {
  EncodePositionKey(source_id, partition, key_scratch_);
  value_scratch_.clear();
  AppendBigEndian64(value_scratch_, position);
  Record(FromRocks(batch_->Put(store_->positions_, key_scratch_, value_scratch_), "set position"));
  ++operation_count_;
}

void StateStore::Commit::SetMeta(std::string_view key, std::string_view value) {
  Record(FromRocks(batch_->Put(store_->meta_, ToSlice(key), ToSlice(value)), "set meta"));
  ++operation_count_;
}

bool StateStore::Commit::EncodeOutboxKey(std::string_view sink, std::string_view id) {
  Status valid = CheckSinkName(sink);
  if (!valid.ok()) {
    Record(valid);
    return false;
  }
  key_scratch_.assign(sink);
  key_scratch_.push_back('/');
  key_scratch_.append(id);
  ++operation_count_;
  return true;
}

bool StateStore::Commit::EncodeRuleKey(std::string_view rule, std::string_view key) {
  Status valid = CheckRuleName(rule);
  if (!valid.ok()) {
    Record(valid);
    return false;
  }
  key_scratch_.assign(rule);
  key_scratch_.push_back('\0');
  key_scratch_.append(key);
  ++operation_count_;
  return true;
}

void StateStore::Commit::PutOutbox(std::string_view sink, std::string_view id,
                                   std::string_view payload) {
  if (!EncodeOutboxKey(sink, id)) return;
  Record(FromRocks(batch_->Put(store_->outbox_, key_scratch_, ToSlice(payload)), "put outbox"));
}

void StateStore::Commit::DeleteOutbox(std::string_view sink, std::string_view id) {
  if (!EncodeOutboxKey(sink, id)) return;
  Record(FromRocks(batch_->Delete(store_->outbox_, key_scratch_), "delete outbox"));
}

void StateStore::Commit::PutRuleState(std::string_view rule, std::string_view key,
                                      std::string_view value) {
  if (!EncodeRuleKey(rule, key)) return;
  Record(FromRocks(batch_->Put(store_->rules_, key_scratch_, ToSlice(value)), "put rule state"));
}

void StateStore::Commit::DeleteRuleState(std::string_view rule, std::string_view key) {
  if (!EncodeRuleKey(rule, key)) return;
  Record(FromRocks(batch_->Delete(store_->rules_, key_scratch_), "delete rule state"));
}

void StateStore::Commit::DeleteAllRuleState(std::string_view rule) {
  Status valid = CheckRuleName(rule);
  if (!valid.ok()) {
    Record(valid);
    return;
  }
  PrefixRange range = RuleRange(rule);
  Record(FromRocks(batch_->DeleteRange(store_->rules_, range.prefix, range.end),
                   "delete all rule state"));
  ++operation_count_;
}

void StateStore::Commit::DeleteRuleStateRange(std::string_view rule, std::string_view from_key,
                                              std::string_view to_key) {
  if (!EncodeRuleKey(rule, from_key)) return;
  std::string from = key_scratch_;
  EncodeRuleKey(rule, to_key);
  --operation_count_;  // one operation, two keys encoded
  Record(FromRocks(batch_->DeleteRange(store_->rules_, from, key_scratch_),
                   "delete rule state range"));
}

Status StateStore::Write(Commit& commit, bool sync) {
  if (commit.store_ != this) {
    return Status::InvalidArgument("commit was made by another state store");
  }
  if (!commit.error_.ok()) return commit.error_;
  // Only a read-only format-2 store has another format, and it cannot be written anyway.
  RETURN_IF_ERROR(RequireCurrentFormat("commit state"));
  if (commit.batch_->Count() == 0) return Status::Ok();
  rocksdb::WriteOptions write_options;
  write_options.sync = sync;
  RETURN_IF_ERROR(ApplyBatch(write_options, *commit.batch_, "commit state"));
  commit.batch_->Clear();
  commit.operation_count_ = 0;
  return Status::Ok();
}

Result<std::optional<uint64_t>> StateStore::ReadPosition(std::string_view source_id,
                                                         uint32_t partition) {
  std::string key;
  EncodePositionKey(source_id, partition, key);
  rocksdb::PinnableSlice value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), positions_, key, &value);
  if (status.IsNotFound()) return std::optional<uint64_t>();
  RETURN_IF_ERROR(FromRocks(status, "read position"));
  if (value.size() != 8) {
    return Status::Corruption(fmt::format("position of {}/{} is {} bytes, not 8", source_id,
                                          partition, value.size()));
  }
  return std::optional<uint64_t>(ReadBigEndian64(value.data()));
}

Result<std::optional<std::string>> StateStore::ReadMeta(std::string_view key) {
  std::string value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), meta_, ToSlice(key), &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  RETURN_IF_ERROR(FromRocks(status, "read meta"));
  return std::optional<std::string>(std::move(value));
}

Result<std::optional<std::string>> StateStore::ReadRuleState(std::string_view rule,
                                                             std::string_view key) {
  RETURN_IF_ERROR(CheckRuleName(rule));
  RETURN_IF_ERROR(RequireCurrentFormat("read rule state"));
  std::string full(rule);
  full.push_back('\0');
  full.append(key);
  std::string value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), rules_, ToSlice(full), &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  RETURN_IF_ERROR(FromRocks(status, fmt::format("read rule state of {}", rule)));
  return std::optional<std::string>(std::move(value));
}

Result<std::optional<int64_t>> StateStore::ReadMetaInteger(std::string_view key) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, ReadMeta(key));
  if (!value) return std::optional<int64_t>();
  int64_t number = 0;
  const char* end = value->data() + value->size();
  auto [stop, error] = std::from_chars(value->data(), end, number);
  if (value->empty() || error != std::errc() || stop != end) {
    return Status::Corruption(
        fmt::format("meta {} holds {:?}, not a decimal 64-bit integer", key, *value));
  }
  return std::optional<int64_t>(number);
}

Result<std::optional<WindowMetrics>> StateStore::ReadWindow(const WindowKey& key) {
  rocksdb::PinnableSlice value;
  rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), windows_, EncodeWindowKey(key), &value);
  if (status.IsNotFound()) return std::optional<WindowMetrics>();
  RETURN_IF_ERROR(FromRocks(
      status, fmt::format("read window {}/{}/{}", key.brand_id, key.size_ms, key.start_ms)));
  ASSIGN_OR_RETURN(WindowMetrics metrics, WindowMetrics::Decode(ToView(value)));
  return std::optional<WindowMetrics>(std::move(metrics));
}

Status StateStore::ScanSeries(const WindowKey& series, int64_t from_ms, int64_t to_ms,
                              const WindowVisitor& visit) {
  RETURN_IF_ERROR(CheckWindowKey(series));
  if (from_ms >= to_ms) return Status::Ok();
  std::string begin = EncodeWindowKey(WithStart(series, from_ms));
  std::string end = EncodeWindowKey(WithStart(series, to_ms));
  rocksdb::Slice upper_bound(end);  // must outlive the iterator
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> iterator(db_->NewIterator(read_options, windows_));
  iterator->Seek(begin);
  return VisitWindows(*iterator, visit);
}

Status StateStore::ScanAllWindows(const WindowVisitor& visit) {
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;  // a full scan should not evict the windows being updated
  std::unique_ptr<rocksdb::Iterator> iterator(db_->NewIterator(read_options, windows_));
  iterator->SeekToFirst();
  return VisitWindows(*iterator, visit);
}

Status StateStore::ScanBrandWindows(const std::vector<std::string>& brand_ids,
                                    const WindowVisitor& visit) {
  std::vector<std::string_view> brands(brand_ids.begin(), brand_ids.end());
  for (std::string_view brand : brands) {
    if (brand.find('\0') != std::string_view::npos) {
      return Status::InvalidArgument(fmt::format("window brand id {:?} contains a 0x00 byte", brand));
    }
  }
  std::sort(brands.begin(), brands.end());
  brands.erase(std::unique(brands.begin(), brands.end()), brands.end());
  std::string start;
  std::string end;
  for (std::string_view brand : brands) {
    // [brand 0x00, brand 0x01): exactly the brand's keys (ids hold no 0x00).
    start.assign(brand);
    start.push_back('\0');
    end.assign(brand);
    end.push_back('\x01');
    rocksdb::Slice upper_bound(end);  // must outlive the iterator
    rocksdb::ReadOptions read_options;
    read_options.fill_cache = false;  // as ScanAllWindows: the windows being updated stay cached
    read_options.iterate_upper_bound = &upper_bound;
    std::unique_ptr<rocksdb::Iterator> iterator(db_->NewIterator(read_options, windows_));
    iterator->Seek(start);
    RETURN_IF_ERROR(VisitWindows(*iterator, visit));
  }
  return Status::Ok();
}

Status StateStore::ScanOutbox(
    std::string_view sink,
    const std::function<void(std::string_view id, std::string_view payload)>& visit) {
  RETURN_IF_ERROR(CheckSinkName(sink));
  RETURN_IF_ERROR(RequireCurrentFormat("scan outbox"));
  rocksdb::Status status = ScanRange(*db_, outbox_, OutboxRange(sink), visit);
  if (status.ok()) return Status::Ok();
  return FromRocks(status, fmt::format("scan outbox of {}", sink));
}

Result<uint64_t> StateStore::CountOutbox(std::string_view sink) {
  uint64_t count = 0;
  RETURN_IF_ERROR(ScanOutbox(sink, [&](std::string_view, std::string_view) { ++count; }));
  return count;
}

Result<std::map<std::string, uint64_t>> StateStore::OutboxDepthBySink() {
  RETURN_IF_ERROR(RequireCurrentFormat("scan outbox"));
  std::map<std::string, uint64_t> depth;
  std::unique_ptr<rocksdb::Iterator> iterator(db_->NewIterator(rocksdb::ReadOptions(), outbox_));
  for (iterator->SeekToFirst(); iterator->Valid(); iterator->Next()) {
    std::string_view key = ToView(iterator->key());
    ++depth[std::string(key.substr(0, key.find('/')))];
  }
  if (!iterator->status().ok()) return FromRocks(iterator->status(), "scan outbox");
  return depth;
}

Status StateStore::ScanRuleState(
    std::string_view rule,
    const std::function<void(std::string_view key, std::string_view value)>& visit) {
  RETURN_IF_ERROR(CheckRuleName(rule));
  RETURN_IF_ERROR(RequireCurrentFormat("scan rule state"));
  rocksdb::Status status = ScanRange(*db_, rules_, RuleRange(rule), visit);
  if (status.ok()) return Status::Ok();
  return FromRocks(status, fmt::format("scan rule state of {}", rule));
}

// Windows sort by brand, then size, then start, so for each (brand, size) the expired windows
// are one contiguous range from the smallest start: one range deletion removes them. The scan
// only lands on the first window of each (brand, size) and then seeks past the rest, so its cost
// grows with brands × sizes, not with windows.
Status StateStore::DeleteWindowsEndingBefore(int64_t end_before_ms) {
  rocksdb::WriteBatch batch;
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> iterator(db_->NewIterator(read_options, windows_));
  iterator->SeekToFirst();
  while (iterator->Valid()) {
    std::optional<WindowKey> first = DecodeWindowKey(ToView(iterator->key()));
    if (!first) return Status::Corruption("malformed window key");
    // start + size <= end_before  <=>  start <= end_before - size, computed without overflow.
    __int128 last_expired_start = static_cast<__int128>(end_before_ms) - first->size_ms;
    std::string next_series = EndOfSeries(*first);
    if (first->start_ms <= last_expired_start) {
      std::string begin = EncodeWindowKey(WithStart(*first, INT64_MIN));
      std::string end =
          last_expired_start >= INT64_MAX
              ? next_series
              : EncodeWindowKey(WithStart(*first, static_cast<int64_t>(last_expired_start) + 1));
      RETURN_IF_ERROR(FromRocks(batch.DeleteRange(windows_, begin, end), "delete windows"));
    }
    iterator->Seek(next_series);
  }
  RETURN_IF_ERROR(FromRocks(iterator->status(), "scan windows for retention"));
  if (batch.Count() == 0) return Status::Ok();
  return ApplyBatch(rocksdb::WriteOptions(), batch, "delete expired windows");
}

Status StateStore::ApplyBatch(const rocksdb::WriteOptions& options, rocksdb::WriteBatch& batch,
                              std::string_view what) {
  RETURN_IF_ERROR(WriteFailure());
  rocksdb::Status written = db_->Write(options, &batch);
  if (written.ok()) {
    out_of_space_.store(false, std::memory_order_relaxed);
    return Status::Ok();
  }
  Status status = FromRocks(written, what);
  if (!written.IsIOError()) return status;  // nothing reached the disk: the store is fine
  // A full disk: RocksDB reports it as NoSpace, or later as its background error that began as
  // one.
  const bool no_space =
      written.IsNoSpace() || written.ToString().find("No space left") != std::string::npos;
  std::lock_guard lock(write_failure_mutex_);
  if (!write_failed_.load(std::memory_order_relaxed)) {
    write_failure_ = status;
    out_of_space_.store(no_space, std::memory_order_relaxed);
    write_failed_.store(true, std::memory_order_release);
  }
  return status;
}

Status StateStore::WriteFailure() const {
  if (!write_failed_.load(std::memory_order_acquire)) return Status::Ok();
  std::lock_guard lock(write_failure_mutex_);
  return Status::IoError(fmt::format(
      "state {} takes no more writes after a write error ({}); nothing was lost that a write "
      "acknowledged: restart once the cause is fixed",
      directory_, write_failure_.message()));
}

StateStore::Health StateStore::health() const {
  Health health;
  uint64_t value = 0;
  auto aggregated = [&](const std::string& property) -> uint64_t {
    return db_->GetAggregatedIntProperty(property, &value) ? value : 0;
  };
  health.memtable_bytes = aggregated(rocksdb::DB::Properties::kCurSizeAllMemTables);
  health.table_readers_bytes = aggregated(rocksdb::DB::Properties::kEstimateTableReadersMem);
  health.block_cache_bytes = block_cache_ ? block_cache_->GetUsage() : 0;
  health.write_stopped = aggregated(rocksdb::DB::Properties::kIsWriteStopped) > 0;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    std::map<std::string, std::string> stats;
    if (!db_->GetMapProperty(handle, rocksdb::DB::Properties::kCFStats, &stats)) continue;
    auto count = [&](const char* key) -> uint64_t {
      auto found = stats.find(key);
      if (found == stats.end()) return 0;
      double number = 0;
      auto [end, error] = std::from_chars(found->second.data(),
                                          found->second.data() + found->second.size(), number);
      return error == std::errc() && number > 0 ? static_cast<uint64_t>(number) : 0;
    };
    health.stall_slowdowns += count("io_stalls.total_slowdown");
    health.stall_stops += count("io_stalls.total_stop");
  }
  return health;
}

Status StateStore::Flush() {
  rocksdb::FlushOptions flush_options;
  flush_options.wait = true;
  RETURN_IF_ERROR(WriteFailure());
  return FromRocks(db_->Flush(flush_options, handles_), "flush state");
}

Status StateStore::Compact() {
  rocksdb::CompactRangeOptions compact_options;
  // Rewrite the bottom level too, so merge operands and range deletions are fully folded.
  compact_options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  RETURN_IF_ERROR(WriteFailure());
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    RETURN_IF_ERROR(FromRocks(db_->CompactRange(compact_options, handle, nullptr, nullptr),
                              fmt::format("compact {}", handle->GetName())));
  }
  return Status::Ok();
}

}  // namespace brandpulse
