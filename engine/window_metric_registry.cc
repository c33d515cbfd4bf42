#include "engine/window_metric_registry.h"

#include "engine/startup_registry.h"

namespace brandpulse {
namespace {

// Built-ins first (their index is their position), then registered counters.
StartupRegistry<WindowMetricDefinition>& Metrics() {
  static StartupRegistry<WindowMetricDefinition> registry{
      {"mentions", "customer posts naming the brand",
       [](const WindowMetrics& m) { return m.mentions; }, UINT32_MAX, 0},
      {"unique_authors", "distinct authors (HyperLogLog, ~1.6% error)",
       [](const WindowMetrics& m) { return m.authors.Estimate(); }, UINT32_MAX, 1},
      {"reach", "sum of the mentioning authors' followers",
       [](const WindowMetrics& m) { return m.reach; }, UINT32_MAX, 2},
      {"replies", "mentions that reply to another post",
       [](const WindowMetrics& m) { return m.replies; }, UINT32_MAX, 3},
      {"questions", "mentions that ask something ('?' or '¿')",
       [](const WindowMetrics& m) { return m.questions; }, UINT32_MAX, 4},
  };
  return registry;
}
constexpr uint32_t kBuiltInMetrics = 5;

}  // namespace

const WindowMetricDefinition* FindWindowMetric(std::string_view name) {
  return Metrics().Find([&](const WindowMetricDefinition& metric) { return metric.name == name; });
}

std::vector<const WindowMetricDefinition*> AllWindowMetrics() {
  std::vector<const WindowMetricDefinition*> metrics;
  for (const WindowMetricDefinition& metric : Metrics()) metrics.push_back(&metric);
  return metrics;
}

std::vector<std::string> WindowMetricNames() {
  std::vector<std::string> names;
  for (const WindowMetricDefinition& metric : Metrics()) {
    if (metric.listed) names.push_back(metric.name);
  }
  return names;
}

std::optional<uint32_t> RegisterWindowCounter(std::string_view name, std::string_view description,
                                              uint64_t (*count)(const Post&, const Mention&)) {
  auto [index, added] = Metrics().AddUnless(
      [&](const WindowMetricDefinition& metric) { return metric.name == name; },
      [&](size_t next) {
        auto index = static_cast<uint32_t>(next);
        return WindowMetricDefinition{std::string(name), std::string(description), nullptr,
                                      index - kBuiltInMetrics, index, count};
      });
  const WindowMetricDefinition& metric = Metrics()[index];
  // The same name again must be the same counter; a built-in's name is taken.
  if (!added && metric.count != count) return std::nullopt;
  return metric.counter_id;
}

std::optional<uint32_t> RegisterOwnedWindowCounter(std::string_view name,
                                                   std::string_view description, bool listed) {
  auto [index, added] = Metrics().AddUnless(
      [&](const WindowMetricDefinition& metric) { return metric.name == name; },
      [&](size_t next) {
        auto index = static_cast<uint32_t>(next);
        WindowMetricDefinition metric{std::string(name), std::string(description), nullptr,
                                      index - kBuiltInMetrics, index, nullptr};
        metric.listed = listed;
        return metric;
      });
  const WindowMetricDefinition& metric = Metrics()[index];
  if (!added && (metric.count != nullptr || metric.read != nullptr)) return std::nullopt;
  return metric.counter_id;
}

std::optional<uint32_t> RegisterDerivedWindowMetric(std::string_view name,
                                                    std::string_view description,
                                                    uint64_t (*read)(const WindowMetrics&)) {
  auto [index, added] = Metrics().AddUnless(
      [&](const WindowMetricDefinition& metric) { return metric.name == name; },
      [&](size_t next) {
        return WindowMetricDefinition{std::string(name), std::string(description), read,
                                      UINT32_MAX, static_cast<uint32_t>(next), nullptr};
      });
  if (!added && Metrics()[index].read != read) return std::nullopt;
  return static_cast<uint32_t>(index);
}

std::vector<const WindowMetricDefinition*> WindowCounters() {
  std::vector<const WindowMetricDefinition*> counters;
  for (const WindowMetricDefinition& metric : Metrics()) {
    if (metric.count != nullptr) counters.push_back(&metric);
  }
  return counters;
}

}  // namespace brandpulse
