// The pipeline's `cluster:` section (issue 11, docs/cluster.md "Global windows"): with it, every
// instance publishes its window deltas as partials and the owners of the partials partitions
// merge them; without it (the default) an instance's windows are its own, as before.
//
//   cluster:
//     partials_topic: partials          # required; created beforehand
//     brokers: kafka-1:9092             # required (or bootstrap.servers in properties)
//     merge_group: my-group.merge       # default: <source group>.merge
//     delivery_timeout: 30s             # one partials record's delivery, at most
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
};

// Reads `cluster:` into spec.cluster when present, checking that the source is a Kafka source
// and that no transform keeps per-instance state that an abandoned epoch would corrupt (dedup).
void ReadClusterSection(YamlMap& pipeline, PipelineSpec& spec);

}  // namespace brandpulse
