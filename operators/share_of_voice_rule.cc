#include "operators/share_of_voice_rule.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/json_writer.h"

namespace brandpulse {
namespace {

class ShareOfVoiceRule final : public WindowRule {
 public:
  ShareOfVoiceRule(ShareOfVoiceRuleOptions options, const RuleBuildContext& context)
      : WindowRule(options.common, "share_of_voice", options.window_index, *context.windows,
                   context.allowed_lateness_ms, *context.brands),
        options_(std::move(options)) {}

  // Every brand's windows, not only the enabled ones: a share needs the whole group's total.
  Status OnWindowClosed(const ClosedWindow& closed, RuleContext&) override {
    series_.Add(closed);
    return Status::Ok();
  }

 protected:
  Status EvaluateWindow(const WindowSeries::Final& final, RuleContext& context) override {
    const BrandDirectory& brands = context.brands;
    if (!options_.group.empty()) {  // one named group: its members against their total
      members_.clear();
      uint64_t total = 0;
      for (const std::string& id : options_.members) {
        if (std::optional<uint32_t> brand = brands.FindBrand(id)) {
          members_.push_back(*brand);
          total += ValueOf(final, *brand);
        }
      }
      for (uint32_t brand : members_) {
        if (filter_.enabled(brand) && final.Includes(brand)) Evaluate(final, brand, options_.group, total, context);
      }
      return Status::Ok();
    }
    // The group totals of this window.
    std::unordered_map<std::string_view, uint64_t> totals;
    for (uint32_t brand = 0; brand < brands.brand_count(); ++brand) {
      const std::string_view group = brands.brand_info(brand).group;
      if (group.empty()) continue;
      totals[group] += ValueOf(final, brand);
    }
    for (uint32_t brand = 0; brand < brands.brand_count(); ++brand) {
      if (!filter_.enabled(brand) || !final.Includes(brand)) continue;
      const BrandInfo info = brands.brand_info(brand);
      if (info.group.empty()) continue;
      Evaluate(final, brand, info.group, totals[info.group], context);
    }
    return Status::Ok();
  }

  void Evaluate(const WindowSeries::Final& final, uint32_t brand, std::string_view group,
                uint64_t total, RuleContext& context) {
    if (total == 0 || total < options_.min_count) return;
    const uint64_t value = ValueOf(final, brand);
    const double share = 100.0 * static_cast<double>(value) / static_cast<double>(total);
    const std::string brand_id(context.brands.brand_info(brand).id);
    PointsBaseline& baseline = baselines_.Update(brand_id);
    const bool warm = baseline.windows >= options_.warmup;
    const double change = share - baseline.mean;
    std::string_view reason = Reason(share, change, warm, 1.0);
    if (baseline.in_episode) {
      if (Reason(share, change, warm, 0.5).empty()) baseline.in_episode = false;
    } else if (!reason.empty()) {
      baseline.in_episode = true;
      Fire(final, brand, group, reason, share, change, value, total, baseline, context);
    }
    baseline.Add(share, options_.alpha);
  }

  Status RestoreMore(StateStore& store, const BrandDirectory&) override {
    return baselines_.Restore(store, name());
  }

  void SnapshotMore(StateStore::Commit& commit) override { baselines_.Snapshot(commit, name()); }
  void ClearMore(const std::vector<std::string>& brand_ids) override { baselines_.Clear(brand_ids); }

 private:
  uint64_t ValueOf(const WindowSeries::Final& final, uint32_t brand) const {
    const WindowMetrics* metrics = final.Of(brand);
    return metrics != nullptr ? options_.metric->Value(*metrics) : 0;
  }

  // Which condition holds ("" none): bounds first, then the move against the baseline, whose
  // margin is scaled by `change_scale` (0.5 to end an episode).
  std::string_view Reason(double share, double change, bool warm, double change_scale) const {
    if (options_.above && share > *options_.above) return "above";
    if (options_.below && share < *options_.below) return "below";
    if (options_.change && warm) {
      const double margin = *options_.change * change_scale;
      const bool up = change > margin && options_.direction != ShareDirection::kDown;
      const bool down = -change > margin && options_.direction != ShareDirection::kUp;
      if (up || down) return "change";
    }
    return {};
  }

