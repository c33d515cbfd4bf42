// Little-endian base-128 varints: the integer encoding of every stored window value
// (docs/state.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace brandpulse {

inline void AppendVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// Reads one varint from the front of `in`, advancing it. Rejects truncation and encodings
// longer than 10 bytes.
inline bool ReadVarint(std::string_view& in, uint64_t& value) {
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

// Signed integers as varints: small magnitudes of either sign take few bytes.
inline uint64_t ZigZag(int64_t value) {
  return (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
}
inline int64_t UnZigZag(uint64_t value) {
  return static_cast<int64_t>(value >> 1) ^ -static_cast<int64_t>(value & 1);
}

// 64-bit hashes, 8 bytes big-endian (a varint would mostly take 10).
inline void AppendU64(std::string& out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}
inline bool ReadU64(std::string_view& in, uint64_t& value) {
  if (in.size() < 8) return false;
  value = 0;
  for (int index = 0; index < 8; ++index) value = (value << 8) | static_cast<uint8_t>(in[index]);
  in.remove_prefix(8);
  return true;
}

}  // namespace brandpulse
