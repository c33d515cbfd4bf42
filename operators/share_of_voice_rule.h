// The share-of-voice rule (`type: share_of_voice`): a brand's share of its competitor group's
// metric (the watchlist's `group:`; mentions by default) in a final window, in points (0..100).
// It fires when the share crosses a bound (`above` / `below`, points) or moves by more than
// `change` points against the brand's baseline: an exponentially weighted mean of its earlier
// shares (`alpha`; 1 = the previous window), usable after `warmup` windows. Only windows in
// which the group's total is at least `min_count` count (a group of three posts has no
// meaningful share): they are evaluated and they move the baseline; others are skipped. After an
// alert the brand is in an episode until no condition holds (`change` read at half its value):
// one move, one alert, whose id is the episode's first window. Baselines and episodes are rule
// state (`rules` column family, "p/<brand id>"), exact across restarts. docs/alerts.md.
//
// With `group: <name>` the competitor set is that named group of the watchlist instead — a
// top-level `groups:` entry (a brand may be in several) or a brand `group:` value — and the rule
// reports on its members.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "operators/registry.h"
#include "operators/rule_common.h"

namespace brandpulse {

enum class ShareDirection : uint8_t { kBoth, kUp, kDown };

struct ShareOfVoiceRuleOptions {
  RuleCommonOptions common;
  uint32_t window_index = 0;
  const WindowMetricDefinition* metric = nullptr;
  std::optional<double> above;   // points
  std::optional<double> below;   // points
  std::optional<double> change;  // points against the baseline
  ShareDirection direction = ShareDirection::kBoth;
  uint64_t min_count = 10;  // the group's total in the window
  double alpha = 0.3;
  uint32_t warmup = 3;  // baseline windows before `change` may fire
  // A named competitor group (`group:`); empty = each brand's own `group:`.
  std::string group;
  std::vector<std::string> members;  // its brand ids, watchlist order
};

Result<std::unique_ptr<AlertRuleSpec>> ReadShareOfVoiceRule(const std::string& name,
                                                            YamlMap& section,
                                                            const ConfigContext& context);
Result<std::unique_ptr<AlertRule>> MakeShareOfVoiceRule(const ShareOfVoiceRuleOptions& options,
                                                        const RuleBuildContext& context);

}  // namespace brandpulse
