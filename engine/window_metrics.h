// WindowMetrics: what brandpulse keeps per brand and window. Worker deltas and the values stored
// in RocksDB have the same type and encoding, and Merge is associative and commutative (counts
// add, the author sketch takes the register-wise maximum), which is what lets the state store
// write deltas as RocksDB merge operands instead of reading, adding and writing back.
//
// Thread safety: a value type; no internal synchronisation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/hyperloglog.h"
#include "engine/status.h"

namespace brandpulse {

struct WindowMetrics {
  uint64_t mentions = 0;
  uint64_t reach = 0;   // sum of the mentioning authors' followers (per mention, not per author)
  HyperLogLog authors;  // distinct authors, by author hash

  // `author_hash` is HashBytes of the author's stable id. Unknown or negative follower counts
  // add no reach.
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
  bool empty() const { return mentions == 0 && reach == 0 && authors.empty(); }

  // Appends format version 1 (docs/state.md): byte 0x01, varint mentions, varint reach, then
  // the HyperLogLog encoding. Equal metrics encode to equal bytes.
  void EncodeTo(std::string& out) const;
  // Decodes exactly one encoded value (trailing bytes are an error). Corruption on an unknown
  // version, truncation, or a malformed sketch.
  static Result<WindowMetrics> Decode(std::string_view bytes);

  bool operator==(const WindowMetrics& other) const {
    return mentions == other.mentions && reach == other.reach && authors == other.authors;
  }
};

}  // namespace brandpulse
