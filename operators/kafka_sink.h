// `sinks: - {type: kafka, stream: ..., topic: ...}`: a stream (alerts, dead letters, late posts)
// written to a Kafka topic by an idempotent producer (acks=all, no reordering on retries).
//
// Outbox delivery (alerts): an entry counts as delivered only when Kafka acknowledged it (its
// delivery report); Deliver() reports the acknowledged prefix, so an entry whose produce failed
// stays in the outbox and is retried (at least once; alert ids are stable, so consumers can
// de-duplicate). Side outputs: Flush() returns only when every appended record is acknowledged,
// before the commit that moves past them.
//
// Keys (`key:`): `auto` (default) keys alerts by brand id (their `brand` field), late posts by
// post id, dead letters by source/partition/position; `id` keys alerts by alert id; `none`
// leaves records unkeyed. One key per brand keeps a brand's alerts in order on one partition.
//
// Thread safety: one sink instance serves one path (engine/sink.h), from one thread.
#pragma once

#include <memory>
#include <string>

#include "engine/sink.h"
#include "operators/kafka_client.h"
#include "operators/registry.h"

namespace brandpulse {

struct KafkaSinkOptions {
  enum class Key { kAuto, kId, kNone };
  KafkaClientOptions client;
  std::string topic;
  Key key = Key::kAuto;
  int64_t delivery_timeout_ms = 30000;  // message.timeout.ms: a report comes by then
};

Result<std::unique_ptr<Sink>> MakeKafkaSink(const KafkaSinkOptions& options, std::string name);

// `{type: kafka, brokers, topic, key: auto|id|none, delivery_timeout, properties: {...}}`.
Result<std::unique_ptr<SinkSpec>> ReadKafkaSink(YamlMap& section, const ConfigContext& context);

// The value of the top-level string field `field` of a flat JSON object written by brandpulse
// (no unescaping), or empty. Exposed for tests.
std::string_view JsonStringField(std::string_view json, std::string_view field);

}  // namespace brandpulse
