#include "operators/kafka_client.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

namespace brandpulse {
namespace {

bool NameSaysSecret(std::string_view name) {
  for (std::string_view word : {"password", "secret", "key", "token", "jaas", "credential"}) {
    if (name.find(word) != std::string_view::npos) return true;
  }
  return false;
}

void LogLine(const rd_kafka_t* client, int level, const char* facility, const char* message) {
  auto* owner = static_cast<KafkaClientOwner*>(rd_kafka_opaque(client));
  if (owner != nullptr) owner->ObserveLogLine(facility, message);
  // syslog levels: 4 = warning. The `debug` property asks for librdkafka's debug lines too.
  if (level > 4 && (owner == nullptr || !owner->debug_logging())) return;
  std::string text = owner != nullptr ? owner->redactor().Redact(message) : std::string(message);
  // Wall-clock milliseconds: debug lines are read beside the engine's time-stamped notices.
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const int millis = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::fprintf(stderr, "kafka %02d:%02d:%02d.%03d %s: %s: %s\n", utc.tm_hour, utc.tm_min, utc.tm_sec,
               millis, rd_kafka_name(client), facility, text.c_str());
}

}  // namespace

void Redactor::AddSecret(std::string value) {
  if (value.empty()) return;
  secrets_.push_back(std::move(value));
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string Redactor::Redact(std::string_view text) const {
  std::string out(text);
  for (const std::string& secret : secrets_) {
    for (size_t at = out.find(secret); at != std::string::npos; at = out.find(secret, at + 3)) {
      out.replace(at, secret.size(), "***");
    }
  }
  return out;
}

std::optional<KafkaClientOptions> ReadKafkaClientOptions(YamlMap& section) {
  Diagnostics& diagnostics = section.diagnostics();
  KafkaClientOptions options;
  auto redactor = std::make_shared<Redactor>();
  bool ok = true;
  if (auto brokers = section.String("brokers")) options.brokers = *brokers;
  YAML::Node properties = section.Child("properties");
  if (properties.IsDefined() && !properties.IsNull()) {
    if (!properties.IsMap()) {
      diagnostics.Add(section.LocationOf("properties"),
                      "properties must be a mapping of librdkafka property to value",
                      "e.g. properties: {security.protocol: SASL_SSL}");
      ok = false;
    } else {
      for (const auto& entry : properties) {
        std::string name = entry.first.as<std::string>();
        SourceLocation location = LocationOf(entry.second, section.file());
        if (!entry.second.IsScalar()) {
          diagnostics.Add(location, fmt::format("property '{}' must be a single value", name));
          ok = false;
          continue;
        }
        const std::string raw = entry.second.Scalar();
        std::string value = SubstituteEnvironment(raw, location, diagnostics);
        if (raw.find("${") != std::string::npos || NameSaysSecret(name)) redactor->AddSecret(value);
        options.properties[name] = std::move(value);
      }
    }
  }
  if (options.brokers.empty() && !options.properties.contains("bootstrap.servers")) {
    diagnostics.Add(section.LocationOf("brokers"), "a Kafka section needs brokers",
                    "brokers: host:9092 (or `brandpulse dev-kafka` prints one)");
    ok = false;
  }
  options.redactor = std::move(redactor);
  if (!ok) return std::nullopt;
  return options;
}

Result<rd_kafka_conf_t*> MakeKafkaConf(const KafkaClientOptions& options,
                                       const std::map<std::string, std::string>& defaults,
                                       const std::map<std::string, std::string>& forced) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  auto set = [&](const std::string& name, const std::string& value) -> Status {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      return Status::InvalidArgument(
          fmt::format("Kafka property '{}': {}", name, options.redactor->Redact(error)));
    }
    return Status::Ok();
  };
  Status status = Status::Ok();
  for (const auto& [name, value] : defaults) {
    if (status.ok()) status = set(name, value);
  }
  if (status.ok() && !options.brokers.empty()) status = set("bootstrap.servers", options.brokers);
  for (const auto& [name, value] : options.properties) {
    if (!status.ok()) break;
    auto required = forced.find(name);
    if (required != forced.end() && required->second != value) {
      status = Status::InvalidArgument(fmt::format(
          "Kafka property '{}' must be '{}' here (brandpulse depends on it)", name,
          required->second));
      break;
    }
    status = set(name, value);
  }
  for (const auto& [name, value] : forced) {
    if (status.ok()) status = set(name, value);
  }
  if (!status.ok()) {
    rd_kafka_conf_destroy(conf);
    return status;
  }
  return conf;
}

void SetClientOwner(rd_kafka_conf_t* conf, KafkaClientOwner* owner) {
  rd_kafka_conf_set_opaque(conf, owner);
  char value[16];
  size_t size = sizeof(value);
  owner->set_debug_logging(rd_kafka_conf_get(conf, "debug", value, &size) == RD_KAFKA_CONF_OK &&
                           size > 1);
  rd_kafka_conf_set_log_cb(conf, LogLine);
}

Result<rd_kafka_t*> NewSubscribedConsumer(rd_kafka_conf_t* conf, const std::string& topic,
                                          std::string_view what, const Redactor& redactor) {
  char error[512];
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
  if (consumer == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(fmt::format("{}: {}", what, redactor.Redact(error)));
  }
  rd_kafka_poll_set_consumer(consumer);
  PartitionList subscription(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(subscription.list, topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer, subscription.list)) {
    Status status = Status::Unavailable(
        fmt::format("subscribe {} to {}: {}", what, topic, rd_kafka_err2str(err)));
    rd_kafka_destroy(consumer);
    return status;
  }
  return consumer;
}

bool IsCooperativeRebalance(rd_kafka_t* consumer) {
  const char* protocol = rd_kafka_rebalance_protocol(consumer);
  return protocol != nullptr && std::string_view(protocol) == "COOPERATIVE";
}

namespace {
int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

void GroupJoinTracker::Observe(const char* facility, const char* message) {
  if (std::strcmp(facility, "CGRPJOINSTATE") != 0) return;
  const char* arrow = std::strstr(message, " -> ");
  if (arrow == nullptr) return;
  std::string_view to(arrow + 4);
  to = to.substr(0, to.find(' '));
  // A JoinGroup or SyncGroup in flight (init: a rejoin about to send one). The states around
  // the application's rebalance callbacks and steady hold the current generation.
  const bool unsafe = to == "init" || to == "wait-join" || to == "wait-metadata" || to == "wait-sync";
  if (unsafe) {  // the rejoin began (or a new round did): the state says it from here
    rejoin_until_ms_.store(0, std::memory_order_release);
    revoked_this_round_.store(false, std::memory_order_release);
  }
  join_unsafe_.store(unsafe, std::memory_order_release);
  seen_.store(true, std::memory_order_release);
}

bool GroupJoinTracker::Rejoining() const {
  return join_unsafe_.load(std::memory_order_acquire) ||
         SteadyNowMs() < rejoin_until_ms_.load(std::memory_order_acquire);
}

void GroupJoinTracker::ExpectRejoin() {
  rejoin_until_ms_.store(SteadyNowMs() + 3000, std::memory_order_release);
}

}  // namespace brandpulse
