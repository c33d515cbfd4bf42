// Pieces the StateStore's .cc files share (state_store.cc: opening, commits, reads and scans;
// state_format.cc: the format version and migrations). Private to them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <rocksdb/slice.h>
#include <rocksdb/status.h>

#include "engine/status.h"

namespace brandpulse {
namespace state_internal {

inline constexpr char kWindowsFamily[] = "windows";
inline constexpr char kPositionsFamily[] = "positions";
inline constexpr char kMetaFamily[] = "meta";
inline constexpr char kOutboxFamily[] = "outbox";
inline constexpr char kRulesFamily[] = "rules";

inline void AppendBigEndian64(std::string& out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

inline uint64_t ReadBigEndian64(const char* bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

// Two's complement with the sign bit flipped sorts bytewise like the signed value.
inline uint64_t FlipSign(int64_t value) { return static_cast<uint64_t>(value) ^ (uint64_t{1} << 63); }
inline int64_t UnflipSign(uint64_t value) { return static_cast<int64_t>(value ^ (uint64_t{1} << 63)); }

inline rocksdb::Slice ToSlice(std::string_view bytes) { return rocksdb::Slice(bytes.data(), bytes.size()); }
inline std::string_view ToView(const rocksdb::Slice& slice) {
  return std::string_view(slice.data(), slice.size());
}

inline Status FromRocks(const rocksdb::Status& status, std::string_view what) {
  if (status.ok()) return Status::Ok();
  std::string message = fmt::format("{}: {}", what, status.ToString());
  if (status.IsCorruption()) return Status::Corruption(std::move(message));
  if (status.IsInvalidArgument() || status.IsNotSupported()) {
    return Status::InvalidArgument(std::move(message));
  }
  if (status.IsBusy() || status.IsTimedOut() || status.IsTryAgain()) {
    return Status::Unavailable(std::move(message));
  }
  return Status::IoError(std::move(message));
}

}  // namespace state_internal
}  // namespace brandpulse
