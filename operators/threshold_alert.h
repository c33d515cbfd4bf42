// The threshold rule (`type: threshold`): fires once per brand window whose final value of a
// metric (any metric of engine/window_metric_registry.h) is above a limit. Windows are final
// when they close, so a window fires at most once, with exact numbers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/window_metric_registry.h"
#include "operators/registry.h"

namespace brandpulse {

struct ThresholdRuleOptions {
  std::string name;
  uint32_t window_index = 0;  // into the pipeline's windows
  const WindowMetricDefinition* metric = nullptr;
  uint64_t above = 0;               // fires when the metric > above
  std::vector<std::string> brands;  // brand ids; empty = every brand
};

// Reads a `type: threshold` entry of `alerts:` (window, metric, above, brands).
Result<std::unique_ptr<AlertRuleSpec>> ReadThresholdRule(const std::string& name, YamlMap& section,
                                                         const ConfigContext& context);

Result<std::unique_ptr<AlertRule>> MakeThresholdRule(const ThresholdRuleOptions& options,
                                                     const RuleBuildContext& context);

}  // namespace brandpulse
