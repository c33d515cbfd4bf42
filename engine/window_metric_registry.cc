#include "engine/window_metric_registry.h"

#include <deque>
#include <mutex>

namespace brandpulse {
namespace {

struct MetricRegistry {
  std::mutex mutex;
  std::deque<WindowMetricDefinition> metrics;   // GUARDED_BY(mutex) while registering
  std::deque<WindowCounterDefinition> counters;  // GUARDED_BY(mutex) while registering
  MetricRegistry() {
    metrics.push_back({"mentions", "customer posts naming the brand",
                       [](const WindowMetrics& m) { return m.mentions; }});
    metrics.push_back({"unique_authors", "distinct authors (HyperLogLog, ~1.6% error)",
                       [](const WindowMetrics& m) { return m.authors.Estimate(); }});
    metrics.push_back({"reach", "sum of the mentioning authors' followers",
                       [](const WindowMetrics& m) { return m.reach; }});
    metrics.push_back({"replies", "mentions that reply to another post",
                       [](const WindowMetrics& m) { return m.replies; }});
    metrics.push_back({"questions", "mentions that ask something ('?' or '¿')",
                       [](const WindowMetrics& m) { return m.questions; }});
    for (uint32_t index = 0; index < metrics.size(); ++index) metrics[index].index = index;
  }
};

MetricRegistry& Registry() {
  static MetricRegistry registry;
  return registry;
}

}  // namespace

const WindowMetricDefinition* FindWindowMetric(std::string_view name) {
  for (const WindowMetricDefinition& metric : Registry().metrics) {
    if (metric.name == name) return &metric;
  }
  return nullptr;
}

std::vector<const WindowMetricDefinition*> AllWindowMetrics() {
  std::vector<const WindowMetricDefinition*> metrics;
  for (const WindowMetricDefinition& metric : Registry().metrics) metrics.push_back(&metric);
  return metrics;
}

std::vector<std::string> WindowMetricNames() {
  std::vector<std::string> names;
  for (const WindowMetricDefinition& metric : Registry().metrics) names.push_back(metric.name);
  return names;
}

std::optional<uint32_t> RegisterWindowCounter(std::string_view name, std::string_view description,
                                              uint64_t (*count)(const Post&, const Mention&)) {
  MetricRegistry& registry = Registry();
  std::lock_guard lock(registry.mutex);
  for (const WindowCounterDefinition& counter : registry.counters) {
    if (counter.name == name) {
      if (counter.count != count) return std::nullopt;
      return counter.id;
    }
  }
  for (const WindowMetricDefinition& metric : registry.metrics) {
    if (metric.name == name) return std::nullopt;  // a built-in's name
  }
  auto id = static_cast<uint32_t>(registry.counters.size());
  registry.counters.push_back(WindowCounterDefinition{id, std::string(name), count});
  registry.metrics.push_back(WindowMetricDefinition{
      std::string(name), std::string(description), nullptr, id,
      static_cast<uint32_t>(registry.metrics.size())});
  return id;
}

std::vector<WindowCounterDefinition> WindowCounters() {
  std::lock_guard lock(Registry().mutex);
  return {Registry().counters.begin(), Registry().counters.end()};
}

}  // namespace brandpulse
