#include "engine/hyperloglog.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace brandpulse {
namespace {

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
    value |= uint64_t{byte & 0x7f} << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

void HyperLogLog::AddHash(uint64_t hash) {
  uint32_t index = static_cast<uint32_t>(hash >> (64 - kPrecision));
  uint64_t rest = hash << kPrecision;
  // Rank = position of the first 1 bit in the remaining 52 bits (1-based), capped.
  uint8_t rank = rest == 0 ? static_cast<uint8_t>(64 - kPrecision + 1)
                           : static_cast<uint8_t>(std::countl_zero(rest) + 1);
  SetRegister(index, rank);
}

void HyperLogLog::SetRegister(uint32_t index, uint8_t rank) {
  if (!dense_.empty()) {
    if (dense_[index] < rank) dense_[index] = rank;
    return;
  }
  auto position = std::lower_bound(sparse_.begin(), sparse_.end(), index,
                                   [](const SparseEntry& entry, uint32_t value) {
                                     return entry.index < value;
                                   });
  if (position != sparse_.end() && position->index == index) {
    if (position->rank < rank) position->rank = rank;
    return;
  }
  sparse_.insert(position, SparseEntry{static_cast<uint16_t>(index), rank});
  if (sparse_.size() > kSparseLimit) MakeDense();
}

void HyperLogLog::MakeDense() {
  dense_.assign(kRegisterCount, 0);
  for (const SparseEntry& entry : sparse_) dense_[entry.index] = entry.rank;
  sparse_.clear();
  sparse_.shrink_to_fit();
}

uint8_t HyperLogLog::RegisterAt(uint32_t index) const {
  if (!dense_.empty()) return dense_[index];
  auto position = std::lower_bound(sparse_.begin(), sparse_.end(), index,
                                   [](const SparseEntry& entry, uint32_t value) {
                                     return entry.index < value;
                                   });
  return position != sparse_.end() && position->index == index ? position->rank : 0;
}

void HyperLogLog::Merge(const HyperLogLog& other) {
  if (!other.dense_.empty()) {
    if (dense_.empty()) MakeDense();
    for (size_t i = 0; i < kRegisterCount; ++i) dense_[i] = std::max(dense_[i], other.dense_[i]);
    return;
  }
  for (const SparseEntry& entry : other.sparse_) SetRegister(entry.index, entry.rank);
}

uint64_t HyperLogLog::Estimate() const {
  constexpr double kRegisters = static_cast<double>(kRegisterCount);
  const double alpha = 0.7213 / (1.0 + 1.079 / kRegisters);
  double sum = 0;
  size_t zeros = 0;
  if (dense_.empty()) {
    zeros = kRegisterCount - sparse_.size();
    sum = static_cast<double>(zeros);
    for (const SparseEntry& entry : sparse_) sum += std::ldexp(1.0, -entry.rank);
  } else {
    for (uint8_t rank : dense_) {
      sum += std::ldexp(1.0, -rank);
      if (rank == 0) ++zeros;
    }
  }
  double estimate = alpha * kRegisters * kRegisters / sum;
  if (estimate <= 2.5 * kRegisters && zeros > 0) {
    estimate = kRegisters * std::log(kRegisters / static_cast<double>(zeros));
  }
  return static_cast<uint64_t>(std::llround(estimate));
}

void HyperLogLog::EncodeTo(std::string& out) const {
  if (!dense_.empty()) {
    out.push_back(1);
    out.append(reinterpret_cast<const char*>(dense_.data()), dense_.size());
    return;
  }
  out.push_back(0);
  AppendVarint(out, sparse_.size());
  uint32_t previous = 0;
  for (const SparseEntry& entry : sparse_) {
    AppendVarint(out, entry.index - previous);
    previous = entry.index;
    out.push_back(static_cast<char>(entry.rank));
  }
}

std::optional<HyperLogLog> HyperLogLog::DecodeFrom(std::string_view& in) {
  if (in.empty()) return std::nullopt;
  uint8_t kind = static_cast<uint8_t>(in.front());
  in.remove_prefix(1);
  HyperLogLog sketch;
  if (kind == 1) {
    if (in.size() < kRegisterCount) return std::nullopt;
    sketch.dense_.assign(in.begin(), in.begin() + kRegisterCount);
    in.remove_prefix(kRegisterCount);
    return sketch;
  }
  if (kind != 0) return std::nullopt;
  uint64_t count = 0;
  if (!ReadVarint(in, count) || count > kRegisterCount) return std::nullopt;
  uint64_t index = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t delta = 0;
    if (!ReadVarint(in, delta) || in.empty()) return std::nullopt;
    index += delta;
    uint8_t rank = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    if (index >= kRegisterCount || (i > 0 && delta == 0)) return std::nullopt;
    sketch.sparse_.push_back(SparseEntry{static_cast<uint16_t>(index), rank});
  }
  if (sketch.sparse_.size() > kSparseLimit) sketch.MakeDense();
  return sketch;
}

bool HyperLogLog::operator==(const HyperLogLog& other) const {
  for (uint32_t i = 0; i < kRegisterCount; ++i) {
    if (RegisterAt(i) != other.RegisterAt(i)) return false;
  }
  return true;
}

}  // namespace brandpulse