  void Fire(const WindowSeries::Final& final, uint32_t brand, std::string_view group,
            std::string_view reason,
            double share, double change, uint64_t value, uint64_t total,
            const PointsBaseline& baseline, RuleContext& context) {
    const BrandDirectory& brands = context.brands;
    AlertContent content = WindowAlert(final, brand, brands);
    content.metric = "share_of_voice";
    content.observed = share;
    content.expected = reason == "above"   ? *options_.above
                       : reason == "below" ? *options_.below
                                           : baseline.mean;
    const bool twice = reason == "change" ? std::abs(change) >= 2 * *options_.change
                                          : (reason == "above" ? share >= 2 * *options_.above
                                                               : share <= *options_.below / 2);
    content.severity = twice ? AlertSeverity::kCritical : AlertSeverity::kWarning;
    if (reason == "change") {
      content.summary = fmt::format(
          "{}'s share of voice in {} {} to {:.1f}% from its usual {:.1f}% ({:+.1f} points; {} of "
          "{} {} in {} window)",
          content.brand.name, group, change > 0 ? "rose" : "fell", share,
          baseline.mean, change, value, total, options_.metric->name, window_.name);
    } else {
      content.summary = fmt::format(
          "{}'s share of voice in {} is {:.1f}%, {} the {} of {}% ({} of {} {} in {} window)",
          content.brand.name, group, share, reason == "above" ? "above" : "below",
          reason == "above" ? "limit" : "minimum", JsonNumber(content.expected), value, total,
          options_.metric->name, window_.name);
    }
    std::string& details = content.details_json;
    details = "{";
    AppendJsonKey(details, "reason", true);
    AppendJsonString(details, reason);
    AppendJsonKey(details, "group");
    AppendJsonString(details, group);
    AppendJsonKey(details, "share");
    details += JsonNumber(share);
    AppendJsonKey(details, "baseline_share");
    details += baseline.windows > 0 ? JsonNumber(baseline.mean) : "null";
    AppendJsonKey(details, "change_points");
    details += baseline.windows > 0 ? JsonNumber(change) : "null";
    AppendJsonKey(details, "baseline_windows");
    details += std::to_string(baseline.windows);
    AppendJsonKey(details, "brand_value");
    details += std::to_string(value);
    AppendJsonKey(details, "group_total");
    details += std::to_string(total);
    AppendJsonKey(details, "group_values");  // every brand of the group, watchlist order
    details += "{";
    bool first = true;
    for (uint32_t other = 0; other < brands.brand_count(); ++other) {
      const BrandInfo info = brands.brand_info(other);
      const bool member = options_.group.empty()
                              ? info.group == group
                              : std::find(members_.begin(), members_.end(), other) != members_.end();
      if (!member) continue;
      AppendJsonKey(details, info.id, first);
      first = false;
      details += std::to_string(ValueOf(final, other));
    }
    details += "}}";
    context.fired.push_back(MakeAlert(WindowAlertId(brands, brand, final.start_ms), brand, content));
  }

