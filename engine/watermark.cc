#include "engine/watermark.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace brandpulse {

void WatermarkTracker::Observe(uint32_t partition, int64_t max_event_time_ms, int64_t now_ms) {
  Partition& state = partitions_[partition];
  state.max_event_time_ms = std::max(state.max_event_time_ms, max_event_time_ms);
  state.last_active_ms = std::max(state.last_active_ms, now_ms);
}

int64_t WatermarkTracker::Compute(int64_t now_ms) const {
  int64_t active_minimum = INT64_MAX;
  int64_t idle_maximum = kNone;
  for (const auto& [id, partition] : partitions_) {
    if (partition.max_event_time_ms == kNone) continue;
    bool idle = idle_timeout_ms_ > 0 && now_ms - partition.last_active_ms >= idle_timeout_ms_;
    if (idle) {
      idle_maximum = std::max(idle_maximum, partition.max_event_time_ms);
    } else {
      active_minimum = std::min(active_minimum, partition.max_event_time_ms);
    }
  }
  int64_t newest = active_minimum != INT64_MAX ? active_minimum : idle_maximum;
  if (newest == kNone) return kNone;
  return newest - max_out_of_orderness_ms_;
}

int64_t WatermarkTracker::max_event_time_ms() const {
  int64_t newest = kNone;
  for (const auto& [id, partition] : partitions_) {
    newest = std::max(newest, partition.max_event_time_ms);
  }
  return newest;
}

int64_t WatermarkTracker::others_newest_ms() const {
  int64_t newest = kNone;
  int64_t second = kNone;
  for (const auto& [id, partition] : partitions_) {
    if (partition.max_event_time_ms == kNone) continue;
    if (partition.max_event_time_ms > newest) {
      second = newest;
      newest = partition.max_event_time_ms;
    } else {
      second = std::max(second, partition.max_event_time_ms);
    }
  }
  return second;
}

std::string WatermarkTracker::Encode() const {
  std::string out;
  for (const auto& [id, partition] : partitions_) {
    if (partition.max_event_time_ms == kNone) continue;
    if (!out.empty()) out.push_back(',');
    out += fmt::format("{}:{}", id, partition.max_event_time_ms);
  }
  return out;
}

bool WatermarkTracker::Restore(std::string_view encoded, int64_t now_ms) {
  std::map<uint32_t, Partition> restored;
  while (!encoded.empty()) {
    size_t comma = encoded.find(',');
    std::string_view item = encoded.substr(0, comma);
    encoded = comma == std::string_view::npos ? std::string_view() : encoded.substr(comma + 1);
    size_t colon = item.find(':');
    if (colon == std::string_view::npos) return false;
    uint32_t id = 0;
    int64_t max_event_time = 0;
    auto [id_end, id_error] = std::from_chars(item.data(), item.data() + colon, id);
    auto [time_end, time_error] =
        std::from_chars(item.data() + colon + 1, item.data() + item.size(), max_event_time);
    if (id_error != std::errc() || id_end != item.data() + colon || time_error != std::errc() ||
        time_end != item.data() + item.size()) {
      return false;
    }
    restored[id] = Partition{max_event_time, now_ms};
  }
  partitions_ = std::move(restored);
  return true;
}

}  // namespace brandpulse
