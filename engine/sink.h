// Sink: where results leave the engine. Two paths, because they have different guarantees:
//
// - Outbox delivery (alerts, and any stream a rule produces): entries are written to the
//   state store's outbox under `<sink name>/<id>` in the same WriteBatch as the state that made
//   them. Each sink delivers its own entries from its own thread (pipeline/sink_delivery.h),
//   retries with back-off, and only an acknowledged entry leaves the outbox; so a slow receiver
//   never blocks ingestion, and a crash re-delivers (at least once; ids are stable).
// - Side outputs (dead letters, late posts): appended in source order by the coordinator and
//   made durable by Flush() before the commit that moves the source positions past them, so a
//   crash can repeat them but never lose them. The sink formats them (a file writes JSON lines,
//   a topic would write a key and a value).
//
// Thread safety: Append() and Flush() are called by the coordinator; Deliver() by the sink's
// delivery thread only. A sink whose two paths share a resource synchronises it itself; the
// runner never uses one sink for both paths at once.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace brandpulse {

// A record that left the normal path, as the coordinator hands it to a side-output sink. Views
// live for the duration of the Append() call.
struct SideRecord {
  enum class Kind : uint8_t { kDeadLetter, kLatePost };
  Kind kind = Kind::kDeadLetter;
  std::string_view reason;     // "late", or why decoding failed
  std::string_view source_id;  // the source's id ("file:/data/posts.jsonl")
  uint32_t partition = 0;
  uint64_t position = 0;       // source position after the record
  std::string_view record;     // the original bytes
  // Late posts only.
  std::string_view post_id;
  int64_t event_time_ms = 0;
  int64_t watermark_ms = 0;
};

// One outbox entry to deliver. `attempts` counts earlier failed deliveries of it.
struct OutboxEntry {
  std::string id;
  std::string payload;
  uint32_t attempts = 0;
};

struct DeliveryOutcome {
  // Entries at the front of the span that the receiver acknowledged (durable there).
  size_t delivered = 0;
  // Why the next entry was not delivered; Ok when all were.
  Status error;
  // The receiver refused the next entry for good (e.g. an HTTP 4xx): it is given up after the
  // sink's attempts and reported, not retried forever. False = try again after a back-off.
  bool permanent = false;
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Unique within the pipeline; the outbox key prefix. Never contains '/' or 0x00.
  virtual const std::string& name() const = 0;
  // For run summaries: "out/alerts.jsonl", "stdout".
  virtual std::string description() const = 0;

  // Side outputs. Buffered; not durable before Flush().
  virtual Status Append(const SideRecord& record) = 0;
  virtual Status Flush() = 0;

  // Outbox delivery of `entries`, in order. Must not block past the sink's own timeouts.
  virtual DeliveryOutcome Deliver(std::span<const OutboxEntry> entries) = 0;
};

}  // namespace brandpulse
