// SinkDelivery: one sink's outbox, delivered on the sink's own thread. The coordinator writes
// outbox entries in the epoch's commit and then Enqueue()s them here; this thread hands them to
// the sink in order, deletes each acknowledged entry from the outbox (`<sink>/<id>`, so two sinks
// acknowledge apart), and retries failures with exponential back-off and jitter. A receiver that
// is down or slow therefore never blocks ingestion; the coordinator only waits (backpressure,
// reported) when the sink's outbox holds `limit` entries, and nothing is ever dropped: what is
// not acknowledged stays in the outbox and is delivered again after a restart (LoadLeftovers).
//
// Thread safety: every public method may be called from the coordinator while the delivery
// thread runs; the sink's Deliver() is only called from the delivery thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/clock.h"
#include "engine/sink.h"
#include "engine/state_store.h"

namespace brandpulse {

struct DeliveryOptions {
  uint64_t limit = 100000;           // outbox entries past which the pipeline waits
  int64_t initial_backoff_ms = 100;  // doubled per failed attempt, with jitter, up to the max
  int64_t max_backoff_ms = 30000;
  // A sink that refuses an entry for good (DeliveryOutcome::permanent) sees it this many times
  // before it is given up (removed and reported); transient failures are retried forever.
  uint32_t permanent_attempts = 3;
  size_t max_entries_per_call = 512;
};

struct DeliveryStats {
  uint64_t delivered = 0;  // taken by the sink (then removed from the outbox)
  uint64_t failures = 0;   // failed Deliver() calls and outbox deletes (each is retried)
  uint64_t given_up = 0;   // refused for good after permanent_attempts
  uint64_t depth = 0;      // entries waiting (in the outbox, not acknowledged)
  std::string last_error;  // of the last failure; empty when none yet
};

class SinkDelivery {
 public:
  // Called on the delivery thread for an entry given up (to log it, or to dead-letter it).
  using GivenUpCallback = std::function<void(const OutboxEntry& entry, const Status& why)>;

  // `sink` and `store` must outlive the delivery.
  SinkDelivery(Sink& sink, StateStore& store, Clock& clock, DeliveryOptions options,
               GivenUpCallback on_given_up = nullptr);
  ~SinkDelivery();  // Stop()

  // Queues what the outbox holds for this sink from before a restart. REQUIRES: before Start().
  Status LoadLeftovers();
  void Start();
  // Entries the last commit wrote to the outbox, in order.
  void Enqueue(std::vector<OutboxEntry> entries);
  uint64_t depth() const;
  bool full() const { return depth() >= options_.limit; }
  // Blocks until the outbox is below its limit, or *stop. True when there is room.
  bool WaitForRoom(const std::atomic<bool>* stop);
  // Blocks until every entry is acknowledged or given up, *stop, or `timeout_ms` of wall time
  // (< 0: no timeout). True when empty.
  bool WaitUntilEmpty(const std::atomic<bool>* stop, int64_t timeout_ms = -1);
  // Ends the delivery thread after its current attempt; undelivered entries stay in the outbox.
  void Stop();
  DeliveryStats stats() const;

 private:
  void Loop();
  // Sleeps for the back-off of `attempts` failures, waking early on Stop().
  void BackOff(uint32_t attempts);
  Status Acknowledge(size_t count);
  bool AcknowledgeFront(size_t count, uint32_t& failed_acknowledgements);

  Sink& sink_;
  StateStore& store_;
  Clock& clock_;
  const DeliveryOptions options_;
  GivenUpCallback on_given_up_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<OutboxEntry> queue_;  // GUARDED_BY(mutex_); the front is being delivered
  bool stopping_ = false;          // GUARDED_BY(mutex_)
  DeliveryStats stats_;            // GUARDED_BY(mutex_); its depth is queue_.size()
  uint64_t backoffs_ = 0;  // delivery thread only; seeds the jitter
};

}  // namespace brandpulse
