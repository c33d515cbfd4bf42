#include "engine/window_metrics.h"

#include <fmt/format.h>

#include "engine/varint.h"

namespace brandpulse {
namespace {

constexpr uint8_t kVersion1 = 1;  // mentions, reach, authors
constexpr uint8_t kFormatVersion = 2;


}  // namespace

void WindowMetrics::EncodeTo(std::string& out) const {
  out.push_back(static_cast<char>(kFormatVersion));
  AppendVarint(out, mentions);
  AppendVarint(out, reach);
  AppendVarint(out, replies);
  AppendVarint(out, questions);
  AppendVarint(out, term_capacity);
  authors.EncodeTo(out);
  hashtags.EncodeTo(out);
  terms.EncodeTo(out);
}

Result<WindowMetrics> WindowMetrics::Decode(std::string_view bytes) {
  if (bytes.empty()) return Status::Corruption("window metrics: empty value");
  uint8_t version = static_cast<uint8_t>(bytes.front());
  if (version != kFormatVersion && version != kVersion1) {
    return Status::Corruption(fmt::format("window metrics: unknown format version {}", version));
  }
  bytes.remove_prefix(1);
  WindowMetrics metrics;
  if (!ReadVarint(bytes, metrics.mentions) || !ReadVarint(bytes, metrics.reach) ||
      (version >= 2 &&
       (!ReadVarint(bytes, metrics.replies) || !ReadVarint(bytes, metrics.questions) ||
        !ReadVarint(bytes, metrics.term_capacity)))) {
    return Status::Corruption("window metrics: truncated or overlong counters");
  }
  std::optional<HyperLogLog> authors = HyperLogLog::DecodeFrom(bytes);
  if (!authors) return Status::Corruption("window metrics: malformed author sketch");
  if (version >= 2 && (!metrics.hashtags.DecodeFrom(bytes) || !metrics.terms.DecodeFrom(bytes))) {
    return Status::Corruption("window metrics: malformed term summary");
  }
  if (!bytes.empty()) {
    return Status::Corruption(
        fmt::format("window metrics: {} trailing bytes after the last field", bytes.size()));
  }
  metrics.authors = std::move(*authors);
  return metrics;
}

}  // namespace brandpulse
