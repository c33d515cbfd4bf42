// The one vocabulary of window metrics shared by queries, alert rules and the API: a name maps to
// how the value is read from WindowMetrics. The built-ins are mentions, unique_authors, reach,
// replies and questions; an operator that counts something more per mention (sentiment classes,
// intents) registers a counter, which becomes a metric of the same name, stored in the windows
// (WindowMetrics::counters) and counted by window aggregation, without the runner knowing it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/window_metrics.h"

namespace brandpulse {

struct Mention;
struct Post;

struct WindowMetricDefinition {
  std::string name;
  std::string description;
  // Built-ins read a field; registered counters read WindowMetrics::Counter(counter_id).
  uint64_t (*read)(const WindowMetrics& metrics) = nullptr;
  uint32_t counter_id = UINT32_MAX;
  uint32_t index = 0;  // position in the registry: built-ins first, then counters in order
  // Counters only: how much window aggregation adds for each (non-own) mention (usually 0 or
  // 1). Called by workers: must be pure and must not allocate.
  uint64_t (*count)(const Post& post, const Mention& mention) = nullptr;
  // false: left out of WindowMetricNames() (hints, the dashboard's list) but found by name —
  // the buckets of a histogram whose quantiles are the listed metrics (issue 12).
  bool listed = true;

  uint64_t Value(const WindowMetrics& metrics) const {
    return read != nullptr ? read(metrics) : metrics.Counter(counter_id);
  }
};

// nullptr when unknown.
const WindowMetricDefinition* FindWindowMetric(std::string_view name);
// Every metric, in registry order (definition->index).
std::vector<const WindowMetricDefinition*> AllWindowMetrics();
// Every metric's name, built-ins first, for "did you mean" and hints.
std::vector<std::string> WindowMetricNames();


// Registers a counter and the metric of the same name; returns its id (the same id when the
// name is registered again with the same function). REQUIRES: start-up, before pipelines load.
// Ids are part of the stored format: register in a fixed order.
std::optional<uint32_t> RegisterWindowCounter(std::string_view name, std::string_view description,
                                              uint64_t (*count)(const Post&, const Mention&));
// issue 12: a counter that no per-mention `count` feeds — its owner adds deltas to the windows
// itself (the response-time histogram, operators/response_times.h); window aggregation skips it.
// Same id rules as RegisterWindowCounter.
std::optional<uint32_t> RegisterOwnedWindowCounter(std::string_view name,
                                                   std::string_view description, bool listed);
// issue 12: a metric computed from a window's values (a quantile of a histogram kept in
// counters); read-only, stores nothing. nullopt when the name is taken by something else.
std::optional<uint32_t> RegisterDerivedWindowMetric(std::string_view name,
                                                    std::string_view description,
                                                    uint64_t (*read)(const WindowMetrics&));

// Every registered counter (the metrics with a `count`), by id.
std::vector<const WindowMetricDefinition*> WindowCounters();

}  // namespace brandpulse
