// StartupRegistry: the definitions operators add at start-up — window dimensions, metrics and
// counters, post fields, query fields — and everyone reads afterwards. Adding takes a lock;
// reading takes none, which is safe because nothing is added once pipelines are loaded
// (REQUIRES, for every Register… function built on it). A deque keeps every returned reference
// valid while more are added.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <utility>

namespace brandpulse {

template <typename Definition>
class StartupRegistry {
 public:
  StartupRegistry() = default;
  explicit StartupRegistry(std::initializer_list<Definition> built_ins) : entries_(built_ins) {}

  // Adds `make(index)` unless `same` holds for an entry already there. Returns the index of the
  // entry kept and whether it is new.
  template <typename Same, typename Make>
  std::pair<size_t, bool> AddUnless(Same same, Make make) {
    std::lock_guard lock(mutex_);
    for (size_t index = 0; index < entries_.size(); ++index) {
      if (same(entries_[index])) return {index, false};
    }
    entries_.push_back(make(entries_.size()));
    return {entries_.size() - 1, true};
  }

  // The first entry `match` holds for; nullptr when none.
  template <typename Match>
  const Definition* Find(Match match) const {
    for (const Definition& entry : entries_) {
      if (match(entry)) return &entry;
    }
    return nullptr;
  }

  const Definition& operator[](size_t index) const { return entries_[index]; }
  size_t size() const { return entries_.size(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

 private:
  std::mutex mutex_;
  std::deque<Definition> entries_;  // appended under mutex_, at start-up only
};

}  // namespace brandpulse
