#include "operators/kafka_sink.h"

#include <vector>

#include <fmt/format.h>

#include "operators/side_record_json.h"

namespace brandpulse {
namespace {

// Produce outcome of one record, written by the delivery report callback.
enum class Report : uint8_t { kPending, kAcknowledged, kFailed };

class KafkaSink final : public Sink, public KafkaClientOwner {
 public:
  KafkaSink(const KafkaSinkOptions& options, std::string name)
      : KafkaClientOwner(options.client.redactor),
        name_(std::move(name)),
        topic_(options.topic),
        key_(options.key),
        timeout_ms_(options.delivery_timeout_ms) {}

  ~KafkaSink() override {
    if (producer_ == nullptr) return;
    rd_kafka_flush(producer_, 10000);
    if (topic_handle_ != nullptr) rd_kafka_topic_destroy(topic_handle_);
    rd_kafka_destroy(producer_);
  }

  Status Open(const KafkaSinkOptions& options) {
    const std::map<std::string, std::string> defaults = {
        {"linger.ms", "5"},
        {"client.id", "brandpulse"},
    };
    const std::map<std::string, std::string> forced = {
        {"enable.idempotence", "true"},  // acks=all, retries without duplicates or reordering
        {"message.timeout.ms", std::to_string(options.delivery_timeout_ms)},
    };
    ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, MakeKafkaConf(options.client, defaults, forced));
    SetClientOwner(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, &KafkaSink::OnDelivery);
    rd_kafka_conf_set_error_cb(conf, &KafkaSink::OnError);
    char error[512];
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    if (producer_ == nullptr) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument(
          fmt::format("Kafka producer for sink '{}': {}", name_, redactor().Redact(error)));
    }
    topic_handle_ = rd_kafka_topic_new(producer_, topic_.c_str(), nullptr);
    return Status::Ok();
  }

  const std::string& name() const override { return name_; }
  std::string description() const override { return "kafka:" + topic_; }

  Status Append(const SideRecord& record) override {
    line_.clear();
    AppendSideRecordJson(record, line_);
    std::string_view key;
    if (key_ != KafkaSinkOptions::Key::kNone) {
      if (record.kind == SideRecord::Kind::kLatePost && !record.post_id.empty()) {
        key = record.post_id;
      } else {
        key_buffer_ = fmt::format("{}/{}/{}", record.source_id, record.partition, record.position);
        key = key_buffer_;
      }
    }
    side_reports_.push_back(Report::kPending);
    // The report slot is found by its index; the vector only grows until Flush().
    return Produce(key, line_, reinterpret_cast<void*>(side_reports_.size()), true);
  }

  Status Flush() override {
    Status waited = WaitForReports(side_reports_);
    size_t failed = 0;
    for (Report report : side_reports_) failed += report != Report::kAcknowledged;
    side_reports_.clear();
    RETURN_IF_ERROR(waited);
    if (failed > 0) {
      std::string why = std::move(last_error_);
      return Status::Unavailable(fmt::format("sink '{}': {} record(s) not acknowledged by Kafka: {}",
                                             name_, failed, why));
    }
    return Status::Ok();
  }

  DeliveryOutcome Deliver(std::span<const OutboxEntry> entries) override {
    DeliveryOutcome outcome;
    outbox_reports_.assign(entries.size(), Report::kPending);
    size_t produced = 0;
    for (const OutboxEntry& entry : entries) {
      std::string_view key;
      if (key_ == KafkaSinkOptions::Key::kAuto) key = JsonStringField(entry.payload, "brand");
      if (key_ == KafkaSinkOptions::Key::kId || (key_ == KafkaSinkOptions::Key::kAuto && key.empty())) {
        key = entry.id;
      }
      outcome.error = Produce(key, entry.payload, reinterpret_cast<void*>(produced + 1), false);
      if (!outcome.error.ok()) break;
      ++produced;
    }
    outbox_reports_.resize(produced);
    Status waited = WaitForReports(outbox_reports_);
    while (outcome.delivered < produced &&
           outbox_reports_[outcome.delivered] == Report::kAcknowledged) {
      ++outcome.delivered;
    }
    if (outcome.delivered < produced) {
      outcome.error = waited.ok() ? Status::Unavailable(last_error_) : waited;
      outcome.permanent = last_error_permanent_;
    }
    return outcome;
  }

 private:
  static KafkaSink& Of(void* opaque) {
    return *static_cast<KafkaSink*>(static_cast<KafkaClientOwner*>(opaque));
  }

