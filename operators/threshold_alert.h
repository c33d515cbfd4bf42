// The threshold rule (`type: threshold`): for each final brand window of a window spec, fires
// when a metric (any metric of engine/window_metric_registry.h: mentions, unique_authors, reach,
// replies, questions, registered counters) is above or below a limit. A brand with no mention in
// a window has value 0 there, so `below` also fires on silence. docs/alerts.md.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/window_metric_registry.h"
#include "operators/registry.h"
#include "operators/rule_common.h"

namespace brandpulse {

struct ThresholdRuleOptions {
  RuleCommonOptions common;
  uint32_t window_index = 0;  // into the pipeline's windows
  const WindowMetricDefinition* metric = nullptr;
  std::optional<uint64_t> above;  // fires when the metric > above
  std::optional<uint64_t> below;  // fires when the metric < below
};

// Reads a `type: threshold` entry of `alerts:` (window, metric, above or below, brands, and the
// keys every rule has: evidence, cooldown, group_interval).
Result<std::unique_ptr<AlertRuleSpec>> ReadThresholdRule(const std::string& name, YamlMap& section,
                                                         const ConfigContext& context);

Result<std::unique_ptr<AlertRule>> MakeThresholdRule(const ThresholdRuleOptions& options,
                                                     const RuleBuildContext& context);

}  // namespace brandpulse
