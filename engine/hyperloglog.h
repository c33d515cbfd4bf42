// HyperLogLog sketch of distinct authors, precision 12: 4096 registers, standard error
// 1.04 / sqrt(4096) ≈ 1.6%. Deterministic: the same hashes added in any order, merged in any
// grouping, give identical registers, so results do not depend on worker count or restarts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brandpulse {

class HyperLogLog {
 public:
  static constexpr int kPrecision = 12;
  static constexpr size_t kRegisterCount = size_t{1} << kPrecision;

  // `hash` should be well mixed (engine/hash.h HashBytes).
  void AddHash(uint64_t hash);
  // Register-wise maximum.
  void Merge(const HyperLogLog& other);
  // Estimated distinct count, with linear counting for small cardinalities.
  uint64_t Estimate() const;
  bool empty() const { return sparse_.empty() && dense_.empty(); }

  // Encoding: byte 0 = 0 (sparse): varint count, then per set register varint index delta and
  // one byte rank; byte 0 = 1 (dense): 4096 rank bytes.
  void EncodeTo(std::string& out) const;
  // Reads one sketch from the front of `in` and advances it; nullopt on malformed bytes.
  static std::optional<HyperLogLog> DecodeFrom(std::string_view& in);

  bool operator==(const HyperLogLog& other) const;

 private:
  // While few registers are set they are kept sparse (sorted index, rank pairs) so a window
  // with three authors does not cost 4 KiB; past kSparseLimit the sketch turns dense.
  static constexpr size_t kSparseLimit = 256;
  struct SparseEntry {
    uint16_t index;
    uint8_t rank;
  };
  void SetRegister(uint32_t index, uint8_t rank);
  void MakeDense();
  uint8_t RegisterAt(uint32_t index) const;

  std::vector<SparseEntry> sparse_;  // sorted by index; used while dense_ is empty
  std::vector<uint8_t> dense_;       // kRegisterCount ranks once dense
};

}  // namespace brandpulse