  // Runs inside rd_kafka_poll/flush on the sink's thread. The message opaque is its report's
  // index + 1; an instance serves one path, so the vector in use is the one not empty.
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    KafkaSink& self = Of(opaque);
    const size_t slot = reinterpret_cast<size_t>(message->_private) - 1;
    std::vector<Report>& reports =
        self.side_reports_.empty() ? self.outbox_reports_ : self.side_reports_;
    if (slot >= reports.size()) return;  // a report from a failed earlier round
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      reports[slot] = Report::kAcknowledged;
      return;
    }
    reports[slot] = Report::kFailed;
    self.last_error_ = fmt::format("produce to {}: {}", self.topic_,
                                   self.redactor().Redact(rd_kafka_err2str(message->err)));
    self.last_error_permanent_ = message->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
                                 message->err == RD_KAFKA_RESP_ERR_INVALID_RECORD ||
                                 message->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
  }

  static void OnError(rd_kafka_t* producer, int err, const char* reason, void* opaque) {
    if (err != RD_KAFKA_RESP_ERR__FATAL) return;  // transient: librdkafka retries
    KafkaSink& self = Of(opaque);
    char text[512];
    rd_kafka_fatal_error(producer, text, sizeof(text));
    self.last_error_ = fmt::format("fatal Kafka producer error: {}",
                                   self.redactor().Redact(text[0] ? text : reason));
  }

  Status Produce(std::string_view key, std::string_view value, void* slot, bool side) {
    const int64_t deadline_polls = timeout_ms_ / 100 + 1;
    for (int64_t attempt = 0;; ++attempt) {
      int result = rd_kafka_produce(
          topic_handle_, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, const_cast<char*>(value.data()),
          value.size(), key.empty() ? nullptr : key.data(), key.size(), slot);
      if (result == 0) return Status::Ok();
      rd_kafka_resp_err_t err = rd_kafka_last_error();
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || attempt >= deadline_polls) {
        if (side) side_reports_.pop_back();
        return Status::Unavailable(
            fmt::format("produce to {}: {}", topic_, redactor().Redact(rd_kafka_err2str(err))));
      }
      rd_kafka_poll(producer_, 100);  // the local queue is full: let reports drain it
    }
  }

  // Serves delivery reports until none of `reports` is pending (librdkafka reports every
  // message by message.timeout.ms).
  Status WaitForReports(const std::vector<Report>& reports) {
    auto pending = [&] {
      for (Report report : reports) {
        if (report == Report::kPending) return true;
      }
      return false;
    };
    for (int64_t waited_ms = 0; pending(); waited_ms += 50) {
      if (waited_ms > timeout_ms_ + 5000) {
        return Status::Unavailable(fmt::format("sink '{}': no delivery report from Kafka within {} ms",
                                               name_, timeout_ms_ + 5000));
      }
      rd_kafka_poll(producer_, 50);
    }
    return Status::Ok();
  }

  const std::string name_;
  const std::string topic_;
  const KafkaSinkOptions::Key key_;
  const int64_t timeout_ms_;
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_topic_t* topic_handle_ = nullptr;
  std::vector<Report> side_reports_;    // side records since the last Flush()
  std::vector<Report> outbox_reports_;  // entries of the current Deliver()
  std::string last_error_;
  bool last_error_permanent_ = false;
  std::string line_;        // reused
  std::string key_buffer_;  // reused
};

}  // namespace

std::string_view JsonStringField(std::string_view json, std::string_view field) {
  std::string pattern = fmt::format("\"{}\":\"", field);
  size_t at = json.find(pattern);
  if (at == std::string_view::npos) return {};
  size_t begin = at + pattern.size();
  size_t end = begin;
  while (end < json.size() && json[end] != '"') end += json[end] == '\\' ? 2 : 1;
  if (end > json.size()) return {};
  return json.substr(begin, end - begin);
}

Result<std::unique_ptr<Sink>> MakeKafkaSink(const KafkaSinkOptions& options, std::string name) {
  auto sink = std::make_unique<KafkaSink>(options, std::move(name));
  RETURN_IF_ERROR(sink->Open(options));
  return std::unique_ptr<Sink>(std::move(sink));
}

Result<std::unique_ptr<SinkSpec>> ReadKafkaSink(YamlMap& section, const ConfigContext&) {
  KafkaSinkOptions options;
  std::optional<KafkaClientOptions> client = ReadKafkaClientOptions(section);
  if (auto topic = section.String("topic", true)) options.topic = *topic;
  if (auto key = section.Choice("key", {"auto", "id", "none"})) {
    options.key = *key == "id"     ? KafkaSinkOptions::Key::kId
                  : *key == "none" ? KafkaSinkOptions::Key::kNone
                                   : KafkaSinkOptions::Key::kAuto;
  }
  if (auto timeout = section.DurationMs("delivery_timeout")) options.delivery_timeout_ms = *timeout;
  RETURN_IF_ERROR(section.Finish());
  if (!client) return Status::InvalidArgument("invalid kafka sink");
  options.client = *std::move(client);
  return SinkSpecOf("kafka", [options](const SinkBuildContext& build) {
    return MakeKafkaSink(options, build.name);
  });
}

}  // namespace brandpulse
