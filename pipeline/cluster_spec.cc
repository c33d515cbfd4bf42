#include "pipeline/cluster_spec.h"

#include <fmt/format.h>

#include "pipeline/pipeline_config.h"

namespace brandpulse {

void ReadClusterSection(YamlMap& pipeline, PipelineSpec& spec) {
  if (!pipeline.Has("cluster")) return;
  Diagnostics& diagnostics = pipeline.diagnostics();
  YamlMap section(pipeline.Child("cluster"), spec.file, "cluster", diagnostics);
  if (!section.valid()) return;
  auto cluster = std::make_shared<ClusterSpec>();
  bool ok = true;
  if (auto topic = section.String("partials_topic", true)) {
    cluster->partials_topic = *topic;
  } else {
    ok = false;
  }
  if (auto group = section.String("merge_group")) cluster->merge_group = *group;
  if (auto timeout = section.DurationMs("delivery_timeout")) {
    cluster->delivery_timeout_ms = *timeout;
  }
  if (auto every = section.Integer("snapshot_every_epochs", 0, 1000000000)) {
    cluster->snapshot_every_epochs = static_cast<uint64_t>(*every);
    cluster->snapshot_every_set = true;
  }
  if (auto topic = section.String("snapshot_topic")) {
    cluster->snapshot_topic = *topic;
    cluster->snapshot_topic_set = true;
  }
  if (cluster->snapshot_topic.empty()) cluster->snapshot_topic = cluster->partials_topic + ".snapshots";
  std::optional<KafkaClientOptions> client = ReadKafkaClientOptions(section);
  section.CheckNoUnknownKeys();
  if (!client) return;
  cluster->client = *std::move(client);
  if (spec.source && spec.source->type() != "kafka") {
    diagnostics.Add(section.Location(),
                    fmt::format("cluster: needs a Kafka source (this one is '{}')",
                                spec.source->type()),
                    "global windows merge the partials of instances sharing a consumer group");
    ok = false;
  }
  // `dedup` decides at the brand's merger (issue 11; operators/dedup.h, "Across instances").
  if (ok) spec.cluster = std::move(cluster);
}

}  // namespace brandpulse
