#include "operators/kafka_partials.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>

#include <fmt/format.h>

namespace brandpulse {
namespace {

class KafkaPartialsProducer final : public PartialsProducer, public KafkaClientOwner {
 public:
  KafkaPartialsProducer(const KafkaClientOptions& client, std::string topic)
      : KafkaClientOwner(client.redactor), topic_(std::move(topic)) {}
  ~KafkaPartialsProducer() override {
    if (producer_ == nullptr) return;
    rd_kafka_flush(producer_, 10000);
    if (topic_handle_ != nullptr) rd_kafka_topic_destroy(topic_handle_);
    rd_kafka_destroy(producer_);
  }

  Status Open(const KafkaClientOptions& client, int delivery_timeout_ms) {
    const std::map<std::string, std::string> defaults = {
        {"linger.ms", "1"},
        {"client.id", "brandpulse-partials"},
        {"message.max.bytes", "4000000"},
    };
    const std::map<std::string, std::string> forced = {
        // The partials and snapshot topics are made with their own settings (partition count,
        // compaction), never by a broker's auto.create.topics.enable from a metadata request.
        {"allow.auto.create.topics", "false"},
        {"enable.idempotence", "true"},
        {"message.timeout.ms", std::to_string(delivery_timeout_ms)},
    };
    ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, MakeKafkaConf(client, defaults, forced));
    SetClientOwner(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, &KafkaPartialsProducer::OnDelivery);
    char error[512];
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    if (producer_ == nullptr) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument(fmt::format("Kafka producer for partials topic {}: {}",
                                                 topic_, redactor().Redact(error)));
    }
    topic_handle_ = rd_kafka_topic_new(producer_, topic_.c_str(), nullptr);
    return Status::Ok();
  }

  Result<uint32_t> PartitionCount() override {
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(producer_, 0, topic_handle_, &metadata, 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable(
          fmt::format("partials topic {}: metadata: {}", topic_, rd_kafka_err2str(err)));
    }
    uint32_t count = metadata->topic_cnt > 0 && metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR
                         ? static_cast<uint32_t>(metadata->topics[0].partition_cnt)
                         : 0;
    rd_kafka_metadata_destroy(metadata);
    if (count == 0) {
      return Status::Unavailable(fmt::format(
          "partials topic {} does not exist or has no partitions (create it first)", topic_));
    }
    return count;
  }

  Status ProduceAndWait(std::string_view key,
                        const std::vector<std::pair<uint32_t, std::string>>& records) override {
    Begin();
    for (const auto& [partition, value] : records) {
      RETURN_IF_ERROR(Produce(partition, key, value.data(), value.size()));
    }
    return Wait();
  }

  Status ProduceKeyedAndWait(const std::vector<KeyedRecord>& records) override {
    Begin();
    for (const KeyedRecord& record : records) {
      RETURN_IF_ERROR(Produce(record.partition, record.key,
                              record.value ? record.value->data() : nullptr,
                              record.value ? record.value->size() : 0));
    }
    return Wait();
  }

  Result<std::optional<uint32_t>> FindTopic(const std::string& topic) override {
    const rd_kafka_metadata_t* metadata = nullptr;
    if (rd_kafka_resp_err_t err = rd_kafka_metadata(producer_, 1, nullptr, &metadata, 10000)) {
      return Status::Unavailable(fmt::format("metadata of every topic: {}", rd_kafka_err2str(err)));
    }
    std::optional<uint32_t> count;
    for (int index = 0; index < metadata->topic_cnt; ++index) {
      const rd_kafka_metadata_topic_t& entry = metadata->topics[index];
      if (topic == entry.topic && entry.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        count = static_cast<uint32_t>(entry.partition_cnt);
      }
    }
    rd_kafka_metadata_destroy(metadata);
    return count;
  }

