#include "pipeline/cluster_merge_log.h"

#include <algorithm>

#include "engine/varint.h"

namespace brandpulse {
namespace {

constexpr char kStateVersion = 0x01;

void AppendEpoch(std::string& out, const EpochId& epoch) {
  AppendVarint(out, epoch.nonce);
  AppendVarint(out, epoch.seq);
}
bool ReadEpoch(std::string_view& in, EpochId& epoch) {
  return ReadVarint(in, epoch.nonce) && ReadVarint(in, epoch.seq);
}
bool ReadU32(std::string_view& in, uint32_t& value) {
  uint64_t wide = 0;
  if (!ReadVarint(in, wide) || wide > UINT32_MAX) return false;
  value = static_cast<uint32_t>(wide);
  return true;
}
void AppendPreparedMap(std::string& out, const std::map<EpochId, PreparedPartials>& records) {
  AppendVarint(out, records.size());
  for (const auto& [epoch, prepared] : records) {
    std::string encoded;
    EncodePrepared(prepared, encoded);
    AppendVarint(out, encoded.size());
    out += encoded;
  }
}
bool ReadPreparedMap(std::string_view& in, std::map<EpochId, PreparedPartials>& records) {
  uint64_t count = 0;
  if (!ReadVarint(in, count)) return false;
  for (uint64_t index = 0; index < count; ++index) {
    uint64_t length = 0;
    if (!ReadVarint(in, length) || length > in.size()) return false;
    Result<PreparedPartials> prepared = DecodePrepared(in.substr(0, length));
    if (!prepared.ok()) return false;
    in.remove_prefix(length);
    const EpochId epoch = prepared->epoch;
    records.emplace(epoch, std::move(*prepared));
  }
  return true;
}

}  // namespace

bool EpochRuns::contains(const EpochId& epoch) const {
  auto of_nonce = runs_.find(epoch.nonce);
  if (of_nonce == runs_.end()) return false;
  auto run = of_nonce->second.upper_bound(epoch.seq);  // the first run starting after it
  if (run == of_nonce->second.begin()) return false;
  --run;
  return epoch.seq < run->second;
}

void EpochRuns::insert(const EpochId& epoch) { InsertRun(epoch.nonce, epoch.seq, 1); }

void EpochRuns::InsertRun(uint64_t nonce, uint64_t first, uint64_t count) {
  if (count == 0) return;
  std::map<uint64_t, uint64_t>& of_nonce = runs_[nonce];
  uint64_t start = first;
  uint64_t end = first + count;
  // Merge with every run that overlaps or touches [start, end).
  auto run = of_nonce.upper_bound(start);
  if (run != of_nonce.begin()) {
    auto before = std::prev(run);
    if (before->second >= start) run = before;
  }
  uint64_t covered = 0;  // seqs of [start, end) already in
  while (run != of_nonce.end() && run->first <= end) {
    covered += std::min(end, run->second) > std::max(start, run->first)
                   ? std::min(end, run->second) - std::max(start, run->first)
                   : 0;
    start = std::min(start, run->first);
    end = std::max(end, run->second);
    run = of_nonce.erase(run);
  }
  of_nonce.emplace(start, end);
  epochs_ += count - covered;
}

size_t EpochRuns::run_count() const {
  size_t count = 0;
  for (const auto& [nonce, of_nonce] : runs_) count += of_nonce.size();
  return count;
}

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
  changed_ = true;
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
  changed_ = true;
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
        progress.idle = range.idle;
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

// 'L' version count_of_source_partitions
//   n × (partition applied zigzag(max_event_time) flags[at_end=1 reported=2 idle=4])
//   pending: n × (len prepared-record)   waiting: the same   marked early: n × epoch
//   done: n × (nonce, m × (first seq, count))  (an instance's epochs are mostly done in runs of
//   seqs, so this stays small)                 (epochs elsewhere: varint nonce, varint seq)
void PartialsMergeLog::EncodeState(std::string& out) const {
  out.push_back('L');
  out.push_back(kStateVersion);
  AppendVarint(out, source_partition_count_);
  AppendVarint(out, progress_.size());
  for (const auto& [partition, progress] : progress_) {
    AppendVarint(out, partition);
    AppendVarint(out, progress.applied);
    AppendVarint(out, ZigZag(progress.max_event_time_ms));
    AppendVarint(out, (progress.at_end ? 1 : 0) | (progress.reported ? 2 : 0) |
                          (progress.idle ? 4 : 0));
  }
  AppendPreparedMap(out, pending_);
  AppendPreparedMap(out, waiting_);
  AppendVarint(out, marked_early_.size());
  for (const EpochId& epoch : marked_early_) AppendEpoch(out, epoch);
  AppendVarint(out, done_.runs().size());
  for (const auto& [nonce, of_nonce] : done_.runs()) {
    AppendVarint(out, nonce);
    AppendVarint(out, of_nonce.size());
    for (const auto& [first, end] : of_nonce) {
      AppendVarint(out, first);
      AppendVarint(out, end - first);
    }
  }
}

Result<PartialsMergeLog> PartialsMergeLog::DecodeState(std::string_view in) {
  const Status corrupt = Status::Corruption("stored partials merge log does not decode");
  if (in.size() < 2 || in[0] != 'L' || in[1] != kStateVersion) return corrupt;
  in.remove_prefix(2);
  PartialsMergeLog log;
  uint64_t count = 0;
  if (!ReadU32(in, log.source_partition_count_) || !ReadVarint(in, count)) return corrupt;
  for (uint64_t index = 0; index < count; ++index) {
    uint32_t partition = 0;
    uint64_t zigzag = 0;
    uint64_t flags = 0;
    Progress progress;
    if (!ReadU32(in, partition) || !ReadVarint(in, progress.applied) ||
        !ReadVarint(in, zigzag) || !ReadVarint(in, flags)) {
      return corrupt;
    }
    progress.max_event_time_ms = UnZigZag(zigzag);
    progress.at_end = (flags & 1) != 0;
    progress.reported = (flags & 2) != 0;
    progress.idle = (flags & 4) != 0;
    log.progress_[partition] = progress;
  }
  if (!ReadPreparedMap(in, log.pending_) || !ReadPreparedMap(in, log.waiting_) ||
      !ReadVarint(in, count)) {
    return corrupt;
  }
  for (uint64_t index = 0; index < count; ++index) {
    EpochId epoch;
    if (!ReadEpoch(in, epoch)) return corrupt;
    log.marked_early_.insert(epoch);
  }
  if (!ReadVarint(in, count)) return corrupt;
  for (uint64_t index = 0; index < count; ++index) {
    uint64_t nonce = 0;
    uint64_t runs = 0;
    if (!ReadVarint(in, nonce) || !ReadVarint(in, runs) || runs > in.size()) return corrupt;
    for (uint64_t run_index = 0; run_index < runs; ++run_index) {
      uint64_t first = 0;
      uint64_t run = 0;
      if (!ReadVarint(in, first) || !ReadVarint(in, run) || run > (uint64_t{1} << 40) ||
          first + run < first) {
        return corrupt;
      }
      log.done_.InsertRun(nonce, first, run);
    }
  }
  if (!in.empty()) return corrupt;
  return log;
}

std::optional<int64_t> PartialsMergeLog::Watermark(int64_t max_out_of_orderness_ms) const {
  if (source_partition_count_ == 0) return std::nullopt;
  int64_t slowest = INT64_MAX;
  int64_t newest_idle = INT64_MIN;
  bool any = false;
  for (uint32_t partition = 0; partition < source_partition_count_; ++partition) {
    auto found = progress_.find(partition);
    if (found == progress_.end() || !found->second.reported) return std::nullopt;
    const Progress& progress = found->second;
    if (progress.max_event_time_ms == INT64_MIN) {
      if (!progress.at_end) return std::nullopt;  // reported, but no event time yet
      continue;                                   // an empty partition holds nothing back
    }
    if (progress.idle) {  // idle: holds nothing back until it has data again
      newest_idle = std::max(newest_idle, progress.max_event_time_ms);
      continue;
    }
    slowest = std::min(slowest, progress.max_event_time_ms);
    any = true;
  }
  if (!any && newest_idle == INT64_MIN) return std::nullopt;
  return (any ? slowest : newest_idle) - max_out_of_orderness_ms;
}

bool PartialsMergeLog::GlobalEnd() const {
  if (source_partition_count_ == 0) return false;
  for (uint32_t partition = 0; partition < source_partition_count_; ++partition) {
    auto found = progress_.find(partition);
    if (found == progress_.end() || !found->second.at_end) return false;
  }
  return true;
}

std::map<uint32_t, int64_t> MergePlanner::Plan(const std::set<uint32_t>& owned,
                                               const std::set<uint32_t>& gained,
                                               const std::map<uint32_t, int64_t>& stored,
                                               const std::set<uint32_t>& held,
                                               const std::map<uint32_t, int64_t>& next) {
  std::map<uint32_t, int64_t> starts;
  MergePlan plan = MergePlan::kReset;
  if (!planned_first_ && owned.empty() && !stored.empty()) {
    // A restarted member is often assigned nothing at first (cooperative: the others give up
    // partitions in a second round): its local state waits for the first partitions.
    plan_ = std::max(plan_, MergePlan::kKeep);
    return starts;
  }
  if (!planned_first_) {
    planned_first_ = true;
    bool all_stored = !owned.empty() && (partial_drop_ || owned.size() == stored.size());
    bool some_stored = false;
    for (uint32_t partition : owned) {
      all_stored = all_stored && stored.contains(partition);
      some_stored = some_stored || stored.contains(partition);
    }
    if (all_stored || (partial_drop_ && some_stored)) {
      // Issue 11: the stored partitions resume, the others are replayed beside them.
      plan = MergePlan::kResume;
      for (uint32_t partition : owned) {
        auto found = stored.find(partition);
        if (found != stored.end()) {
          starts[partition] = found->second;
        } else {
          starts[partition] = kFromBeginning;
          replayed_.insert(partition);
        }
      }
    }
  } else if (plan_ != MergePlan::kReset) {
    // A partition taken away and given back within one change is still held: it reads on from
    // the offset after its last record read. One gained without state is replayed beside the
    // held ones (issue 11), unless partial drops are off.
    bool fresh = false;
    for (uint32_t partition : gained) {
      fresh = fresh || (!partial_drop_ && !held.contains(partition));
    }
    for (uint32_t partition : held) fresh = fresh || (!partial_drop_ && !owned.contains(partition));
    if (!fresh) {
      plan = MergePlan::kKeep;
      for (uint32_t partition : gained) {
        auto found = next.find(partition);
        if (held.contains(partition) && found != next.end()) {
          starts[partition] = found->second;
          replayed_.erase(partition);  // (planned earlier in this change, then given back)
        } else {
          starts[partition] = kFromBeginning;
          replayed_.insert(partition);
        }
      }
    }
  }
  if (plan == MergePlan::kReset) {
    for (uint32_t partition : owned) starts[partition] = kFromBeginning;
  }
  plan_ = std::max(plan_, plan);
  return starts;
}

MergePlan MergePlanner::Take(bool changed) {
  const MergePlan plan = plan_;
  plan_ = MergePlan::kNone;
  taken_replayed_ = std::move(replayed_);
  replayed_.clear();
  if (!changed) {
    taken_replayed_.clear();
    return MergePlan::kNone;
  }
  if (plan == MergePlan::kNone || plan == MergePlan::kReset) taken_replayed_.clear();
  return plan == MergePlan::kNone ? MergePlan::kReset : plan;
}

}  // namespace brandpulse
