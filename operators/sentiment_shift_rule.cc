#include "operators/sentiment_shift_rule.h"

#include <cmath>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "engine/enrichment_fields.h"
#include "engine/json_writer.h"
#include "engine/log.h"

namespace brandpulse {
namespace {

constexpr uint8_t kNegativeSentiment = 1;  // Mention::sentiment

class SentimentShiftRule final : public WindowRule {
 public:
  SentimentShiftRule(SentimentShiftRuleOptions options, const RuleBuildContext& context)
      : WindowRule(options.common, "sentiment_shift", options.window_index, *context.windows,
                   context.allowed_lateness_ms, *context.brands),
        options_(std::move(options)),
        negative_(FindWindowMetric(enrichment::kNegativeCounter)),
        neutral_(FindWindowMetric(enrichment::kNeutralCounter)),
        positive_(FindWindowMetric(enrichment::kPositiveCounter)) {
    if (options_.direction == ShareDirection::kUp) evidence_.set_sentiment_filter(kNegativeSentiment);
  }

 protected:
  Status EvaluateWindow(const WindowSeries::Final& final, RuleContext& context) override {
    for (uint32_t brand = 0; brand < context.brands.brand_count(); ++brand) {
      if (!filter_.enabled(brand) || !final.Includes(brand)) continue;
      const WindowMetrics* metrics = final.Of(brand);
      if (metrics == nullptr) continue;
      const uint64_t negative = negative_->Value(*metrics);
      const uint64_t classified = negative + neutral_->Value(*metrics) + positive_->Value(*metrics);
      if (classified == 0 || classified < options_.min_count) continue;
      const double share = 100.0 * static_cast<double>(negative) / static_cast<double>(classified);
      const std::string brand_id(context.brands.brand_info(brand).id);
      PointsBaseline& baseline = baselines_.Update(brand_id);
      const bool warm = baseline.windows >= options_.warmup;
      const double shift = share - baseline.mean;
      if (baseline.in_episode) {
        if (!Shifted(shift, warm, 0.5)) baseline.in_episode = false;
      } else if (Shifted(shift, warm, 1.0)) {
        baseline.in_episode = true;
        Fire(final, brand, *metrics, negative, classified, share, shift, baseline, context);
      }
      baseline.Add(share, options_.alpha);
    }
    return Status::Ok();
  }

  Status RestoreMore(StateStore& store, const BrandDirectory&) override {
    return baselines_.Restore(store, name());
  }

  void SnapshotMore(StateStore::Commit& commit) override { baselines_.Snapshot(commit, name()); }
  void ClearMore(const std::vector<std::string>& brand_ids) override { baselines_.Clear(brand_ids); }

 private:
  bool Shifted(double shift, bool warm, double margin_scale) const {
    if (!warm) return false;
    const double margin = options_.margin * margin_scale;
    return (shift > margin && options_.direction != ShareDirection::kDown) ||
           (-shift > margin && options_.direction != ShareDirection::kUp);
  }

  void Fire(const WindowSeries::Final& final, uint32_t brand, const WindowMetrics& metrics,
            uint64_t negative, uint64_t classified, double share, double shift,
            const PointsBaseline& baseline, RuleContext& context) {
    AlertContent content = WindowAlert(final, brand, context.brands);
    content.metric = "negative_share";
    content.observed = share;
    content.expected = baseline.mean;
    content.severity = std::abs(shift) >= 2 * options_.margin ? AlertSeverity::kCritical
                                                               : AlertSeverity::kWarning;
    content.summary = fmt::format(
        "{}: {:.1f}% of mentions negative in {} window ({} of {}), {} its usual {:.1f}% ({:+.1f} "
        "points)",
        content.brand.name, share, window_.name, negative, classified,
        shift > 0 ? "up from" : "down from", baseline.mean, shift);
    std::string& details = content.details_json;
    details = "{";
    AppendJsonKey(details, "negative", true);
    details += std::to_string(negative);
    AppendJsonKey(details, "neutral");
    details += std::to_string(neutral_->Value(metrics));
    AppendJsonKey(details, "positive");
    details += std::to_string(positive_->Value(metrics));
    AppendJsonKey(details, "classified");
    details += std::to_string(classified);
    AppendJsonKey(details, "negative_share");
    details += JsonNumber(share);
    AppendJsonKey(details, "baseline_share");
    details += JsonNumber(baseline.mean);
    AppendJsonKey(details, "shift_points");
    details += JsonNumber(shift);
    AppendJsonKey(details, "margin");
    details += JsonNumber(options_.margin);
    AppendJsonKey(details, "baseline_windows");
    details += std::to_string(baseline.windows);
    details += "}";
    context.fired.push_back(
        MakeAlert(WindowAlertId(context.brands, brand, final.start_ms), brand, content));
  }

