#include "operators/enrich_words.h"

#include <cstring>

namespace brandpulse::enrich_words {

WordInfo& WordTable::Add(std::string_view word) {
  auto [at, added] = building_.try_emplace(word, static_cast<uint32_t>(entries_.size()));
  if (added) {
    Entry entry;
    if (word.size() <= kInlineKey) {
      entry.length = static_cast<uint8_t>(word.size());
      std::memcpy(entry.key, word.data(), word.size());
    } else {
      entry.length = kLongKey;
    }
    entries_.push_back(entry);
    words_.push_back(word);
  }
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
  const uint64_t hash = Hash(words_[entry_index]);
  uint64_t slot = hash & mask_;
  while (slots_[slot] != 0) slot = (slot + 1) & mask_;
  slots_[slot] = static_cast<uint32_t>(hash >> 47) << 15 | (entry_index + 1);
}

namespace {

uint64_t Load8(const char* bytes) {
  uint64_t value;
  std::memcpy(&value, bytes, 8);
  return value;
}
uint32_t Load4(const char* bytes) {
  uint32_t value;
  std::memcpy(&value, bytes, 4);
  return value;
}

// a[0, size) == b[0, size) for size ≤ 11 (an inline key), reading only those bytes: the first
// and the last 8 (or 4) bytes, which overlap. memcmp with a variable size was a library call
// per word looked up.
bool SameShortKey(const char* a, const char* b, size_t size) {
  if (size >= 8) {
    return Load8(a) == Load8(b) && Load8(a + size - 8) == Load8(b + size - 8);
  }
  if (size >= 4) {
    return Load4(a) == Load4(b) && Load4(a + size - 4) == Load4(b + size - 4);
  }
  for (size_t i = 0; i < size; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace

const WordInfo& WordTable::Find(std::string_view word, uint64_t hash) const {
  if (slots_.empty()) return empty_;
  const uint32_t tag = static_cast<uint32_t>(hash >> 47);
  for (uint64_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
    const uint32_t value = slots_[slot];
    if (value == 0) return empty_;
    if ((value >> 15) == tag) {
      const uint32_t index = (value & kMaxEntries) - 1;
      const Entry& entry = entries_[index];
      if (word.size() <= kInlineKey) {
        if (entry.length == word.size() && SameShortKey(entry.key, word.data(), word.size())) {
          return entry.info;
        }
      } else if (entry.length == kLongKey && words_[index] == word) {
        return entry.info;
      }
    }
  }
}

}  // namespace brandpulse::enrich_words
