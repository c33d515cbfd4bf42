// The pipeline runner's metrics (engine/metrics.h instruments in the process registry) and the
// live figures the dashboard reads (pipeline/http_operations.h). Every name is listed in
// docs/operations.md; they are a contract with deploy/ (Grafana, alerts): do not rename.
//
// Threads: On*() are called by the coordinator thread only (counters are relaxed atomics, so a
// scrape on an HTTP thread never waits for it); the snapshot getters and the collectors take
// small locks of their own.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/alert_rule.h"
#include "engine/batch.h"
#include "engine/metrics.h"

namespace brandpulse {

class StateStore;
class SinkDelivery;

// Per-brand mentions exported with bounded label cardinality: the first `top_brands` brands to
// reach the top by mentions get a `brand` label and keep it; the rest are summed as
// brand="other". A brand's labelled series counts from when it got its label (what it had before
// went to "other"), so every series only goes up and the sum over labels is the total.
inline constexpr size_t kDefaultMetricsTopBrands = 20;

// The last alerts, newest last, for the dashboard's feed.
inline constexpr size_t kAlertFeedSize = 200;

struct BrandFigures {
  std::string id;
  std::string name;
  uint64_t mentions = 0;
  uint64_t alerts = 0;
};

struct AlertFeedEntry {
  uint64_t sequence = 0;  // 1, 2, ... in the order alerts were committed
  std::string id;
  std::string payload;  // the alert's JSON (with its evidence), as sinks receive it
};

class PipelineMetrics {
 public:
  explicit PipelineMetrics(MetricsRegistry& registry, std::string pipeline_name,
                           size_t top_brands = kDefaultMetricsTopBrands);
  ~PipelineMetrics();
  PipelineMetrics(const PipelineMetrics&) = delete;
  PipelineMetrics& operator=(const PipelineMetrics&) = delete;

  // --- coordinator thread ---
  void OnBatch(const Batch& batch);
  void OnCommit(double seconds, uint64_t window_updates, uint64_t windows_closed,
                uint64_t windows_open, int64_t watermark_ms, const std::vector<FiredAlert>& alerts);
  void OnReload(bool swapped, const std::string& error, size_t brand_count);
  // The pipeline's alert rules: each gets its brandpulse_alerts_total series at 0 from the start.
  void DeclareRules(const std::vector<std::string>& names);
  void OnBackpressure(double seconds);
  // issue 12: inquiries the unanswered rules saw — opened, answered (with the response time),
  // unanswered — per brand and profile (at most 256 pairs get labels, then "other").
  void OnInquiries(const std::vector<InquiryObservation>& observations, const BrandDirectory& brands);
  void OnAssignmentChange(size_t gained, size_t lost);
  // The run's per-brand counters (call about once a second, not per batch). `update` runs
  // under the lock with the published figures: it overwrites the counts, and rewrites ids and
  // names only when the brands changed (so 100,000 brands cost no string copies a second).
  void PublishBrands(std::vector<BrandFigures> brands);
  void UpdateBrands(const std::function<void(std::vector<BrandFigures>& brands)>& update);
  // Ready: state restored, watchlist compiled, sinks open, input opened (/readyz).
  void SetReady(bool ready);
  // Scrape-time values read from these (RocksDB memory and stalls, outbox depth per sink).
  // Both must outlive this object or be detached first (DetachSources).
  void AttachSources(StateStore* store, std::vector<std::pair<std::string, SinkDelivery*>> sinks);
  void DetachSources();

  // --- any thread ---
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  // The dashboard's figures: {"pipeline","ready","uptime_seconds","records",...}; "brands" holds
  // the 50 with the most mentions.
  std::string StatusJson() const;
  // Alerts with sequence > after, oldest first: {"alerts":[{"sequence","id","alert"}],"last":N}.
  std::string AlertsJson(uint64_t after) const;

  // A dead-letter reason as a label value: the text up to its first ':' (details such as
  // offsets dropped), at most 64 bytes. Past 32 distinct reasons a run counts the rest as "other".
  static std::string ReasonLabel(std::string_view reason);

