// The state's format version: recorded when a store is created, checked when it is opened, and
// older stores migrated (or refused with a message that says what to do). docs/state.md lists the
// formats.
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "engine/state_store.h"
#include "engine/state_store_internal.h"

namespace brandpulse {

using namespace state_internal;

Status StateStore::CheckFormat(const StateOptions& options, bool created,
                               const rocksdb::ColumnFamilyOptions& rules_options) {
  if (meta_ == nullptr || windows_ == nullptr || positions_ == nullptr || outbox_ == nullptr) {
    return Status::InvalidArgument(fmt::format(
        "{} holds a RocksDB database that is not a brandpulse state (it lacks the column "
        "families windows, positions, meta or outbox); point state.directory elsewhere",
        directory_));
  }
  if (created) {
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    return FromRocks(
        db_->Put(write_options, meta_, ToSlice(kStateFormatKey), std::to_string(kStateFormat)),
        fmt::format("write state format of {}", directory_));
  }
  Result<std::optional<int64_t>> stored = ReadMetaInteger(kStateFormatKey);
  if (!stored.ok()) {
    return Status(
        stored.status().code() == StatusCode::kCorruption
            ? Status::Corruption(fmt::format("state {}: {}", directory_, stored.status().message()))
            : stored.status());
  }
  if (stored->has_value()) {
    format_ = **stored;
  } else {
    // No state_format: brandpulse 0.2 (format 2) or 0.1 (format 1). Their window keys tell them
    // apart: a 0.1 key (brand, 0x00, size, start) never decodes as a 0.2 one (docs/state.md).
    std::unique_ptr<rocksdb::Iterator> first(db_->NewIterator(rocksdb::ReadOptions(), windows_));
    first->SeekToFirst();
    RETURN_IF_ERROR(FromRocks(first->status(), fmt::format("read state {}", directory_)));
    format_ = first->Valid() && !DecodeWindowKey(ToView(first->key())) ? 1 : 2;
  }
  if (format_ > kStateFormat) {
    return Status::InvalidArgument(fmt::format(
        "state directory {} was written by a newer brandpulse (state format {}); this "
        "brandpulse reads formats 2 to {}: run the newer brandpulse on it, or start over with "
        "--fresh or another state.directory",
        directory_, format_, kStateFormat));
  }
  if (format_ < 2) {
    return Status::InvalidArgument(fmt::format(
        "state directory {} was written by an older brandpulse (state format {}, brandpulse "
        "0.1: window keys without dimension and slide); this brandpulse cannot read it: run "
        "with --fresh or point state.directory at a new directory",
        directory_, format_));
  }
  if (format_ == kStateFormat) {
    if (rules_ == nullptr) {
      return Status::Corruption(
          fmt::format("state {} is in state format {} but has no column family {}", directory_,
                      kStateFormat, kRulesFamily));
    }
    return Status::Ok();
  }
  // Format 2. Read-only it stays so: windows, positions and meta read the same.
  if (options.read_only) return Status::Ok();
  return MigrateFromFormat2(rules_options);
}

// Format 2 → 3: the outbox's bare `<alert id>` keys become `alerts/<alert id>`, the rules family
// is created, state_format is set. The keys and the marker move in one WriteBatch, so a crash
// leaves either the old outbox without the marker (migrated again at the next open) or the new
// one with it; the family is created first and is empty until then.
Status StateStore::MigrateFromFormat2(const rocksdb::ColumnFamilyOptions& rules_options) {
  if (rules_ == nullptr) {
    rocksdb::ColumnFamilyHandle* handle = nullptr;
    RETURN_IF_ERROR(
        FromRocks(db_->CreateColumnFamily(rules_options, kRulesFamily, &handle),
                  fmt::format("migrate state {}: create {}", directory_, kRulesFamily)));
    handles_.push_back(handle);
    rules_ = handle;
  }
  std::vector<std::pair<std::string, std::string>> entries;
  std::unique_ptr<rocksdb::Iterator> iterator(db_->NewIterator(rocksdb::ReadOptions(), outbox_));
  for (iterator->SeekToFirst(); iterator->Valid(); iterator->Next()) {
    entries.emplace_back(iterator->key().ToString(), iterator->value().ToString());
  }
  RETURN_IF_ERROR(
      FromRocks(iterator->status(), fmt::format("migrate state {}: read outbox", directory_)));
  iterator.reset();
  rocksdb::WriteBatch batch;
  // Every delete before every put: an old key may equal another one's new key (`alerts/x` and
  // `x`), and a later delete would remove the moved entry.
  for (const auto& [id, payload] : entries) {
    RETURN_IF_ERROR(FromRocks(batch.Delete(outbox_, id), "migrate outbox"));
  }
  for (const auto& [id, payload] : entries) {
    RETURN_IF_ERROR(
        FromRocks(batch.Put(outbox_, fmt::format("{}/{}", kAlertsOutboxSink, id), payload),
                  "migrate outbox"));
  }
  RETURN_IF_ERROR(FromRocks(
      batch.Put(meta_, ToSlice(kStateFormatKey), std::to_string(kStateFormat)), "migrate meta"));
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  RETURN_IF_ERROR(
      FromRocks(db_->Write(write_options, &batch),
                fmt::format("migrate state {} to format {}", directory_, kStateFormat)));
  format_ = kStateFormat;
  return Status::Ok();
}

Status StateStore::RequireCurrentFormat(std::string_view what) const {
  if (format_ == kStateFormat) return Status::Ok();
  return Status::InvalidArgument(fmt::format(
      "{}: state {} is in state format {}, opened read-only; the next read-write open migrates "
      "it to format {}",
      what, directory_, format_, kStateFormat));
}

}  // namespace brandpulse
