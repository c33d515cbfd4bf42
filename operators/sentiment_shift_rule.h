// The sentiment-shift rule (`type: sentiment_shift`): the share of a brand's mentions whose
// sentiment towards it is negative (the enrichment's per-brand counters, names in
// engine/enrichment_fields.h: negative / (negative + neutral + positive), in points) in a final
// window, against the brand's baseline — an exponentially weighted mean of its earlier shares
// (`alpha`), usable after `warmup` windows. Fires when the share moves by more than `margin`
// points (`direction`: up = more negative, the default; down; both) in a window with at least
// `min_count` mentions that enrichment classified; windows with fewer neither fire nor move the
// baseline. After an alert the brand is in an episode until the shift is at most half the margin
// (hysteresis). The evidence posts are the window's negative ones (up). Without the `enrich`
// transform in the pipeline every window has no classified mention, so the rule never fires:
// `validate` and the run's log say that enrichment is off. Baselines are rule state ("p/<brand
// id>"), exact across restarts. docs/alerts.md.
#pragma once

#include <memory>
#include <string>

#include "operators/registry.h"
#include "operators/rule_common.h"
#include "operators/share_of_voice_rule.h"

namespace brandpulse {

struct SentimentShiftRuleOptions {
  RuleCommonOptions common;
  uint32_t window_index = 0;
  double margin = 15;  // points
  ShareDirection direction = ShareDirection::kUp;
  uint64_t min_count = 20;  // classified mentions in the window
  double alpha = 0.2;
  uint32_t warmup = 3;
  bool enrichment_on = true;  // the pipeline has an `enrich` transform
};

Result<std::unique_ptr<AlertRuleSpec>> ReadSentimentShiftRule(const std::string& name,
                                                              YamlMap& section,
                                                              const ConfigContext& context);
Result<std::unique_ptr<AlertRule>> MakeSentimentShiftRule(const SentimentShiftRuleOptions& options,
                                                          const RuleBuildContext& context);

}  // namespace brandpulse