  SentimentShiftRuleOptions options_;
  const WindowMetricDefinition* negative_;
  const WindowMetricDefinition* neutral_;
  const WindowMetricDefinition* positive_;
  BrandPointsBaselines baselines_;
};

}  // namespace

std::string EnrichmentOffNote(const std::string& rule) {
  return fmt::format(
      "alert rule '{}' (sentiment_shift): enrichment is off — the pipeline has no enrich "
      "transform, so no mention has a sentiment and the rule cannot fire",
      rule);
}

Result<std::unique_ptr<AlertRuleSpec>> ReadSentimentShiftRule(const std::string& name,
                                                              YamlMap& section,
                                                              const ConfigContext& context) {
  SentimentShiftRuleOptions options;
  ReadRuleCommon(name, section, context, options.common);
  if (auto window = ReadRuleWindow(section, context)) options.window_index = *window;
  if (auto margin = section.Number("margin", 0.1, 100)) options.margin = *margin;
  if (auto direction = section.Choice("direction", {"up", "down", "both"})) {
    options.direction = *direction == "down"   ? ShareDirection::kDown
                        : *direction == "both" ? ShareDirection::kBoth
                                               : ShareDirection::kUp;
  }
  if (auto count = section.Integer("min_count", 1, INT64_MAX)) options.min_count = *count;
  if (auto alpha = section.Number("alpha", 0.001, 1)) options.alpha = *alpha;
  if (auto warmup = section.Integer("warmup", 1, 100000)) options.warmup = static_cast<uint32_t>(*warmup);
  if (context.transforms != nullptr) {
    options.enrichment_on = false;
    for (const auto& transform : *context.transforms) {
      if (transform->type() == enrichment::kTransformType) options.enrichment_on = true;
    }
    if (!options.enrichment_on && context.notes != nullptr) {
      context.notes->push_back(Diagnostic{section.Location(), EnrichmentOffNote(name),
                                          "add enrich to transforms: (docs/enrichment.md)"});
    }
  }
  RETURN_IF_ERROR(section.Finish());
  return AlertRuleSpecOf(name, "sentiment_shift", [options](const RuleBuildContext& context) {
    return MakeSentimentShiftRule(options, context);
  });
}

Result<std::unique_ptr<AlertRule>> MakeSentimentShiftRule(const SentimentShiftRuleOptions& options,
                                                          const RuleBuildContext& context) {
  if (context.windows == nullptr || context.brands == nullptr ||
      options.window_index >= context.windows->size() ||
      FindWindowMetric(enrichment::kNegativeCounter) == nullptr ||
      FindWindowMetric(enrichment::kNeutralCounter) == nullptr ||
      FindWindowMetric(enrichment::kPositiveCounter) == nullptr) {
    return Status::InvalidArgument(fmt::format("alert rule '{}' cannot be built", options.common.name));
  }
  if (!options.enrichment_on) LogWarn(EnrichmentOffNote(options.common.name));
  return std::unique_ptr<AlertRule>(std::make_unique<SentimentShiftRule>(options, context));
}

}  // namespace brandpulse
