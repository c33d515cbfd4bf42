#include "engine/frequent_terms.h"

#include <algorithm>

#include "engine/hash.h"
#include "engine/varint.h"

namespace brandpulse {
namespace {

uint64_t TermHash(std::string_view term) {
  uint64_t hash = HashBytes(term);
  return hash == 0 ? 1 : hash;
}

}  // namespace

FrequentTerms::Slot* FrequentTerms::Find(std::string_view term, uint64_t hash) {
  if (slots_.empty()) return nullptr;
  const size_t mask = slots_.size() - 1;
  for (size_t index = hash & mask;; index = (index + 1) & mask) {
    Slot& slot = slots_[index];
    if (slot.hash == 0) return nullptr;
    if (slot.hash == hash && TermOf(slot) == term) return &slot;
  }
}

void FrequentTerms::Insert(std::string_view term, uint64_t hash, uint64_t count) {
  if ((size_ + 1) * 4 > slots_.size() * 3) Grow();  // load factor <= 3/4
  const size_t mask = slots_.size() - 1;
  size_t index = hash & mask;
  while (slots_[index].hash != 0) index = (index + 1) & mask;
  slots_[index] = Slot{hash, count, static_cast<uint32_t>(arena_.size()),
                       static_cast<uint32_t>(term.size())};
  arena_.append(term);
  ++size_;
}

void FrequentTerms::Grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{});
  const size_t mask = slots_.size() - 1;
  for (const Slot& slot : old) {
    if (slot.hash == 0) continue;
    size_t index = slot.hash & mask;
    while (slots_[index].hash != 0) index = (index + 1) & mask;
    slots_[index] = slot;
  }
}

void FrequentTerms::Add(std::string_view term, uint64_t count) {
  if (count == 0) return;
  uint64_t hash = TermHash(term);
  if (Slot* slot = Find(term, hash)) {
    slot->count += count;
  } else {
    Insert(term, hash, count);
  }
  total_ += count;
}

void FrequentTerms::MergeExact(const FrequentTerms& other) {
  for (const Slot& slot : other.slots_) {
    if (slot.hash == 0) continue;
    std::string_view term = other.TermOf(slot);
    if (Slot* mine = Find(term, slot.hash)) {
      mine->count += slot.count;
    } else {
      Insert(term, slot.hash, slot.count);
    }
  }
  total_ += other.total_;
  error_ += other.error_;
}

void FrequentTerms::Shrink(size_t capacity) {
  if (size_ <= capacity) return;
  std::vector<uint64_t> values;
  values.reserve(size_);
  for (const Slot& slot : slots_) {
    if (slot.hash != 0) values.push_back(slot.count);
  }
  // The (capacity+1)-th largest count: subtracting it leaves at most `capacity` positive counts.
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(capacity),
                   values.end(), std::greater<>());
  const uint64_t cut = values[capacity];
  FrequentTerms kept;
  kept.total_ = total_;
  kept.error_ = error_ + cut;
  for (const Slot& slot : slots_) {
    if (slot.hash != 0 && slot.count > cut) kept.Insert(TermOf(slot), slot.hash, slot.count - cut);
  }
  *this = std::move(kept);
}

std::vector<const FrequentTerms::Slot*> FrequentTerms::SortedByTerm() const {
  std::vector<const Slot*> sorted;
  sorted.reserve(size_);
  for (const Slot& slot : slots_) {
    if (slot.hash != 0) sorted.push_back(&slot);
  }
  std::sort(sorted.begin(), sorted.end(),
            [&](const Slot* a, const Slot* b) { return TermOf(*a) < TermOf(*b); });
  return sorted;
}

std::vector<std::pair<std::string, uint64_t>> FrequentTerms::Top(size_t k) const {
  std::vector<std::pair<std::string, uint64_t>> top;
  top.reserve(size_);
  for (const Slot& slot : slots_) {
    if (slot.hash != 0) top.emplace_back(std::string(TermOf(slot)), slot.count);
  }
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

bool FrequentTerms::operator==(const FrequentTerms& other) const {
  if (total_ != other.total_ || error_ != other.error_ || size_ != other.size_) return false;
  for (const Slot& slot : slots_) {
    if (slot.hash == 0) continue;
    const Slot* theirs = const_cast<FrequentTerms&>(other).Find(TermOf(slot), slot.hash);
    if (theirs == nullptr || theirs->count != slot.count) return false;
  }
  return true;
}

void FrequentTerms::EncodeTo(std::string& out) const {
  AppendVarint(out, total_);
  AppendVarint(out, error_);
  AppendVarint(out, size_);
  for (const Slot* slot : SortedByTerm()) {
    AppendVarint(out, slot->length);
    out.append(TermOf(*slot));
    AppendVarint(out, slot->count);
  }
}

bool FrequentTerms::DecodeFrom(std::string_view& in) {
  *this = FrequentTerms();
  uint64_t n = 0;
  if (!ReadVarint(in, total_) || !ReadVarint(in, error_) || !ReadVarint(in, n)) return false;
  if (n > in.size()) return false;  // each entry takes at least 2 bytes
  std::string_view previous;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t length = 0, count = 0;
    if (!ReadVarint(in, length) || length > in.size()) return false;
    std::string_view term = in.substr(0, length);
    in.remove_prefix(length);
    if (!ReadVarint(in, count) || count == 0) return false;
    if (i > 0 && term <= previous) return false;  // canonical order, no duplicates
    previous = term;
    Insert(term, TermHash(term), count);
  }
  return true;
}

}  // namespace brandpulse
