#include "operators/threshold_alert.h"

#include <fmt/format.h>

namespace brandpulse {
namespace {

class ThresholdRule final : public WindowRule {
 public:
  ThresholdRule(ThresholdRuleOptions options, const RuleBuildContext& context)
      : WindowRule(options.common, "threshold", options.window_index, *context.windows,
                   context.allowed_lateness_ms, *context.brands),
        options_(std::move(options)) {}

 protected:
  Status EvaluateWindow(const WindowSeries::Final& final, RuleContext& context) override {
    for (uint32_t brand = 0; brand < context.brands.brand_count(); ++brand) {
      if (!filter_.enabled(brand) || !final.Includes(brand)) continue;
      const WindowMetrics* metrics = final.Of(brand);
      const uint64_t value = metrics != nullptr ? options_.metric->Value(*metrics) : 0;
      const bool over = options_.above && value > *options_.above;
      const bool under = options_.below && value < *options_.below;
      if (!over && !under) continue;
      AlertContent content = WindowAlert(final, brand, context.brands);
      const uint64_t limit = over ? *options_.above : *options_.below;
      content.metric = options_.metric->name;
      content.observed = static_cast<double>(value);
      content.expected = static_cast<double>(limit);
      // Twice the limit (or nothing at all under a `below`) is critical.
      content.severity = (over && value >= 2 * limit && limit > 0) || (under && value == 0)
                             ? AlertSeverity::kCritical
                             : AlertSeverity::kWarning;
      content.summary = fmt::format("{} had {} {} in {} {} ({} {})", content.brand.name, value,
                                    options_.metric->name, window_.name,
                                    over ? "window, above the limit" : "window, below the limit",
                                    over ? "limit" : "minimum", limit);
      content.details_json = fmt::format(
          "{{\"direction\":\"{}\",\"limit\":{},\"mentions\":{},\"unique_authors\":{},\"reach\":{}}}",
          over ? "above" : "below", limit, metrics != nullptr ? metrics->mentions : 0,
          metrics != nullptr ? metrics->authors.Estimate() : 0,
          metrics != nullptr ? metrics->reach : 0);
      context.fired.push_back(
          MakeAlert(WindowAlertId(context.brands, brand, final.start_ms), brand, content));
    }
    return Status::Ok();
  }

 private:
  ThresholdRuleOptions options_;
};

}  // namespace

Result<std::unique_ptr<AlertRuleSpec>> ReadThresholdRule(const std::string& name, YamlMap& section,
                                                         const ConfigContext& context) {
  Diagnostics& diagnostics = section.diagnostics();
  ThresholdRuleOptions options;
  ReadRuleCommon(name, section, context, options.common);
  if (auto window = ReadRuleWindow(section, context)) options.window_index = *window;
  options.metric = FindWindowMetric("mentions");
  if (section.Has("metric")) options.metric = ReadRuleMetric(section, "metric");
  if (auto above = section.Integer("above", 0, INT64_MAX)) options.above = *above;
  if (auto below = section.Integer("below", 1, INT64_MAX)) options.below = *below;
  if (!section.Has("above") && !section.Has("below")) {
    diagnostics.Add(section.Location(),
                    fmt::format("alert rule '{}' needs a limit: above or below", name),
                    "e.g. above: 100 (fires when the metric is over 100) or below: 1 (fires on "
                    "silence)");
  }
  RETURN_IF_ERROR(section.Finish());
  return AlertRuleSpecOf(name, "threshold", [options](const RuleBuildContext& context) {
    return MakeThresholdRule(options, context);
  });
}

Result<std::unique_ptr<AlertRule>> MakeThresholdRule(const ThresholdRuleOptions& options,
                                                     const RuleBuildContext& context) {
  if (context.windows == nullptr || context.brands == nullptr ||
      options.window_index >= context.windows->size() || options.metric == nullptr) {
    return Status::InvalidArgument(
        fmt::format("alert rule '{}' cannot be built", options.common.name));
  }
  return std::unique_ptr<AlertRule>(std::make_unique<ThresholdRule>(options, context));
}

}  // namespace brandpulse
