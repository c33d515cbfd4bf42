// The pipeline's `cluster:` section (issue 11, docs/cluster.md "Global windows"): with it, every
// instance publishes its window deltas as partials and the owners of the partials partitions
// merge them; without it (the default) an instance's windows are its own, as before.
//
//   cluster:
//     partials_topic: partials          # required; created beforehand
//     brokers: kafka-1:9092             # required (or bootstrap.servers in properties)
//     merge_group: my-group.merge       # default: <source group>.merge
//     delivery_timeout: 30s             # one partials record's delivery, at most
//     snapshot_every_epochs: 20         # a merger's snapshot per partials partition every N
//                                       # applied epochs (0: none); pipeline/cluster_snapshot.h
//     snapshot_topic: partials.snapshots   # default: <partials_topic>.snapshots (compacted,
//                                       # as many partitions as the partials topic; created at
//                                       # start when missing)
//     properties: {...}                 # librdkafka properties of the producer and merge consumer
#pragma once

#include <memory>
#include <string>

#include "engine/diagnostics.h"
#include "engine/yaml_reader.h"
#include "operators/kafka_client.h"

namespace brandpulse {

struct PipelineSpec;

struct ClusterSpec {
  std::string partials_topic;
  std::string merge_group;  // empty: <source group>.merge
  KafkaClientOptions client;
  int64_t delivery_timeout_ms = 30000;
  // Issue 11, bounded restores: every N applied epochs of a partials partition its merger
  // publishes a snapshot there, and a member gaining the partition without local state starts
  // from the one the merge group's pointer names instead of offset 0. 20 by default (since stop
  // 26; docs/cluster.md "Snapshots" says why). 0: no snapshots are written; ones on the topic
  // are still used when snapshot_topic is set explicitly.
  static constexpr uint64_t kDefaultSnapshotEveryEpochs = 20;
  uint64_t snapshot_every_epochs = kDefaultSnapshotEveryEpochs;
  // Written in the section: a snapshot topic that is missing and cannot be created stops the run
  // (with the default, the run goes on without snapshots and says so).
  bool snapshot_every_set = false;
  std::string snapshot_topic;  // empty: <partials_topic>.snapshots
  bool snapshot_topic_set = false;  // written in the section (then read at restores)
};

// Reads `cluster:` into spec.cluster when present, checking that the source is a Kafka source
// and that no transform keeps per-instance state that an abandoned epoch would corrupt (dedup).
void ReadClusterSection(YamlMap& pipeline, PipelineSpec& spec);

}  // namespace brandpulse
