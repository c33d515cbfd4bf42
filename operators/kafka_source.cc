#include "operators/kafka_source.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <cstdlib>
#include <cstring>
#include <set>

#include <fmt/format.h>

#include "engine/log.h"
#include "engine/metrics.h"

namespace brandpulse {
namespace {

constexpr int kPollTimeoutMs = 100;


MetricCounter& RebalanceCounter(const char* kind) {
  return MetricsRegistry::Default().GetCounter(
      "brandpulse_kafka_rebalances_total", "Consumer group rebalances that reached this instance",
      {{"kind", kind}});
}

class KafkaSource final : public Source, public KafkaGroupSource, public KafkaClientOwner {
 public:
  explicit KafkaSource(const KafkaSourceOptions& options)
      : KafkaClientOwner(options.client.redactor),
        id_("kafka:" + options.topic),
        topic_(options.topic),
        group_(options.group),
        stop_at_end_(options.stop_at_end),
        start_at_end_(options.start_at_end) {}

  ~KafkaSource() override {
    metrics_.Reset();  // the collector reads the consumer: stop it first
    if (consumer_ == nullptr) return;
    if (stash_ != nullptr) rd_kafka_message_destroy(stash_);
    closing_ = true;  // the rebalance callback now commits and acknowledges by itself
    const double closing_from = SteadySeconds();
    if (own_commits_) CommitBeforeClose();
    const double committed_at = SteadySeconds();
    rd_kafka_consumer_close(consumer_);
    const double closed_at = SteadySeconds();
    if (topic_handle_ != nullptr) rd_kafka_topic_destroy(topic_handle_);
    rd_kafka_destroy(consumer_);
    // What a run's wall time holds beside the reading (bench/kafka-bench.sh reads this line).
    LogInfo(fmt::format("{}: {} record(s) read, first assignment to first record {:.3f} s, first "
                        "to last record {:.3f} s; last record to close {:.3f} s (to the end of "
                        "every partition {:.3f} s), final group commit {:.3f} s, consumer close "
                        "{:.3f} s, destroy {:.3f} s; waited {:.3f} s for fetched records after "
                        "the first",
                        id_, records_read_,
                        records_read_ > 0 ? first_record_seconds_ - first_assign_seconds_ : 0.0,
                        records_read_ > 0 ? last_record_seconds_ - first_record_seconds_ : 0.0,
                        records_read_ > 0 ? closing_from - last_record_seconds_ : 0.0,
                        records_read_ > 0 && end_of_input_seconds_ > 0
                            ? end_of_input_seconds_ - last_record_seconds_
                            : 0.0,
                        committed_at - closing_from, closed_at - committed_at,
                        SteadySeconds() - closed_at, record_wait_seconds_));
  }

