// Clock: processing time behind a seam, so the runner's timers (commit interval, idle partitions,
// delivery back-off, watchlist file checks) can be driven by a simulated clock in tests.
// Event time never comes from here: it comes from the posts.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace brandpulse {

// Thread safety: every method may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic milliseconds (only differences mean something).
  virtual int64_t NowMs() const = 0;
  // Blocks for `milliseconds` of this clock's time (a simulated clock advances instead).
  virtual void SleepMs(int64_t milliseconds) = 0;

  // The process's steady clock.
  static Clock& System();
};

// Time moves only when told to, or by SleepMs (which advances it instead of blocking), so a
// test that waits for "the commit interval" or "the back-off" runs instantly and repeatably.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(int64_t start_ms = 0) : now_ms_(start_ms) {}
  int64_t NowMs() const override { return now_ms_.load(std::memory_order_acquire); }
  void SleepMs(int64_t milliseconds) override { Advance(milliseconds); }
  void Advance(int64_t milliseconds) {
    now_ms_.fetch_add(milliseconds < 0 ? 0 : milliseconds, std::memory_order_acq_rel);
  }

 private:
  std::atomic<int64_t> now_ms_;
};

// Wall-clock milliseconds since the Unix epoch, for times reported to people and receivers
// (an alert's ingest and emit times), never for timers.
inline int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace brandpulse
