#include "pipeline/metrics.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "engine/json_writer.h"
#include "engine/log.h"
#include "engine/state_store.h"
#include "engine/window_metric_registry.h"
#include "pipeline/sink_delivery.h"

namespace brandpulse {
namespace {

constexpr size_t kMaxReasonLabels = 32;
constexpr size_t kMaxRuleLabels = 64;
constexpr std::string_view kDeadLettersHelp = "Records sent to the dead-letter stream, by reason";
constexpr std::string_view kAlertsHelp = "Alerts committed to the outbox, by rule";

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

PipelineMetrics::PipelineMetrics(MetricsRegistry& registry, std::string pipeline_name,
                                 size_t top_brands)
    : registry_(registry),
      pipeline_name_(std::move(pipeline_name)),
      top_brands_(std::max<size_t>(1, top_brands)),
      started_seconds_(WallSeconds()),
      records_(registry.GetCounter("brandpulse_records_read_total",
                                   "Records read from the source")),
      input_bytes_(registry.GetCounter("brandpulse_input_bytes_total",
                                       "Bytes of input records read from the source")),
      posts_decoded_(registry.GetCounter("brandpulse_posts_decoded_total",
                                         "Posts decoded from the records")),
      records_skipped_(registry.GetCounter(
          "brandpulse_records_skipped_total",
          "Records decoded fine that hold no post (e.g. a like event)")),
      posts_matched_(registry.GetCounter("brandpulse_posts_matched_total",
                                         "Posts that mention at least one brand")),
      mentions_(registry.GetCounter("brandpulse_mentions_total",
                                    "Brand mentions found (a post naming two brands counts two)")),
      late_posts_(registry.GetCounter(
          "brandpulse_late_posts_total",
          "Posts too late for a window they mention a brand in (sent to the late stream)")),
      batches_(registry.GetCounter("brandpulse_batches_total", "Batches processed")),
      commits_(registry.GetCounter("brandpulse_commits_total", "Epochs committed to RocksDB")),
      commit_seconds_(registry.GetHistogram(
          "brandpulse_commit_duration_seconds",
          "Time the coordinator spent in one commit (window deltas, positions, alerts, outbox)",
          {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})),
      window_updates_(registry.GetCounter("brandpulse_window_updates_total",
                                          "Window merge operands written to RocksDB")),
      windows_closed_(registry.GetCounter("brandpulse_windows_closed_total",
                                          "Brand windows closed (final) by the watermark")),
      windows_open_(registry.GetGauge("brandpulse_windows_open",
                                      "Brand windows with data that have not closed yet")),
      watermark_(registry.GetGauge("brandpulse_watermark_timestamp_seconds",
                                   "Event-time watermark (windows before it are closed)")),
      reloads_ok_(registry.GetCounter("brandpulse_watchlist_reloads_total",
                                      "Watchlist reloads, by result", {{"result", "success"}})),
      reloads_failed_(registry.GetCounter("brandpulse_watchlist_reloads_total",
                                          "Watchlist reloads, by result", {{"result", "failure"}})),
      reload_last_failed_(registry.GetGauge(
          "brandpulse_watchlist_last_reload_failed",
          "1 when the last watchlist reload failed (the previous watchlist keeps running)")),
      reload_last_timestamp_(registry.GetGauge("brandpulse_watchlist_last_reload_timestamp_seconds",
                                               "When the watchlist was last reloaded or tried")),
      watchlist_brands_(registry.GetGauge("brandpulse_watchlist_brands",
                                          "Brands in the running watchlist")),
      backpressure_waits_(registry.GetCounter(
          "brandpulse_backpressure_waits_total",
          "Commits that waited for a full sink outbox (ingestion paused)")),
      partitions_gained_(registry.GetCounter("brandpulse_partition_assignments_total",
                                             "Source partitions gained or lost",
                                             {{"change", "gained"}})),
      partitions_lost_(registry.GetCounter("brandpulse_partition_assignments_total",
                                           "Source partitions gained or lost",
                                           {{"change", "lost"}})),
      ready_gauge_(registry.GetGauge(
          "brandpulse_ready", "1 once state is restored and the watchlist compiled (/readyz)")),
      start_time_(registry.GetGauge("brandpulse_start_time_seconds",
                                    "When the running pipeline started (Unix time)")) {
  start_time_.Set(started_seconds_);
  duplicates_dropped_ = &registry.GetCounter(
      "brandpulse_duplicates_dropped_total",
      "Posts not counted because their id was counted already within the dedup horizon");
  edits_applied_ = &registry.GetCounter(
      "brandpulse_edits_applied_total",
      "Edits that replaced the counted version of a post in windows still open");
  edits_late_ = &registry.GetCounter(
      "brandpulse_edits_late_total",
      "Edits of a counted post whose windows had closed (sent to the late stream)");
  dedup_evicted_ = &registry.GetCounter(
      "brandpulse_dedup_evicted_total",
      "Post ids the full de-duplication set forgot before their horizon (oldest first)");
  registry.DescribeCounterFamily("brandpulse_dead_letters_total", kDeadLettersHelp);
  registry.DescribeCounterFamily("brandpulse_alerts_total", kAlertsHelp);
  ready_gauge_.Set(0);
  registry.GetGauge("brandpulse_build_info", "The running build (value 1)",
                    {{"version", BRANDPULSE_METRICS_VERSION}, {"pipeline", pipeline_name_}})
      .Set(1);
  collector_ = registry.AddCollector([this](MetricsWriter& writer) { CollectScrapeTime(writer); });
}

PipelineMetrics::~PipelineMetrics() {
  collector_.Reset();
  ready_gauge_.Set(0);
}

std::string PipelineMetrics::ReasonLabel(std::string_view reason) {
  size_t end = reason.find(':');
  std::string_view head = reason.substr(0, std::min(end, size_t{64}));
  while (!head.empty() && head.back() == ' ') head.remove_suffix(1);
  return head.empty() ? std::string("unknown") : std::string(head);
}

MetricCounter& PipelineMetrics::DeadLettersFor(std::string_view reason) {
  auto found = dead_letters_by_reason_.find(reason);
  if (found != dead_letters_by_reason_.end()) return *found->second;
  std::string label = dead_letters_by_reason_.size() < kMaxReasonLabels ? ReasonLabel(reason)
                                                                         : std::string("other");
  MetricCounter& counter =
      registry_.GetCounter("brandpulse_dead_letters_total", kDeadLettersHelp, {{"reason", label}});
  dead_letters_by_reason_.emplace(std::string(reason), &counter);
  return counter;
}

MetricCounter& PipelineMetrics::AlertsFor(std::string_view rule) {
  auto found = alerts_by_rule_.find(rule);
  if (found != alerts_by_rule_.end()) return *found->second;
  std::string label = alerts_by_rule_.size() < kMaxRuleLabels ? std::string(rule) : "other";
  MetricCounter& counter =
      registry_.GetCounter("brandpulse_alerts_total", kAlertsHelp, {{"rule", label}});
  alerts_by_rule_.emplace(std::string(rule), &counter);
  return counter;
}

void PipelineMetrics::OnBatch(const Batch& batch) {
  batches_.Add();
  records_.Add(batch.size());
  input_bytes_.Add(batch.input_bytes.size());
  posts_decoded_.Add(batch.posts.size());
  records_skipped_.Add(batch.skipped_records);
  mentions_.Add(batch.mentions.size());
  late_posts_.Add(batch.late_post_indices.size());
  // Mentions come grouped by post (the matcher emits a post's brands together).
  uint64_t matched = 0;
  uint32_t previous = UINT32_MAX;
  for (const Mention& mention : batch.mentions) {
    if (mention.post_index != previous) ++matched;
    previous = mention.post_index;
  }
  posts_matched_.Add(matched);
  duplicates_dropped_->Add(batch.duplicates_dropped);
  edits_applied_->Add(batch.edits_applied);
  edits_late_->Add(batch.edits_late);
  dedup_evicted_->Add(batch.dedup_evicted);
  for (const DeadLetter& dead_letter : batch.dead_letters) DeadLettersFor(dead_letter.reason).Add();

  run_.records.fetch_add(batch.size(), std::memory_order_relaxed);
  run_.posts.fetch_add(batch.posts.size(), std::memory_order_relaxed);
  run_.mentions.fetch_add(batch.mentions.size(), std::memory_order_relaxed);
  run_.dead_letters.fetch_add(batch.dead_letters.size(), std::memory_order_relaxed);
  run_.late_posts.fetch_add(batch.late_post_indices.size(), std::memory_order_relaxed);
}

void PipelineMetrics::OnCommit(double seconds, uint64_t window_updates, uint64_t windows_closed,
                               uint64_t windows_open, int64_t watermark_ms,
                               const std::vector<FiredAlert>& alerts) {
  commits_.Add();
  commit_seconds_.Observe(seconds);
  window_updates_.Add(window_updates);
  windows_closed_.Add(windows_closed);
  windows_open_.Set(static_cast<double>(windows_open));
  if (watermark_ms != INT64_MIN) watermark_.Set(watermark_ms / 1000.0);
  run_.commits.fetch_add(1, std::memory_order_relaxed);
  run_.watermark_ms.store(watermark_ms, std::memory_order_relaxed);
  if (alerts.empty()) return;
  for (const FiredAlert& alert : alerts) {
    // Alert ids are "<rule>/<brand>/<window start>" (engine/alert_rule.h).
    std::string_view id = alert.id;
    AlertsFor(id.substr(0, id.find('/'))).Add();
  }
  run_.alerts.fetch_add(alerts.size(), std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  for (const FiredAlert& alert : alerts) {
    alert_feed_.push_back(AlertFeedEntry{++alert_sequence_, alert.id, alert.payload});
    if (alert_feed_.size() > kAlertFeedSize) alert_feed_.pop_front();
  }
}

void PipelineMetrics::OnReload(bool swapped, const std::string& error, size_t brand_count) {
  (swapped ? reloads_ok_ : reloads_failed_).Add();
  (swapped ? run_.reloads : run_.reload_failures).fetch_add(1, std::memory_order_relaxed);
  reload_last_failed_.Set(swapped ? 0 : 1);
  reload_last_timestamp_.Set(WallSeconds());
  if (swapped) watchlist_brands_.Set(static_cast<double>(brand_count));
  std::lock_guard lock(mutex_);
  if (!swapped) last_reload_error_ = RedactSecrets(error);
}

// issue 12: response times. Label pairs are bounded like rule labels: a watchlist's brands ×
// profiles could be large, and a series never disappears once made.
constexpr size_t kMaxInquiryLabels = 256;

PipelineMetrics::InquirySeries& PipelineMetrics::InquirySeriesFor(std::string_view brand,
                                                                  std::string_view profile) {
  std::pair<std::string, std::string> key{std::string(brand), std::string(profile)};
  auto found = inquiry_series_.find(key);
  if (found != inquiry_series_.end()) return found->second;
  MetricLabels labels{{"brand", key.first}, {"profile", key.second.empty() ? "named" : key.second}};
  if (inquiry_series_.size() >= kMaxInquiryLabels) labels = {{"brand", "other"}, {"profile", "other"}};
  InquirySeries series{
      &registry_.GetCounter("brandpulse_inquiries_total",
                            "Questions and complaints addressed to a brand (unanswered rules)", labels),
      &registry_.GetCounter("brandpulse_inquiries_answered_total",
                            "Inquiries a brand profile answered before the rule's deadline", labels),
      &registry_.GetCounter("brandpulse_inquiries_unanswered_total",
                            "Inquiries no brand profile answered within the rule's deadline", labels),
      &registry_.GetHistogram(
          "brandpulse_response_time_seconds",
          "Event time from an inquiry to the brand's first answer",
          {30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400}, labels)};
  return inquiry_series_.emplace(std::move(key), series).first->second;
}

void PipelineMetrics::OnInquiries(const std::vector<InquiryObservation>& observations,
                                  const BrandDirectory& brands) {
  for (const InquiryObservation& observation : observations) {
    if (observation.brand_index >= brands.brand_count()) continue;
    InquirySeries& series =
        InquirySeriesFor(brands.brand_info(observation.brand_index).id, observation.profile);
    switch (observation.kind) {
      case InquiryObservation::Kind::kOpened:
        series.opened->Add();
        break;
      case InquiryObservation::Kind::kAnswered:
        series.answered->Add();
        series.response_seconds->Observe(static_cast<double>(observation.response_ms) / 1000.0);
        break;
      case InquiryObservation::Kind::kUnanswered:
        series.unanswered->Add();
        break;
    }
  }
}

void PipelineMetrics::DeclareRules(const std::vector<std::string>& names) {
  for (const std::string& name : names) AlertsFor(name);
}

void PipelineMetrics::OnBackpressure(double seconds) {
  backpressure_waits_.Add();
  backpressure_seconds_.fetch_add(seconds, std::memory_order_relaxed);
}

void PipelineMetrics::OnAssignmentChange(size_t gained, size_t lost) {
  partitions_gained_.Add(gained);
  partitions_lost_.Add(lost);
}

void PipelineMetrics::PublishBrands(std::vector<BrandFigures> brands) {
  std::lock_guard lock(mutex_);
  if (brands_.empty()) watchlist_brands_.Set(static_cast<double>(brands.size()));
  brands_ = std::move(brands);
}

void PipelineMetrics::UpdateBrands(
    const std::function<void(std::vector<BrandFigures>& brands)>& update) {
  std::lock_guard lock(mutex_);
  update(brands_);
  if (!brands_published_) watchlist_brands_.Set(static_cast<double>(brands_.size()));
  brands_published_ = true;
}

void PipelineMetrics::SetReady(bool ready) {
  ready_.store(ready, std::memory_order_release);
  ready_gauge_.Set(ready ? 1 : 0);
}

void PipelineMetrics::AttachSources(StateStore* store,
                                    std::vector<std::pair<std::string, SinkDelivery*>> sinks) {
  std::lock_guard lock(mutex_);
  store_ = store;
  sinks_ = std::move(sinks);
}

void PipelineMetrics::DetachSources() {
  std::lock_guard lock(mutex_);
  store_ = nullptr;
  sinks_.clear();
}

void PipelineMetrics::CollectScrapeTime(MetricsWriter& writer) {
  std::vector<BrandFigures> brands;
  {
    std::lock_guard lock(mutex_);
    if (store_ != nullptr) {
      StateStore::Health health = store_->health();
      constexpr std::string_view kMemoryHelp = "Memory RocksDB uses for the state, by kind";
      writer.Gauge("brandpulse_rocksdb_memory_bytes", kMemoryHelp, {{"kind", "memtables"}},
                   health.memtable_bytes);
      writer.Gauge("brandpulse_rocksdb_memory_bytes", kMemoryHelp, {{"kind", "block_cache"}},
                   health.block_cache_bytes);
      writer.Gauge("brandpulse_rocksdb_memory_bytes", kMemoryHelp, {{"kind", "table_readers"}},
                   health.table_readers_bytes);
      constexpr std::string_view kStallHelp = "RocksDB write stalls since the state was opened";
      writer.Counter("brandpulse_rocksdb_write_stalls_total", kStallHelp, {{"kind", "slowdown"}},
                     health.stall_slowdowns);
      writer.Counter("brandpulse_rocksdb_write_stalls_total", kStallHelp, {{"kind", "stop"}},
                     health.stall_stops);
      writer.Gauge("brandpulse_rocksdb_write_stopped", "1 while RocksDB stops writes", {},
                   health.write_stopped ? 1 : 0);
    }
    writer.Counter("brandpulse_backpressure_seconds_total",
                   "Time ingestion was paused waiting for full sink outboxes", {},
                   backpressure_seconds_.load(std::memory_order_relaxed));
    for (const auto& [name, delivery] : sinks_) {
      DeliveryStats stats = delivery->stats();
      MetricLabels labels{{"sink", name}};
      writer.Gauge("brandpulse_outbox_entries", "Alerts waiting in a sink's outbox", labels,
                   stats.depth);
      writer.Counter("brandpulse_sink_deliveries_total", "Outbox entries a sink took", labels,
                     stats.delivered);
      writer.Counter("brandpulse_sink_delivery_failures_total",
                     "Failed delivery attempts (each is retried)", labels, stats.failures);
      writer.Counter("brandpulse_sink_given_up_total",
                     "Outbox entries a sink refused for good (sent to the dead letters)", labels,
                     stats.given_up);
    }
    brands = brands_;
  }

  // Per-brand mentions, top N plus "other" (see kDefaultMetricsTopBrands).
  if (brands.empty()) return;
  uint64_t other_delta = 0;
  std::vector<std::pair<BrandExport*, uint64_t>> deltas;
  deltas.reserve(brands.size());
  const bool label_all = brands.size() <= top_brands_;
  std::vector<std::pair<uint64_t, BrandExport*>> candidates;
  for (const BrandFigures& brand : brands) {
    BrandExport& state = brand_export_[brand.id];
    uint64_t delta = brand.mentions >= state.last_seen ? brand.mentions - state.last_seen
                                                       : brand.mentions;  // a new run
    state.last_seen = brand.mentions;
    deltas.emplace_back(&state, delta);
    if (!state.labelled && (label_all || brand.mentions > 0)) {
      candidates.emplace_back(brand.mentions, &state);
    }
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [mentions, state] : candidates) {
    if (labelled_count_ >= top_brands_) break;
    state->labelled = true;
    ++labelled_count_;
  }
  for (const auto& [state, delta] : deltas) {
    if (state->labelled) {
      state->exported += delta;
    } else {
      other_delta += delta;
    }
  }
  other_exported_ += other_delta;
  constexpr std::string_view kBrandHelp =
      "Mentions per brand: the top brands by mentions, the rest as brand=\"other\"";
  for (const BrandFigures& brand : brands) {
    const BrandExport& state = brand_export_[brand.id];
    if (state.labelled) {
      writer.Counter("brandpulse_brand_mentions_total", kBrandHelp, {{"brand", brand.id}},
                     state.exported);
    }
  }
  writer.Counter("brandpulse_brand_mentions_total", kBrandHelp, {{"brand", "other"}},
                 other_exported_);
}

std::string PipelineMetrics::StatusJson() const {
  std::string out = "{";
  AppendJsonKey(out, "pipeline", true);
  AppendJsonString(out, pipeline_name_);
  out += fmt::format(",\"ready\":{},\"uptime_seconds\":{:.3f}", ready() ? "true" : "false",
                     WallSeconds() - started_seconds_);
  auto figure = [&](std::string_view name, const std::atomic<uint64_t>& value) {
    out += fmt::format(",\"{}\":{}", name, value.load(std::memory_order_relaxed));
  };
  figure("records", run_.records);
  figure("posts", run_.posts);
  figure("mentions", run_.mentions);
  figure("dead_letters", run_.dead_letters);
  figure("late_posts", run_.late_posts);
  figure("alerts", run_.alerts);
  figure("commits", run_.commits);
  figure("watchlist_reloads", run_.reloads);
  figure("watchlist_reload_failures", run_.reload_failures);
  int64_t watermark = run_.watermark_ms.load(std::memory_order_relaxed);
  if (watermark != INT64_MIN) {
    AppendJsonKey(out, "watermark");
    AppendJsonString(out, FormatIsoTime(watermark));
  }
  // Which window metrics exist in this build (the dashboard shows sentiment and unanswered
  // panels only when their metrics do).
  out += ",\"window_metrics\":[";
  std::vector<std::string> names = WindowMetricNames();
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(out, names[i]);
  }
  out += "],\"brands\":[";
  std::lock_guard lock(mutex_);
  std::vector<const BrandFigures*> top;
  top.reserve(brands_.size());
  for (const BrandFigures& brand : brands_) top.push_back(&brand);
  const size_t shown = std::min<size_t>(top.size(), 50);
  std::partial_sort(top.begin(), top.begin() + shown, top.end(),
                    [](const BrandFigures* a, const BrandFigures* b) {
                      return a->mentions != b->mentions ? a->mentions > b->mentions : a->id < b->id;
                    });
  for (size_t i = 0; i < shown; ++i) {
    if (i > 0) out.push_back(',');
    out += "{\"brand\":";
    AppendJsonString(out, top[i]->id);
    out += fmt::format(",\"mentions\":{},\"alerts\":{}}}", top[i]->mentions, top[i]->alerts);
  }
  out += "],\"sinks\":[";
  for (size_t i = 0; i < sinks_.size(); ++i) {
    if (i > 0) out.push_back(',');
    DeliveryStats stats = sinks_[i].second->stats();
    out += "{\"sink\":";
    AppendJsonString(out, sinks_[i].first);
    out += fmt::format(",\"depth\":{},\"delivered\":{},\"failures\":{}", stats.depth,
                       stats.delivered, stats.failures);
    AppendJsonKey(out, "last_error");
    AppendJsonString(out, RedactSecrets(stats.last_error));
    out.push_back('}');
  }
  out.push_back(']');
  AppendJsonKey(out, "last_reload_error");
  AppendJsonString(out, last_reload_error_);
  out += "}";
  return out;
}

std::string PipelineMetrics::AlertsJson(uint64_t after) const {
  std::lock_guard lock(mutex_);
  std::string out = "{\"alerts\":[";
  bool first = true;
  for (const AlertFeedEntry& entry : alert_feed_) {
    if (entry.sequence <= after) continue;
    if (!first) out.push_back(',');
    first = false;
    out += fmt::format("{{\"sequence\":{},\"id\":", entry.sequence);
    AppendJsonString(out, entry.id);
    out += ",\"alert\":";
    out += entry.payload.empty() ? "null" : entry.payload;  // already one JSON object
    out.push_back('}');
  }
  out += fmt::format("],\"last\":{}}}", alert_sequence_);
  return out;
}

}  // namespace brandpulse