  Status Open(const KafkaSourceOptions& options) {
    const std::map<std::string, std::string> defaults = {
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"enable.partition.eof", "true"},
        {"fetch.wait.max.ms", "100"},
        {"client.id", "brandpulse"},
        // librdkafka 2.0.2 stops fetching once its queue holds queued.min.messages records or
        // queued.max.messages.kbytes, and its broker threads then look again only after up to
        // 1 s: a queue the engine drains faster than that leaves it idle until then (0.2-1.2 s
        // per 300,000 posts read from the bench's topic with the defaults, 100,000 records /
        // 64 MiB). The prefetch must hold more than 1 s of reading (2.2's fetch.queue.backoff.ms
        // says the same): 256 MiB is ~450,000 posts, ~1.5 s at the engine's rate on 2 cores, and
        // the record count never binds before it. Used only while the engine is behind.
        {"queued.min.messages", "10000000"},
        {"queued.max.messages.kbytes", "262144"},
    };
    const std::map<std::string, std::string> forced = {
        {"enable.auto.commit", "false"},        // offsets commit after the state, never before
        {"enable.auto.offset.store", "false"},  // the engine says what is committed
        {"group.id", options.group},
    };
    ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, MakeKafkaConf(options.client, defaults, forced));
    SetClientOwner(conf, this);  // prints debug lines only when the properties asked for them
    // The join-state tracker (Rejoining) reads librdkafka's `cgrp` debug lines.
    char debug[512];
    size_t debug_size = sizeof(debug);
    std::string contexts = rd_kafka_conf_get(conf, "debug", debug, &debug_size) == RD_KAFKA_CONF_OK
                               ? std::string(debug)
                               : std::string();
    contexts += contexts.empty() ? "cgrp" : ",cgrp";
    char error[512];
    if (rd_kafka_conf_set(conf, "debug", contexts.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      LogWarn(fmt::format("{}: librdkafka's cgrp debug lines are not available ({}): offset "
                          "commits are not held back while the group rebalances",
                          id_, error));
    }
    rd_kafka_conf_set_rebalance_cb(conf, &KafkaSource::OnRebalance);
    rd_kafka_conf_set_offset_commit_cb(conf, &KafkaSource::OnOffsetCommit);
    rd_kafka_conf_set_error_cb(conf, &KafkaSource::OnError);
    ASSIGN_OR_RETURN(consumer_, NewSubscribedConsumer(conf, topic_, fmt::format("Kafka consumer for {}", id_),
                                                      redactor()));
    // librdkafka creates its local topic (and hands each partition to its leader's broker
    // thread) when the topic is first used. Left to the first assignment, the fetch start of a
    // partition at a logical offset (a new group's start) can run before its broker thread has
    // taken it: "no current leader", retried after a fixed 500 ms (about one run in five of the
    // bench). Held from here, the partitions have their leaders long before the group assigns.
    topic_handle_ = rd_kafka_topic_new(consumer_, topic_.c_str(), nullptr);
    metrics_ = MetricsRegistry::Default().AddCollector(
        [this](MetricsWriter& writer) { CollectMetrics(writer); });
    return Status::Ok();
  }

  const std::string& id() const override { return id_; }
  SourceCapabilities capabilities() const override {
    return SourceCapabilities{.resumable = true, .finite = stop_at_end_};
  }
  std::vector<uint32_t> partitions() const override {
    return std::vector<uint32_t>(assigned_.begin(), assigned_.end());
  }

