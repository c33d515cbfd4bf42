#include "operators/spike_rule.h"

#include <bit>
#include <charconv>
#include <set>
#include <cmath>
#include <unordered_map>

#include <fmt/format.h>

#include "engine/varint.h"

namespace brandpulse {
namespace {

constexpr int64_t kHourMs = 3600 * 1000LL;
constexpr int64_t kWeekHours = 7 * 24;

// An exponentially weighted mean and variance (West's update).
struct Ewma {
  uint64_t count = 0;
  double mean = 0;
  double variance = 0;

  void Add(double value, double alpha) {
    if (count++ == 0) {
      mean = value;
      variance = 0;
      return;
    }
    const double difference = value - mean;
    mean += alpha * difference;
    variance = (1 - alpha) * (variance + alpha * difference * difference);
  }
  void EncodeTo(std::string& out) const {
    AppendVarint(out, count);
    AppendVarint(out, std::bit_cast<uint64_t>(mean));
    AppendVarint(out, std::bit_cast<uint64_t>(variance));
  }
  bool DecodeFrom(std::string_view& in) {
    uint64_t mean_bits = 0, variance_bits = 0;
    if (!ReadVarint(in, count) || !ReadVarint(in, mean_bits) || !ReadVarint(in, variance_bits)) {
      return false;
    }
    mean = std::bit_cast<double>(mean_bits);
    variance = std::bit_cast<double>(variance_bits);
    return true;
  }
};

// Monday 00:00 UTC = hour 0 (1970-01-01 was a Thursday: 3 days in).
int64_t HourOfWeek(int64_t time_ms) {
  const int64_t hours = time_ms >= 0 ? time_ms / kHourMs : (time_ms - kHourMs + 1) / kHourMs;
  return ((hours + 3 * 24) % kWeekHours + kWeekHours) % kWeekHours;
}

class SpikeRule final : public WindowRule {
 public:
  SpikeRule(SpikeRuleOptions options, const RuleBuildContext& context)
      : WindowRule(options.common, "spike", options.window_index, *context.windows,
                   context.allowed_lateness_ms, *context.brands),
        options_(std::move(options)) {}

 protected:
  struct Baseline {
    Ewma overall;
    bool in_episode = false;
    int64_t episode_start_ms = 0;
    std::unordered_map<int64_t, Ewma> hours;  // hour of week -> its baseline
  };

  Status EvaluateWindow(const WindowSeries::Final& final, RuleContext& context) override {
    const int64_t hour = HourOfWeek(final.start_ms);
    for (uint32_t brand = 0; brand < context.brands.brand_count(); ++brand) {
      if (!filter_.enabled(brand) || !final.Includes(brand)) continue;
      const WindowMetrics* metrics = final.Of(brand);
      const double value = metrics != nullptr ? static_cast<double>(options_.metric->Value(*metrics)) : 0;
      const std::string brand_id(context.brands.brand_info(brand).id);
      Baseline& baseline = baselines_[brand_id];
      Ewma& seasonal = baseline.hours[hour];
      double expected = baseline.overall.mean;
      double variance = baseline.overall.variance;
      const bool seasonal_used = options_.seasonal && seasonal.count >= 2;
      if (seasonal_used) {
        expected = (expected + seasonal.mean) / 2;
        variance = (variance + seasonal.variance) / 2;
      }
      const double deviation =
          std::max({std::sqrt(std::max(variance, 0.0)), std::sqrt(std::max(expected, 0.0)), 1.0});
      const double z = (value - expected) / deviation;
      if (baseline.overall.count >= options_.warmup) {
        if (baseline.in_episode) {
          if (z < options_.z_reset) baseline.in_episode = false;
        } else if (z >= options_.z && value >= static_cast<double>(options_.min_count)) {
          baseline.in_episode = true;
          baseline.episode_start_ms = final.start_ms;
          Fire(final, brand, value, expected, deviation, z, seasonal_used, baseline, context);
        }
      }
      baseline.overall.Add(value, options_.alpha);
      if (options_.seasonal) seasonal.Add(value, options_.seasonal_alpha);
      dirty_.insert({brand_id, hour});
    }
    return Status::Ok();
  }

  Status RestoreMore(StateStore& store, const BrandDirectory&) override {
    bool bad = false;
    RETURN_IF_ERROR(store.ScanRuleState(name(), [&](std::string_view key, std::string_view value) {
      if (key.starts_with("b/")) {
        Baseline& baseline = baselines_[std::string(key.substr(2))];
        uint64_t episode = 0, start = 0;
        if (!baseline.overall.DecodeFrom(value) || !ReadVarint(value, episode) ||
            !ReadVarint(value, start)) {
          bad = true;
          return;
        }
        baseline.in_episode = episode != 0;
        baseline.episode_start_ms = static_cast<int64_t>(start);
      } else if (key.starts_with("h/")) {
        key.remove_prefix(2);
        const size_t separator = key.find('\x1f');
        if (separator == std::string_view::npos) return;
        int64_t hour = 0;
        std::string_view digits = key.substr(separator + 1);
        std::from_chars(digits.data(), digits.data() + digits.size(), hour);
        if (!baselines_[std::string(key.substr(0, separator))].hours[hour].DecodeFrom(value)) {
          bad = true;
        }
      }
    }));
    if (bad) return Status::Corruption(fmt::format("alert rule '{}': stored baseline does not decode", name()));
    return Status::Ok();
  }

