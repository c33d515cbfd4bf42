// FrequentTerms: the top hashtags or co-occurring terms of one brand window, as a mergeable
// Misra–Gries summary (Agarwal et al., "Mergeable Summaries", 2012).
//
// Counting is exact (Add, MergeExact) while a window is open: workers, commits and RocksDB merges
// only add, so the counts do not depend on the number of workers or on where commits fall.
// When the window closes its summary is bounded once: Shrink(capacity) keeps at most `capacity`
// terms by subtracting the (capacity+1)-th largest count from every count and dropping those
// that reach zero. Every count is then an underestimate by at most error() ≤
// total()/(capacity+1), and any term whose true count exceeds error() is still present
// (docs/state.md). Shrinks also compose (summaries merged and shrunk in any tree keep the bound),
// which is what range queries over several closed windows rely on.
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

  bool empty() const { return size_ == 0 && total_ == 0; }
  size_t size() const { return size_; }
  uint64_t total() const { return total_; }  // every count ever added (true N)
  uint64_t error() const { return error_; }  // max undercount of any listed term
  // The `k` largest (count descending, term ascending on ties).
  std::vector<std::pair<std::string, uint64_t>> Top(size_t k) const;

  // Appends: varint total, varint error, varint n, then n × (varint length, bytes, varint count)
  // in bytewise term order, so equal summaries encode to equal bytes.
  void EncodeTo(std::string& out) const;
  // Reads one encoding from the front of `in`, advancing it. false on malformed input.
  bool DecodeFrom(std::string_view& in);

  bool operator==(const FrequentTerms& other) const;

 private:
  // An open-addressing table over 64-bit term hashes, the terms' bytes in one arena: counting a
  // term does no allocation once the table and arena have grown (worker deltas count every
  // co-occurring term of every mention). Two different terms with the same 64-bit hash would
  // share a count; at ~1e4 terms per window that has probability ~1e-11.
  struct Slot {
    uint64_t hash = 0;  // 0 = empty (a real hash of 0 is stored as 1)
    uint64_t count = 0;
    uint32_t offset = 0;  // into arena_
    uint32_t length = 0;
  };
  Slot* Find(std::string_view term, uint64_t hash);
  void Insert(std::string_view term, uint64_t hash, uint64_t count);
  void Grow();
  std::string_view TermOf(const Slot& slot) const {
    return std::string_view(arena_).substr(slot.offset, slot.length);
  }
  std::vector<const Slot*> SortedByTerm() const;

  std::vector<Slot> slots_;  // size is 0 or a power of two
  std::string arena_;
  size_t size_ = 0;
  uint64_t total_ = 0;
  uint64_t error_ = 0;
};

}  // namespace brandpulse