  Status Seek(uint32_t partition, uint64_t position) override {
    if (assigned_.contains(partition)) {
      // A record read ahead of the new position belongs to the old one.
      if (stash_ != nullptr && static_cast<uint32_t>(stash_->partition) == partition) {
        rd_kafka_message_destroy(stash_);
        stash_ = nullptr;
      }
      at_end_.erase(partition);
      // Already fetching: move the fetcher.
      PartitionList list(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(list.list, topic_.c_str(), static_cast<int32_t>(partition))
          ->offset = static_cast<int64_t>(position);
      if (rd_kafka_error_t* error = rd_kafka_seek_partitions(consumer_, list.list, 10000)) {
        // A fetcher that cannot reach its broker (down, leader moving) does not confirm the
        // seek in time. The seek is still queued and librdkafka drops what was fetched before
        // it; the floor below also drops any record before the new position until the first
        // one at or past it arrives. (It used to be fatal: an instance died under broker faults.)
        const bool timed_out = rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__TIMED_OUT;
        Status status = Status::Unavailable(fmt::format("seek {} partition {} to {}: {}", id_,
                                                        partition, position,
                                                        rd_kafka_error_string(error)));
        rd_kafka_error_destroy(error);
        if (!timed_out) return status;
        LogWarn(fmt::format("{}; continuing: the seek completes when the broker answers",
                            status.message()));
      }
      seek_floors_[partition] = position;
      return Status::Ok();
    }
    seek_positions_[partition] = position;  // applied when the partition is assigned
    return Status::Ok();
  }

  Result<SourceRead> Fill(Batch& batch, size_t max_records) override {
    RETURN_IF_ERROR(ApplyPendingAssign());
    if (!fatal_.empty()) return Status::Unavailable(fatal_);
    SourceRead read = SourceRead::kHaveData;
    while (batch.size() < max_records) {
      if (change_ready_) {
        read = SourceRead::kAssignmentChanged;
        break;
      }
      rd_kafka_message_t* message = stash_;
      stash_ = nullptr;
      if (message == nullptr) {
        if (batch.empty()) {
          const double waited_from = SteadySeconds();
          message = rd_kafka_consumer_poll(consumer_, kPollTimeoutMs);
          if (records_read_ > 0) record_wait_seconds_ += SteadySeconds() - waited_from;
        } else {
          message = rd_kafka_consumer_poll(consumer_, 0);
        }
      }
      if (message == nullptr) {
        if (change_ready_) read = SourceRead::kAssignmentChanged;
        break;
      }
      if (change_ready_) {  // the poll ran the rebalance callback and then gave a record
        stash_ = message;
        read = SourceRead::kAssignmentChanged;
        break;
      }
      const uint32_t partition = static_cast<uint32_t>(message->partition);
      if (message->err) {
        Status status = HandleEvent(*message);
        rd_kafka_message_destroy(message);
        RETURN_IF_ERROR(status);
        continue;
      }
      if (!assigned_.contains(partition)) {  // left over from before an unassign
        rd_kafka_message_destroy(message);
        continue;
      }
      // Empty except right after a seek: no map lookup per record otherwise.
      if (auto floor = seek_floors_.empty() ? seek_floors_.end() : seek_floors_.find(partition);
          floor != seek_floors_.end()) {
        if (static_cast<uint64_t>(message->offset) < floor->second) {  // fetched before a seek
          rd_kafka_message_destroy(message);
          continue;
        }
        seek_floors_.erase(floor);
      }
      if (!batch.empty() && partition != batch.partition) {
        stash_ = message;  // a batch holds one partition
        break;
      }
      batch.partition = partition;
      at_end_.erase(partition);
      if (records_read_++ == 0) first_record_seconds_ = SteadySeconds();
      batch.AddRecord(std::string_view(static_cast<const char*>(message->payload), message->len),
                      static_cast<uint64_t>(message->offset) + 1);
      rd_kafka_message_destroy(message);
    }
    batch.PadInput();
    if (!batch.empty()) last_record_seconds_ = SteadySeconds();
    if (!fatal_.empty()) return Status::Unavailable(fatal_);
    if (read == SourceRead::kAssignmentChanged) return read;
    if (stop_at_end_ && stash_ == nullptr && !assigned_.empty() &&
        at_end_.size() == assigned_.size()) {
      if (end_of_input_seconds_ == 0) end_of_input_seconds_ = SteadySeconds();
      return SourceRead::kEndOfInput;
    }
    return batch.empty() ? SourceRead::kNoDataYet : SourceRead::kHaveData;
  }

  AssignmentChange TakeAssignmentChange() override {
    AssignmentChange change;
    if (pending_revoke_) {
      for (int index = 0; index < pending_revoke_.list->cnt; ++index) {
        change.lost.push_back(static_cast<uint32_t>(pending_revoke_.list->elems[index].partition));
      }
      if (stash_ != nullptr &&
          std::find(change.lost.begin(), change.lost.end(), stash_->partition) !=
              change.lost.end()) {
        rd_kafka_message_destroy(stash_);
        stash_ = nullptr;
      }
    }
    if (pending_assign_) {
      for (int index = 0; index < pending_assign_.list->cnt; ++index) {
        change.gained.push_back(static_cast<uint32_t>(pending_assign_.list->elems[index].partition));
      }
      assign_after_seeks_ = true;
    }
    change_ready_ = false;
    return change;
  }

  Status CompleteAssignmentChange() override {
    if (!pending_revoke_) return Status::Ok();
    PartitionList revoked = std::move(pending_revoke_);
    // The next owner starts at the group's offsets: they should be the state's before the
    // partitions go (an earlier commit may have failed while the group was rebalancing). The
    // group can refuse even this one (a new rebalance already preparing waits for our
    // unassign, so waiting cannot help): the next owner then reads again what this instance's
    // state already counted since its last accepted commit. Reported, not fatal.
    Status committed = own_commits_ ? CommitRevoked(revoked.list) : Status::Ok();
    if (!committed.ok()) {
      async_commit_error_ = fmt::format(
          "handing over {} partition(s) with the group's offsets behind the state ({}); the next "
          "owner re-reads up to one commit of records",
          revoked.list->cnt, committed.message());
    }
    for (int index = 0; index < revoked.list->cnt; ++index) {
      uint32_t partition = static_cast<uint32_t>(revoked.list->elems[index].partition);
      assigned_.erase(partition);
      at_end_.erase(partition);
      seek_floors_.erase(partition);
      state_positions_.erase(partition);
      sent_positions_.erase(partition);
    }
    return Acknowledge(revoked.list, false);
  }

  Status OnCommitted(const PositionMap& positions) override {
    if (!own_commits_) return Status::Ok();
    std::string previous_error = std::move(async_commit_error_);
    async_commit_error_.clear();
    PositionMap mine;
    for (const auto& [partition, position] : positions) {
      if (assigned_.contains(partition)) mine[partition] = position;
    }
    state_positions_ = mine;
    {
      std::lock_guard<std::mutex> lock(metrics_mutex_);
      committed_for_metrics_ = mine;
    }
    // Not while the consumer rejoins the group (see Rejoining): the next commit carries them.
    if (mine != sent_positions_ && (pending_revoke_ || !Rejoining())) {
      // Before a revoke the commit must land while the partitions are still ours.
      RETURN_IF_ERROR(CommitToGroup(mine, !pending_revoke_));
      sent_positions_ = std::move(mine);
    }
    if (!previous_error.empty()) return Status::Unavailable(previous_error);
    return Status::Ok();
  }

  // KafkaGroupSource (the cluster's epoch protocol).
  void DisableOwnCommits() override { own_commits_ = false; }
  const std::string& group() const override { return group_; }
  bool AtEnd(uint32_t partition) const override {
    return at_end_.contains(partition) &&
           (stash_ == nullptr || static_cast<uint32_t>(stash_->partition) != partition);
  }

  bool Rejoining() const override {
    // A revoke waiting for the runner holds librdkafka in its callback state with the current
    // generation: the hand-over commit goes now or never.
    if (pending_revoke_) return false;
    return join_.Rejoining();
  }

  // librdkafka's threads: its join-state log lines (GroupJoinTracker).
  void ObserveLogLine(const char* facility, const char* message) override {
    join_.Observe(facility, message);
  }

  Result<EpochCommit> CommitEpoch(const PositionMap& positions,
                                  const std::string& metadata) override {
    if (positions.empty()) return EpochCommit::kCommitted;
    if (Rejoining()) return EpochCommit::kDeferred;
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(positions.size())));
    for (const auto& [partition, position] : positions) {
      rd_kafka_topic_partition_t* element = rd_kafka_topic_partition_list_add(
          list.list, topic_.c_str(), static_cast<int32_t>(partition));
      element->offset = static_cast<int64_t>(position);
      element->metadata = malloc(metadata.size());  // freed with the list
      memcpy(element->metadata, metadata.data(), metadata.size());
      element->metadata_size = metadata.size();
    }
    rd_kafka_resp_err_t err = rd_kafka_commit(consumer_, list.list, 0);
    // The coordinator stored nothing and the member's generation is still the group's: the
    // partitions stay ours until a revoke, so the epoch can wait. Not when a revoke is waiting
    // for this commit: the partitions go, and the epoch with them.
    if (err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS && !pending_revoke_) {
      return EpochCommit::kDeferred;
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable(
          fmt::format("offset commit of {} to the group: {}", id_, rd_kafka_err2str(err)));
    }
    return EpochCommit::kCommitted;
  }

