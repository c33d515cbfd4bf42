#include "pipeline/cluster_runtime.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include "engine/varint.h"

namespace brandpulse {
namespace {

std::string PartitionsText(const std::set<uint32_t>& partitions) {
  std::string text = "[";
  for (uint32_t partition : partitions) {
    if (text.size() > 1) text += ",";
    text += std::to_string(partition);
  }
  return text + "]";
}

// Markers are small and must arrive: a few attempts before the run gives up (a restart then
// re-publishes them from the group's offset metadata).
constexpr int kMarkerAttempts = 5;
// Creating a missing snapshot topic: a broker answers within a second; librdkafka 2.0.2's mock
// cluster has no controller and never does (the wait is paid at each start without the topic).
constexpr int kCreateTopicTimeoutMs = 3000;

}  // namespace

std::map<std::string, std::string> PartialsKeys(const WatchlistSpec& watchlist) {
  std::map<std::string, std::string> parent;
  for (const BrandSpec& brand : watchlist.brands) parent[brand.id] = brand.id;
  std::function<std::string(const std::string&)> root = [&](const std::string& id) {
    std::string at = id;
    while (parent[at] != at) at = parent[at];
    return at;
  };
  for (const CompetitorGroup& group : watchlist.groups) {
    for (size_t index = 1; index < group.brand_ids.size(); ++index) {
      std::string a = root(group.brand_ids[0]);
      std::string b = root(group.brand_ids[index]);
      if (a == b) continue;
      // The smaller id is the root: the key does not depend on the order of the groups.
      if (b < a) std::swap(a, b);
      parent[b] = a;
    }
  }
  std::map<std::string, std::string> keys;
  for (const BrandSpec& brand : watchlist.brands) keys[brand.id] = root(brand.id);
  return keys;
}

ClusterRuntime::ClusterRuntime(const ClusterSpec& spec, Source& source, KafkaGroupSource& group,
                               int64_t max_out_of_orderness_ms, Notice notice)
    : spec_(spec),
      source_(source),
      group_(group),
      max_out_of_orderness_ms_(max_out_of_orderness_ms),
      notice_(std::move(notice)) {}

Result<std::unique_ptr<ClusterRuntime>> ClusterRuntime::Make(const ClusterSpec& spec,
                                                             Source& source,
                                                             const WatchlistSpec& watchlist,
                                                             int64_t max_out_of_orderness_ms,
                                                             Notice notice) {
  auto* group = dynamic_cast<KafkaGroupSource*>(&source);
  if (group == nullptr) return Status::InvalidArgument("cluster: needs a Kafka source");
  std::unique_ptr<ClusterRuntime> runtime(
      new ClusterRuntime(spec, source, *group, max_out_of_orderness_ms, std::move(notice)));
  group->DisableOwnCommits();
  if (const char* value = std::getenv("BRANDPULSE_TEST_EXIT_BEFORE_MARKER")) {
    runtime->exit_before_marker_ = std::strtoull(value, nullptr, 10);
  }
  runtime->keys_ = PartialsKeys(watchlist);
  std::random_device random;
  runtime->nonce_ = (static_cast<uint64_t>(random()) << 32) ^ random() ^
                    static_cast<uint64_t>(
                        std::chrono::steady_clock::now().time_since_epoch().count());
  ASSIGN_OR_RETURN(runtime->producer_,
                   PartialsProducer::Make(spec.client, spec.partials_topic,
                                          static_cast<int>(spec.delivery_timeout_ms)));
  ASSIGN_OR_RETURN(runtime->partials_partitions_, runtime->producer_->PartitionCount());
  ASSIGN_OR_RETURN(runtime->source_partitions_, group->PartitionCount());
  const std::string merge_group =
      spec.merge_group.empty() ? group->group() + ".merge" : spec.merge_group;
  ASSIGN_OR_RETURN(runtime->consumer_,
                   PartialsConsumer::Make(spec.client, spec.partials_topic, merge_group));
  // Issue 11, snapshots: written with snapshot_every_epochs, read at restores then and when the
  // topic is named (a member that only reads them).
  if (spec.snapshot_every_epochs > 0) {
    // On by default (docs/cluster.md, "Snapshots"), so every deployment needs the topic: a
    // missing one is created here, compacted, one partition per partials partition. Looked up
    // in the list of every topic, so that no broker auto-creates it with its own defaults.
    Result<std::optional<uint32_t>> partitions = runtime->producer_->FindTopic(spec.snapshot_topic);
    std::string not_usable;
    if (partitions.ok() && !partitions->has_value()) {
      Result<bool> created = runtime->producer_->CreateTopic(
          spec.snapshot_topic, runtime->partials_partitions_, {{"cleanup.policy", "compact"}},
          kCreateTopicTimeoutMs);
      if (created.ok()) {
        runtime->notice_(fmt::format("cluster: {} snapshot topic {} ({} partition(s), "
                                     "cleanup.policy=compact)",
                                     *created ? "created" : "another member created",
                                     spec.snapshot_topic, runtime->partials_partitions_));
        for (int attempt = 0; attempt < 10; ++attempt) {  // until the metadata has it
          partitions = runtime->producer_->FindTopic(spec.snapshot_topic);
          if (!partitions.ok() || partitions->has_value()) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
      } else {
        not_usable = fmt::format("it does not exist and creating it failed: {}",
                                 created.status().message());
      }
    }
    if (!partitions.ok()) {
      not_usable = std::string(partitions.status().message());
    } else if (!partitions->has_value() && not_usable.empty()) {
      not_usable = "it does not exist";
    }
    if (!not_usable.empty()) {
      // Set in the YAML: the run stops. The default: the run goes on without snapshots (a gain
      // replays from offset 0, as before stop 26) and says so, so that a deployment without the
      // right to create topics still starts.
      const std::string why = fmt::format(
          "cluster: snapshot topic {} is not usable ({}): create it with {} partition(s) and "
          "cleanup.policy=compact, or set snapshot_every_epochs: 0",
          spec.snapshot_topic, not_usable, runtime->partials_partitions_);
      if (spec.snapshot_every_set) return Status::Unavailable(why);
      runtime->notice_(why + "; snapshots off for this run");
    } else if (**partitions != runtime->partials_partitions_) {
      return Status::InvalidArgument(fmt::format(
          "cluster: snapshot topic {} has {} partition(s), the partials topic {} has {}: give it "
          "as many (one per partials partition), with cleanup.policy=compact",
          spec.snapshot_topic, **partitions, spec.partials_topic, runtime->partials_partitions_));
    } else {
      Result<std::unique_ptr<PartialsProducer>> producer = PartialsProducer::Make(
          spec.client, spec.snapshot_topic, static_cast<int>(spec.delivery_timeout_ms));
      if (!producer.ok()) return producer.status().WithContext("cluster: snapshot_topic");
      runtime->snapshot_producer_ = std::move(*producer);
    }
  }
  if (runtime->snapshot_producer_ != nullptr || spec.snapshot_topic_set) {
    ASSIGN_OR_RETURN(runtime->snapshot_reader_,
                     SnapshotTopicReader::Make(spec.client, spec.snapshot_topic));
  }
  ClusterRuntime* self = runtime.get();
  runtime->consumer_->SetPlanner(
      [self](const std::set<uint32_t>& owned, const std::set<uint32_t>& gained) {
        return self->PlanStarts(owned, gained);
      });
  return runtime;
}

// --- source side ---

Result<PositionMap> ClusterRuntime::SeekGained(const std::vector<uint32_t>& gained) {
  PositionMap positions;
  if (gained.empty()) return positions;
  // The group coordinator may be moving (a broker down): tries of 5 s for about two minutes
  // before the run gives up.
  Result<std::map<uint32_t, std::pair<int64_t, std::string>>> read = group_.Committed(gained);
  for (int attempt = 1; attempt < 20 && !read.ok(); ++attempt) {
    notice_(fmt::format("cluster: reading the group's committed offsets: {}; retrying",
                        read.status().message()));
    std::this_thread::sleep_for(std::chrono::seconds(1));
    read = group_.Committed(gained);
  }
  ASSIGN_OR_RETURN(auto committed, std::move(read));
  for (uint32_t partition : gained) {
    uint64_t position = 0;
    auto found = committed.find(partition);
    if (found != committed.end()) {
      if (found->second.first >= 0) position = static_cast<uint64_t>(found->second.first);
      // Its marker goes out before this instance's first epoch (PublishDueMarkers), not here:
      // librdkafka waits for the assignment until the runner returns, and a produce can take
      // seconds under broker faults — a member that answers late misses the group's next join.
      if (std::optional<EpochId> epoch = EpochId::Parse(found->second.second)) {
        markers_due_[*epoch].insert(partition);
      }
    }
    positions[partition] = position;
    epoch_start_[partition] = position;
    newest_.erase(partition);
    published_at_end_.erase(partition);
    last_read_[partition] = std::chrono::steady_clock::now();  // idle from here (not before)
    published_idle_.erase(partition);
  }
  return positions;
}

Status ClusterRuntime::PublishDueMarkers() {
  while (!markers_due_.empty()) {
    auto due = markers_due_.begin();
    RETURN_IF_ERROR(RepublishMarkers({due->first}));
    for (uint32_t partition : due->second) {
      notice_(fmt::format("cluster: re-published the marker of epoch {} (source partition {})",
                          due->first.ToString(), partition));
    }
    markers_due_.erase(due);
  }
  return Status::Ok();
}

Status ClusterRuntime::RepublishMarkers(const std::set<EpochId>& epochs) {
  for (const EpochId& epoch : epochs) {
    std::string marker;
    EncodeMarker(epoch, marker);
    std::vector<std::pair<uint32_t, std::string>> records;
    for (uint32_t partition = 0; partition < partials_partitions_; ++partition) {
      records.emplace_back(partition, marker);
    }
    Status produced;
    for (int attempt = 0; attempt < kMarkerAttempts; ++attempt) {
      produced = producer_->ProduceAndWait(epoch.ToString(), records);
      if (produced.ok()) break;
    }
    RETURN_IF_ERROR(produced.WithContext("cluster: marker of epoch " + epoch.ToString()));
    ++markers_republished_;
  }
  return Status::Ok();
}

void ClusterRuntime::ForgetLost(const std::vector<uint32_t>& lost) {
  // The runner commits (or abandons) the epoch before it lets partitions go, and a pending
  // revoke is never deferred (KafkaGroupSource::Rejoining): nothing deferred can be left here.
  if (deferred_) {
    notice_(fmt::format("cluster: BUG: {} deferred record(s) when source partitions were lost; "
                        "dropped (their windows may miss them)",
                        deferred_records_));
    deferred_deltas_.clear();
    deferred_records_ = 0;
    deferred_ = false;
  }
  for (uint32_t partition : lost) {
    epoch_start_.erase(partition);
    newest_.erase(partition);
    published_at_end_.erase(partition);
    last_read_.erase(partition);
    published_idle_.erase(partition);
  }
}

void ClusterRuntime::ObserveBatch(uint32_t partition, int64_t max_event_time_ms) {
  auto [entry, inserted] = newest_.try_emplace(partition, max_event_time_ms);
  if (!inserted) entry->second = std::max(entry->second, max_event_time_ms);
  if (idle_timeout_ms_ > 0) last_read_[partition] = std::chrono::steady_clock::now();
}

// A partition with records left to read is never idle (it is behind, not quiet); one at its end
// is idle once nothing was read from it for the idle timeout. Processing time, as in one process
// (engine/watermark.h): whether a post that comes after that counts depends on when it comes.
std::set<uint32_t> ClusterRuntime::IdleNow() const {
  std::set<uint32_t> idle;
  if (idle_timeout_ms_ <= 0) return idle;
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [partition, start] : epoch_start_) {
    auto read = last_read_.find(partition);
    if (read == last_read_.end() || !group_.AtEnd(partition)) continue;
    if (now - read->second >= std::chrono::milliseconds(idle_timeout_ms_)) idle.insert(partition);
  }
  return idle;
}

bool ClusterRuntime::EndChanged(const PositionMap& positions) const {
  if (has_unpublished()) return true;
  for (const auto& [partition, start] : epoch_start_) {
    auto at = positions.find(partition);
    if (at != positions.end() && at->second != start) return true;
    if (group_.AtEnd(partition) != published_at_end_.contains(partition)) return true;
  }
  return false;
}

Result<std::optional<PositionMap>> ClusterRuntime::PublishEpoch(const WindowDeltaMap& deltas,
                                                                const BrandDirectory& brands,
                                                                const PositionMap& positions,
                                                                uint64_t records) {
  // Markers of the epochs the group's offsets name for gained partitions: before this
  // instance's own epochs for them (a merger applies a partition's epochs in order).
  RETURN_IF_ERROR(PublishDueMarkers());
  if (epoch_start_.empty() && deltas.empty() && !deferred_) {
    return std::optional<PositionMap>();
  }
  // The consumer is rejoining the group: an offset commit now would be refused, and librdkafka
  // 2.0.2 would then drop its assignment and start the group over (KafkaGroupSource::Rejoining;
  // the rebalance storm of stop 22). The epoch stays open instead: its deltas wait here and go
  // out with the next epoch's, over the ranges from the same start.
  auto defer = [&](const WindowDeltaMap& more, uint64_t more_records) {
    for (const auto& [key, delta] : more) deferred_deltas_[key].Merge(delta);
    deferred_records_ += more_records;
    deferred_ = true;
    if (deferred_streak_++ == 0) {
      notice_(fmt::format("cluster: the source group is rebalancing: epoch commits wait ({} "
                          "record(s) so far)",
                          deferred_records_));
    }
    ++commits_deferred_;
  };
  if (group_.Rejoining()) {
    defer(deltas, records);
    return std::optional<PositionMap>();
  }
  // An epoch deferred before: its deltas and records join this one.
  WindowDeltaMap merged_deltas;
  const WindowDeltaMap* epoch_deltas = &deltas;
  if (deferred_) {
    merged_deltas = std::move(deferred_deltas_);
    deferred_deltas_.clear();
    for (const auto& [key, delta] : deltas) merged_deltas[key].Merge(delta);
    epoch_deltas = &merged_deltas;
    records += deferred_records_;
    deferred_records_ = 0;
    deferred_ = false;
  }
  const EpochId epoch{nonce_, ++seq_};
  const std::string epoch_text = epoch.ToString();
  std::vector<PreparedPartials> prepared(partials_partitions_);
  PositionMap ends;
  std::set<uint32_t> at_end;
  const std::set<uint32_t> idle = IdleNow();
  for (const auto& [partition, start] : epoch_start_) {
    SourceRange range;
    range.partition = partition;
    range.start = start;
    auto at = positions.find(partition);
    range.end = at != positions.end() ? std::max(at->second, start) : start;
    auto newest = newest_.find(partition);
    range.max_event_time_ms = newest != newest_.end() ? newest->second : INT64_MIN;
    range.at_end = group_.AtEnd(partition);
    range.idle = range.at_end && idle.contains(partition);
    if (range.at_end) at_end.insert(partition);
    ends[partition] = range.end;
    for (PreparedPartials& one : prepared) one.ranges.push_back(range);
  }
  for (uint32_t index = 0; index < partials_partitions_; ++index) {
    prepared[index].epoch = epoch;
    prepared[index].source_partition_count = source_partitions_;
  }
  for (const auto& [key, delta] : *epoch_deltas) {
    PartialWindow window;
    window.brand_id = std::string(brands.brand_info(key.brand_index).id);
    window.shape_index = key.shape_index;
    window.dimension = key.dimension;
    window.start_ms = key.start_ms;
    window.metrics = delta;
    auto found = keys_.find(window.brand_id);
    const std::string& partition_key = found != keys_.end() ? found->second : window.brand_id;
    prepared[PartialsPartitionOf(partition_key, partials_partitions_)].windows.push_back(
        std::move(window));
  }
  DistributeInquiries(prepared);  // issue 11: inquiries keyed by brand (s23-inquiry)
  DistributePosts(prepared);      // issue 11: dedup keyed by brand (s24-dedup)
  std::vector<std::pair<uint32_t, std::string>> encoded;
  for (uint32_t index = 0; index < partials_partitions_; ++index) {
    std::string value;
    EncodePrepared(prepared[index], value);
    encoded.emplace_back(index, std::move(value));
  }
  auto abandon = [&](const Status& why) -> std::optional<PositionMap> {
    ++epochs_abandoned_;
    deferred_streak_ = 0;
    PositionMap back = epoch_start_;
    std::string where;
    for (const auto& [partition, position] : back) {
      where += fmt::format("{}{}@{}", where.empty() ? "" : ",", partition, position);
      newest_.erase(partition);  // read again: the event times come back with the records
    }
    notice_(fmt::format("cluster: epoch {} abandoned ({}); source partitions sought back: {}",
                        epoch_text, why.message(), where));
    return back;
  };
  // 1. Prepared partials, acknowledged by Kafka.
  if (Status produced = producer_->ProduceAndWait(epoch_text, encoded); !produced.ok()) {
    return abandon(produced);
  }
  // 2. The commit point: a generation-fenced offset commit naming the epoch.
  Result<KafkaGroupSource::EpochCommit> committed = group_.CommitEpoch(ends, epoch_text);
  if (!committed.ok()) return abandon(committed.status());
  if (*committed == KafkaGroupSource::EpochCommit::kDeferred) {
    // The group started rejoining since the check above, or the coordinator said it is
    // rebalancing: these prepared partials never get a marker (mergers never apply them); the
    // deltas wait for the next epoch.
    defer(*epoch_deltas, records);
    return std::optional<PositionMap>();
  }
  // Fault injection for tests (tests/kafka/global-test.sh): die between the commit point and
  // the markers, the one crash the markers' re-publication from the offset metadata must cover.
  if (exit_before_marker_ > 0 && records > 0 && ++epochs_with_records_ == exit_before_marker_) {
    notice_(fmt::format("cluster: BRANDPULSE_TEST_EXIT_BEFORE_MARKER: exiting after the commit of "
                        "epoch {} ({} record(s)), before its markers",
                        epoch_text, records));
    std::fflush(nullptr);
    std::_Exit(86);
  }
  // 3. The markers.
  RETURN_IF_ERROR(RepublishMarkers({epoch}));
  --markers_republished_;  // (counted as republished by the helper)
  ++epochs_committed_;
  epoch_start_ = ends;
  published_at_end_ = std::move(at_end);
  if (idle != published_idle_) {
    notice_(fmt::format("cluster: source partitions idle (left out of the merged watermark): {}",
                        PartitionsText(idle)));
  }
  published_idle_ = idle;
  notice_(fmt::format("cluster: epoch {} committed: {} record(s) from {} source partition(s){}",
                      epoch_text, records, ends.size(),
                      deferred_streak_ > 0
                          ? fmt::format(" (after {} deferred commit(s))", deferred_streak_)
                          : std::string()));
  deferred_streak_ = 0;
  return std::optional<PositionMap>();
}

// --- merge side ---

Status ClusterRuntime::LoadMergeState(StateStore& store, std::optional<int64_t> merged_watermark) {
  Status decoded = Status::Ok();
  RETURN_IF_ERROR(store.ScanRuleState(kMergeStateName, [&](std::string_view key,
                                                            std::string_view value) {
    uint32_t partition = 0;
    if (!key.starts_with("p/") ||
        std::from_chars(key.data() + 2, key.data() + key.size(), partition).ec != std::errc()) {
      return;
    }
    uint64_t offset = 0;
    if (!ReadVarint(value, offset)) {
      decoded = Status::Corruption(fmt::format("stored merge log of partials partition {}", partition));
      return;
    }
    Result<PartialsMergeLog> log = PartialsMergeLog::DecodeState(value);
    if (!log.ok()) {
      decoded = log.status().WithContext(fmt::format("partials partition {}", partition));
      return;
    }
    stored_.insert_or_assign(partition, std::make_pair(static_cast<int64_t>(offset), std::move(*log)));
  }));
  RETURN_IF_ERROR(decoded);
  // Benchmarks (bench/cluster-restore.sh): start as if the state lacked one partition's log (a
  // number, or "max": the one with the highest stored offset), so it is replayed beside the others.
  if (const char* forget = std::getenv("BRANDPULSE_TEST_FORGET_MERGE_PARTITION"); forget && !stored_.empty()) {
    auto victim = stored_.end();
    if (std::string_view(forget) == "max") {
      for (auto it = stored_.begin(); it != stored_.end(); ++it) {
        if (victim == stored_.end() || it->second.first > victim->second.first) victim = it;
      }
    } else {
      victim = stored_.find(static_cast<uint32_t>(std::strtoul(forget, nullptr, 10)));
    }
    if (victim != stored_.end()) {
      notice_(fmt::format("cluster: test: local state of partials partition {} ignored", victim->first));
      stored_.erase(victim);
    }
  }
  // Until the first assignment the merged watermark is the stored one (commits before it must
  // not move it back).
  merged_watermark_ = merged_watermark;
  return Status::Ok();
}

uint32_t ClusterRuntime::PartitionOfBrand(std::string_view brand_id) const {
  auto found = keys_.find(std::string(brand_id));
  return PartialsPartitionOf(found != keys_.end() ? std::string_view(found->second) : brand_id,
                             partials_partitions_);
}

// Inside the merge consumer's rebalance callback (MergePlanner has the rules).
std::map<uint32_t, int64_t> ClusterRuntime::PlanStarts(const std::set<uint32_t>& owned,
                                                       const std::set<uint32_t>& gained) {
  static_assert(MergePlanner::kFromBeginning == RD_KAFKA_OFFSET_BEGINNING);
  std::map<uint32_t, int64_t> stored;
  for (const auto& [partition, offset_and_log] : stored_) stored[partition] = offset_and_log.first;
  std::map<uint32_t, int64_t> starts = planner_.Plan(owned, gained, stored, owned_, next_offset_);
  // Issue 11: a partition planned from its beginning starts from its newest snapshot instead.
  if (snapshot_reader_ != nullptr && snapshot_allowed_) {
    for (auto& [partition, start] : starts) {
      if (start != MergePlanner::kFromBeginning) continue;
      if (std::optional<int64_t> from = LoadSnapshot(partition)) start = *from;
    }
  }
  return starts;
}

std::optional<int64_t> ClusterRuntime::LoadSnapshot(uint32_t partition) {
  snapshot_loaded_.erase(partition);
  const auto started = std::chrono::steady_clock::now();
  SnapshotAssembler assembler;
  uint64_t refused = 0;
  Status read = snapshot_reader_->ReadPartition(
      partition, 15000, [&](std::string_view key, std::optional<std::string_view> value) {
        snapshot_read_bytes_ += key.size() + (value ? value->size() : 0);
        if (!assembler.Add(key, value).ok()) ++refused;
      });
  snapshot_read_seconds_ +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!read.ok()) {
    notice_(fmt::format("cluster: snapshots of partials partition {} not read ({}); replaying it "
                        "from offset 0",
                        partition, read.message()));
    return std::nullopt;
  }
  std::map<SnapshotId, MergeSnapshot> whole = assembler.Whole(partition);
  // The generation-fenced pointer: the snapshot the merge group's committed offset names (a
  // fenced member's commit was refused, so never a zombie's). Read only when there is a choice.
  std::optional<SnapshotId> pointer;
  std::string named;  // told with the start line
  if (!whole.empty()) {
    Result<std::optional<std::pair<int64_t, std::string>>> committed =
        consumer_->CommittedPointer(partition, 5000);
    if (!committed.ok()) {
      named = fmt::format(", no pointer: {}", committed.status().message());
    } else if (!committed->has_value()) {
      named = ", no pointer committed";
    } else if (pointer = SnapshotId::Parse((*committed)->second); !pointer) {
      named = fmt::format(", the committed offset {} names no snapshot", (*committed)->first);
    } else if (!whole.contains(*pointer)) {
      named = fmt::format(", the pointer's {} is not whole: the newest whole one",
                          pointer->ToString());
    } else {
      named = ", named by the merge group's pointer";
    }
  }
  std::optional<MergeSnapshot> snapshot = SelectSnapshot(std::move(whole), pointer);
  // Every key there now is stale once this member publishes its own snapshot of the partition.
  snapshot_stale_[partition] = assembler.StaleKeys(partition, SnapshotId{});
  if (!snapshot) {
    if (refused > 0 || !snapshot_stale_[partition].empty()) {
      notice_(fmt::format("cluster: no whole snapshot of partials partition {} ({} record(s) "
                          "refused); replaying it from offset 0",
                          partition, refused));
    }
    return std::nullopt;
  }
  Result<PartialsMergeLog> log = PartialsMergeLog::DecodeState(snapshot->merge_log);
  if (!log.ok()) {
    notice_(fmt::format("cluster: snapshot {} of partials partition {}: {}; replaying it from "
                        "offset 0",
                        snapshot->id.ToString(), partition, log.status().ToString()));
    return std::nullopt;
  }
  const int64_t from = snapshot->next_offset;
  notice_(fmt::format("cluster: partials partition {} starts from snapshot {} as of offset {} "
                      "({} window(s){})",
                      partition, snapshot->id.ToString(), from, snapshot->windows.size(), named));
  snapshot_loaded_.insert_or_assign(partition, LoadedSnapshot{std::move(*log), std::move(*snapshot)});
  return from;
}