  // Issue 11: a moved partials partition's brands start over (their windows are replayed).
  void ClearMore(const std::vector<std::string>& brand_ids) override {
    for (const std::string& id : brand_ids) {
      auto found = baselines_.find(id);
      std::erase_if(dirty_, [&](const auto& entry) { return entry.first == id; });
      if (found == baselines_.end()) continue;
      cleared_keys_.push_back("b/" + id);
      for (const auto& [hour, ewma] : found->second.hours) {
        cleared_keys_.push_back(fmt::format("h/{}\x1f{}", id, hour));
      }
      baselines_.erase(found);
    }
  }

  void SnapshotMore(StateStore::Commit& commit) override {
    for (const std::string& key : cleared_keys_) commit.DeleteRuleState(name(), key);
    cleared_keys_.clear();
    for (const auto& [brand_id, hour] : dirty_) {
      const Baseline& baseline = baselines_[brand_id];
      std::string value;
      baseline.overall.EncodeTo(value);
      AppendVarint(value, baseline.in_episode ? 1 : 0);
      AppendVarint(value, static_cast<uint64_t>(baseline.episode_start_ms));
      commit.PutRuleState(name(), "b/" + brand_id, value);
      if (options_.seasonal) {
        std::string seasonal;
        baseline.hours.at(hour).EncodeTo(seasonal);
        commit.PutRuleState(name(), fmt::format("h/{}\x1f{}", brand_id, hour), seasonal);
      }
    }
    dirty_.clear();
  }

 private:
  void Fire(const WindowSeries::Final& final, uint32_t brand, double value, double expected,
            double deviation, double z, bool seasonal_used, const Baseline& baseline,
            RuleContext& context) {
    AlertContent content = WindowAlert(final, brand, context.brands);
    content.metric = options_.metric->name;
    content.observed = value;
    content.expected = expected;
    content.severity = z >= 2 * options_.z ? AlertSeverity::kCritical : AlertSeverity::kWarning;
    content.summary = fmt::format("{} spiked: {} {} in {} window, {:.1f}x the usual {} (z {:.1f})",
                                  content.brand.name, value, options_.metric->name, window_.name,
                                  expected > 0 ? value / expected : value, JsonNumber(expected), z);
    content.details_json = fmt::format(
        "{{\"z\":{},\"deviation\":{},\"baseline_windows\":{},\"seasonal\":{},\"z_threshold\":{},"
        "\"min_count\":{}}}",
        JsonNumber(z), JsonNumber(deviation), baseline.overall.count, seasonal_used ? "true" : "false",
        JsonNumber(options_.z), options_.min_count);
    context.fired.push_back(
        MakeAlert(WindowAlertId(context.brands, brand, final.start_ms), brand, content));
  }

  SpikeRuleOptions options_;
  std::unordered_map<std::string, Baseline> baselines_;  // by brand id
  std::set<std::pair<std::string, int64_t>> dirty_;       // (brand id, hour) changed
  std::vector<std::string> cleared_keys_;                 // ClearMore: deleted at the next Snapshot
};

}  // namespace

Result<std::unique_ptr<AlertRuleSpec>> ReadSpikeRule(const std::string& name, YamlMap& section,
                                                     const ConfigContext& context) {
  SpikeRuleOptions options;
  ReadRuleCommon(name, section, context, options.common);
  if (auto window = ReadRuleWindow(section, context)) options.window_index = *window;
  options.metric = FindWindowMetric("mentions");
  if (section.Has("metric")) options.metric = ReadRuleMetric(section, "metric");
  if (auto z = section.Number("z", 0.1, 1000)) options.z = *z;
  if (auto z_reset = section.Number("z_reset", -1000, 1000)) options.z_reset = *z_reset;
  if (options.z_reset > options.z) {
    section.diagnostics().Add(section.LocationOf("z_reset"),
                              fmt::format("z_reset {} is above z {}", options.z_reset, options.z),
                              "z_reset must be at most z (the episode ends below it)");
  }
  if (auto count = section.Integer("min_count", 0, INT64_MAX)) options.min_count = *count;
  if (auto warmup = section.Integer("warmup", 1, 100000)) options.warmup = static_cast<uint32_t>(*warmup);
  if (auto alpha = section.Number("alpha", 0.001, 1)) options.alpha = *alpha;
  if (auto alpha = section.Number("seasonal_alpha", 0.001, 1)) options.seasonal_alpha = *alpha;
  if (auto seasonal = section.Boolean("seasonal")) options.seasonal = *seasonal;
  RETURN_IF_ERROR(section.Finish());
  return AlertRuleSpecOf(name, "spike", [options](const RuleBuildContext& context) {
    return MakeSpikeRule(options, context);
  });
}

Result<std::unique_ptr<AlertRule>> MakeSpikeRule(const SpikeRuleOptions& options,
                                                 const RuleBuildContext& context) {
  if (context.windows == nullptr || context.brands == nullptr ||
      options.window_index >= context.windows->size() || options.metric == nullptr) {
    return Status::InvalidArgument(fmt::format("alert rule '{}' cannot be built", options.common.name));
  }
  return std::unique_ptr<AlertRule>(std::make_unique<SpikeRule>(options, context));
}

}  // namespace brandpulse
