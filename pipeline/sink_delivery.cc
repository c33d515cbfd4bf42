#include "pipeline/sink_delivery.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "engine/hash.h"

namespace brandpulse {

SinkDelivery::SinkDelivery(Sink& sink, StateStore& store, Clock& clock, DeliveryOptions options,
                           GivenUpCallback on_given_up)
    : sink_(sink),
      store_(store),
      clock_(clock),
      options_(options),
      on_given_up_(std::move(on_given_up)) {}

SinkDelivery::~SinkDelivery() { Stop(); }

Status SinkDelivery::LoadLeftovers() {
  std::vector<OutboxEntry> entries;
  RETURN_IF_ERROR(store_.ScanOutbox(sink_.name(), [&](std::string_view id, std::string_view payload) {
    entries.push_back(OutboxEntry{std::string(id), std::string(payload), 0});
  }));
  Enqueue(std::move(entries));
  return Status::Ok();
}

void SinkDelivery::Start() { thread_ = std::thread([this] { Loop(); }); }

void SinkDelivery::Enqueue(std::vector<OutboxEntry> entries) {
  if (entries.empty()) return;
  {
    std::lock_guard lock(mutex_);
    for (OutboxEntry& entry : entries) queue_.push_back(std::move(entry));
  }
  changed_.notify_all();
}

void SinkDelivery::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t SinkDelivery::depth() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

DeliveryStats SinkDelivery::stats() const {
  std::lock_guard lock(mutex_);
  DeliveryStats stats = stats_;
  stats.depth = queue_.size();
  return stats;
}

bool SinkDelivery::WaitForRoom(const std::atomic<bool>* stop) {
  std::unique_lock lock(mutex_);
  while (queue_.size() >= options_.limit) {
    if (stop != nullptr && stop->load()) return false;
    changed_.wait_for(lock, std::chrono::milliseconds(50));
  }
  return true;
}

bool SinkDelivery::WaitUntilEmpty(const std::atomic<bool>* stop, int64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock lock(mutex_);
  while (!queue_.empty()) {
    if (stop != nullptr && stop->load()) return false;
    if (timeout_ms >= 0 && std::chrono::steady_clock::now() >= deadline) return false;
    changed_.wait_for(lock, std::chrono::milliseconds(50));
  }
  return true;
}

Status SinkDelivery::Acknowledge(size_t count) {
  StateStore::Commit commit = store_.NewCommit();
  {
    std::lock_guard lock(mutex_);
    for (size_t index = 0; index < count; ++index) commit.DeleteOutbox(sink_.name(), queue_[index].id);
  }
  return store_.Write(commit);
}

void SinkDelivery::BackOff(uint32_t attempts) {
  int64_t backoff = options_.initial_backoff_ms;
  for (uint32_t step = 1; step < attempts && backoff < options_.max_backoff_ms; ++step) backoff *= 2;
  backoff = std::min(backoff, options_.max_backoff_ms);
  // Full jitter on the upper half, so many engines restarting together do not retry in step.
  const uint64_t jitter = MixBits(++backoffs_);
  backoff = backoff / 2 + static_cast<int64_t>(jitter % static_cast<uint64_t>(backoff / 2 + 1));
  const int64_t until = clock_.NowMs() + backoff;
  while (clock_.NowMs() < until) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    clock_.SleepMs(std::min<int64_t>(until - clock_.NowMs(), 20));
  }
}

// Removes `count` entries from the front of the queue once their outbox keys are deleted. Until
// the delete succeeds they stay queued (and counted against the bound): retried after a back-off,
// never delivered again by this process.
bool SinkDelivery::AcknowledgeFront(size_t count, uint32_t& failed_acknowledgements) {
  Status acknowledged = Acknowledge(count);
  std::lock_guard lock(mutex_);
  if (!acknowledged.ok()) {
    ++stats_.failures;
    stats_.last_error = acknowledged.WithContext("acknowledge in the outbox").ToString();
    ++failed_acknowledgements;
    return false;
  }
  failed_acknowledgements = 0;
  for (size_t index = 0; index < count; ++index) queue_.pop_front();
  changed_.notify_all();
  return true;
}

void SinkDelivery::Loop() {
  std::vector<OutboxEntry> attempt;
  size_t unacknowledged = 0;  // entries at the front that the sink took but the outbox still holds
  uint32_t failed_acknowledgements = 0;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
    }
    if (unacknowledged > 0) {
      if (AcknowledgeFront(unacknowledged, failed_acknowledgements)) {
        unacknowledged = 0;
      } else {
        BackOff(failed_acknowledgements);
      }
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      size_t count = std::min(queue_.size(), options_.max_entries_per_call);
      attempt.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(count));
    }
    DeliveryOutcome outcome = sink_.Deliver(attempt);
    outcome.delivered = std::min(outcome.delivered, attempt.size());
    if (outcome.delivered > 0) {
      {
        std::lock_guard lock(mutex_);
        stats_.delivered += outcome.delivered;
      }
      if (!AcknowledgeFront(outcome.delivered, failed_acknowledgements)) {
        unacknowledged = outcome.delivered;
        BackOff(failed_acknowledgements);
        continue;
      }
    }
    if (outcome.delivered == attempt.size()) continue;
    // A sink that took less than everything without saying why is treated as failing.
    if (outcome.error.ok()) {
      outcome.error = Status::Unavailable(fmt::format(
          "the sink took {} of {} entries without an error", outcome.delivered, attempt.size()));
    }

    uint32_t attempts = 0;
    bool give_up = false;
    OutboxEntry refused;
    {
      std::lock_guard lock(mutex_);
      ++stats_.failures;
      stats_.last_error = outcome.error.ToString();
      OutboxEntry& next = queue_.front();
      attempts = ++next.attempts;
      give_up = outcome.permanent && attempts >= options_.permanent_attempts;
      if (give_up) refused = next;
    }
    if (give_up) {
      if (on_given_up_) on_given_up_(refused, outcome.error);
      {
        std::lock_guard lock(mutex_);
        ++stats_.given_up;
      }
      if (!AcknowledgeFront(1, failed_acknowledgements)) {
        unacknowledged = 1;
        BackOff(failed_acknowledgements);
      }
      continue;
    }
    BackOff(attempts);
  }
}

}  // namespace brandpulse
