#include "operators/enrich_words.h"

namespace brandpulse::enrich_words {

WordInfo& WordTable::Add(std::string_view word) {
  auto [at, added] = building_.try_emplace(word, static_cast<uint32_t>(entries_.size()));
  if (added) entries_.push_back(Entry{word, WordInfo{}});
  return entries_[at->second].info;
}

bool WordTable::Seal() {
  building_.clear();
  if (entries_.size() > kMaxEntries) return false;
  size_t capacity = 16;
  while (capacity < entries_.size() * 2) capacity *= 2;  // load factor ≤ 0.5: short probes
  slots_.assign(capacity, 0);
  mask_ = capacity - 1;
  for (uint32_t i = 0; i < entries_.size(); ++i) Insert(i);
  return true;
}

void WordTable::Insert(uint32_t entry_index) {
  const uint64_t hash = Hash(entries_[entry_index].word);
  uint64_t slot = hash & mask_;
  while (slots_[slot] != 0) slot = (slot + 1) & mask_;
  slots_[slot] = static_cast<uint32_t>(hash >> 47) << 15 | (entry_index + 1);
}

const WordInfo& WordTable::Find(std::string_view word, uint64_t hash) const {
  if (slots_.empty()) return empty_;
  const uint32_t tag = static_cast<uint32_t>(hash >> 47);
  for (uint64_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
    const uint32_t value = slots_[slot];
    if (value == 0) return empty_;
    if ((value >> 15) == tag) {
      const Entry& entry = entries_[(value & kMaxEntries) - 1];
      if (entry.word == word) return entry.info;
    }
  }
}

}  // namespace brandpulse::enrich_words