void ClusterRuntime::ForgetSnapshotState(uint32_t partition) {
  stored_logs_.erase(partition);
  snapshot_applied_.erase(partition);
  pointer_pending_.erase(partition);  // no longer this member's to name
}

std::vector<uint32_t> ClusterRuntime::SnapshotsDue() const {
  std::vector<uint32_t> due;
  if (!snapshots_on() || spec_.snapshot_every_epochs == 0) return due;
  for (const auto& [partition, stored] : stored_logs_) {
    if (!owned_.contains(partition) || catching_up_.contains(partition)) continue;
    auto last = snapshot_applied_.find(partition);
    const uint64_t since = stored.applied - (last != snapshot_applied_.end()
                                                 ? std::min(last->second, stored.applied)
                                                 : 0);
    if (since >= spec_.snapshot_every_epochs) due.push_back(partition);
  }
  return due;
}

Status ClusterRuntime::PublishSnapshot(uint32_t partition, std::vector<SnapshotWindow> windows,
                                       std::optional<int64_t> merged_watermark,
                                       std::vector<SnapshotStateEntry> state) {
  auto stored = stored_logs_.find(partition);
  if (stored == stored_logs_.end() || snapshot_producer_ == nullptr) return Status::Ok();
  const auto started = std::chrono::steady_clock::now();
  MergeSnapshot snapshot;
  snapshot.partials_partition = partition;
  snapshot.id = SnapshotId{nonce_, ++snapshot_seq_};
  snapshot.next_offset = stored->second.next_offset;
  snapshot.merged_watermark = merged_watermark;
  snapshot.merge_log = stored->second.state;
  snapshot.windows = std::move(windows);
  snapshot.state = std::move(state);
  // Chunks well under real Kafka's default max.message.bytes (1 MB).
  constexpr size_t kChunkBytes = 512 * 1024;
  std::vector<PartialsProducer::KeyedRecord> records;
  size_t bytes = 0;
  for (SnapshotRecord& record : EncodeSnapshot(snapshot, kChunkBytes)) {
    bytes += record.value->size();
    records.push_back(PartialsProducer::KeyedRecord{partition, std::move(record.key),
                                                    std::move(record.value)});
  }
  // Counted as done either way: a failed one is tried again after `every` more epochs.
  snapshot_applied_[partition] = stored->second.applied;
  if (Status produced = snapshot_producer_->ProduceKeyedAndWait(records); !produced.ok()) {
    notice_(fmt::format("cluster: snapshot of partials partition {} not published: {}", partition,
                        produced.message()));
    return Status::Ok();
  }
  ++snapshots_published_;
  // The pointer: the merge group's committed offset of the partition names this snapshot (an
  // older one still waiting to be named is stale from here: its keys go once this one is).
  if (auto older = pointer_pending_.find(partition); older != pointer_pending_.end()) {
    for (std::string& key : older->second.keys) snapshot_stale_[partition].push_back(std::move(key));
  }
  PendingPointer& pending = pointer_pending_[partition];
  pending = PendingPointer{snapshot.id, snapshot.next_offset, {}, {}};
  for (const PartialsProducer::KeyedRecord& record : records) pending.keys.push_back(record.key);
  if (Status pointed = NamePointer(partition); !pointed.ok()) {
    notice_(fmt::format("cluster: snapshot {} of partials partition {} as of offset {}: {} "
                        "window(s), {} bytes in {} chunk(s), not named yet: {}",
                        snapshot.id.ToString(), partition, snapshot.next_offset,
                        snapshot.windows.size(), bytes, records.size(), pointed.message()));
    return Status::Ok();
  }
  notice_(fmt::format("cluster: snapshot {} of partials partition {} as of offset {}: {} "
                      "window(s), {} bytes in {} chunk(s), {:.3f} s",
                      snapshot.id.ToString(), partition, snapshot.next_offset,
                      snapshot.windows.size(), bytes, records.size(),
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
                          .count()));
  return Status::Ok();
}

