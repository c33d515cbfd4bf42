// The Kafka clients of a cluster's global windows (docs/cluster.md, "Global windows"): a
// producer of partials records to chosen partitions of the partials topic that waits for every
// acknowledgement, and the merge consumer, a member of the merge group on the partials topic
// that reads its partitions from where its planner says: the beginning, or the offset a merger's
// local state was committed at (a merger's position lives in its RocksDB state with the merged
// windows, see pipeline/cluster_runtime.h; the merge group's committed offsets are never a start
// position: since stop 26 they are the snapshot pointer, CommitPointer).
//
// Thread safety: one thread (the pipeline's coordinator) each.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "operators/kafka_client.h"

namespace brandpulse {

class PartialsProducer {
 public:
  virtual ~PartialsProducer() = default;
  // An idempotent producer (acks=all); `delivery_timeout_ms` bounds one record's delivery.
  static Result<std::unique_ptr<PartialsProducer>> Make(const KafkaClientOptions& client,
                                                        const std::string& topic,
                                                        int delivery_timeout_ms);
  virtual Result<uint32_t> PartitionCount() = 0;
  // Produces each (partition, value) with `key` and waits until Kafka acknowledged all of them;
  // Unavailable when any was not (the records that were may stay in the topic).
  virtual Status ProduceAndWait(std::string_view key,
                                const std::vector<std::pair<uint32_t, std::string>>& records) = 0;
  // Issue 11, snapshots: records with a key each; a value nullopt is a tombstone (null value).
  struct KeyedRecord {
    uint32_t partition = 0;
    std::string key;
    std::optional<std::string> value;
  };
  virtual Status ProduceKeyedAndWait(const std::vector<KeyedRecord>& records) = 0;
  // Issue 11, the snapshot topic: the partition count of `topic`, nullopt when the brokers do
  // not have it. Asks for every topic's metadata, so that no broker auto-creates `topic` for
  // the asking (librdkafka 2.0.2's mock creates any topic a metadata request names, with 4
  // partitions, whatever allow.auto.create.topics says).
  virtual Result<std::optional<uint32_t>> FindTopic(const std::string& topic) = 0;
  // Creates `topic` with `partitions` partitions, the brokers'
  // default replication factor and `config` (librdkafka's admin API, CreateTopics). True when it
  // was created, false when it existed already (nothing about it is checked or changed).
  virtual Result<bool> CreateTopic(const std::string& topic, uint32_t partitions,
                                   const std::map<std::string, std::string>& config,
                                   int timeout_ms) = 0;
};

// Issue 11: reads one partition of the snapshot topic from its beginning to the end offset it
// had when asked (no group: the legacy simple consumer), handing each record's key and value
// (nullopt: a tombstone) to `record`.
class SnapshotTopicReader {
 public:
  virtual ~SnapshotTopicReader() = default;
  static Result<std::unique_ptr<SnapshotTopicReader>> Make(const KafkaClientOptions& client,
                                                           const std::string& topic);
  using Visitor = std::function<void(std::string_view key, std::optional<std::string_view> value)>;
  // Unavailable when the partition cannot be read to that end within `timeout_ms`.
  virtual Status ReadPartition(uint32_t partition, int timeout_ms, const Visitor& record) = 0;
};

class PartialsConsumer {
 public:
  virtual ~PartialsConsumer() = default;
  static Result<std::unique_ptr<PartialsConsumer>> Make(const KafkaClientOptions& client,
                                                        const std::string& topic,
                                                        const std::string& group);
  // Reads what has arrived (waiting up to `timeout_ms` for the first record), at most
  // `max_records`, handing each record of an owned partition to `record`.
  using RecordVisitor =
      std::function<Status(uint32_t partition, int64_t offset, std::string_view value)>;
  virtual Status Poll(int timeout_ms, size_t max_records, const RecordVisitor& record) = 0;
  // True once after the group changed this member's partitions: `owned` is then the new set.
  virtual Result<bool> TakeChange(std::set<uint32_t>& owned) = 0;
  // Where partitions start after a change, decided inside the rebalance callback (on the
  // polling thread): given the owned set after the change and the partitions it added, the
  // start offset (RD_KAFKA_OFFSET_BEGINNING or an offset) of each partition to position — every
  // gained one, plus kept ones to restart; kept ones left out read on. Without a planner every
  // owned partition starts at its beginning after every change.
  using Planner = std::function<std::map<uint32_t, int64_t>(const std::set<uint32_t>& owned,
                                                            const std::set<uint32_t>& gained)>;
  virtual void SetPlanner(Planner planner) = 0;
  // Each owned partition's end offset (asks the brokers).
  virtual Result<std::map<uint32_t, int64_t>> EndOffsets(int timeout_ms) = 0;

  // Issue 11, the snapshot pointer (pipeline/cluster_snapshot.h): commits `offset` of
  // `partition` to the merge group with `metadata`, synchronously. The coordinator checks the
  // member's generation, so a member that was fenced (frozen past its session timeout) is
  // refused: Unavailable. Also Unavailable, and nothing is sent, while the consumer rejoins its
  // group: a commit then carries the old generation, the mock refuses it with ILLEGAL_GENERATION
  // and librdkafka 2.0.2 drops the member's generation for it (the whole assignment is lost;
  // see KafkaGroupSource::Rejoining). The offsets are never a start position (the planner's
  // starts are explicit), so moving them moves no reader.
  virtual Status CommitPointer(uint32_t partition, int64_t offset, const std::string& metadata) = 0;
  // The merge group's committed offset and metadata of `partition`; nullopt when none was
  // committed. May be called inside the planner (the rebalance callback).
  virtual Result<std::optional<std::pair<int64_t, std::string>>> CommittedPointer(
      uint32_t partition, int timeout_ms) = 0;
};

}  // namespace brandpulse
