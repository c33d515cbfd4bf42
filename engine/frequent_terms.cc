#include "engine/frequent_terms.h"

#include <algorithm>

#include "engine/varint.h"

namespace brandpulse {

void FrequentTerms::Add(std::string_view term, uint64_t count) {
  if (count == 0) return;
  auto found = counts_.find(std::string(term));  // heterogeneous lookup needs C++20 hashers
  if (found == counts_.end()) {
    counts_.emplace(std::string(term), count);
  } else {
    found->second += count;
  }
  total_ += count;
}

void FrequentTerms::MergeExact(const FrequentTerms& other) {
  for (const auto& [term, count] : other.counts_) counts_[term] += count;
  total_ += other.total_;
  error_ += other.error_;
}

void FrequentTerms::Shrink(size_t capacity) {
  if (counts_.size() <= capacity) return;
  std::vector<uint64_t> values;
  values.reserve(counts_.size());
  for (const auto& entry : counts_) values.push_back(entry.second);
  // The (capacity+1)-th largest count: subtracting it leaves at most `capacity` positive counts.
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(capacity),
                   values.end(), std::greater<>());
  const uint64_t cut = values[capacity];
  for (auto it = counts_.begin(); it != counts_.end();) {
    if (it->second <= cut) {
      it = counts_.erase(it);
    } else {
      it->second -= cut;
      ++it;
    }
  }
  error_ += cut;
}

std::vector<std::pair<std::string, uint64_t>> FrequentTerms::Top(size_t k) const {
  std::vector<std::pair<std::string, uint64_t>> top(counts_.begin(), counts_.end());
  auto order = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  if (top.size() > k) {
    std::partial_sort(top.begin(), top.begin() + static_cast<std::ptrdiff_t>(k), top.end(), order);
    top.resize(k);
  } else {
    std::sort(top.begin(), top.end(), order);
  }
  return top;
}

void FrequentTerms::EncodeTo(std::string& out) const {
  AppendVarint(out, total_);
  AppendVarint(out, error_);
  AppendVarint(out, counts_.size());
  std::vector<const std::pair<const std::string, uint64_t>*> sorted;
  sorted.reserve(counts_.size());
  for (const auto& entry : counts_) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  for (const auto* entry : sorted) {
    AppendVarint(out, entry->first.size());
    out.append(entry->first);
    AppendVarint(out, entry->second);
  }
}

bool FrequentTerms::DecodeFrom(std::string_view& in) {
  counts_.clear();
  uint64_t n = 0;
  if (!ReadVarint(in, total_) || !ReadVarint(in, error_) || !ReadVarint(in, n)) return false;
  if (n > in.size()) return false;  // each entry takes at least 2 bytes
  counts_.reserve(n);
  std::string_view previous;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t length = 0, count = 0;
    if (!ReadVarint(in, length) || length > in.size()) return false;
    std::string_view term = in.substr(0, length);
    in.remove_prefix(length);
    if (!ReadVarint(in, count) || count == 0) return false;
    if (i > 0 && term <= previous) return false;  // canonical order, no duplicates
    previous = term;
    counts_.emplace(std::string(term), count);
  }
  return true;
}

}  // namespace brandpulse