// The coordinator refuses a fenced member's commit, so a zombie's snapshot is never named. Until
// the commit goes (refused, or not sent while the merge consumer rejoins) the pointer names an
// older snapshot, which must stay: nothing is deleted, and Poll tries again (RetryPointers).
Status ClusterRuntime::NamePointer(uint32_t partition) {
  auto pending = pointer_pending_.find(partition);
  if (pending == pointer_pending_.end()) return Status::Ok();
  pending->second.last_try = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(consumer_->CommitPointer(partition, pending->second.next_offset,
                                           pending->second.id.ToString()));
  ++snapshots_named_;
  // The older snapshots of the partition (this member's earlier ones, and whatever was there
  // when it gained the partition) go: compaction then keeps the named one alone.
  std::vector<PartialsProducer::KeyedRecord> tombstones;
  for (std::string& key : snapshot_stale_[partition]) {
    tombstones.push_back(PartialsProducer::KeyedRecord{partition, std::move(key), std::nullopt});
  }
  snapshot_stale_[partition] = std::move(pending->second.keys);
  pointer_pending_.erase(pending);
  if (!tombstones.empty()) {
    if (Status deleted = snapshot_producer_->ProduceKeyedAndWait(tombstones); !deleted.ok()) {
      notice_(fmt::format("cluster: older snapshots of partials partition {} not deleted: {}",
                          partition, deleted.message()));
    }
  }
  return Status::Ok();
}

