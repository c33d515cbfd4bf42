// 64-bit hashing for sketches (HyperLogLog) and cache keys. Deterministic across runs and
// machines, so sketches built by different workers or processes merge exactly.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <string_view>

namespace brandpulse {

inline uint64_t MixBits(uint64_t value) {
  // splitmix64 finalizer: full avalanche.
  value ^= value >> 30;
  value *= 0xbf58476d1ce4e5b9ULL;
  value ^= value >> 27;
  value *= 0x94d049bb133111ebULL;
  value ^= value >> 31;
  return value;
}

// Hashes bytes 8 at a time; not cryptographic.
inline uint64_t HashBytes(std::string_view bytes, uint64_t seed = 0x9e3779b97f4a7c15ULL) {
  uint64_t state = seed ^ (bytes.size() * 0xff51afd7ed558ccdULL);
  const char* data = bytes.data();
  size_t remaining = bytes.size();
  while (remaining >= 8) {
    uint64_t word;
    std::memcpy(&word, data, 8);
    state = MixBits(state ^ word) + 0x9e3779b97f4a7c15ULL;
    data += 8;
    remaining -= 8;
  }
  uint64_t tail = 0;
  // An empty view may have a null data(): memcpy from null is undefined even for 0 bytes.
  if (remaining > 0) std::memcpy(&tail, data, remaining);
  return MixBits(state ^ tail ^ (static_cast<uint64_t>(remaining) << 56));
}

// Hash for unordered containers keyed by std::string that are looked up by std::string_view
// (with std::equal_to<>): a lookup with a view into a post does not build a string.
struct TransparentStringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

}  // namespace brandpulse
