// WindowMetrics: what brandpulse keeps per brand (× dimension) and window. Worker deltas and the
// values stored in RocksDB have the same type and encoding. Merge is exact, associative and
// commutative (counts add, the author sketch takes the register-wise maximum, term counts add),
// which is what lets the state store write deltas as RocksDB merge operands instead of reading,
// adding and writing back. Term summaries are exact while the window is open and bounded by
// ShrinkTerms() once it closes (engine/frequent_terms.h).
//
// Thread safety: a value type; no internal synchronisation.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/frequent_terms.h"
#include "engine/hyperloglog.h"
#include "engine/status.h"

namespace brandpulse {

// A count that an operator added to the windows (engine/window_metric_registry.h), by the id it
// registered.
struct WindowCounter {
  uint32_t id = 0;
  uint64_t value = 0;
  bool operator==(const WindowCounter&) const = default;
};

// A window's registered counters, sorted by id. Up to kInline of them live inside the value, so
// a window delta that enrichment's sentiment and intent counters reach allocates nothing for
// them (issue 17); more spill to the heap.
class CounterList {
 public:
  static constexpr size_t kInline = 12;
  const WindowCounter* begin() const { return heap_.empty() ? inline_ : heap_.data(); }
  const WindowCounter* end() const { return begin() + size(); }
  WindowCounter* begin() { return heap_.empty() ? inline_ : heap_.data(); }
  WindowCounter* end() { return begin() + size(); }
  size_t size() const { return heap_.empty() ? inline_size_ : heap_.size(); }
  bool empty() const { return size() == 0; }
  // Inserts `counter` before position `index` (<= size()).
  void InsertAt(size_t index, WindowCounter counter) {
    if (heap_.empty() && inline_size_ < kInline) {
      std::copy_backward(inline_ + index, inline_ + inline_size_, inline_ + inline_size_ + 1);
      inline_[index] = counter;
      ++inline_size_;
      return;
    }
    if (heap_.empty()) {
      heap_.assign(inline_, inline_ + inline_size_);
      inline_size_ = 0;
    }
    heap_.insert(heap_.begin() + static_cast<std::ptrdiff_t>(index), counter);
  }
  void push_back(WindowCounter counter) { InsertAt(size(), counter); }
  bool operator==(const CounterList& other) const {
    return std::equal(begin(), end(), other.begin(), other.end());
  }

 private:
  WindowCounter inline_[kInline];
  uint32_t inline_size_ = 0;
  std::vector<WindowCounter> heap_;  // all of them once there are more than kInline
};

struct WindowMetrics {
  uint64_t mentions = 0;
  uint64_t reach = 0;   // sum of the mentioning authors' followers (per mention, not per author)
  uint64_t replies = 0;    // mentions that reply to another post
  uint64_t questions = 0;  // mentions whose text asks something ('?' or '¿')
  HyperLogLog authors;     // distinct authors, by author hash
  // Top hashtags and co-occurring terms (brand-level windows only; empty in dimension windows).
  // `term_capacity` is how many terms a stored summary keeps (0 in values without terms).
  uint64_t term_capacity = 0;
  FrequentTerms hashtags;
  FrequentTerms terms;
  // Registered counters (sentiment classes, intents, ...), sorted by id; empty in pipelines
  // whose operators register none.
  CounterList counters;

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
    replies += other.replies;
    questions += other.questions;
    authors.Merge(other.authors);
    term_capacity = std::max(term_capacity, other.term_capacity);
    hashtags.MergeExact(other.hashtags);
    terms.MergeExact(other.terms);
    if (!other.counters.empty()) MergeCounters(other.counters);
  }
  void AddCounter(uint32_t id, uint64_t value);
  uint64_t Counter(uint32_t id) const;
  // Bounds the term summaries to term_capacity (Misra–Gries); no-op without a capacity.
  void ShrinkTerms() {
    if (term_capacity == 0) return;
    hashtags.Shrink(term_capacity);
    terms.Shrink(term_capacity);
  }
  bool empty() const { return mentions == 0 && reach == 0 && authors.empty(); }

  // Appends format version 2 (docs/state.md): byte 0x02, varints mentions, reach, replies,
  // questions, term_capacity, the HyperLogLog encoding, then the hashtag and term summaries.
  // With registered counters, version 3: the same with byte 0x03, then varint count and
  // (varint id, varint value) pairs in id order. Equal metrics encode to equal bytes.
  void EncodeTo(std::string& out) const;
  // Decodes exactly one encoded value, version 1, 2 or 3 (trailing bytes are an error). Corruption
  // on an unknown version, truncation, or a malformed sketch or summary.
  static Result<WindowMetrics> Decode(std::string_view bytes);

  bool operator==(const WindowMetrics& other) const {
    return mentions == other.mentions && reach == other.reach && replies == other.replies &&
           questions == other.questions && authors == other.authors &&
           term_capacity == other.term_capacity && hashtags == other.hashtags &&
           terms == other.terms && counters == other.counters;
  }

 private:
  void MergeCounters(const CounterList& other);
};

}  // namespace brandpulse