// Snapshots published but not named yet, of partitions still owned: once a second each (a
// synchronous commit; CommitPointer returns at once while the consumer rejoins).
void ClusterRuntime::RetryPointers() {
  const auto now = std::chrono::steady_clock::now();
  for (uint32_t partition : owned_) {
    auto pending = pointer_pending_.find(partition);
    if (pending == pointer_pending_.end() || now - pending->second.last_try < std::chrono::seconds(1)) {
      continue;
    }
    const std::string id = pending->second.id.ToString();
    if (NamePointer(partition).ok()) {
      notice_(fmt::format("cluster: snapshot {} of partials partition {} named (a later try)", id,
                          partition));
    }
  }
}

void ClusterRuntime::AddToTotals(const PartialsMergeLog& log) {
  const MergeLogStats& stats = log.stats();
  totals_.prepared += stats.prepared;
  totals_.markers += stats.markers;
  totals_.applied += stats.applied;
  totals_.covered += stats.covered;
  totals_.duplicates += stats.duplicates;
  totals_.conflicts += stats.conflicts;
}

Status ClusterRuntime::Poll(int timeout_ms, MergeChange& change) {
  std::set<uint32_t> owned;
  ASSIGN_OR_RETURN(bool changed, consumer_->TakeChange(owned));
  const MergePlan plan = planner_.Take(changed);  // (unchanged: given back as it was, reads on)
  if (changed) {
    assignment_seen_ = true;
    std::set<uint32_t> gained;
    std::set<uint32_t> lost;
    for (uint32_t partition : owned) {
      if (!owned_.contains(partition)) gained.insert(partition);
    }
    for (uint32_t partition : owned_) {
      if (!owned.contains(partition)) lost.insert(partition);
    }
    owned_ = std::move(owned);
    restore_from_.clear();
    if (plan == MergePlan::kReset) {
      for (const auto& [partition, log] : logs_) AddToTotals(log);
      logs_.clear();
      next_offset_.clear();
      merged_.clear();
      merged_inquiries_.clear();
      merged_posts_.clear();
      merged_watermark_.reset();
      catching_up_.clear();
      stored_logs_.clear();
      snapshot_applied_.clear();
      pointer_pending_.clear();
      for (uint32_t partition : owned_) logs_[partition];
      from_zero_ = owned_;
      change.reset = true;
      restore_from_ = "offset 0";
      // Issue 11: partitions that start from a snapshot.
      std::string from_snapshots;
      for (auto& [partition, loaded] : snapshot_loaded_) {
        if (!owned_.contains(partition)) continue;
        logs_.insert_or_assign(partition, std::move(loaded.log));
        from_zero_.erase(partition);
        next_offset_[partition] = loaded.snapshot.next_offset;
        offset_changed_.insert(partition);
        change.restored[partition] = std::move(loaded.snapshot.windows);
        change.restored_state[partition] = std::move(loaded.snapshot.state);
        ++snapshots_restored_;
        from_snapshots += fmt::format("{}{}@{}", from_snapshots.empty() ? "" : ",", partition,
                                      loaded.snapshot.next_offset);
      }
      if (!from_snapshots.empty()) {
        const bool all = change.restored.size() == owned_.size();
        restore_from_ = (all ? "snapshots " : "offset 0 and snapshots ") + from_snapshots;
      }
    } else {
      // Kept (and resumed) partitions read on with their merged state; lost ones are dropped.
      // Issue 11: ones gained without local state are replayed from their beginning beside them.
      for (uint32_t partition : planner_.Replayed()) {
        if (!owned_.contains(partition)) continue;
        if (auto log = logs_.find(partition); log != logs_.end()) AddToTotals(log->second);
        logs_.insert_or_assign(partition, PartialsMergeLog{});
        next_offset_.erase(partition);
        merged_.erase(partition);
        offset_changed_.erase(partition);
        ForgetSnapshotState(partition);
        std::erase_if(merged_inquiries_, [&](const InquiryEvent& event) {
          return event.partials_partition == partition;  // (OnRecord's stamp: brandless copies too)
        });
        std::erase_if(merged_posts_, [&](const PostEvent& event) {
          return PartitionOfBrand(event.brand_id) == partition;
        });
        catching_up_.insert(partition);
        change.replayed.insert(partition);
        // Issue 11: from its snapshot instead of offset 0 (the planner positioned it there).
        if (auto loaded = snapshot_loaded_.find(partition); loaded != snapshot_loaded_.end()) {
          logs_.insert_or_assign(partition, std::move(loaded->second.log));
          from_zero_.erase(partition);
          const int64_t from = loaded->second.snapshot.next_offset;
          next_offset_[partition] = from;
          offset_changed_.insert(partition);
          change.restored[partition] = std::move(loaded->second.snapshot.windows);
          change.restored_state[partition] = std::move(loaded->second.snapshot.state);
          ++snapshots_restored_;
          restore_from_ += fmt::format("{}{}@{} (snapshot)", restore_from_.empty() ? "" : ",",
                                       partition, from);
          continue;
        }
        from_zero_.insert(partition);
        restore_from_ += fmt::format("{}{}@0", restore_from_.empty() ? "" : ",", partition);
      }
      for (uint32_t partition : lost) {
        if (auto log = logs_.find(partition); log != logs_.end()) {
          AddToTotals(log->second);
          logs_.erase(log);
        }
        next_offset_.erase(partition);
        merged_.erase(partition);
        offset_changed_.erase(partition);
        catching_up_.erase(partition);
        from_zero_.erase(partition);
        ForgetSnapshotState(partition);
        std::erase_if(merged_inquiries_, [&](const InquiryEvent& event) {
          return event.partials_partition == partition;  // (OnRecord's stamp: brandless copies too)
        });
        std::erase_if(merged_posts_, [&](const PostEvent& event) {
          return PartitionOfBrand(event.brand_id) == partition;
        });
        change.dropped.insert(partition);
      }
      if (plan == MergePlan::kResume) {
        for (uint32_t partition : owned_) {
          if (change.replayed.contains(partition)) continue;
          auto stored = stored_.find(partition);
          if (stored == stored_.end()) {  // (the planner resumes only partitions it holds)
            return Status::Internal(fmt::format(
                "cluster: partials partition {} resumed without local state", partition));
          }
          auto& [offset, log] = stored->second;
          next_offset_[partition] = offset;
          logs_.insert_or_assign(partition, std::move(log));
          restore_from_ += fmt::format("{}{}@{}", restore_from_.empty() ? "" : ",", partition, offset);
          notice_(fmt::format("cluster: partials partition {} resumed from offset {} (local state)",
                              partition, offset));
        }
      }
    }
    // Local state of a previous run that is not owned now goes (a reset wipes all of it).
    if (plan == MergePlan::kResume) {
      for (const auto& [partition, stored] : stored_) {
        if (!logs_.contains(partition)) change.dropped.insert(partition);
      }
    }
    if (plan != MergePlan::kKeep) stored_.clear();
    if (plan != MergePlan::kKeep || !change.replayed.empty()) {
      restoring_ = true;
      restore_started_ = last_restore_check_ = std::chrono::steady_clock::now();
      restore_records_ = 0;
      restore_bytes_ = 0;
    }
    const std::string what = plan == MergePlan::kReset    ? "merged state reset, replaying {}"
                             : plan == MergePlan::kResume ? "resuming from local state {}"
                                                          : "merged state of {} kept";
    std::set<uint32_t> kept;
    for (uint32_t partition : owned_) {
      if (!change.replayed.contains(partition)) kept.insert(partition);
    }
    notice_(fmt::format("cluster: partials partitions gained {} lost {}; ", PartitionsText(gained),
                        PartitionsText(lost)) +
            (change.replayed.empty()
                 ? fmt::format(fmt::runtime(what), PartitionsText(owned_))
                 : fmt::format("replaying {} beside {} {}", PartitionsText(change.replayed),
                               plan == MergePlan::kResume ? "resumed" : "kept",
                               PartitionsText(kept))));
  }
  // Snapshots loaded by the planner were taken above (a callback runs inside the poll below).
  snapshot_loaded_.clear();
  if (!pointer_pending_.empty()) RetryPointers();
  RETURN_IF_ERROR(consumer_->Poll(timeout_ms, 20000,
                                  [this](uint32_t partition, int64_t offset, std::string_view value) {
                                    return OnRecord(partition, offset, value);
                                  }));
  if (restoring_) RETURN_IF_ERROR(CheckRestored());
  return Status::Ok();
}

