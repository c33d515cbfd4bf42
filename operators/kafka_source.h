// `source: {type: kafka}`: one topic read by a consumer group (librdkafka's high-level consumer,
// cooperative-sticky assignment). Each Kafka partition is a source partition; a record's
// position is its offset + 1, Kafka's own "next offset" convention, so the engine's committed
// positions are the offsets to commit.
//
// Offsets live in the state store with the windows (the runner commits them in the same
// WriteBatch); on assignment the runner seeks each gained partition to its stored position, and
// a partition without one starts at the group's committed offset, else at `start_at`.
// `auto.offset.reset` then only acts when a position is no longer in the topic (set it to
// `error` to stop instead of skipping).
// After every state commit the same positions are committed to the group (OnCommitted), so
// consumer-group tools show real lag; auto-commit is off and cannot be turned on.
//
// Rebalances map onto the source role's assignment protocol (engine/source.h): librdkafka's
// rebalance callback only records the change; Fill() returns kAssignmentChanged; revoked
// partitions stay assigned until the runner has committed their last batches
// (CompleteAssignmentChange → incremental_unassign); gained partitions are incrementally
// assigned at the positions the runner gave to Seek().
//
// Prefetch: the source sets queued.max.messages.kbytes to 256 MiB and queued.min.messages to
// 10,000,000 (properties override them): librdkafka 2.0.2 stops fetching at either limit and
// looks again only up to 1 s later, so the queue must hold more than a second of reading. It holds
// librdkafka's topic handle from Open, so that a new group's fetch start does not race the broker
// threads for the partitions' leaders. At close it logs one line of where the run's time went.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "engine/source.h"
#include "operators/kafka_client.h"
#include "operators/registry.h"

namespace brandpulse {

struct KafkaSourceOptions {
  KafkaClientOptions client;
  std::string topic;
  std::string group;
  // Ends the run when every assigned partition has reached its end (a bounded replay, like
  // `kcat -e`), instead of following the topic forever.
  bool stop_at_end = false;
  // Where a partition starts that neither the state nor the group has a position for (a new
  // group): its first record (default) or its end.
  bool start_at_end = false;
};

Result<std::unique_ptr<Source>> MakeKafkaSource(const KafkaSourceOptions& options);

// What the cluster's epoch protocol (pipeline/cluster_runtime.h, docs/cluster.md "Global
// windows") needs of a Kafka source beyond the source role; the runner finds it with
// dynamic_cast. Coordinator thread only, like the source.
class KafkaGroupSource {
 public:
  virtual ~KafkaGroupSource() = default;
  // From now on offsets reach the group only through CommitEpoch (no commit after each state
  // commit, at a revoke or at close): the group's offsets are the cluster's commit points.
  virtual void DisableOwnCommits() = 0;
  // Commits `positions` to the group synchronously with `metadata` on every partition. A member
  // that was fenced (its session timed out, the group moved on) is refused by the coordinator
  // (an error). While the consumer is rejoining the group (Rejoining()) nothing is sent and the
  // commit is kDeferred: the caller keeps the epoch open and commits it later. A commit the
  // coordinator refuses because the group is rebalancing (REBALANCE_IN_PROGRESS: nothing stored,
  // the member's generation still valid) is kDeferred too, except while a revoke waits for it.
  enum class EpochCommit { kCommitted, kDeferred };
  virtual Result<EpochCommit> CommitEpoch(const PositionMap& positions,
                                          const std::string& metadata) = 0;
  // The consumer is between "rejoin the group" and the new generation's assignment: a JoinGroup
  // or SyncGroup of it is in flight (or about to be, after a cooperative revoke). An offset
  // commit sent now carries the old generation; the coordinator refuses it with
  // ILLEGAL_GENERATION once the join completes (librdkafka's mock even holds it behind the
  // JoinGroup until then), and librdkafka 2.0.2 answers that refusal by dropping its generation,
  // so the member loses its whole assignment at its next heartbeat and the group rebalances
  // again (librdkafka issue #4059, fixed in 2.10): the rebalance storm of stop 22. Tracked from
  // librdkafka's own join-state transitions (its `cgrp` debug lines, always on for the source
  // consumer and printed only when `debug` is set); false when they are not seen.
  virtual bool Rejoining() const = 0;
  // The group's committed offset (-1: none) and its metadata, per partition.
  virtual Result<std::map<uint32_t, std::pair<int64_t, std::string>>> Committed(
      const std::vector<uint32_t>& partitions) = 0;
  // Partitions of the topic (from the cluster's metadata).
  virtual Result<uint32_t> PartitionCount() = 0;
  // The partition's last record was read and nothing of it is held back.
  virtual bool AtEnd(uint32_t partition) const = 0;
  virtual const std::string& group() const = 0;
};

// `source: {type: kafka, brokers, topic, group, start_at, stop_at_end, properties: {...}}`.
Result<std::unique_ptr<SourceSpec>> ReadKafkaSource(YamlMap& section, const ConfigContext& context);

}  // namespace brandpulse