  Result<bool> CreateTopic(const std::string& topic, uint32_t partitions,
                           const std::map<std::string, std::string>& config,
                           int timeout_ms) override {
    char error[512];
    rd_kafka_NewTopic_t* new_topic = rd_kafka_NewTopic_new(
        topic.c_str(), static_cast<int>(partitions), -1, error, sizeof(error));
    if (new_topic == nullptr) {
      return Status::InvalidArgument(fmt::format("create topic {}: {}", topic, error));
    }
    for (const auto& [name, value] : config) {
      rd_kafka_NewTopic_set_config(new_topic, name.c_str(), value.c_str());
    }
    rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(producer_, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, error, sizeof(error));
    rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, error, sizeof(error));
    rd_kafka_queue_t* queue = rd_kafka_queue_new(producer_);
    rd_kafka_CreateTopics(producer_, &new_topic, 1, options, queue);
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, timeout_ms + 2000);
    Result<bool> result = Status::Unavailable(fmt::format("create topic {}: no reply", topic));
    if (event != nullptr) {
      rd_kafka_resp_err_t err = rd_kafka_event_error(event);
      std::string text = err ? rd_kafka_event_error_string(event) : "";
      if (const rd_kafka_CreateTopics_result_t* reply = rd_kafka_event_CreateTopics_result(event);
          err == RD_KAFKA_RESP_ERR_NO_ERROR && reply != nullptr) {
        size_t count = 0;
        const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(reply, &count);
        if (count == 1) {
          err = rd_kafka_topic_result_error(topics[0]);
          const char* message = rd_kafka_topic_result_error_string(topics[0]);
          text = message != nullptr ? message : rd_kafka_err2str(err);
        }
      }
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        result = true;
      } else if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        result = false;
      } else {
        result = Status::Unavailable(fmt::format("create topic {}: {} ({})", topic,
                                                 redactor().Redact(text), rd_kafka_err2name(err)));
      }
      rd_kafka_event_destroy(event);
    }
    rd_kafka_queue_destroy(queue);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_NewTopic_destroy(new_topic);
    return result;
  }

 private:
  void Begin() {
    acknowledged_ = 0;
    failed_ = 0;
    produced_ = 0;
    last_error_.clear();
  }

  // `value` nullptr: a tombstone.
  Status Produce(uint32_t partition, std::string_view key, const char* value, size_t size) {
    auto produce = [&](int flags) {
      return rd_kafka_producev(producer_, RD_KAFKA_V_RKT(topic_handle_),
                               RD_KAFKA_V_PARTITION(static_cast<int32_t>(partition)),
                               RD_KAFKA_V_MSGFLAGS(flags),
                               RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                               RD_KAFKA_V_VALUE(const_cast<char*>(value), size), RD_KAFKA_V_END);
    };
    rd_kafka_resp_err_t err = produce(RD_KAFKA_MSG_F_COPY);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer_, 100);
      err = produce(RD_KAFKA_MSG_F_COPY | RD_KAFKA_MSG_F_BLOCK);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_flush(producer_, 30000);
      return Status::Unavailable(fmt::format("produce to {} partition {}: {}", topic_,
                                             partition, rd_kafka_err2str(err)));
    }
    ++produced_;
    return Status::Ok();
  }

  Status Wait() {
    // flush() serves the delivery reports until every record has one (or the timeout).
    while (acknowledged_ + failed_ < produced_) {
      rd_kafka_flush(producer_, 1000);
      if (rd_kafka_outq_len(producer_) == 0 && acknowledged_ + failed_ < produced_) break;
    }
    if (failed_ > 0 || acknowledged_ < produced_) {
      return Status::Unavailable(fmt::format("{} of {} record(s) to {} not acknowledged: {}",
                                             produced_ - acknowledged_, produced_, topic_,
                                             redactor().Redact(last_error_)));
    }
    return Status::Ok();
  }

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    auto& self = *static_cast<KafkaPartialsProducer*>(static_cast<KafkaClientOwner*>(opaque));
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++self.acknowledged_;
    } else {
      ++self.failed_;
      self.last_error_ = rd_kafka_err2str(message->err);
    }
  }

  const std::string topic_;
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_topic_t* topic_handle_ = nullptr;
  size_t acknowledged_ = 0;
  size_t failed_ = 0;
  size_t produced_ = 0;
  std::string last_error_;
};