Status ClusterRuntime::OnRecord(uint32_t partition, int64_t offset, std::string_view value) {
  auto log = logs_.find(partition);
  if (log == logs_.end()) return Status::Ok();
  if (from_zero_.erase(partition) > 0 && offset > 0) {
    return Status::Unavailable(fmt::format(
        "cluster: partials partition {} is replayed from offset 0 but its first record is at "
        "offset {}: its beginning was deleted (retention), so the merged state cannot be rebuilt "
        "from it; keep the partials topic's whole history, or restore from snapshots "
        "(cluster.snapshot_every_epochs, docs/cluster.md)",
        partition, offset));
  }
  next_offset_[partition] = offset + 1;
  offset_changed_.insert(partition);
  if (restoring_) {
    ++restore_records_;
    restore_bytes_ += value.size();
  }
  std::vector<PreparedPartials> apply;
  Result<PartialsKind> kind = PartialsKindOf(value);
  if (!kind.ok()) {
    ++corrupt_records_;
    return Status::Ok();
  }
  if (*kind == PartialsKind::kMarker) {
    Result<EpochId> epoch = DecodeMarker(value);
    if (!epoch.ok()) {
      ++corrupt_records_;
      return Status::Ok();
    }
    log->second.OnMarker(*epoch, apply);
  } else {
    Result<PreparedPartials> prepared = DecodePrepared(value);
    if (!prepared.ok()) {
      ++corrupt_records_;
      return Status::Ok();
    }
    log->second.OnPrepared(std::move(*prepared), apply);
  }
  std::vector<PartialWindow>& merged = merged_[partition];
  for (PreparedPartials& epoch : apply) {
    for (PartialWindow& window : epoch.windows) merged.push_back(std::move(window));
    for (InquiryEvent& event : epoch.inquiries) {
      event.partials_partition = partition;  // s25: which copy of a brandless event this is
      merged_inquiries_.push_back(std::move(event));
    }
    for (PostEvent& event : epoch.posts) merged_posts_.push_back(std::move(event));
  }
  return Status::Ok();
}

