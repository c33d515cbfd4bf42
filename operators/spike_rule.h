// The spike rule (`type: spike`): a brand's metric in a final window against a learned baseline.
// The baseline is an exponentially weighted mean and variance over every window of the series
// (silence counts as 0), blended half and half with the same hour of the week's own EWMA once
// that hour has two windows. z = (value − expected) / max(√variance, √expected, 1): the √expected
// floor is the Poisson noise of a count, so a quiet brand needs more than one extra post.
// Fires when z ≥ `z` and value ≥ `min_count`, after `warmup` windows; then the brand is in a
// spike episode until z falls below `z_reset` (hysteresis): one spike, one alert, whose id is
// the episode's first window. Baselines are state in the `rules` column family, written in the
// epoch that evaluated the window, so they are exact across restarts. docs/alerts.md.
#pragma once

#include <memory>
#include <string>

#include "operators/registry.h"
#include "operators/rule_common.h"

namespace brandpulse {

struct SpikeRuleOptions {
  RuleCommonOptions common;
  uint32_t window_index = 0;
  const WindowMetricDefinition* metric = nullptr;
  double z = 3.0;
  double z_reset = 1.0;
  uint64_t min_count = 10;
  uint32_t warmup = 12;        // windows seen before the rule may fire
  double alpha = 0.1;          // EWMA weight of the newest window
  double seasonal_alpha = 0.3;  // same, for the hour-of-week baseline
  bool seasonal = true;
};

Result<std::unique_ptr<AlertRuleSpec>> ReadSpikeRule(const std::string& name, YamlMap& section,
                                                     const ConfigContext& context);
Result<std::unique_ptr<AlertRule>> MakeSpikeRule(const SpikeRuleOptions& options,
                                                 const RuleBuildContext& context);

}  // namespace brandpulse
