#include "pipeline/window_queries.h"

#include <algorithm>
#include <charconv>
#include <map>

#include <fmt/format.h>

#include "engine/event_time.h"
#include "engine/json_writer.h"
#include "engine/state_store.h"
#include "engine/yaml_reader.h"
#include "operators/window_aggregate.h"

namespace brandpulse {
namespace {

// Query ranges are clamped to ±2^60 ms (±36 million years) before any arithmetic: window starts,
// ends and steps then stay far from int64 overflow whatever `from` and `to` a client sends.
constexpr int64_t kQueryTimeLimitMs = int64_t{1} << 60;

int64_t ClampQueryTime(int64_t time_ms) {
  return std::clamp(time_ms, -kQueryTimeLimitMs, kQueryTimeLimitMs);
}

std::optional<int64_t> ParseInteger(std::string_view text) {
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// UTC only ("Z", "+00:00" or no zone), so a query never silently shifts by an offset it did
// not mean; a date alone means midnight. The parsing itself is the decoders' ParseIso8601Ms.
std::optional<int64_t> ParseUtcTime(std::string_view text) {
  if (text.size() == 10) return ParseIso8601Ms(std::string(text) + "T00:00");
  size_t zone = text.find_first_of("+-", 10);
  if (zone != std::string_view::npos && text.substr(zone) != "+00:00") return std::nullopt;
  return ParseIso8601Ms(text);
}

void AppendRange(std::string& out, const CoveredRange& range) {
  AppendJsonKey(out, "window");
  AppendJsonString(out, range.window);
  if (!range.dimension.empty()) {
    AppendJsonKey(out, "dimension");
    AppendJsonString(out, range.dimension);
  }
  out += fmt::format(",\"window_ms\":{},\"from\":", range.size_ms);
  AppendJsonString(out, FormatIsoTime(range.from_ms));
  AppendJsonKey(out, "to");
  AppendJsonString(out, FormatIsoTime(range.to_ms));
  out += fmt::format(",\"from_ms\":{},\"to_ms\":{}", range.from_ms, range.to_ms);
}

void AppendTotals(std::string& out, const WindowTotals& totals) {
  out += fmt::format(",\"mentions\":{},\"unique_authors\":{},\"reach\":{},\"replies\":{},"
                     "\"questions\":{}", totals.mentions, totals.unique_authors, totals.reach,
                     totals.replies, totals.questions);
}

}  // namespace

std::optional<QueryMetric> ParseQueryMetric(std::string_view name) {
  if (name == "authors") name = "unique_authors";
  const WindowMetricDefinition* metric = FindWindowMetric(name);
  if (metric == nullptr) return std::nullopt;
  return metric;
}

std::string_view QueryMetricName(QueryMetric metric) { return metric->name; }

QueryMetric DefaultQueryMetric() { return FindWindowMetric("mentions"); }

std::optional<int64_t> ParseQueryTime(std::string_view text, int64_t now_ms) {
  if (text.empty()) return std::nullopt;
  if (text == "now") return now_ms;
  if (text.front() == '-') {
    std::optional<int64_t> ago = ParseDurationMs(text.substr(1));
    int64_t time_ms = 0;
    if (!ago || __builtin_sub_overflow(now_ms, *ago, &time_ms)) return std::nullopt;
    return time_ms;
  }
  if (std::optional<int64_t> epoch_ms = ParseInteger(text)) return epoch_ms;
  return ParseUtcTime(text);
}

uint64_t WindowTotals::Value(QueryMetric metric) const {
  return metric->index < values.size() ? values[metric->index] : 0;
}

Result<std::optional<int64_t>> WindowQueries::Now() const {
  ASSIGN_OR_RETURN(std::optional<std::string> newest, store_.ReadMeta(kMaxEventTimeKey));
  if (!newest) {
    ASSIGN_OR_RETURN(newest, store_.ReadMeta(kWatermarkKey));
  }
  if (!newest) return std::optional<int64_t>();
  std::optional<int64_t> value = ParseInteger(*newest);
  if (!value) return Status::Corruption(fmt::format("stored event time '{}' is not a number", *newest));
  return value;
}

Result<const WindowSpec*> WindowQueries::FindWindow(std::string_view name) const {
  if (spec_.windows.empty()) return Status::NotFound("the pipeline has no windows");
  if (name.empty()) return &spec_.windows.front();
  for (const WindowSpec& window : spec_.windows) {
    if (window.name == name) return &window;
  }
  std::string known;
  for (const WindowSpec& window : spec_.windows) known += (known.empty() ? "" : ", ") + window.name;
  return Status::NotFound(fmt::format("no window '{}' (the pipeline has: {})", name, known));
}

Status WindowQueries::CheckDimension(const WindowSpec& window, std::string_view dimension) const {
  if (dimension.empty()) return Status::Ok();
  // Echoed into the answer: a value that is not UTF-8 would make it invalid JSON (make fuzz).
  if (!IsValidUtf8(dimension)) return Status::InvalidArgument("the dimension is not valid UTF-8");
  std::string_view kind = dimension.substr(0, dimension.find(':'));
  for (Dimension declared : window.dimensions) {
    if (DimensionName(declared) == kind && dimension.size() > kind.size() + 1) return Status::Ok();
  }
  std::string declared_names;
  for (Dimension declared : window.dimensions) {
    declared_names += (declared_names.empty() ? "" : ", ") + std::string(DimensionName(declared));
  }
  return Status::InvalidArgument(fmt::format(
      "window '{}' is not kept by '{}' (its dimensions: {}; write e.g. lang:no)", window.name,
      dimension, declared_names.empty() ? "none" : declared_names));
}

Result<WindowKey> WindowQueries::TotalSeries(const WindowSpec& window,
                                             std::string_view dimension) const {
  if (window.type == WindowType::kHopping) {
    return Status::InvalidArgument(fmt::format(
        "window '{}' is hopping: its windows overlap, so they do not add up over a range; "
        "ask a tumbling or sliding window", window.name));
  }
  RETURN_IF_ERROR(CheckDimension(window, dimension));
  WindowKey series;
  series.size_ms = window.stored_size_ms();
  series.slide_ms = window.stored_slide_ms();
  series.dimension = std::string(dimension);
  return series;
}

CoveredRange WindowQueries::Cover(const WindowSpec& window, std::string_view dimension,
                                  int64_t step_ms, int64_t from_ms, int64_t to_ms) const {
  CoveredRange range;
  range.window = window.name;
  range.dimension = std::string(dimension);
  range.size_ms = window.size_ms;
  range.from_ms = WindowStart(ClampQueryTime(from_ms), step_ms);
  range.to_ms = std::max(range.from_ms, WindowStart(ClampQueryTime(to_ms) - 1, step_ms) + step_ms);
  return range;
}

Result<WindowMetrics> WindowQueries::MergedOver(std::string_view brand_id, const WindowKey& series,
                                                const CoveredRange& range,
                                                uint64_t* windows) const {
  WindowKey key = series;
  key.brand_id = std::string(brand_id);
  WindowMetrics merged;
  RETURN_IF_ERROR(store_.ScanSeries(key, range.from_ms, range.to_ms,
                                    [&](const WindowKey&, const WindowMetrics& metrics) {
                                      merged.Merge(metrics);
                                      if (windows) ++*windows;
                                    }));
  return merged;
}

namespace {

WindowTotals TotalsOf(const WindowMetrics& metrics, uint64_t windows) {
  WindowTotals totals;
  totals.mentions = metrics.mentions;
  totals.reach = metrics.reach;
  totals.replies = metrics.replies;
  totals.questions = metrics.questions;
  totals.windows = windows;
  for (const WindowMetricDefinition* metric : AllWindowMetrics()) {
    totals.values.push_back(metric->Value(metrics));
  }
  // The sketch's estimate is the costly one: computed once, above, and read back here.
  static const WindowMetricDefinition* const kUniqueAuthors = FindWindowMetric("unique_authors");
  totals.unique_authors = totals.Value(kUniqueAuthors);
  return totals;
}

}  // namespace

Result<WindowTotals> WindowQueries::Totals(std::string_view brand_id, const WindowKey& series,
                                           const CoveredRange& range) const {
  uint64_t windows = 0;
  ASSIGN_OR_RETURN(WindowMetrics merged, MergedOver(brand_id, series, range, &windows));
  return TotalsOf(merged, windows);
}

Result<SeriesAnswer> WindowQueries::Series(std::string_view brand_id, QueryMetric metric,
                                           std::string_view window_name,
                                           std::string_view dimension, int64_t from_ms,
                                           int64_t to_ms) const {
  if (from_ms >= to_ms) return Status::InvalidArgument("'from' must be before 'to'");
  ASSIGN_OR_RETURN(const WindowSpec* window, FindWindow(window_name));
  RETURN_IF_ERROR(CheckDimension(*window, dimension));
  SeriesAnswer answer;
  answer.brand = brand_id;
  answer.metric = metric;
  WindowKey series;
  series.brand_id = std::string(brand_id);
  series.dimension = std::string(dimension);
  series.size_ms = window->stored_size_ms();
  series.slide_ms = window->stored_slide_ms();
  if (window->type != WindowType::kSliding) {
    int64_t step = window->type == WindowType::kHopping ? window->slide_ms : window->size_ms;
    answer.range = Cover(*window, dimension, step, from_ms, to_ms);
    RETURN_IF_ERROR(store_.ScanSeries(
        series, answer.range.from_ms, answer.range.to_ms,
        [&](const WindowKey& key, const WindowMetrics& metrics) {
          answer.points.push_back(SeriesPoint{key.start_ms, key.start_ms + key.size_ms,
                                              TotalsOf(metrics, 1)});
        }));
    return answer;
  }
  // Sliding: the window ending at each step end in the range = its last size/every buckets.
  const int64_t every = window->slide_ms;
  answer.range = Cover(*window, dimension, every, from_ms, to_ms);
  std::map<int64_t, WindowMetrics> buckets;
  RETURN_IF_ERROR(store_.ScanSeries(
      series, answer.range.from_ms - window->size_ms + every, answer.range.to_ms,
      [&](const WindowKey& key, const WindowMetrics& metrics) { buckets[key.start_ms] = metrics; }));
  // Steps without a bucket are skipped in one jump, so the work follows the stored buckets, not
  // the width of the range (a range of years at a 1-minute step would be millions of steps).
  int64_t end = answer.range.from_ms + every;
  while (end <= answer.range.to_ms) {
    auto it = buckets.lower_bound(end - window->size_ms);
    if (it == buckets.end()) break;
    if (it->first >= end) {  // the next bucket lies past this step: go to the first step holding it
      end = WindowStart(it->first, every) + every;
      continue;
    }
    WindowMetrics merged;
    uint64_t windows = 0;
    for (; it != buckets.end() && it->first < end; ++it) {
      merged.Merge(it->second);
      ++windows;
    }
    answer.points.push_back(SeriesPoint{end - window->size_ms, end, TotalsOf(merged, windows)});
    end += every;
  }
  return answer;
}

Result<RankingAnswer> WindowQueries::TopBrands(QueryMetric metric, std::string_view window_name,
                                               std::string_view dimension, int64_t from_ms,
                                               int64_t to_ms, size_t limit) const {
  if (from_ms >= to_ms) return Status::InvalidArgument("'from' must be before 'to'");
  ASSIGN_OR_RETURN(const WindowSpec* window, FindWindow(window_name));
  ASSIGN_OR_RETURN(WindowKey series, TotalSeries(*window, dimension));
  RankingAnswer answer;
  answer.metric = metric;
  answer.range = Cover(*window, dimension, series.size_ms, from_ms, to_ms);
  std::shared_ptr<const WatchlistSpec> watchlist = this->watchlist();
  for (const BrandSpec& brand : watchlist->brands) {
    ASSIGN_OR_RETURN(WindowTotals totals, Totals(brand.id, series, answer.range));
    if (totals.windows == 0) continue;
    answer.brands.push_back(BrandTotals{brand.id, brand.name, brand.group, totals, 0});
  }
  std::sort(answer.brands.begin(), answer.brands.end(), [&](const auto& a, const auto& b) {
    uint64_t va = a.totals.Value(metric), vb = b.totals.Value(metric);
    return va != vb ? va > vb : a.id < b.id;
  });
  if (answer.brands.size() > limit) answer.brands.resize(limit);
  for (const BrandTotals& brand : answer.brands) answer.total += brand.totals.Value(metric);
  return answer;
}

Result<RankingAnswer> WindowQueries::ShareOfVoice(std::string_view group, QueryMetric metric,
                                                  std::string_view window_name,
                                                  std::string_view dimension, int64_t from_ms,
                                                  int64_t to_ms) const {
  if (from_ms >= to_ms) return Status::InvalidArgument("'from' must be before 'to'");
  ASSIGN_OR_RETURN(const WindowSpec* window, FindWindow(window_name));
  ASSIGN_OR_RETURN(WindowKey series, TotalSeries(*window, dimension));
  RankingAnswer answer;
  answer.metric = metric;
  answer.group = group;
  answer.range = Cover(*window, dimension, series.size_ms, from_ms, to_ms);
  std::shared_ptr<const WatchlistSpec> watchlist = this->watchlist();
  for (const BrandSpec& brand : watchlist->brands) {
    if (brand.group != group) continue;
    ASSIGN_OR_RETURN(WindowTotals totals, Totals(brand.id, series, answer.range));
    answer.brands.push_back(BrandTotals{brand.id, brand.name, brand.group, totals, 0});
    answer.total += totals.Value(metric);
  }
  if (answer.brands.empty()) {
    return Status::NotFound(fmt::format("no brand of the watchlist is in group '{}'", group));
  }
  for (BrandTotals& brand : answer.brands) {
    brand.share = answer.total == 0 ? 0.0
                                    : static_cast<double>(brand.totals.Value(metric)) / answer.total;
  }
  std::sort(answer.brands.begin(), answer.brands.end(), [&](const auto& a, const auto& b) {
    uint64_t va = a.totals.Value(metric), vb = b.totals.Value(metric);
    return va != vb ? va > vb : a.id < b.id;
  });
  return answer;
}

Result<TermsAnswer> WindowQueries::TopTerms(std::string_view brand_id, std::string_view window_name,
                                            int64_t from_ms, int64_t to_ms, size_t limit) const {
  if (from_ms >= to_ms) return Status::InvalidArgument("'from' must be before 'to'");
  if (window_name.empty() && spec_.top_k_window < spec_.windows.size()) {
    window_name = spec_.windows[spec_.top_k_window].name;
  }
  ASSIGN_OR_RETURN(const WindowSpec* window, FindWindow(window_name));
  if (spec_.top_k == 0) return Status::NotFound("the pipeline keeps no top terms (metrics.top_k: 0)");
  const WindowSpec& kept = spec_.windows[spec_.top_k_window];
  if (window->stored_size_ms() != kept.stored_size_ms() ||
      window->stored_slide_ms() != kept.stored_slide_ms()) {
    return Status::InvalidArgument(fmt::format(
        "top terms are kept for window '{}' (metrics.window), not '{}'", kept.name, window->name));
  }
  ASSIGN_OR_RETURN(WindowKey series, TotalSeries(*window, ""));
  TermsAnswer answer;
  answer.brand = brand_id;
  answer.range = Cover(*window, "", series.size_ms, from_ms, to_ms);
  ASSIGN_OR_RETURN(WindowMetrics merged, MergedOver(brand_id, series, answer.range, nullptr));
  answer.mentions = merged.mentions;
  answer.hashtags = merged.hashtags.Top(limit);
  answer.terms = merged.terms.Top(limit);
  answer.hashtag_error = merged.hashtags.error();
  answer.term_error = merged.terms.error();
  return answer;
}

std::string SeriesToJson(const SeriesAnswer& answer) {
  std::string out = "{";
  AppendJsonKey(out, "brand", true);
  AppendJsonString(out, answer.brand);
  AppendJsonKey(out, "metric");
  AppendJsonString(out, QueryMetricName(answer.metric));
  AppendRange(out, answer.range);
  out += ",\"points\":[";
  for (size_t i = 0; i < answer.points.size(); ++i) {
    const SeriesPoint& point = answer.points[i];
    if (i > 0) out.push_back(',');
    out += "{\"start\":";
    AppendJsonString(out, FormatIsoTime(point.start_ms));
    out += fmt::format(",\"start_ms\":{},\"value\":{}", point.start_ms,
                       point.totals.Value(answer.metric));
    AppendTotals(out, point.totals);
    out.push_back('}');
  }
  out += "]}";
  return out;
}

std::string RankingToJson(const RankingAnswer& answer) {
  std::string out = "{";
  AppendJsonKey(out, "metric", true);
  AppendJsonString(out, QueryMetricName(answer.metric));
  if (!answer.group.empty()) {
    AppendJsonKey(out, "group");
    AppendJsonString(out, answer.group);
  }
  AppendRange(out, answer.range);
  out += fmt::format(",\"total\":{},\"brands\":[", answer.total);
  for (size_t i = 0; i < answer.brands.size(); ++i) {
    const BrandTotals& brand = answer.brands[i];
    if (i > 0) out.push_back(',');
    out += "{\"brand\":";
    AppendJsonString(out, brand.id);
    AppendJsonKey(out, "name");
    AppendJsonString(out, brand.name);
    out += fmt::format(",\"value\":{}", brand.totals.Value(answer.metric));
    if (!answer.group.empty()) out += fmt::format(",\"share\":{:.6f}", brand.share);
    AppendTotals(out, brand.totals);
    out.push_back('}');
  }
  out += "]}";
  return out;
}

std::string TermsToJson(const TermsAnswer& answer) {
  std::string out = "{";
  AppendJsonKey(out, "brand", true);
  AppendJsonString(out, answer.brand);
  AppendRange(out, answer.range);
  out += fmt::format(",\"mentions\":{}", answer.mentions);
  auto append_list = [&](std::string_view name, const auto& list, uint64_t error) {
    out += fmt::format(",\"{}_error\":{},\"{}\":[", name, error, name);
    for (size_t i = 0; i < list.size(); ++i) {
      if (i > 0) out.push_back(',');
      out += "{\"term\":";
      AppendJsonString(out, list[i].first);
      out += fmt::format(",\"count\":{}}}", list[i].second);
    }
    out.push_back(']');
  };
  append_list("hashtags", answer.hashtags, answer.hashtag_error);
  append_list("terms", answer.terms, answer.term_error);
  out.push_back('}');
  return out;
}

std::string ErrorToJson(const Status& status) {
  std::string out = "{";
  AppendJsonKey(out, "error", true);
  AppendJsonString(out, status.message());
  AppendJsonKey(out, "code");
  AppendJsonString(out, StatusCodeName(status.code()));
  out.push_back('}');
  return out;
}

}  // namespace brandpulse
