#include "pipeline/cluster_merge_log.h"

#include <algorithm>

namespace brandpulse {

PartialsMergeLog::Fit PartialsMergeLog::Classify(const PreparedPartials& prepared) const {
  bool fresh = false;
  bool covered = false;
  for (const SourceRange& range : prepared.ranges) {
    auto found = progress_.find(range.partition);
    const uint64_t applied = found == progress_.end() ? 0 : found->second.applied;
    if (range.start > applied) return Fit::kGap;
    if (range.start == applied) {
      // An empty range at the applied position adds only progress (event time, end): fresh.
      fresh = true;
    } else if (range.end <= applied) {
      covered = true;
    } else {
      return Fit::kConflict;  // starts before the applied position and ends after it
    }
  }
  if (fresh && covered) {
    // Empty ranges at an applied position do not make a covered epoch fresh.
    for (const SourceRange& range : prepared.ranges) {
      auto found = progress_.find(range.partition);
      const uint64_t applied = found == progress_.end() ? 0 : found->second.applied;
      if (range.start == applied && range.end > range.start) return Fit::kConflict;
    }
    return Fit::kCovered;
  }
  if (covered) return Fit::kCovered;
  return Fit::kFresh;  // (no ranges at all: nothing to apply but harmless)
}

void PartialsMergeLog::OnPrepared(PreparedPartials prepared, std::vector<PreparedPartials>& apply) {
  ++stats_.prepared;
  const EpochId epoch = prepared.epoch;
  if (done_.contains(epoch) || pending_.contains(epoch) || waiting_.contains(epoch)) {
    ++stats_.duplicates;
    return;
  }
  if (marked_early_.erase(epoch) > 0) {
    waiting_.emplace(epoch, std::move(prepared));
    ApplyReady(apply);
    return;
  }
  pending_.emplace(epoch, std::move(prepared));
}

void PartialsMergeLog::OnMarker(const EpochId& epoch, std::vector<PreparedPartials>& apply) {
  ++stats_.markers;
  if (done_.contains(epoch) || waiting_.contains(epoch) || marked_early_.contains(epoch)) {
    ++stats_.duplicates;
    return;
  }
  auto found = pending_.find(epoch);
  if (found == pending_.end()) {
    marked_early_.insert(epoch);
    return;
  }
  waiting_.insert(pending_.extract(found));
  ApplyReady(apply);
}

// Applies marked epochs while one fits; an applied epoch can close the gap of another.
void PartialsMergeLog::ApplyReady(std::vector<PreparedPartials>& apply) {
  bool progressed = true;
  while (progressed) {
    progressed = false;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      const Fit fit = Classify(it->second);
      if (fit == Fit::kGap) {
        ++it;
        continue;
      }
      PreparedPartials prepared = std::move(it->second);
      done_.insert(it->first);
      it = waiting_.erase(it);
      if (fit == Fit::kCovered) {
        ++stats_.covered;
        continue;
      }
      if (fit == Fit::kConflict) {
        ++stats_.conflicts;
        continue;
      }
      for (const SourceRange& range : prepared.ranges) {
        Progress& progress = progress_[range.partition];
        progress.applied = range.end;
        progress.max_event_time_ms = std::max(progress.max_event_time_ms, range.max_event_time_ms);
        progress.at_end = range.at_end;
        progress.reported = true;
      }
      source_partition_count_ = std::max(source_partition_count_, prepared.source_partition_count);
      ++stats_.applied;
      apply.push_back(std::move(prepared));
      progressed = true;
    }
  }
  // Prepared records whose every range is covered now can never apply: forget them.
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (!it->second.ranges.empty() && Classify(it->second) == Fit::kCovered) {
      done_.insert(it->first);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<int64_t> PartialsMergeLog::Watermark(int64_t max_out_of_orderness_ms) const {
  if (source_partition_count_ == 0) return std::nullopt;
  int64_t slowest = INT64_MAX;
  bool any = false;
  for (uint32_t partition = 0; partition < source_partition_count_; ++partition) {
    auto found = progress_.find(partition);
    if (found == progress_.end() || !found->second.reported) return std::nullopt;
    const Progress& progress = found->second;
    if (progress.max_event_time_ms == INT64_MIN) {
      if (!progress.at_end) return std::nullopt;  // reported, but no event time yet
      continue;                                   // an empty partition holds nothing back
    }
    slowest = std::min(slowest, progress.max_event_time_ms);
    any = true;
  }
  if (!any) return std::nullopt;
  return slowest - max_out_of_orderness_ms;
}

bool PartialsMergeLog::GlobalEnd() const {
  if (source_partition_count_ == 0) return false;
  for (uint32_t partition = 0; partition < source_partition_count_; ++partition) {
    auto found = progress_.find(partition);
    if (found == progress_.end() || !found->second.at_end) return false;
  }
  return true;
}

}  // namespace brandpulse