class KafkaPartialsConsumer final : public PartialsConsumer, public KafkaClientOwner {
 public:
  KafkaPartialsConsumer(const KafkaClientOptions& client, std::string topic)
      : KafkaClientOwner(client.redactor), topic_(std::move(topic)) {}
  ~KafkaPartialsConsumer() override {
    if (consumer_ == nullptr) return;
    if (stash_ != nullptr) rd_kafka_message_destroy(stash_);
    closing_ = true;
    rd_kafka_consumer_close(consumer_);
    if (topic_handle_ != nullptr) rd_kafka_topic_destroy(topic_handle_);
    rd_kafka_destroy(consumer_);
  }

  Status Open(const KafkaClientOptions& client, const std::string& group) {
    const std::map<std::string, std::string> defaults = {
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"fetch.wait.max.ms", "50"},
        {"client.id", "brandpulse-merge"},
        {"auto.offset.reset", "error"},
    };
    const std::map<std::string, std::string> forced = {
        {"enable.auto.commit", "false"},  // a merger's position is in its own state
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "false"},
        {"group.id", group},
    };
    ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, MakeKafkaConf(client, defaults, forced));
    SetClientOwner(conf, this);  // prints debug lines only when the properties asked for them
    // The join-state tracker (Rejoining, before a pointer commit) reads librdkafka's `cgrp`
    // debug lines, as the Kafka source's does.
    char debug[512];
    size_t debug_size = sizeof(debug);
    std::string contexts = rd_kafka_conf_get(conf, "debug", debug, &debug_size) == RD_KAFKA_CONF_OK
                               ? std::string(debug)
                               : std::string();
    contexts += contexts.empty() ? "cgrp" : ",cgrp";
    char error[512];
    if (rd_kafka_conf_set(conf, "debug", contexts.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument(fmt::format(
          "Kafka merge consumer: librdkafka's cgrp debug lines are not available: {}", error));
    }
    rd_kafka_conf_set_rebalance_cb(conf, &KafkaPartialsConsumer::OnRebalance);
    ASSIGN_OR_RETURN(consumer_, NewSubscribedConsumer(conf, topic_, "Kafka merge consumer",
                                                      redactor()));
    // As the Kafka source does (stop 25): librdkafka creates its local topic, and hands each
    // partition to its leader's broker thread, when the topic is first used. Left to the first
    // assignment, the start of a partition at its beginning ran before that: "no current leader
    // for partition", the offset query retried after a fixed 500 ms (seen in 2 of 3 starts in the
    // merge consumer's `topic` debug lines). Held from here, they have their leaders first.
    topic_handle_ = rd_kafka_topic_new(consumer_, topic_.c_str(), nullptr);
    return Status::Ok();
  }

  Status Poll(int timeout_ms, size_t max_records, const RecordVisitor& record) override {
    if (changed_) return Status::Ok();  // the caller takes the change first
    for (size_t count = 0; count < max_records; ++count) {
      rd_kafka_message_t* message = stash_;
      stash_ = nullptr;
      if (message == nullptr) {
        message = rd_kafka_consumer_poll(consumer_, count == 0 ? timeout_ms : 0);
      }
      if (message == nullptr) return Status::Ok();
      if (changed_) {
        // The poll ran the rebalance callback, then gave a record of the new assignment: it
        // belongs after the caller's reset.
        stash_ = message;
        return Status::Ok();
      }
      Status status = Status::Ok();
      const uint32_t partition = static_cast<uint32_t>(message->partition);
      if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (owned_.contains(partition)) {
          status = record(partition, message->offset,
                          std::string_view(static_cast<const char*>(message->payload), message->len));
        }
      } else if (message->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
                 message->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        status = Status::Unavailable(fmt::format(
            "partials topic {} partition {}: offset reset ({}): the partition no longer holds "
            "the offset a merger starts at (its beginning for a replay, or where its local state "
            "was committed), so it cannot restore from it: keep the partials topic's whole history",
            topic_, message->partition, rd_kafka_message_errstr(message)));
      }
      rd_kafka_message_destroy(message);
      RETURN_IF_ERROR(status);
    }
    return Status::Ok();
  }

  Result<bool> TakeChange(std::set<uint32_t>& owned) override {
    if (!changed_) return false;
    changed_ = false;
    // A rebalance that left this member's partitions as they were (librdkafka calls back with
    // empty lists) changes nothing: the partitions read on (a partition taken away and given
    // back in between restarts where the planner said, and the merge log skips what it applied).
    const bool first = !seen_;
    seen_ = true;
    if (!first && owned_ == taken_) return false;
    taken_ = owned_;
    owned = owned_;
    return true;
  }

  Result<std::map<uint32_t, int64_t>> EndOffsets(int timeout_ms) override {
    std::map<uint32_t, int64_t> ends;
    for (uint32_t partition : owned_) {
      int64_t low = 0;
      int64_t high = 0;
      if (rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
              consumer_, topic_.c_str(), static_cast<int32_t>(partition), &low, &high, timeout_ms)) {
        return Status::Unavailable(fmt::format("partials topic {} partition {}: end offset: {}",
                                               topic_, partition, rd_kafka_err2str(err)));
      }
      ends[partition] = high;
    }
    return ends;
  }

  void SetPlanner(Planner planner) override { planner_ = std::move(planner); }

  Status CommitPointer(uint32_t partition, int64_t offset, const std::string& metadata) override {
    if (Rejoining()) {
      return Status::Unavailable("the merge consumer is rejoining its group (not sent)");
    }
    PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_t* element =
        rd_kafka_topic_partition_list_add(list.list, topic_.c_str(), static_cast<int32_t>(partition));
    element->offset = offset;
    element->metadata = malloc(metadata.size());  // freed with the list
    memcpy(element->metadata, metadata.data(), metadata.size());
    element->metadata_size = metadata.size();
    if (rd_kafka_resp_err_t err = rd_kafka_commit(consumer_, list.list, 0)) {
      return Status::Unavailable(fmt::format("offset commit to the merge group refused: {}",
                                             rd_kafka_err2str(err)));
    }
    if (list.list->elems[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable(fmt::format("offset commit to the merge group refused: {}",
                                             rd_kafka_err2str(list.list->elems[0].err)));
    }
    return Status::Ok();
  }

  Result<std::optional<std::pair<int64_t, std::string>>> CommittedPointer(
      uint32_t partition, int timeout_ms) override {
    PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.list, topic_.c_str(), static_cast<int32_t>(partition));
    if (rd_kafka_resp_err_t err = rd_kafka_committed(consumer_, list.list, timeout_ms)) {
      return Status::Unavailable(fmt::format("reading the merge group's committed offset: {}",
                                             rd_kafka_err2str(err)));
    }
    const rd_kafka_topic_partition_t& element = list.list->elems[0];
    if (element.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable(fmt::format("reading the merge group's committed offset: {}",
                                             rd_kafka_err2str(element.err)));
    }
    if (element.offset < 0) return std::optional<std::pair<int64_t, std::string>>();
    std::string metadata;
    if (element.metadata != nullptr && element.metadata_size > 0) {
      metadata.assign(static_cast<const char*>(element.metadata), element.metadata_size);
    }
    return std::optional<std::pair<int64_t, std::string>>(std::make_pair(element.offset, std::move(metadata)));
  }

  // librdkafka's threads: its join-state log lines (GroupJoinTracker, as the Kafka source).
  void ObserveLogLine(const char* facility, const char* message) override {
    join_.Observe(facility, message);
  }

 private:
  // A JoinGroup or SyncGroup in flight, or the cooperative rejoin librdkafka makes right after
  // an assignment that followed a revoke.
  bool Rejoining() const { return join_.Rejoining(); }

  static void OnRebalance(rd_kafka_t* consumer, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto& self = *static_cast<KafkaPartialsConsumer*>(static_cast<KafkaClientOwner*>(opaque));
    const bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    const bool cooperative = IsCooperativeRebalance(consumer);
    // A round of the group ended here; an assignment after a revoke is followed by a rejoin.
    self.join_.RoundEnded();
    if (!assign) {
      self.join_.Revoked();
    } else if (cooperative && self.join_.TakeRevoked()) {
      self.join_.ExpectRejoin();
    }
    std::set<uint32_t> gained;
    if (!cooperative) self.owned_.clear();  // eager: whole assignments
    for (int index = 0; index < partitions->cnt; ++index) {
      const uint32_t partition = static_cast<uint32_t>(partitions->elems[index].partition);
      if (assign) {
        if (self.owned_.insert(partition).second) gained.insert(partition);
      } else {
        self.owned_.erase(partition);
      }
    }
    // Where each partition starts: the planner's say (a merger resuming from local state, or
    // rebuilding from the beginning), else the beginning of every owned partition.
    std::map<uint32_t, int64_t> starts;
    if (!self.closing_ && self.planner_) {
      starts = self.planner_(self.owned_, gained);
    } else if (!self.closing_) {
      for (uint32_t partition : self.owned_) starts[partition] = RD_KAFKA_OFFSET_BEGINNING;
    }
    auto start_of = [&](uint32_t partition) {
      auto found = starts.find(partition);
      return found != starts.end() ? found->second : RD_KAFKA_OFFSET_BEGINNING;
    };
    if (assign) {
      for (int index = 0; index < partitions->cnt; ++index) {
        partitions->elems[index].offset =
            start_of(static_cast<uint32_t>(partitions->elems[index].partition));
      }
    }
    if (cooperative) {
      rd_kafka_error_t* error = assign ? rd_kafka_incremental_assign(consumer, partitions)
                                       : rd_kafka_incremental_unassign(consumer, partitions);
      if (error != nullptr) rd_kafka_error_destroy(error);
      if (!self.closing_ && partitions->cnt > 0) self.RestartKept(consumer, gained, starts);
    } else {
      rd_kafka_assign(consumer, assign ? partitions : nullptr);
    }
    // A record read before the change goes unless its partition reads on where it was.
    if (self.stash_ != nullptr) {
      const uint32_t partition = static_cast<uint32_t>(self.stash_->partition);
      if (!self.owned_.contains(partition) || starts.contains(partition) || !cooperative) {
        rd_kafka_message_destroy(self.stash_);
        self.stash_ = nullptr;
      }
    }
    if (!self.closing_) self.changed_ = true;
  }

  // Kept partitions the plan restarts (a merger rebuilding its state) are given up and taken
  // again at their start (librdkafka drops what it had fetched of them before).
  void RestartKept(rd_kafka_t* consumer, const std::set<uint32_t>& gained,
                   const std::map<uint32_t, int64_t>& starts) {
    PartitionList kept(rd_kafka_topic_partition_list_new(static_cast<int>(owned_.size()) + 1));
    for (uint32_t partition : owned_) {
      auto start = starts.find(partition);
      if (gained.contains(partition) || start == starts.end()) continue;
      rd_kafka_topic_partition_list_add(kept.list, topic_.c_str(), static_cast<int32_t>(partition))
          ->offset = start->second;
    }
    if (kept.list->cnt == 0) return;
    if (rd_kafka_error_t* error = rd_kafka_incremental_unassign(consumer, kept.list)) {
      rd_kafka_error_destroy(error);
    }
    if (rd_kafka_error_t* error = rd_kafka_incremental_assign(consumer, kept.list)) {
      rd_kafka_error_destroy(error);
    }
  }

  const std::string topic_;
  rd_kafka_t* consumer_ = nullptr;
  rd_kafka_topic_t* topic_handle_ = nullptr;  // held from Open (the partitions' leaders)
  std::set<uint32_t> owned_;
  std::set<uint32_t> taken_;  // owned_ at the last change handed to the caller
  bool seen_ = false;         // a first assignment (maybe empty) was handed to the caller
  rd_kafka_message_t* stash_ = nullptr;  // read after a change, before the caller took it
  bool changed_ = false;
  bool closing_ = false;
  Planner planner_;
  GroupJoinTracker join_;  // Rejoining(): fed by librdkafka's threads and the rebalance callback
};

