#include "engine/window_metrics.h"

#include <fmt/format.h>

namespace brandpulse {
namespace {

constexpr uint8_t kFormatVersion = 1;

// The same little-endian base-128 varints as the HyperLogLog encoding (docs/state.md).
void AppendVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

bool ReadVarint(std::string_view& in, uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    uint8_t byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

void WindowMetrics::EncodeTo(std::string& out) const {
  out.push_back(static_cast<char>(kFormatVersion));
  AppendVarint(out, mentions);
  AppendVarint(out, reach);
  authors.EncodeTo(out);
}

Result<WindowMetrics> WindowMetrics::Decode(std::string_view bytes) {
  if (bytes.empty()) return Status::Corruption("window metrics: empty value");
  uint8_t version = static_cast<uint8_t>(bytes.front());
  if (version != kFormatVersion) {
    return Status::Corruption(fmt::format("window metrics: unknown format version {}", version));
  }
  bytes.remove_prefix(1);
  WindowMetrics metrics;
  if (!ReadVarint(bytes, metrics.mentions) || !ReadVarint(bytes, metrics.reach)) {
    return Status::Corruption("window metrics: truncated or overlong counters");
  }
  std::optional<HyperLogLog> authors = HyperLogLog::DecodeFrom(bytes);
  if (!authors) return Status::Corruption("window metrics: malformed author sketch");
  if (!bytes.empty()) {
    return Status::Corruption(
        fmt::format("window metrics: {} trailing bytes after the author sketch", bytes.size()));
  }
  metrics.authors = std::move(*authors);
  return metrics;
}

}  // namespace brandpulse
