// What the Kafka source and sink share: their common YAML keys (`brokers`, `properties`), the
// librdkafka configuration built from them, and redaction of secrets from everything librdkafka
// says (errors, logs). Any librdkafka property passes through `properties:`; values may use
// ${ENV_VAR} (yaml_reader substitutes them), which is how secrets come in: never from files.
//
// Thread safety: KafkaClientOptions is immutable once read; Redactor is immutable and shared.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "engine/status.h"
#include "engine/yaml_reader.h"

namespace brandpulse {

// Replaces every secret value in a text with "***". Secrets: values that came from the
// environment, and values of properties whose name says they are one (password, secret, key,
// token, jaas, credentials), even when written in the file.
class Redactor {
 public:
  void AddSecret(std::string value);
  std::string Redact(std::string_view text) const;

 private:
  std::vector<std::string> secrets_;  // longest first, so a secret inside another is covered
};

struct KafkaClientOptions {
  std::string brokers;                            // bootstrap.servers
  std::map<std::string, std::string> properties;  // passed to librdkafka as written
  std::shared_ptr<const Redactor> redactor;
};

// Reads `brokers` (required unless properties set bootstrap.servers) and `properties:` (a map
// of librdkafka property → scalar). Adds diagnostics; nullopt when wrong.
std::optional<KafkaClientOptions> ReadKafkaClientOptions(YamlMap& section);

// A librdkafka configuration with `defaults` first, then the user's properties (which win),
// then `forced` (what the engine's guarantees depend on; a user value that differs is an
// error). Errors name the property, never its value.
Result<rd_kafka_conf_t*> MakeKafkaConf(const KafkaClientOptions& options,
                                       const std::map<std::string, std::string>& defaults,
                                       const std::map<std::string, std::string>& forced);

// The opaque of every client brandpulse makes: its callbacks find their owner (a source or a
// sink derives from this) and the redactor through it.
class KafkaClientOwner {
 public:
  explicit KafkaClientOwner(std::shared_ptr<const Redactor> redactor)
      : redactor_(std::move(redactor)) {}
  virtual ~KafkaClientOwner() = default;
  const Redactor& redactor() const { return *redactor_; }
  bool debug_logging() const { return debug_logging_; }
  void set_debug_logging(bool on) { debug_logging_ = on; }
  // Every log line of the client, debug lines included, before the print filter. Runs on
  // librdkafka's threads: an override must be cheap and thread-safe.
  virtual void ObserveLogLine(const char* facility, const char* message) {
    (void)facility;
    (void)message;
  }

 private:
  bool debug_logging_ = false;
  std::shared_ptr<const Redactor> redactor_;
};

// Makes `owner` the conf's opaque and routes librdkafka's log lines (warnings and worse; all
// of them when the `debug` property is set) to stderr through its redactor. `owner` must outlive the client. Before rd_kafka_new().
void SetClientOwner(rd_kafka_conf_t* conf, KafkaClientOwner* owner);

// Owns a librdkafka partition list.
struct PartitionList {
  rd_kafka_topic_partition_list_t* list = nullptr;
  PartitionList() = default;
  explicit PartitionList(rd_kafka_topic_partition_list_t* owned) : list(owned) {}
  PartitionList(PartitionList&& other) noexcept : list(other.list) { other.list = nullptr; }
  PartitionList& operator=(PartitionList&& other) noexcept {
    std::swap(list, other.list);
    return *this;
  }
  ~PartitionList() {
    if (list != nullptr) rd_kafka_topic_partition_list_destroy(list);
  }
  explicit operator bool() const { return list != nullptr; }
};

// A consumer made from `conf` (taken over, also on failure) that routes its events to
// rd_kafka_consumer_poll and is subscribed to `topic`. `what` names it in errors ("Kafka
// consumer for kafka:posts"); librdkafka's text goes through `redactor`.
Result<rd_kafka_t*> NewSubscribedConsumer(rd_kafka_conf_t* conf, const std::string& topic,
                                          std::string_view what, const Redactor& redactor);

// Whether a group consumer may commit under its current generation (issue 11; the Kafka
// source's epoch commits and the merge consumer's snapshot pointer): not while a JoinGroup or
// SyncGroup is in flight (librdkafka's CGRPJOINSTATE log lines, fed to Observe), nor right after
// an assignment that followed a revoke, when librdkafka's cooperative protocol rejoins at once
// (ExpectRejoin: bounded by 3 s, in case that join-state line never comes). A commit with the
// old generation is refused, and librdkafka 2.0.2 drops the member's generation for it (#4059).
// The rebalance callback says where a round ends (RoundEnded, Revoked, TakeRevoked).
//
// Thread safety: every member may be called from any thread (librdkafka's and the caller's).
class GroupJoinTracker {
 public:
  // librdkafka's log line "Group "<id>" changed join state <from> -> <to> (state <s>)".
  void Observe(const char* facility, const char* message);
  bool Rejoining() const;
  bool SeenJoinStates() const { return seen_.load(std::memory_order_acquire); }
  // A rebalance callback ran: a round of the group ended (its generation is ours).
  void RoundEnded() { rejoin_until_ms_.store(0, std::memory_order_release); }
  void Revoked() { revoked_this_round_.store(true, std::memory_order_release); }
  // Whether a revoke came in this round (and forgets it).
  bool TakeRevoked() { return revoked_this_round_.exchange(false); }
  void ExpectRejoin();

 private:
  std::atomic<bool> join_unsafe_{false};
  std::atomic<bool> seen_{false};
  std::atomic<bool> revoked_this_round_{false};
  std::atomic<int64_t> rejoin_until_ms_{0};  // steady clock ms; 0: none
};

// Whether the group's rebalance protocol is COOPERATIVE (incremental assign / unassign).
// rd_kafka_rebalance_protocol answers NULL when the consumer has no group handler to ask (no
// group, or its queue already shut during a close): not cooperative then, so the eager calls are
// used.
bool IsCooperativeRebalance(rd_kafka_t* consumer);

}  // namespace brandpulse
