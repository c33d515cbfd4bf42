#include "operators/threshold_alert.h"

#include <algorithm>

#include <fmt/format.h>

#include "engine/json_writer.h"
#include "engine/window_metric_registry.h"

namespace brandpulse {
namespace {

class ThresholdRule final : public AlertRule {
 public:
  ThresholdRule(ThresholdRuleOptions options, const std::vector<WindowSpec>& windows,
                const BrandDirectory& brands)
      : options_(std::move(options)), window_(windows[options_.window_index]) {
    EnableBrands(brands);
  }

  const std::string& name() const override { return options_.name; }
  bool WatchesWindow(uint32_t window_index) const override {
    return window_index == options_.window_index;
  }

  Status OnWindowClosed(const ClosedWindow& closed, RuleContext& context) override {
    if (closed.brand_index >= brand_enabled_.size() || !brand_enabled_[closed.brand_index]) {
      return Status::Ok();
    }
    const WindowMetrics& metrics = *closed.metrics;
    const uint64_t value = options_.metric->Value(metrics);
    if (value <= options_.above) return Status::Ok();
    BrandInfo brand = context.brands.brand_info(closed.brand_index);
    FiredAlert alert;
    alert.brand_index = closed.brand_index;
    alert.id = fmt::format("{}/{}/{}", options_.name, brand.id, closed.start_ms);
    std::string& json = alert.payload;
    json.push_back('{');
    AppendJsonKey(json, "alert_id", true);
    AppendJsonString(json, alert.id);
    AppendJsonKey(json, "rule");
    AppendJsonString(json, options_.name);
    AppendJsonKey(json, "type");
    AppendJsonString(json, "threshold");
    AppendJsonKey(json, "brand");
    AppendJsonString(json, brand.id);
    AppendJsonKey(json, "brand_name");
    AppendJsonString(json, brand.name);
    AppendJsonKey(json, "group");
    AppendJsonString(json, brand.group);
    AppendJsonKey(json, "window");
    AppendJsonString(json, window_.name);
    AppendJsonKey(json, "window_start");
    AppendJsonString(json, FormatIsoTime(closed.start_ms));
    AppendJsonKey(json, "window_end");
    AppendJsonString(json, FormatIsoTime(closed.start_ms + window_.size_ms));
    AppendJsonKey(json, "metric");
    AppendJsonString(json, options_.metric->name);
    json += fmt::format(",\"value\":{},\"threshold\":{}", value, options_.above);
    json += fmt::format(",\"mentions\":{},\"unique_authors\":{},\"reach\":{}", metrics.mentions,
                        metrics.authors.Estimate(), metrics.reach);
    json.push_back('}');
    context.fired.push_back(std::move(alert));
    return Status::Ok();
  }

  Status OnBrandsChanged(const BrandDirectory&, const BrandDirectory& after) override {
    EnableBrands(after);
    return Status::Ok();
  }

 private:
  void EnableBrands(const BrandDirectory& brands) {
    brand_enabled_.assign(brands.brand_count(), options_.brands.empty());
    for (const std::string& id : options_.brands) {
      if (auto index = brands.FindBrand(id)) brand_enabled_[*index] = true;
    }
  }

  ThresholdRuleOptions options_;
  const WindowSpec& window_;
  std::vector<bool> brand_enabled_;  // by brand index
};

}  // namespace

Result<std::unique_ptr<AlertRuleSpec>> ReadThresholdRule(const std::string& name, YamlMap& section,
                                                         const ConfigContext& context) {
  Diagnostics& diagnostics = section.diagnostics();
  ThresholdRuleOptions options;
  options.name = name;
  std::vector<std::string> window_names;
  for (const WindowSpec& window : context.windows) window_names.push_back(window.name);
  if (auto window = section.String("window", true)) {
    auto found = std::find(window_names.begin(), window_names.end(), *window);
    if (found == window_names.end()) {
      diagnostics.Add(section.LocationOf("window"), fmt::format("no window named '{}'", *window),
                      DidYouMean(*window, window_names, "define it under windows:"));
    } else {
      options.window_index = static_cast<uint32_t>(found - window_names.begin());
    }
  }
  options.metric = FindWindowMetric("mentions");
  if (auto metric = section.String("metric")) {
    options.metric = FindWindowMetric(*metric);
    if (options.metric == nullptr) {
      const std::vector<std::string> metrics = WindowMetricNames();
      diagnostics.Add(section.LocationOf("metric"), fmt::format("unknown metric '{}'", *metric),
                      DidYouMean(*metric, metrics,
                                 fmt::format("metrics are {}", fmt::join(metrics, ", "))));
    }
  }
  if (auto above = section.Integer("above", 0, INT64_MAX, true)) {
    options.above = static_cast<uint64_t>(*above);
  }
  if (auto brands = section.StringList("brands")) {
    options.brands = *brands;
    std::vector<std::string> brand_ids;
    for (const BrandSpec& brand : context.watchlist.brands) brand_ids.push_back(brand.id);
    if (!brand_ids.empty()) {
      for (const std::string& brand : options.brands) {
        if (std::find(brand_ids.begin(), brand_ids.end(), brand) != brand_ids.end()) continue;
        diagnostics.Add(section.LocationOf("brands"),
                        fmt::format("alert rule '{}' names brand '{}', which the watchlist lacks",
                                    name, brand),
                        DidYouMean(brand, brand_ids, "add it to the watchlist"));
      }
    }
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
    return Status::InvalidArgument(fmt::format("alert rule '{}' cannot be built", options.name));
  }
  return std::unique_ptr<AlertRule>(
      std::make_unique<ThresholdRule>(options, *context.windows, *context.brands));
}

}  // namespace brandpulse
