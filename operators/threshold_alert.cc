#include "operators/threshold_alert.h"

#include "engine/json_writer.h"

namespace brandpulse {

std::string_view AlertMetricName(AlertMetric metric) {
  switch (metric) {
    case AlertMetric::kMentions: return "mentions";
    case AlertMetric::kUniqueAuthors: return "unique_authors";
    case AlertMetric::kReach: return "reach";
  }
  return "mentions";
}

AlertEvaluator::AlertEvaluator(const std::vector<AlertRuleSpec>& rules,
                               const std::vector<WindowSpec>& windows,
                               const CompiledWatchlist& watchlist)
    : windows_(windows), watchlist_(watchlist) {
  for (const AlertRuleSpec& rule_spec : rules) {
    Rule rule{rule_spec, std::vector<bool>(watchlist.brand_count(), rule_spec.brands.empty())};
    for (const std::string& brand_id : rule_spec.brands) {
      if (auto index = watchlist.FindBrand(brand_id)) rule.brand_enabled[*index] = true;
    }
    rules_.push_back(std::move(rule));
  }
}

void AlertEvaluator::EvaluateClosedWindow(uint32_t brand_index, uint32_t window_index,
                                          int64_t start_ms, const WindowMetrics& metrics,
                                          std::vector<FiredAlert>& out) const {
  for (const Rule& rule : rules_) {
    if (rule.spec.window_index != window_index || !rule.brand_enabled[brand_index]) continue;
    uint64_t unique_authors = metrics.authors.Estimate();
    uint64_t value = rule.spec.metric == AlertMetric::kMentions        ? metrics.mentions
                     : rule.spec.metric == AlertMetric::kUniqueAuthors ? unique_authors
                                                                       : metrics.reach;
    if (value <= rule.spec.above) continue;
    const BrandSpec& brand = watchlist_.brand(brand_index);
    const WindowSpec& window = windows_[window_index];
    FiredAlert alert;
    alert.brand_index = brand_index;
    alert.id = fmt::format("{}/{}/{}", rule.spec.name, brand.id, start_ms);
    std::string& json = alert.payload;
    json.push_back('{');
    AppendJsonKey(json, "alert_id", true);
    AppendJsonString(json, alert.id);
    AppendJsonKey(json, "rule");
    AppendJsonString(json, rule.spec.name);
    AppendJsonKey(json, "type");
    AppendJsonString(json, rule.spec.type);
    AppendJsonKey(json, "brand");
    AppendJsonString(json, brand.id);
    AppendJsonKey(json, "brand_name");
    AppendJsonString(json, brand.name);
    AppendJsonKey(json, "group");
    AppendJsonString(json, brand.group);
    AppendJsonKey(json, "window");
    AppendJsonString(json, window.name);
    AppendJsonKey(json, "window_start");
    AppendJsonString(json, FormatIsoTime(start_ms));
    AppendJsonKey(json, "window_end");
    AppendJsonString(json, FormatIsoTime(start_ms + window.size_ms));
    AppendJsonKey(json, "metric");
    AppendJsonString(json, AlertMetricName(rule.spec.metric));
    json += fmt::format(",\"value\":{},\"threshold\":{}", value, rule.spec.above);
    json += fmt::format(",\"mentions\":{},\"unique_authors\":{},\"reach\":{}", metrics.mentions,
                        unique_authors, metrics.reach);
    json.push_back('}');
    out.push_back(std::move(alert));
  }
}

}  // namespace brandpulse
