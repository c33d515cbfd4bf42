// WindowQueries: the questions a brand team asks of committed windows — a metric's time series,
// the top brands of the last N minutes, share of voice in a competitor group — answered from the
// state store, and rendered as the JSON that both `brandpulse query --json` and the HTTP API
// (pipeline/http_api.h) return. docs/api.md documents the answers.
//
// Reads only what has been committed: open windows show the counts of the last commit.
// Thread safety: every method is const and only reads RocksDB through the StateStore's scans,
// which RocksDB allows concurrently with the pipeline's writes; so the HTTP server's threads may
// call it while the coordinator commits.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/pipeline_config.h"
#include "engine/state_store.h"
#include "engine/window_metric_registry.h"
#include "engine/status.h"

namespace brandpulse {

// A metric of the shared vocabulary (engine/window_metric_registry.h); never null.
using QueryMetric = const WindowMetricDefinition*;
// The metric named `name` ("authors" is accepted for unique_authors); nullopt when unknown.
std::optional<QueryMetric> ParseQueryMetric(std::string_view name);
std::string_view QueryMetricName(QueryMetric metric);
QueryMetric DefaultQueryMetric();  // mentions

// A time given as epoch milliseconds ("1767225600000"), ISO-8601 UTC
// ("2026-01-01T00:05:00Z", fractional seconds allowed), or relative to `now_ms` ("-15m").
std::optional<int64_t> ParseQueryTime(std::string_view text, int64_t now_ms);

struct WindowTotals {
  uint64_t mentions = 0;
  uint64_t reach = 0;
  uint64_t replies = 0;
  uint64_t questions = 0;
  uint64_t unique_authors = 0;  // HyperLogLog union of the windows' sketches (~1.6% std. error)
  uint64_t windows = 0;         // windows that held data
  std::vector<uint64_t> values;  // every metric's value, by WindowMetricDefinition::index
  uint64_t Value(QueryMetric metric) const;
};

struct SeriesPoint {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  WindowTotals totals;
};

struct BrandTotals {
  std::string id;
  std::string name;
  std::string group;
  WindowTotals totals;
  double share = 0;  // ShareOfVoice only: this brand's part of the group's metric, 0..1
};

// A range [from_ms, to_ms) widened to whole windows: the answer covers what it says it covers.
struct CoveredRange {
  std::string window;  // the window spec's name
  std::string dimension;  // "" = the brand total
  int64_t size_ms = 0;
  int64_t from_ms = 0;
  int64_t to_ms = 0;
};

struct SeriesAnswer {
  std::string brand;
  QueryMetric metric = DefaultQueryMetric();
  CoveredRange range;
  std::vector<SeriesPoint> points;  // windows with data, in time order
};

struct TermsAnswer {
  std::string brand;
  CoveredRange range;
  uint64_t mentions = 0;
  // Largest first. Counts are at most `error` below the truth (Misra–Gries, docs/state.md).
  std::vector<std::pair<std::string, uint64_t>> hashtags;
  std::vector<std::pair<std::string, uint64_t>> terms;
  uint64_t hashtag_error = 0;
  uint64_t term_error = 0;
};

struct RankingAnswer {
  QueryMetric metric = DefaultQueryMetric();
  CoveredRange range;
  std::string group;  // ShareOfVoice: the group
  uint64_t total = 0;  // sum of the metric over the listed brands (ShareOfVoice: the whole group)
  std::vector<BrandTotals> brands;  // by the metric, descending; ties by brand id
};

class WindowQueries {
 public:
  // `store` and `spec` must outlive this object. Brands come from spec.watchlist until
  // SetWatchlist() replaces them (a hot reload), which may happen while queries run.
  WindowQueries(StateStore& store, const PipelineSpec& spec)
      : store_(store), spec_(spec),
        watchlist_(std::make_shared<const WatchlistSpec>(spec.watchlist)) {}
  void SetWatchlist(std::shared_ptr<const WatchlistSpec> watchlist) {
    std::atomic_store(&watchlist_, std::move(watchlist));
  }
  std::shared_ptr<const WatchlistSpec> watchlist() const { return std::atomic_load(&watchlist_); }

  // The event time queries are relative to: the committed watermark, or the newest event time
  // seen when no watermark has been committed yet; nullopt before the first commit.
  Result<std::optional<int64_t>> Now() const;

  // `window` names a window spec of the pipeline; empty = the first one. `dimension` is "" for
  // the brand total or one the window spec declares ("lang:no", "platform:bluesky",
  // "author:own").
  //
  // Series: one point per window — tumbling and hopping windows as stored; a sliding window's
  // value at every `every` step, merged from its buckets.
  Result<SeriesAnswer> Series(std::string_view brand_id, QueryMetric metric,
                              std::string_view window, std::string_view dimension,
                              int64_t from_ms, int64_t to_ms) const;
  // Totals over a range add up non-overlapping windows: a tumbling window's, or a sliding
  // window's buckets. Hopping windows overlap and are refused (InvalidArgument).
  // Brands ranked by `metric` summed over the windows overlapping [from_ms, to_ms).
  Result<RankingAnswer> TopBrands(QueryMetric metric, std::string_view window,
                                  std::string_view dimension, int64_t from_ms, int64_t to_ms,
                                  size_t limit) const;
  // Every brand of `group`, with its share of the group's metric over [from_ms, to_ms).
  Result<RankingAnswer> ShareOfVoice(std::string_view group, QueryMetric metric,
                                     std::string_view window, std::string_view dimension,
                                     int64_t from_ms, int64_t to_ms) const;
  // A brand's top hashtags and co-occurring terms over [from_ms, to_ms) (brand totals only).
  Result<TermsAnswer> TopTerms(std::string_view brand_id, std::string_view window, int64_t from_ms,
                               int64_t to_ms, size_t limit) const;

  const PipelineSpec& spec() const { return spec_; }

 private:
  Result<const WindowSpec*> FindWindow(std::string_view name) const;
  Status CheckDimension(const WindowSpec& window, std::string_view dimension) const;
  // The stored series a range total reads: InvalidArgument for hopping windows.
  Result<WindowKey> TotalSeries(const WindowSpec& window, std::string_view dimension) const;
  Result<WindowMetrics> MergedOver(std::string_view brand_id, const WindowKey& series,
                                   const CoveredRange& range, uint64_t* windows) const;
  Result<WindowTotals> Totals(std::string_view brand_id, const WindowKey& series,
                              const CoveredRange& range) const;
  CoveredRange Cover(const WindowSpec& window, std::string_view dimension, int64_t step_ms,
                     int64_t from_ms, int64_t to_ms) const;

  StateStore& store_;
  const PipelineSpec& spec_;
  std::shared_ptr<const WatchlistSpec> watchlist_;  // atomic_load / atomic_store only
};

// JSON renderings (one object, no trailing newline); times as ISO-8601 and epoch ms.
std::string SeriesToJson(const SeriesAnswer& answer);
std::string RankingToJson(const RankingAnswer& answer);
std::string TermsToJson(const TermsAnswer& answer);
// {"error": message, "code": ...}
std::string ErrorToJson(const Status& status);

}  // namespace brandpulse