class KafkaSnapshotTopicReader final : public SnapshotTopicReader, public KafkaClientOwner {
 public:
  KafkaSnapshotTopicReader(const KafkaClientOptions& client, std::string topic)
      : KafkaClientOwner(client.redactor), topic_(std::move(topic)) {}
  ~KafkaSnapshotTopicReader() override {
    if (topic_handle_ != nullptr) rd_kafka_topic_destroy(topic_handle_);
    if (consumer_ != nullptr) rd_kafka_destroy(consumer_);
  }

  Status Open(const KafkaClientOptions& client) {
    const std::map<std::string, std::string> defaults = {
        {"client.id", "brandpulse-snapshots"},
        {"fetch.wait.max.ms", "50"},
    };
    // No group: nothing is committed, the partition is read from its beginning each time.
    const std::map<std::string, std::string> forced = {
        {"enable.auto.commit", "false"},
        {"enable.partition.eof", "false"},
        {"group.id", ""},
    };
    ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, MakeKafkaConf(client, defaults, forced));
    SetClientOwner(conf, this);
    char error[512];
    consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
    if (consumer_ == nullptr) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument(fmt::format("Kafka reader of snapshot topic {}: {}", topic_,
                                                 redactor().Redact(error)));
    }
    topic_handle_ = rd_kafka_topic_new(consumer_, topic_.c_str(), nullptr);
    return Status::Ok();
  }

  Status ReadPartition(uint32_t partition, int timeout_ms, const Visitor& record) override {
    const int32_t id = static_cast<int32_t>(partition);
    int64_t low = 0;
    int64_t high = 0;
    if (rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
            consumer_, topic_.c_str(), id, &low, &high, timeout_ms)) {
      return Status::Unavailable(fmt::format("snapshot topic {} partition {}: end offset: {}",
                                             topic_, partition, rd_kafka_err2str(err)));
    }
    if (high <= low) return Status::Ok();
    if (rd_kafka_consume_start(topic_handle_, id, RD_KAFKA_OFFSET_BEGINNING) != 0) {
      return Status::Unavailable(fmt::format("snapshot topic {} partition {}: {}", topic_,
                                             partition, rd_kafka_err2str(rd_kafka_last_error())));
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    Status status = Status::Ok();
    int64_t next = low;
    while (next < high) {
      if (std::chrono::steady_clock::now() > deadline) {
        status = Status::Unavailable(fmt::format(
            "snapshot topic {} partition {}: read to offset {} of {} in {} ms", topic_, partition,
            next, high, timeout_ms));
        break;
      }
      rd_kafka_message_t* message = rd_kafka_consume(topic_handle_, id, 100);
      if (message == nullptr) continue;
      if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        next = message->offset + 1;
        const std::string_view key(static_cast<const char*>(message->key), message->key_len);
        std::optional<std::string_view> value;
        if (message->payload != nullptr) {
          value = std::string_view(static_cast<const char*>(message->payload), message->len);
        }
        record(key, value);
      } else if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        status = Status::Unavailable(fmt::format("snapshot topic {} partition {}: {}", topic_,
                                                 partition, rd_kafka_message_errstr(message)));
      }
      rd_kafka_message_destroy(message);
      if (!status.ok()) break;
    }
    rd_kafka_consume_stop(topic_handle_, id);
    return status;
  }

 private:
  const std::string topic_;
  rd_kafka_t* consumer_ = nullptr;
  rd_kafka_topic_t* topic_handle_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<PartialsProducer>> PartialsProducer::Make(const KafkaClientOptions& client,
                                                                 const std::string& topic,
                                                                 int delivery_timeout_ms) {
  auto producer = std::make_unique<KafkaPartialsProducer>(client, topic);
  RETURN_IF_ERROR(producer->Open(client, delivery_timeout_ms));
  return std::unique_ptr<PartialsProducer>(std::move(producer));
}

Result<std::unique_ptr<SnapshotTopicReader>> SnapshotTopicReader::Make(
    const KafkaClientOptions& client, const std::string& topic) {
  auto reader = std::make_unique<KafkaSnapshotTopicReader>(client, topic);
  RETURN_IF_ERROR(reader->Open(client));
  return std::unique_ptr<SnapshotTopicReader>(std::move(reader));
}

Result<std::unique_ptr<PartialsConsumer>> PartialsConsumer::Make(const KafkaClientOptions& client,
                                                                 const std::string& topic,
                                                                 const std::string& group) {
  auto consumer = std::make_unique<KafkaPartialsConsumer>(client, topic);
  RETURN_IF_ERROR(consumer->Open(client, group));
  return std::unique_ptr<PartialsConsumer>(std::move(consumer));
}

}  // namespace brandpulse