 private:
  MetricCounter& DeadLettersFor(std::string_view reason);
  MetricCounter& AlertsFor(std::string_view rule);
  struct InquirySeries {  // issue 12
    MetricCounter* opened;
    MetricCounter* answered;
    MetricCounter* unanswered;
    MetricHistogram* response_seconds;
  };
  InquirySeries& InquirySeriesFor(std::string_view brand, std::string_view profile);
  void CollectScrapeTime(MetricsWriter& writer);

  MetricsRegistry& registry_;
  const std::string pipeline_name_;
  const size_t top_brands_;
  const double started_seconds_;

  MetricCounter& records_;
  MetricCounter& input_bytes_;
  MetricCounter& posts_decoded_;
  MetricCounter& records_skipped_;
  MetricCounter& posts_matched_;
  MetricCounter& mentions_;
  MetricCounter& late_posts_;
  MetricCounter& batches_;
  MetricCounter& commits_;
  MetricHistogram& commit_seconds_;
  MetricCounter& window_updates_;
  MetricCounter& windows_closed_;
  MetricGauge& windows_open_;
  MetricGauge& watermark_;
  MetricCounter& reloads_ok_;
  MetricCounter& reloads_failed_;
  MetricGauge& reload_last_failed_;
  MetricGauge& reload_last_timestamp_;
  MetricGauge& watchlist_brands_;
  MetricCounter& backpressure_waits_;
  std::atomic<double> backpressure_seconds_{0};  // exported by the collector, as a counter
  MetricCounter& partitions_gained_;
  MetricCounter& partitions_lost_;
  MetricGauge& ready_gauge_;
  MetricGauge& start_time_;
  std::atomic<bool> ready_{false};
  // De-duplication (issue 14, operators/dedup.h); set in the constructor.
  MetricCounter* duplicates_dropped_ = nullptr;
  MetricCounter* edits_applied_ = nullptr;
  MetricCounter* edits_late_ = nullptr;
  MetricCounter* dedup_evicted_ = nullptr;

  // This run's figures (the registry's counters are the process's, over every run).
  struct RunFigures {
    std::atomic<uint64_t> records{0}, posts{0}, mentions{0}, dead_letters{0}, late_posts{0},
        alerts{0}, commits{0}, reloads{0}, reload_failures{0};
    std::atomic<int64_t> watermark_ms{INT64_MIN};
  };
  RunFigures run_;

  // Coordinator-only caches (a lookup without the registry's lock; no allocation on a hit).
  std::map<std::string, MetricCounter*, std::less<>> dead_letters_by_reason_;
  std::map<std::string, MetricCounter*, std::less<>> alerts_by_rule_;
  std::map<std::pair<std::string, std::string>, InquirySeries> inquiry_series_;  // issue 12

  // Shared with HTTP threads.
  mutable std::mutex mutex_;
  std::vector<BrandFigures> brands_;          // GUARDED_BY(mutex_)
  bool brands_published_ = false;             // GUARDED_BY(mutex_)
  std::deque<AlertFeedEntry> alert_feed_;     // GUARDED_BY(mutex_)
  uint64_t alert_sequence_ = 0;               // GUARDED_BY(mutex_)
  std::string last_reload_error_;             // GUARDED_BY(mutex_)
  StateStore* store_ = nullptr;               // GUARDED_BY(mutex_)
  std::vector<std::pair<std::string, SinkDelivery*>> sinks_;  // GUARDED_BY(mutex_)

  // Top-N export state, touched only by the collector (scrapes are serialized by the registry).
  struct BrandExport {
    uint64_t last_seen = 0;
    uint64_t exported = 0;
    bool labelled = false;
  };
  std::unordered_map<std::string, BrandExport> brand_export_;
  uint64_t other_exported_ = 0;
  size_t labelled_count_ = 0;

  MetricsCollectorHandle collector_;  // last: unregistered first
};

}  // namespace brandpulse