  Result<std::map<uint32_t, std::pair<int64_t, std::string>>> Committed(
      const std::vector<uint32_t>& partitions) override {
    std::map<uint32_t, std::pair<int64_t, std::string>> committed;
    if (partitions.empty()) return committed;
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
    for (uint32_t partition : partitions) {
      rd_kafka_topic_partition_list_add(list.list, topic_.c_str(), static_cast<int32_t>(partition));
    }
    // 5 s a try (the caller retries): it runs while librdkafka waits for the runner to take an
    // assignment, and a read that hung for 10–25 s made a member miss the group's next join.
    if (rd_kafka_resp_err_t err = rd_kafka_committed(consumer_, list.list, 5000)) {
      return Status::Unavailable(fmt::format("{}: reading the group's committed offsets: {}", id_,
                                             rd_kafka_err2str(err)));
    }
    for (int index = 0; index < list.list->cnt; ++index) {
      const rd_kafka_topic_partition_t& element = list.list->elems[index];
      std::string metadata;
      if (element.metadata != nullptr && element.metadata_size > 0) {
        metadata.assign(static_cast<const char*>(element.metadata), element.metadata_size);
      }
      committed[static_cast<uint32_t>(element.partition)] = {element.offset, std::move(metadata)};
    }
    return committed;
  }

