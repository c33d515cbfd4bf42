// FrequentTerms: the top hashtags or co-occurring terms of one brand window, as a mergeable
// Misra–Gries summary (Agarwal et al., "Mergeable Summaries", 2012).
//
// Workers count exactly (Add, MergeExact): a commit's delta is the same whatever the number of
// workers. Stored values are bounded: Shrink(capacity) keeps at most `capacity` terms by
// subtracting the (capacity+1)-th largest count from every count and dropping those that reach
// zero. Every count is then an underestimate by at most error() ≤ total()/(capacity+1), and any
// term whose true count exceeds error() is still present. The state store applies
// "merge then shrink" once per merge operand, in write order (a left fold; RocksDB partial
// merges are disabled for windows), so the stored summary depends only on the sequence of
// commits — which depends only on the input — and a crashed-and-resumed run stores identical
// bytes (docs/state.md).
//
// Thread safety: a value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace brandpulse {

class FrequentTerms {
 public:
  void Add(std::string_view term, uint64_t count = 1);
  void MergeExact(const FrequentTerms& other);
  // Misra–Gries shrink to at most `capacity` terms; no-op when already within it. capacity ≥ 1.
  void Shrink(size_t capacity);

  bool empty() const { return counts_.empty() && total_ == 0; }
  size_t size() const { return counts_.size(); }
  uint64_t total() const { return total_; }  // every count ever added (true N)
  uint64_t error() const { return error_; }  // max undercount of any listed term
  // The `k` largest (count descending, term ascending on ties).
  std::vector<std::pair<std::string, uint64_t>> Top(size_t k) const;

  // Appends: varint total, varint error, varint n, then n × (varint length, bytes, varint count)
  // in bytewise term order, so equal summaries encode to equal bytes.
  void EncodeTo(std::string& out) const;
  // Reads one encoding from the front of `in`, advancing it. false on malformed input.
  bool DecodeFrom(std::string_view& in);

  bool operator==(const FrequentTerms& other) const {
    return total_ == other.total_ && error_ == other.error_ && counts_ == other.counts_;
  }

 private:
  std::unordered_map<std::string, uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t error_ = 0;
};

}  // namespace brandpulse