Status ClusterRuntime::CheckRestored() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_restore_check_ < std::chrono::milliseconds(100)) return Status::Ok();
  last_restore_check_ = now;
  ASSIGN_OR_RETURN(auto ends, consumer_->EndOffsets(5000));
  for (const auto& [partition, end] : ends) {
    auto read = next_offset_.find(partition);
    if (end > 0 && (read == next_offset_.end() || read->second < end)) return Status::Ok();
  }
  restoring_ = false;
  uint64_t applied = 0;
  for (const auto& [partition, log] : logs_) applied += log.stats().applied;
  // (snapshots are read in the merge consumer's rebalance callback, before restore_started_)
  const std::string snapshots =
      snapshot_read_bytes_ > 0 ? fmt::format("; snapshots read: {} bytes in {:.3f} s",
                                             snapshot_read_bytes_, snapshot_read_seconds_)
                               : std::string();
  notice_(fmt::format("cluster: partials restored: {} record(s), {} bytes, {} epoch(s) applied "
                      "in {:.3f} s (partitions {}; from {}{})",
                      restore_records_, restore_bytes_, applied,
                      std::chrono::duration<double>(now - restore_started_).count(),
                      PartitionsText(owned_), restore_from_.empty() ? "offset 0" : restore_from_,
                      snapshots));
  snapshot_read_seconds_ = 0;
  snapshot_read_bytes_ = 0;
  return Status::Ok();
}