  Result<uint32_t> PartitionCount() override {
    rd_kafka_topic_t* topic = rd_kafka_topic_new(consumer_, topic_.c_str(), nullptr);
    if (topic == nullptr) return Status::Unavailable(fmt::format("{}: no topic handle", id_));
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(consumer_, 0, topic, &metadata, 10000);
    rd_kafka_topic_destroy(topic);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable(fmt::format("{}: metadata: {}", id_, rd_kafka_err2str(err)));
    }
    uint32_t count = metadata->topic_cnt > 0 && metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR
                         ? static_cast<uint32_t>(metadata->topics[0].partition_cnt)
                         : 0;
    rd_kafka_metadata_destroy(metadata);
    if (count == 0) return Status::Unavailable(fmt::format("{}: the topic has no partitions", id_));
    return count;
  }

  void Pause() override { PauseResume(true); }
  void Resume() override { PauseResume(false); }

 private:
  static double SteadySeconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  static KafkaSource& Of(void* opaque) {
    return *static_cast<KafkaSource*>(static_cast<KafkaClientOwner*>(opaque));
  }

  // Runs inside rd_kafka_consumer_poll (our thread): records the change for Fill() to report.
  static void OnRebalance(rd_kafka_t* consumer, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    KafkaSource& self = Of(opaque);
    if (self.closing_) {  // at close: the state is committed; hand over what it holds
      const bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
      if (!assign) {
        if (self.own_commits_) self.CommitRevoked(partitions).IgnoreError();  // logged by librdkafka
        for (int index = 0; index < partitions->cnt; ++index) {
          self.state_positions_.erase(static_cast<uint32_t>(partitions->elems[index].partition));
        }
      }
      self.Acknowledge(partitions, assign).IgnoreError();
      return;
    }
    const bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    static MetricCounter* rebalances[2] = {&RebalanceCounter("revoke"), &RebalanceCounter("assign")};
    rebalances[assign]->Add();
    // A round of the group ended here (the new generation is ours).
    self.join_.RoundEnded();
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      self.pending_assign_ = PartitionList(rd_kafka_topic_partition_list_copy(partitions));
    } else {
      // Revoked (or an error: everything we hold is to be given up).
      self.pending_revoke_ = PartitionList(rd_kafka_topic_partition_list_copy(partitions));
      self.join_.Revoked();
    }
    self.change_ready_ = true;
    (void)consumer;
  }

  static void OnOffsetCommit(rd_kafka_t*, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t*, void* opaque) {
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
    Of(opaque).async_commit_error_ =
        fmt::format("offset commit to the group failed: {}", rd_kafka_err2str(err));
  }

  static void OnError(rd_kafka_t* consumer, int err, const char* reason, void* opaque) {
    KafkaSource& self = Of(opaque);
    if (err != RD_KAFKA_RESP_ERR__FATAL) return;  // transient: librdkafka retries by itself
    char text[512];
    rd_kafka_fatal_error(consumer, text, sizeof(text));
    self.fatal_ = fmt::format("{}: fatal Kafka error: {}", self.id_,
                              self.redactor().Redact(text[0] ? text : reason));
  }

  // Tells librdkafka the application took (or gave up) `partitions`.
  Status Acknowledge(rd_kafka_topic_partition_list_t* partitions, bool assign) {
    const bool cooperative = IsCooperativeRebalance(consumer_);
    if (cooperative) {
      rd_kafka_error_t* error = assign ? rd_kafka_incremental_assign(consumer_, partitions)
                                       : rd_kafka_incremental_unassign(consumer_, partitions);
      if (error != nullptr) {
        Status status = Status::Unavailable(
            fmt::format("{}: {}", id_, redactor().Redact(rd_kafka_error_string(error))));
        rd_kafka_error_destroy(error);
        return status;
      }
      return Status::Ok();
    }
    // An eager strategy chosen in properties: whole assignments.
    if (rd_kafka_resp_err_t err = rd_kafka_assign(consumer_, assign ? partitions : nullptr)) {
      return Status::Unavailable(fmt::format("{}: assign: {}", id_, rd_kafka_err2str(err)));
    }
    return Status::Ok();
  }

  // Gained partitions start fetching once the runner has said where (Seek) they resume.
  Status ApplyPendingAssign() {
    if (!assign_after_seeks_) return Status::Ok();
    assign_after_seeks_ = false;
    if (first_assign_seconds_ == 0) first_assign_seconds_ = SteadySeconds();
    PartitionList gained = std::move(pending_assign_);
    // Partitions the state has no position for resume at the group's committed offset; with
    // none there either (a new group), at `start_at`. auto.offset.reset then only ever acts
    // on a position that fell out of the topic.
    PartitionList committed(rd_kafka_topic_partition_list_copy(gained.list));
    bool every_one_sought = true;  // (always with `cluster:`): no round trip to read the group's
    for (int index = 0; index < gained.list->cnt; ++index) {
      every_one_sought &= seek_positions_.contains(
          static_cast<uint32_t>(gained.list->elems[index].partition));
    }
    if (committed.list->cnt > 0 && !every_one_sought) {
      if (rd_kafka_resp_err_t err = rd_kafka_committed(consumer_, committed.list, 30000)) {
        return Status::Unavailable(fmt::format("{}: reading the group's committed offsets: {}",
                                               id_, rd_kafka_err2str(err)));
      }
    }
    for (int index = 0; index < gained.list->cnt; ++index) {
      rd_kafka_topic_partition_t& element = gained.list->elems[index];
      uint32_t partition = static_cast<uint32_t>(element.partition);
      auto seek = seek_positions_.find(partition);
      if (seek != seek_positions_.end()) {
        element.offset = static_cast<int64_t>(seek->second);
        seek_positions_.erase(seek);
      } else if (committed.list->elems[index].offset >= 0) {
        element.offset = committed.list->elems[index].offset;
      } else {
        element.offset = start_at_end_ ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
      }
      assigned_.insert(partition);
    }
    // librdkafka's cooperative protocol rejoins the group right after the assignment that
    // follows a revoke (no join in between): commits wait from now on, not only once its
    // join-state line arrives. Bounded, in case that line never comes.
    if (join_.TakeRevoked() && join_.SeenJoinStates() && IsCooperativeRebalance(consumer_)) {
      join_.ExpectRejoin();
    }
    return Acknowledge(gained.list, true);
  }

  Status HandleEvent(const rd_kafka_message_t& message) {
    switch (message.err) {
      case RD_KAFKA_RESP_ERR__PARTITION_EOF:
        if (assigned_.contains(static_cast<uint32_t>(message.partition))) {
          at_end_.insert(static_cast<uint32_t>(message.partition));
        }
        return Status::Ok();
      case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
      case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
        // The position is gone from the topic (retention, or a consumer that fell behind):
        // records would be skipped. With auto.offset.reset=error the run stops here.
        return Status::Unavailable(fmt::format(
            "{} partition {}: offset reset ({}); records between the committed position and the "
            "topic's start would be skipped",
            id_, message.partition, redactor().Redact(rd_kafka_message_errstr(&message))));
      case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
      case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
        return Status::Unavailable(fmt::format(
            "{}: {}", id_, redactor().Redact(rd_kafka_message_errstr(&message))));
      default:
        return Status::Ok();  // transient (a broker down, a leader moving): librdkafka retries
    }
  }

  Status CommitToGroup(const PositionMap& positions, bool async) {
    if (positions.empty()) return Status::Ok();
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(positions.size())));
    for (const auto& [partition, position] : positions) {
      rd_kafka_topic_partition_list_add(list.list, topic_.c_str(), static_cast<int32_t>(partition))
          ->offset = static_cast<int64_t>(position);
    }
    rd_kafka_resp_err_t err = rd_kafka_commit(consumer_, list.list, async ? 1 : 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable(
          fmt::format("offset commit of {} to the group: {}", id_, rd_kafka_err2str(err)));
    }
    return Status::Ok();
  }

  // Sync commit of the state's positions of `revoked` (those the state has).
  Status CommitRevoked(const rd_kafka_topic_partition_list_t* revoked) {
    PositionMap positions;
    for (int index = 0; index < revoked->cnt; ++index) {
      auto found = state_positions_.find(static_cast<uint32_t>(revoked->elems[index].partition));
      if (found != state_positions_.end()) positions.insert(*found);
    }
    return CommitToGroup(positions, false);
  }

  // A stopping instance's positions reach the group before it leaves, so whoever takes its
  // partitions starts where its state ends. A commit refused because the group is rebalancing
  // is retried while the consumer takes part in the rebalance (records read meanwhile are
  // dropped: the state does not hold them), for up to 30 s.
  void CommitBeforeClose() {
    for (int attempt = 0; attempt < 300 && !state_positions_.empty(); ++attempt) {
      // Only partitions still assigned to this member: a lost one may have moved on.
      if (rd_kafka_assignment_lost(consumer_)) return;
      rd_kafka_topic_partition_list_t* current = nullptr;
      if (rd_kafka_assignment(consumer_, &current) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
      PartitionList assignment(current);
      PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(state_positions_.size())));
      for (const auto& [partition, position] : state_positions_) {
        if (rd_kafka_topic_partition_list_find(assignment.list, topic_.c_str(),
                                               static_cast<int32_t>(partition)) == nullptr) {
          continue;
        }
        rd_kafka_topic_partition_list_add(list.list, topic_.c_str(), static_cast<int32_t>(partition))
            ->offset = static_cast<int64_t>(position);
      }
      if (list.list->cnt == 0) return;
      rd_kafka_resp_err_t err = rd_kafka_commit(consumer_, list.list, 0);
      if (err != RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS &&
          err != RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION && err != RD_KAFKA_RESP_ERR__STATE) {
        return;  // done, or an error waiting cannot fix (fenced out: the group moved on)
      }
      if (rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_, 100)) {
        rd_kafka_message_destroy(message);
      }
    }
  }

  // At scrape time, on the HTTP thread: the assignment from librdkafka (thread-safe), the end
  // offsets it cached from its last fetches (no broker call), and the positions of the last state
  // commit. Lag = records between the committed position and the partition's end, the figure
  // Kafka's consumer-group tools show once the group commit lands.
  void CollectMetrics(MetricsWriter& writer) {
    rd_kafka_topic_partition_list_t* current = nullptr;
    if (rd_kafka_assignment(consumer_, &current) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    PartitionList assignment(current);
    writer.Gauge("brandpulse_kafka_assigned_partitions", "Partitions assigned to this instance",
                 {{"topic", topic_}}, assignment.list->cnt);
    PositionMap committed;
    {
      std::lock_guard<std::mutex> lock(metrics_mutex_);
      committed = committed_for_metrics_;
    }
    for (int index = 0; index < assignment.list->cnt; ++index) {
      const int32_t partition = assignment.list->elems[index].partition;
      int64_t low = 0;
      int64_t high = 0;
      if (rd_kafka_get_watermark_offsets(consumer_, topic_.c_str(), partition, &low, &high) !=
              RD_KAFKA_RESP_ERR_NO_ERROR ||
          high < 0) {
        continue;  // no fetch answered yet: the end is unknown
      }
      auto position = committed.find(static_cast<uint32_t>(partition));
      const int64_t from = position != committed.end() ? static_cast<int64_t>(position->second) : low;
      writer.Gauge("brandpulse_kafka_consumer_lag_records",
                   "Records between the state's committed position and the partition's end",
                   {{"topic", topic_}, {"partition", std::to_string(partition)}},
                   static_cast<double>(std::max<int64_t>(0, high - from)));
    }
  }

  void PauseResume(bool pause) {
    if (assigned_.empty()) return;
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(assigned_.size())));
    for (uint32_t partition : assigned_) {
      rd_kafka_topic_partition_list_add(list.list, topic_.c_str(), static_cast<int32_t>(partition));
    }
    // Errors here only mean a partition left meanwhile; the next assignment settles it.
    if (pause) {
      rd_kafka_pause_partitions(consumer_, list.list);
    } else {
      rd_kafka_resume_partitions(consumer_, list.list);
    }
  }

  const std::string id_;
  const std::string topic_;
  const std::string group_;
  bool own_commits_ = true;  // false in cluster mode: only CommitEpoch commits
  const bool stop_at_end_;
  const bool start_at_end_;
  rd_kafka_t* consumer_ = nullptr;
  rd_kafka_topic_t* topic_handle_ = nullptr;  // keeps librdkafka's local topic (Open)
  std::set<uint32_t> assigned_;   // acknowledged to librdkafka and fetching
  std::set<uint32_t> at_end_;     // assigned partitions whose last record was read
  std::map<uint32_t, uint64_t> seek_positions_;  // for partitions not yet assigned
  // Assigned partitions sought since their last record: records before the position are stale.
  std::map<uint32_t, uint64_t> seek_floors_;
  PositionMap state_positions_;    // of assigned partitions, as the state holds them
  PositionMap sent_positions_;     // last sent to the group (async: maybe refused later)
  rd_kafka_message_t* stash_ = nullptr;  // read, belongs to the next batch
  // Set by the rebalance callback, taken by TakeAssignmentChange / CompleteAssignmentChange.
  PartitionList pending_assign_;
  PartitionList pending_revoke_;
  bool change_ready_ = false;
  bool assign_after_seeks_ = false;
  GroupJoinTracker join_;  // Rejoining(): fed by librdkafka's threads and the rebalance callback
  bool closing_ = false;
  // For the line at close: records handed to batches, when the first and the last were read.
  uint64_t records_read_ = 0;
  double first_assign_seconds_ = 0;
  double record_wait_seconds_ = 0;  // in polls that waited for a record, after the first one
  double first_record_seconds_ = 0;
  double last_record_seconds_ = 0;
  double end_of_input_seconds_ = 0;  // stop_at_end: when every partition was at its end
  std::string async_commit_error_;
  std::string fatal_;
  std::mutex metrics_mutex_;
  PositionMap committed_for_metrics_;  // state_positions_ as the scrape thread may read it
  MetricsCollectorHandle metrics_;
};

}  // namespace

Result<std::unique_ptr<Source>> MakeKafkaSource(const KafkaSourceOptions& options) {
  auto source = std::make_unique<KafkaSource>(options);
  RETURN_IF_ERROR(source->Open(options));
  return std::unique_ptr<Source>(std::move(source));
}

Result<std::unique_ptr<SourceSpec>> ReadKafkaSource(YamlMap& section, const ConfigContext&) {
  KafkaSourceOptions options;
  std::optional<KafkaClientOptions> client = ReadKafkaClientOptions(section);
  if (auto topic = section.String("topic", true)) options.topic = *topic;
  if (auto group = section.String("group", true)) options.group = *group;
  if (auto stop = section.Boolean("stop_at_end")) options.stop_at_end = *stop;
  if (auto start = section.Choice("start_at", {"beginning", "end"})) {
    options.start_at_end = *start == "end";
  }
  RETURN_IF_ERROR(section.Finish());
  if (!client) return Status::InvalidArgument("invalid kafka source");
  options.client = *std::move(client);
  return SourceSpecOf("kafka", [options](const SourceBuildContext&) {
    return MakeKafkaSource(options);
  });
}

}  // namespace brandpulse
