// Process metrics in the Prometheus text format (docs/operations.md lists every one).
//
// Two ways to export a value:
//   - A registered instrument (MetricCounter, MetricGauge, MetricHistogram): get it once with
//     GetCounter/GetGauge/GetHistogram, keep the reference, and update it where the thing happens.
//     Updates are relaxed atomics: no lock, no allocation, safe from any thread (the hot path).
//   - A collector: a callback that writes samples when /metrics is scraped. For values another
//     part already keeps (RocksDB properties, outbox depth, a consumer's lag): nothing is paid
//     between scrapes. The returned handle unregisters it; keep it no longer than what it reads.
//
// How another part adds its metrics (Kafka lag, alerts per rule, sentiment): one call at set-up,
//   static MetricCounter& rebalances = MetricsRegistry::Default().GetCounter(
//       "brandpulse_kafka_rebalances_total", "Consumer group rebalances");
//   rebalances.Add();
// and a line in docs/operations.md. Names follow Prometheus conventions: `brandpulse_` prefix,
// base units (seconds, bytes), `_total` for counters.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace brandpulse {

// Label name → value pairs of one sample, in the order given.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Goes only up. Add() is one relaxed atomic add.
class MetricCounter {
 public:
  void Add(uint64_t amount = 1) noexcept { value_.fetch_add(amount, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (or a total in seconds: AddSeconds).
class MetricGauge {
 public:
  void Set(double value) noexcept { value_.store(value, std::memory_order_relaxed); }
  void Add(double amount) noexcept { value_.fetch_add(amount, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, ascending; +Inf is implicit).
class MetricHistogram {
 public:
  explicit MetricHistogram(std::vector<double> bounds);
  void Observe(double value) noexcept;
  const std::vector<double>& bounds() const { return bounds_; }
  // Non-cumulative count of bucket i (i == bounds().size() is +Inf).
  uint64_t bucket(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// What a collector writes samples to at scrape time.
class MetricsWriter {
 public:
  virtual ~MetricsWriter() = default;
  virtual void Counter(std::string_view name, std::string_view help, const MetricLabels& labels,
                       double value) = 0;
  virtual void Gauge(std::string_view name, std::string_view help, const MetricLabels& labels,
                     double value) = 0;
};

class MetricsRegistry;

// Unregisters its collector when destroyed (after that the callback is never running).
class MetricsCollectorHandle {
 public:
  MetricsCollectorHandle() = default;
  MetricsCollectorHandle(MetricsRegistry* registry, uint64_t id) : registry_(registry), id_(id) {}
  MetricsCollectorHandle(MetricsCollectorHandle&& other) noexcept { *this = std::move(other); }
  MetricsCollectorHandle& operator=(MetricsCollectorHandle&& other) noexcept;
  ~MetricsCollectorHandle() { Reset(); }
  void Reset();

 private:
  MetricsRegistry* registry_ = nullptr;
  uint64_t id_ = 0;
};

class MetricsRegistry {
 public:
  // The process's registry: what /metrics serves.
  static MetricsRegistry& Default();

  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Get-or-create: the same name and labels give the same instrument, valid for the registry's
  // life. Takes a lock: call at set-up, not per record. The help of the first call is kept.
  MetricCounter& GetCounter(std::string_view name, std::string_view help,
                            const MetricLabels& labels = {});
  MetricGauge& GetGauge(std::string_view name, std::string_view help,
                        const MetricLabels& labels = {});
  MetricHistogram& GetHistogram(std::string_view name, std::string_view help,
                                std::vector<double> bounds, const MetricLabels& labels = {});

  // A labelled family whose series appear only when something happens (dead letters by reason):
  // its HELP and TYPE are listed from the start, so dashboards and tests see the name exist.
  void DescribeCounterFamily(std::string_view name, std::string_view help);

  using Collector = std::function<void(MetricsWriter& writer)>;
  [[nodiscard]] MetricsCollectorHandle AddCollector(Collector collect);

  // Every metric in the Prometheus text exposition format 0.0.4, families sorted by name.
  std::string Render() const;

 private:
  friend class MetricsCollectorHandle;
  void RemoveCollector(uint64_t id);

  enum class Kind { kCounter, kGauge, kHistogram };
  struct Instrument {
    Kind kind;
    std::string name;
    std::string help;
    MetricLabels labels;
    std::unique_ptr<MetricCounter> counter;
    std::unique_ptr<MetricGauge> gauge;
    std::unique_ptr<MetricHistogram> histogram;
  };
  Instrument& Find(Kind kind, std::string_view name, std::string_view help,
                   const MetricLabels& labels, std::vector<double>* bounds);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Instrument>> instruments_;  // GUARDED_BY(mutex_)
  std::map<uint64_t, Collector> collectors_;                         // GUARDED_BY(mutex_)
  std::map<std::string, std::string> described_counters_;            // GUARDED_BY(mutex_)
  uint64_t next_collector_id_ = 1;                                   // GUARDED_BY(mutex_)
};

// A label value escaped for the text format (backslash, double quote, newline).
std::string EscapeMetricLabelValue(std::string_view value);

}  // namespace brandpulse