void ClusterRuntime::SnapshotMergeState(StateStore::Commit& commit) {
  for (auto& [partition, log] : logs_) {
    // A partition catching up is not stored until it caught up: the closer's and the rules'
    // replay state is not, so a restart replays it again (its brands' windows are dropped then).
    if (catching_up_.contains(partition)) continue;
    if (!log.changed() && !offset_changed_.contains(partition)) continue;
    auto offset = next_offset_.find(partition);
    std::string value;
    AppendVarint(value, offset != next_offset_.end() ? static_cast<uint64_t>(offset->second) : 0);
    const size_t state_at = value.size();
    log.EncodeState(value);
    log.ClearChanged();
    commit.PutRuleState(kMergeStateName, fmt::format("p/{}", partition), value);
    // Issue 11: what a snapshot of the partition is as of, once this commit is written.
    stored_logs_.insert_or_assign(
        partition, StoredLog{offset != next_offset_.end() ? offset->second : 0,
                             value.substr(state_at), log.stats().applied});
  }
  std::erase_if(offset_changed_, [&](uint32_t partition) { return !catching_up_.contains(partition); });
}

WindowDeltaMap ClusterRuntime::TakeMerged(const BrandDirectory& brands) {
  WindowDeltaMap deltas;
  for (auto& [partition, windows] : merged_) {
  for (PartialWindow& window : windows) {
    std::optional<uint32_t> brand = brands.FindBrand(window.brand_id);
    if (!brand) {
      ++unknown_brand_windows_;
      continue;
    }
    WindowDeltaKey key{*brand, window.shape_index, window.dimension, window.start_ms};
    auto [entry, inserted] = deltas.try_emplace(key, std::move(window.metrics));
    if (!inserted) entry->second.Merge(window.metrics);
  }
  }
  merged_.clear();
  return deltas;
}

std::optional<int64_t> ClusterRuntime::Watermark() {
  if (owned_.empty()) return merged_watermark_;
  std::optional<int64_t> slowest;
  for (const auto& [partition, log] : logs_) {
    std::optional<int64_t> watermark = log.Watermark(max_out_of_orderness_ms_);
    if (!watermark) return merged_watermark_;
    slowest = slowest ? std::min(*slowest, *watermark) : *watermark;
  }
  if (slowest && (!merged_watermark_ || *slowest > *merged_watermark_)) merged_watermark_ = slowest;
  return merged_watermark_;
}

std::optional<int64_t> ClusterRuntime::CatchUpWatermark() {
  if (catching_up_.empty()) return std::nullopt;
  std::optional<int64_t> slowest;
  bool reported = true;
  for (uint32_t partition : catching_up_) {
    auto log = logs_.find(partition);
    std::optional<int64_t> watermark =
        log != logs_.end() ? log->second.Watermark(max_out_of_orderness_ms_) : std::nullopt;
    if (!watermark) {
      reported = false;
      break;
    }
    slowest = slowest ? std::min(*slowest, *watermark) : *watermark;
  }
  // At the merged watermark it holds nothing back; the catch-up ends when the caller's closer
  // has caught up too (EndCatchUp), which may take longer after an end-of-input close.
  if (reported && (!merged_watermark_ || *slowest >= *merged_watermark_)) return std::nullopt;
  return reported ? *slowest : INT64_MIN;
}

void ClusterRuntime::EndCatchUp() {
  if (catching_up_.empty()) return;
  for (uint32_t partition : catching_up_) offset_changed_.insert(partition);  // stored again
  notice_(fmt::format("cluster: partials partition(s) {} caught up with the merged watermark",
                      PartitionsText(catching_up_)));
  catching_up_.clear();
}

bool ClusterRuntime::snapshot_due() const {
  for (uint32_t partition : offset_changed_) {
    if (!catching_up_.contains(partition)) return true;
  }
  return false;
}

Result<bool> ClusterRuntime::ReadyToClose() {
  if (owned_.empty()) return true;
  for (const auto& [partition, log] : logs_) {
    if (!log.GlobalEnd()) return false;
  }
  ASSIGN_OR_RETURN(auto ends, consumer_->EndOffsets(5000));
  for (const auto& [partition, end] : ends) {
    auto read = next_offset_.find(partition);
    if (end > 0 && (read == next_offset_.end() || read->second < end)) return false;
  }
  return true;
}

// --- inquiries keyed by brand (issue 11; docs/cluster.md, "Inquiries across instances") ---

void ClusterRuntime::AddEpochInquiries(std::vector<InquiryEvent> events) {
  if (epoch_inquiries_.empty()) {
    epoch_inquiries_ = std::move(events);
  } else {
    for (InquiryEvent& event : events) epoch_inquiries_.push_back(std::move(event));
  }
}

// s26: a brandless event (viral_post's growth, unanswered's candidate) names a post, not a
// brand; a copy can count only at a partition whose log brought what it is matched against: a
// post tracked for a brand the rule covers (kViralTracked, published for enabled brands only,
// to the brand's partition) or an own post of such a brand (kOwnPost; ResolveCandidate opens an
// inquiry only for an enabled brand). So copies go only to the partitions of covered brands.
// Exact because:
// - the targets are a function of the watchlist, the pipeline file's `brands:` filters and the
//   partials partition count (PartialsKeys, PartialsPartitionOf), computed at start and at each
//   reload: every instance with the same watchlist routes the same way, and a merger applies
//   the same copies one process would count;
// - a partition that gains a covered brand by a reload had nothing of that brand tracked before
//   (a brand's tracked posts and own posts are published only once it is in the watchlist);
//   one that loses its last covered brand keeps only state of brands no longer covered, which
//   no alert or inquiry reads (Fire and ResolveCandidate look the brand up and check the filter);
// - a merger that gains or replays a partition reads that partition's log, which holds the
//   copies routed to it when they were published: the same ones the previous owner applied.
// Not exact (docs/cluster.md): while instances reload at different times the brands added or
// removed differ between them (as their mentions do), and a brand removed and added back while
// replies to its posts tracked before kept coming has the replies of the gap counted only where
// its partition kept another covered brand (one process counts them).
BrandlessTargets BrandlessTargetsOf(const std::map<std::string, std::vector<std::string>>& covered,
                                    const std::map<std::string, std::string>& keys,
                                    uint32_t partials_partitions) {
  BrandlessTargets targets;
  for (const auto& [rule, brand_ids] : covered) {
    std::set<uint32_t> partitions;
    for (const std::string& brand_id : brand_ids) {
      auto found = keys.find(brand_id);
      partitions.insert(PartialsPartitionOf(
          found != keys.end() ? std::string_view(found->second) : std::string_view(brand_id),
          partials_partitions));
    }
    targets.emplace(rule, std::vector<uint32_t>(partitions.begin(), partitions.end()));
  }
  return targets;
}