  ShareOfVoiceRuleOptions options_;
  BrandPointsBaselines baselines_;
  std::vector<uint32_t> members_;  // the named group's brand indexes (this window)
};

}  // namespace

Result<std::unique_ptr<AlertRuleSpec>> ReadShareOfVoiceRule(const std::string& name,
                                                            YamlMap& section,
                                                            const ConfigContext& context) {
  Diagnostics& diagnostics = section.diagnostics();
  ShareOfVoiceRuleOptions options;
  ReadRuleCommon(name, section, context, options.common);
  if (auto window = ReadRuleWindow(section, context)) options.window_index = *window;
  options.metric = FindWindowMetric("mentions");
  if (section.Has("metric")) options.metric = ReadRuleMetric(section, "metric");
  if (auto above = section.Number("above", 0, 100)) options.above = *above;
  if (auto below = section.Number("below", 0, 100)) options.below = *below;
  if (auto change = section.Number("change", 0.1, 100)) options.change = *change;
  if (auto direction = section.Choice("direction", {"both", "up", "down"})) {
    options.direction = *direction == "up"     ? ShareDirection::kUp
                        : *direction == "down" ? ShareDirection::kDown
                                               : ShareDirection::kBoth;
  }
  if (auto count = section.Integer("min_count", 1, INT64_MAX)) options.min_count = *count;
  if (auto alpha = section.Number("alpha", 0.001, 1)) options.alpha = *alpha;
  if (auto warmup = section.Integer("warmup", 1, 100000)) options.warmup = static_cast<uint32_t>(*warmup);
  if (!section.Has("above") && !section.Has("below") && !section.Has("change")) {
    diagnostics.Add(section.Location(),
                    fmt::format("alert rule '{}' needs change, above or below", name),
                    "e.g. change: 10 (fires when the brand's share moves by more than 10 points "
                    "against its baseline) or above: 50 (points)");
  }
  if (auto group = section.String("group")) {
    // A named competitor group: a top-level `groups:` entry or a brand's `group:`.
    std::vector<std::string> names;
    for (const CompetitorGroup& known : context.watchlist.groups) {
      names.push_back(known.name);
      if (known.name == *group) options.members = known.brand_ids;
    }
    options.group = *group;
    if (options.members.empty() && !context.watchlist.brands.empty()) {
      diagnostics.Add(section.LocationOf("group"),
                      fmt::format("alert rule '{}': no competitor group named '{}'", name, *group),
                      names.empty() ? "define it under groups: in the watchlist"
                                    : DidYouMean(*group, names, "define it under groups: in the watchlist"));
    }
    for (const std::string& id : options.common.brands) {
      if (!options.members.empty() &&
          std::find(options.members.begin(), options.members.end(), id) == options.members.end()) {
        diagnostics.Add(section.LocationOf("brands"),
                        fmt::format("alert rule '{}': brand '{}' is not in group '{}'", name, id, *group),
                        fmt::format("its members: {}", fmt::join(options.members, ", ")));
      }
    }
  } else {
    // A share is within a competitor group: the brands it watches need one.
    std::vector<std::string> grouped;
    for (const BrandSpec& brand : context.watchlist.brands) {
      if (!brand.group.empty()) grouped.push_back(brand.id);
    }
    if (!context.watchlist.brands.empty() && grouped.empty()) {
      diagnostics.Add(section.Location(),
                      fmt::format("alert rule '{}': no brand of the watchlist is in a competitor group",
                                  name),
                      "give brands a group: in the watchlist (e.g. group: nordic-telecom)");
    }
    for (const std::string& id : options.common.brands) {
      for (const BrandSpec& brand : context.watchlist.brands) {
        if (brand.id == id && brand.group.empty()) {
          diagnostics.Add(section.LocationOf("brands"),
                          fmt::format("alert rule '{}': brand '{}' is in no competitor group", name, id),
                          grouped.empty() ? "give it a group: in the watchlist"
                                          : DidYouMean(id, grouped, "give it a group: in the watchlist"));
        }
      }
    }
  }
  RETURN_IF_ERROR(section.Finish());
  return AlertRuleSpecOf(name, "share_of_voice", [options](const RuleBuildContext& context) {
    return MakeShareOfVoiceRule(options, context);
  });
}

Result<std::unique_ptr<AlertRule>> MakeShareOfVoiceRule(const ShareOfVoiceRuleOptions& options,
                                                        const RuleBuildContext& context) {
  if (context.windows == nullptr || context.brands == nullptr ||
      options.window_index >= context.windows->size() || options.metric == nullptr) {
    return Status::InvalidArgument(fmt::format("alert rule '{}' cannot be built", options.common.name));
  }
  return std::unique_ptr<AlertRule>(std::make_unique<ShareOfVoiceRule>(options, context));
}

}  // namespace brandpulse
