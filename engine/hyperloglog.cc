#include "engine/hyperloglog.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>

#include "engine/varint.h"

namespace brandpulse {
namespace {

constexpr uint8_t kSparseLayout = 0;
constexpr uint8_t kDenseLayout = 1;


// Ertl's sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1): the contribution of the empty registers.
// REQUIRES: 0 <= x < 1 (x == 1, an empty sketch, is handled by the caller).
double Sigma(double x) {
  double weight = 1;
  double sum = x;
  double previous;
  do {
    x *= x;
    previous = sum;
    sum += x * weight;
    weight += weight;
  } while (sum != previous);
  return sum;
}

// Ertl's tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3: the contribution of the
// saturated registers (rank kMaxRank), which in practice never occur with 64-bit hashes.
double Tau(double x) {
  if (x == 0 || x == 1) return 0;
  double weight = 1;
  double sum = 1 - x;
  double previous;
  do {
    x = std::sqrt(x);
    previous = sum;
    weight *= 0.5;
    sum -= (1 - x) * (1 - x) * weight;
  } while (sum != previous);
  return sum / 3;
}

}  // namespace

void HyperLogLog::AddHash(uint64_t hash) {
  uint32_t index = static_cast<uint32_t>(hash >> (64 - kPrecision));
  uint64_t rest = hash << kPrecision;  // the low 12 bits are now 0, so rest != 0 => rank <= 52
  uint8_t rank = rest == 0 ? kMaxRank : static_cast<uint8_t>(std::countl_zero(rest) + 1);
  SetRegister(index, rank);
}

void HyperLogLog::SetRegister(uint32_t index, uint8_t rank) {
  if (!dense_.empty()) {
    if (dense_[index] < rank) dense_[index] = rank;
    return;
  }
  auto position = std::lower_bound(
      sparse_.begin(), sparse_.end(), index,
      [](const SparseEntry& entry, uint32_t value) { return entry.index < value; });
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
  // Release the sparse buffer: a dense sketch should cost 4 KiB, not 4 KiB + 1 KiB.
  std::vector<SparseEntry>().swap(sparse_);
}

void HyperLogLog::Normalize() {
  if (!dense_.empty()) {
    size_t non_zero = kRegisterCount - static_cast<size_t>(std::count(dense_.begin(), dense_.end(), 0));
    if (non_zero > kSparseLimit) return;
    sparse_.reserve(non_zero);
    for (uint32_t index = 0; index < kRegisterCount; ++index) {
      if (dense_[index] != 0) sparse_.push_back(SparseEntry{static_cast<uint16_t>(index), dense_[index]});
    }
    std::vector<uint8_t>().swap(dense_);
  } else if (sparse_.size() > kSparseLimit) {
    MakeDense();
  }
}

uint8_t HyperLogLog::RegisterAt(uint32_t index) const {
  if (!dense_.empty()) return dense_[index];
  auto position = std::lower_bound(
      sparse_.begin(), sparse_.end(), index,
      [](const SparseEntry& entry, uint32_t value) { return entry.index < value; });
  return position != sparse_.end() && position->index == index ? position->rank : 0;
}

void HyperLogLog::Merge(const HyperLogLog& other) {
  if (!other.dense_.empty()) {
    if (dense_.empty()) MakeDense();
    for (size_t i = 0; i < kRegisterCount; ++i) dense_[i] = std::max(dense_[i], other.dense_[i]);
    return;
  }
  if (other.sparse_.empty()) return;
  if (!dense_.empty()) {
    for (const SparseEntry& entry : other.sparse_) {
      dense_[entry.index] = std::max(dense_[entry.index], entry.rank);
    }
    return;
  }
  // Both sparse: one linear merge of the sorted lists instead of an insertion per entry.
  std::vector<SparseEntry> merged;
  merged.reserve(sparse_.size() + other.sparse_.size());
  auto mine = sparse_.begin();
  auto theirs = other.sparse_.begin();
  while (mine != sparse_.end() && theirs != other.sparse_.end()) {
    if (mine->index < theirs->index) {
      merged.push_back(*mine++);
    } else if (theirs->index < mine->index) {
      merged.push_back(*theirs++);
    } else {
      merged.push_back(SparseEntry{mine->index, std::max(mine->rank, theirs->rank)});
      ++mine;
      ++theirs;
    }
  }
  merged.insert(merged.end(), mine, sparse_.end());
  merged.insert(merged.end(), theirs, other.sparse_.end());
  sparse_ = std::move(merged);
  if (sparse_.size() > kSparseLimit) MakeDense();
}

uint64_t HyperLogLog::Estimate() const {
  // histogram[k] = number of registers holding rank k.
  std::array<uint32_t, kMaxRank + 1> histogram{};
  if (dense_.empty()) {
    histogram[0] = static_cast<uint32_t>(kRegisterCount - sparse_.size());
    for (const SparseEntry& entry : sparse_) ++histogram[entry.rank];
  } else {
    for (uint8_t rank : dense_) ++histogram[rank];
  }
  if (histogram[0] == kRegisterCount) return 0;
  constexpr double kRegisters = static_cast<double>(kRegisterCount);
  const double alpha_infinity = 0.5 / std::log(2.0);
  double denominator = kRegisters * Tau(1.0 - histogram[kMaxRank] / kRegisters);
  for (int rank = kMaxRank - 1; rank >= 1; --rank) {
    denominator = 0.5 * (denominator + histogram[rank]);
  }
  denominator += kRegisters * Sigma(histogram[0] / kRegisters);
  return static_cast<uint64_t>(std::llround(alpha_infinity * kRegisters * kRegisters / denominator));
}

size_t HyperLogLog::allocated_bytes() const {
  return sparse_.capacity() * sizeof(SparseEntry) + dense_.capacity();
}

void HyperLogLog::EncodeTo(std::string& out) const {
  if (!dense_.empty()) {
    out.push_back(static_cast<char>(kDenseLayout));
    out.append(reinterpret_cast<const char*>(dense_.data()), dense_.size());
    return;
  }
  out.push_back(static_cast<char>(kSparseLayout));
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
  uint8_t layout = static_cast<uint8_t>(in.front());
  in.remove_prefix(1);
  HyperLogLog sketch;
  if (layout == kDenseLayout) {
    if (in.size() < kRegisterCount) return std::nullopt;
    sketch.dense_.assign(in.begin(), in.begin() + kRegisterCount);
    in.remove_prefix(kRegisterCount);
    for (uint8_t rank : sketch.dense_) {
      if (rank > kMaxRank) return std::nullopt;
    }
    sketch.Normalize();
    return sketch;
  }
  if (layout != kSparseLayout) return std::nullopt;
  uint64_t count = 0;
  if (!ReadVarint(in, count) || count > kRegisterCount) return std::nullopt;
  // Each entry takes at least two bytes: refuse counts the input cannot hold before reserving.
  if (count > in.size() / 2) return std::nullopt;
  sketch.sparse_.reserve(count);
  uint64_t index = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t delta = 0;
    if (!ReadVarint(in, delta) || in.empty()) return std::nullopt;
    if (i > 0 && delta == 0) return std::nullopt;  // indices strictly increase
    if (delta >= kRegisterCount - index) return std::nullopt;
    index += delta;
    uint8_t rank = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    if (rank == 0 || rank > kMaxRank) return std::nullopt;
    sketch.sparse_.push_back(SparseEntry{static_cast<uint16_t>(index), rank});
  }
  sketch.Normalize();
  return sketch;
}

bool HyperLogLog::operator==(const HyperLogLog& other) const {
  // Both sides keep the canonical layout, so equal registers mean equal layouts; the walk
  // below covers mixed layouts anyway.
  if (dense_.empty() && other.dense_.empty()) return sparse_ == other.sparse_;
  if (!dense_.empty() && !other.dense_.empty()) return dense_ == other.dense_;
  for (uint32_t index = 0; index < kRegisterCount; ++index) {
    if (RegisterAt(index) != other.RegisterAt(index)) return false;
  }
  return true;
}

}  // namespace brandpulse