void DistributeInquiryEvents(std::span<const InquiryEvent> events,
                             const std::map<std::string, std::string>& keys,
                             const BrandlessTargets& targets,
                             std::vector<PreparedPartials>& prepared, uint64_t& copies,
                             uint64_t& bytes) {
  for (const InquiryEvent& event : events) {
    // s25/s26: viral growth and unanswered's candidates name a post, not a brand
    if (event.kind == InquiryEvent::Kind::kViralGrowth ||
        event.kind == InquiryEvent::Kind::kInquiryCandidate) {
      auto rule = targets.find(event.rule);
      size_t made = 0;
      if (rule == targets.end()) {  // (not told: every partition, as before s26)
        for (PreparedPartials& one : prepared) one.inquiries.push_back(event);
        made = prepared.size();
      } else {
        for (uint32_t partition : rule->second) {
          if (partition >= prepared.size()) continue;
          prepared[partition].inquiries.push_back(event);
          ++made;
        }
      }
      copies += made;
      bytes += made * EncodedInquiryEventSize(event);
      continue;
    }
    auto found = keys.find(event.brand_id);
    const std::string& partition_key = found != keys.end() ? found->second : event.brand_id;
    prepared[PartialsPartitionOf(partition_key, static_cast<uint32_t>(prepared.size()))]
        .inquiries.push_back(event);
  }
}

void ClusterRuntime::SetBrandlessCoverage(
    const std::map<std::string, std::vector<std::string>>& covered) {
  // (No notice: every rule that watches batches has targets, most never publish such events.)
  brandless_targets_ = BrandlessTargetsOf(covered, keys_, partials_partitions_);
}

// In PublishEpoch: the epoch's inquiry events go with its prepared records, each to the
// partition of its brand's key (as the brand's windows), in the order they were read; brandless
// ones to the partitions of the brands their rule covers (above). Copies, not moves, as for post
// events: a commit deferred after the records went out (they never get a marker) publishes the
// events again with the next epoch (EndEpochEvents keeps them).
void ClusterRuntime::DistributeInquiries(std::vector<PreparedPartials>& prepared) {
  DistributeInquiryEvents(epoch_inquiries_, keys_, brandless_targets_, prepared,
                          broadcast_copies_, broadcast_bytes_);
}

std::vector<InquiryEvent> ClusterRuntime::TakeMergedInquiries() {
  inquiries_merged_ += merged_inquiries_.size();
  std::vector<InquiryEvent> events = std::move(merged_inquiries_);
  merged_inquiries_.clear();
  return events;
}

std::string ClusterRuntime::InquirySummary() const {
  std::string summary = fmt::format("inquiry events published {}, merged {}",
                                    inquiries_published_, inquiries_merged_);
  if (broadcast_copies_ > 0) {  // s25: the cost of viral_post's growth events
    summary += fmt::format(" (growth event copies sent to every partials partition: {}, {} bytes)",
                           broadcast_copies_, broadcast_bytes_);
  }
  return summary;
}

// --- de-duplication keyed by brand (issue 11; docs/cluster.md, "De-duplication across
// instances") ---

void ClusterRuntime::AddEpochPosts(std::vector<PostEvent> events) {
  for (PostEvent& event : events) epoch_posts_.push_back(std::move(event));
}

// In PublishEpoch: copies, not moves: a commit deferred after the records went out (they never
// get a marker) publishes the events again with the next epoch (EndEpochEvents keeps them).
void ClusterRuntime::DistributePosts(std::vector<PreparedPartials>& prepared) {
  for (const PostEvent& event : epoch_posts_) {
    auto found = keys_.find(event.brand_id);
    const std::string& partition_key = found != keys_.end() ? found->second : event.brand_id;
    prepared[PartialsPartitionOf(partition_key, partials_partitions_)].posts.push_back(event);
  }
}

void ClusterRuntime::EndEpochEvents() {
  if (deferred_) return;  // the epoch stays open: its events go out with the next one
  posts_published_ += epoch_posts_.size();
  epoch_posts_.clear();  // committed, or abandoned (its records are read again)
  inquiries_published_ += epoch_inquiries_.size();  // the inquiry events likewise
  epoch_inquiries_.clear();
}

std::vector<PostEvent> ClusterRuntime::TakeMergedPosts() {
  posts_merged_ += merged_posts_.size();
  std::vector<PostEvent> events = std::move(merged_posts_);
  merged_posts_.clear();
  return events;
}

void ClusterRuntime::AddMergedWindows(std::vector<PartialWindow> windows) {
  for (PartialWindow& window : windows) {
    const uint32_t partition = PartitionOfBrand(window.brand_id);
    if (!owned_.contains(partition)) continue;  // (its events came from an owned partition)
    merged_[partition].push_back(std::move(window));
  }
}

std::string ClusterRuntime::PostSummary() const {
  return fmt::format("post events published {}, merged {}", posts_published_, posts_merged_);
}

std::vector<std::string> ClusterRuntime::BrandsOf(
    const std::set<uint32_t>& partials_partitions) const {
  std::vector<std::string> brands;
  for (const auto& [brand, key] : keys_) {
    if (partials_partitions.contains(PartialsPartitionOf(key, partials_partitions_))) {
      brands.push_back(brand);
    }
  }
  return brands;
}

std::vector<std::string> ClusterRuntime::StoredBrandsOf(
    const std::set<uint32_t>& partials_partitions, const BrandDirectory& brands) const {
  std::vector<std::string> ids = BrandsOf(partials_partitions);
  for (uint32_t brand = 0; brand < brands.brand_count(); ++brand) {
    std::string id(brands.brand_info(brand).id);
    if (!keys_.contains(id) && partials_partitions.contains(PartitionOfBrand(id))) {
      ids.push_back(std::move(id));
    }
  }
  return ids;
}

std::string ClusterRuntime::Summary() const {
  MergeLogStats stats = totals_;
  uint64_t pending = 0;
  for (const auto& [partition, log] : logs_) {
    stats.prepared += log.stats().prepared;
    stats.markers += log.stats().markers;
    stats.applied += log.stats().applied;
    stats.covered += log.stats().covered;
    stats.duplicates += log.stats().duplicates;
    stats.conflicts += log.stats().conflicts;
    pending += log.pending();
  }
  return fmt::format(
      "cluster: epochs committed {}, abandoned {}, commits deferred {}, markers re-published {}; "
      "merger: applied {} "
      "epoch(s), skipped {} covered, {} duplicate record(s), {} conflict(s), {} never committed "
      "(pending), {} corrupt record(s), {} window(s) of unknown brands; snapshots published {} "
      "({} not named by the pointer), restored from {}",
      epochs_committed_, epochs_abandoned_, commits_deferred_, markers_republished_,
      stats.applied, stats.covered, stats.duplicates, stats.conflicts, pending, corrupt_records_,
      unknown_brand_windows_, snapshots_published_, snapshots_published_ - snapshots_named_,
      snapshots_restored_);
}

}  // namespace brandpulse

