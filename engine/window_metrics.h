// WindowMetrics: what brandpulse keeps per brand and window. Deltas built by workers and values
// stored in RocksDB have the same type; merging is associative and commutative.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/hyperloglog.h"
#include "engine/status.h"

namespace brandpulse {

struct WindowMetrics {
  uint64_t mentions = 0;
  uint64_t reach = 0;       // sum of the mentioning authors' followers
  HyperLogLog authors;      // distinct authors

  void AddMention(uint64_t author_hash, int64_t followers) {
    ++mentions;
    if (followers > 0) reach += static_cast<uint64_t>(followers);
    authors.AddHash(author_hash);
  }
  void Merge(const WindowMetrics& other) {
    mentions += other.mentions;
    reach += other.reach;
    authors.Merge(other.authors);
  }

  // Format version 1: byte 1, varint mentions, varint reach, the HyperLogLog (docs/state.md).
  void EncodeTo(std::string& out) const;
  // Corruption on malformed bytes or an unknown version.
  static Result<WindowMetrics> Decode(std::string_view bytes);

  bool operator==(const WindowMetrics& other) const {
    return mentions == other.mentions && reach == other.reach && authors == other.authors;
  }
};

}  // namespace brandpulse
