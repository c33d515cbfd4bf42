#include "engine/window_metrics.h"

#include <algorithm>

#include <fmt/format.h>

#include "engine/varint.h"

namespace brandpulse {
namespace {

constexpr uint8_t kVersion1 = 1;  // mentions, reach, authors
constexpr uint8_t kFormatVersion = 2;
constexpr uint8_t kVersionWithCounters = 3;


}  // namespace

void WindowMetrics::AddCounter(uint32_t id, uint64_t value) {
  auto found = std::lower_bound(counters.begin(), counters.end(), id,
                                [](const WindowCounter& counter, uint32_t key) { return counter.id < key; });
  if (found != counters.end() && found->id == id) {
    found->value += value;
  } else {
    counters.InsertAt(static_cast<size_t>(found - counters.begin()), WindowCounter{id, value});
  }
}

uint64_t WindowMetrics::Counter(uint32_t id) const {
  for (const WindowCounter& counter : counters) {
    if (counter.id == id) return counter.value;
  }
  return 0;
}

void WindowMetrics::MergeCounters(const CounterList& other) {
  for (const WindowCounter& counter : other) AddCounter(counter.id, counter.value);
}

void WindowMetrics::EncodeTo(std::string& out) const {
  out.push_back(static_cast<char>(counters.empty() ? kFormatVersion : kVersionWithCounters));
  AppendVarint(out, mentions);
  AppendVarint(out, reach);
  AppendVarint(out, replies);
  AppendVarint(out, questions);
  AppendVarint(out, term_capacity);
  authors.EncodeTo(out);
  hashtags.EncodeTo(out);
  terms.EncodeTo(out);
  if (counters.empty()) return;
  AppendVarint(out, counters.size());
  for (const WindowCounter& counter : counters) {
    AppendVarint(out, counter.id);
    AppendVarint(out, counter.value);
  }
}

Result<WindowMetrics> WindowMetrics::Decode(std::string_view bytes) {
  if (bytes.empty()) return Status::Corruption("window metrics: empty value");
  uint8_t version = static_cast<uint8_t>(bytes.front());
  if (version != kFormatVersion && version != kVersion1 && version != kVersionWithCounters) {
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
  if (version == kVersionWithCounters) {
    uint64_t count = 0;
    if (!ReadVarint(bytes, count) || count > bytes.size()) {
      return Status::Corruption("window metrics: malformed counters");
    }
    uint64_t previous_id = 0;
    for (uint64_t index = 0; index < count; ++index) {
      uint64_t id = 0, value = 0;
      if (!ReadVarint(bytes, id) || !ReadVarint(bytes, value) || id > UINT32_MAX ||
          (index > 0 && id <= previous_id)) {
        return Status::Corruption("window metrics: malformed counters");
      }
      previous_id = id;
      metrics.counters.push_back(WindowCounter{static_cast<uint32_t>(id), value});
    }
  }
  if (!bytes.empty()) {
    return Status::Corruption(
        fmt::format("window metrics: {} trailing bytes after the last field", bytes.size()));
  }
  metrics.authors = std::move(*authors);
  return metrics;
}

}  // namespace brandpulse
