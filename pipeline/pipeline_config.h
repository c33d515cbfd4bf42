// PipelineSpec: a pipeline YAML file parsed and validated into an immutable description. The
// pipeline's own sections (state, time, windows, metrics) are read here; every operator's
// section (source, each transform, each sink, each alert rule) is read by the operator
// registered under its `type:` (operators/registry.h). Nothing here opens inputs or compiles
// patterns beyond reading the watchlist's YAML: building operators is the runner's job.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/diagnostics.h"
#include "engine/window_types.h"
#include "operators/registry.h"
#include "operators/watchlist.h"

namespace brandpulse {

// The streams a pipeline writes to sinks (`sinks:` keys).
inline constexpr std::string_view kAlertsStream = "alerts";
inline constexpr std::string_view kDeadLetterStream = "dead_letter";
inline constexpr std::string_view kLateStream = "late";
// issue 12: every matched post as brandpulse.mention/1, through the sink's outbox like alerts.
inline constexpr std::string_view kMentionsStream = "mentions";

// One sink of one stream. Specs are shared (not copied) so a PipelineSpec stays copyable.
struct SinkBinding {
  std::string stream;  // kAlertsStream, kDeadLetterStream, kLateStream, kMentionsStream
  std::string name;    // unique; the outbox key prefix: the stream's name for its first sink
  std::shared_ptr<const SinkSpec> spec;
  SourceLocation location;
};

struct ClusterSpec;  // pipeline/cluster_spec.h

struct PipelineSpec {
  std::string file;  // the pipeline YAML, as given
  std::string name;
  std::shared_ptr<const SourceSpec> source;
  // In worker order: config order (`transforms:`), by default decode → match → window.
  std::vector<std::shared_ptr<const TransformSpec>> transforms;
  WatchlistSpec watchlist;
  int workers = 0;  // resolved: >= 1
  int batch_records = 1024;
  std::string state_directory;  // absolute
  uint64_t memory_budget_bytes = 256ull << 20;
  int64_t commit_every_records = 50000;
  // Issue 16: below this much free space on the state's file system a commit waits (ingestion
  // paused) until there is more; 0 turns the check off. docs/limits.md.
  uint64_t state_min_free_bytes = 64ull << 20;
  int64_t commit_interval_ms = 1000;  // in follow mode, when input pauses
  int64_t retention_ms = 7 * 24 * 3600 * 1000LL;  // windows ending this long before the watermark are deleted
  int64_t max_out_of_orderness_ms = 30000;
  int64_t allowed_lateness_ms = 60000;
  // A partition without input for this long (processing time) stops holding the watermark back;
  // 0 = never (a finite file is one partition that ends).
  int64_t idle_timeout_ms = 0;
  // Event-time sanity (engine/event_time.h, docs/limits.md): posts dated outside
  // [min_event_time, max_event_time], or more than max_future_skew ahead of the wall clock (live
  // sources) or of the other partitions, are dead letters.
  int64_t min_event_time_ms = 946684800000;   // time.min_event_time: 2000-01-01T00:00:00Z
  int64_t max_event_time_ms = 4102444800000;  // time.max_event_time: 2100-01-01T00:00:00Z
  int64_t max_future_skew_ms = 3600 * 1000;   // time.max_future_skew: 1h
  std::vector<WindowSpec> windows;
  // Top hashtags / co-occurring terms kept per brand window (metrics.top_k); 0 = none. They are
  // kept for one window spec (metrics.window, default the first): counting terms is the most
  // expensive per-mention work there is (bench/RESULTS.md), so it is paid once.
  int top_k = 10;
  // Also count co-occurring words (metrics.co_terms), not only hashtags and cashtags. Off by
  // default: tokenizing every matching post and keeping every distinct word of open windows
  // costs more than the rest of window aggregation together (bench/RESULTS.md).
  bool co_terms = false;
  size_t top_k_window = 0;  // index into windows
  std::vector<std::shared_ptr<const AlertRuleSpec>> alert_rules;
  // Not errors, but what the user should know (a sentiment_shift rule without enrichment):
  // `validate` prints them as "file:line:column: note: ...".
  std::vector<Diagnostic> notes;
  std::vector<SinkBinding> sinks;
  // Outbox entries (undelivered alerts) per sink past which the pipeline slows down
  // (state.outbox_limit); it never drops.
  uint64_t outbox_limit = 100000;
  // Issue 11: `cluster:` (global windows across instances, pipeline/cluster_spec.h); null
  // without it.
  std::shared_ptr<const ClusterSpec> cluster;

  // The window operator's settings, as the registry's build context takes them.
  WindowSettings window_settings() const {
    return WindowSettings{windows, allowed_lateness_ms, top_k, co_terms, top_k_window};
  }
  // The sinks of one stream, in config order.
  std::vector<const SinkBinding*> SinksOf(std::string_view stream) const;
};

// Reads and validates a pipeline file and the watchlist it names, with the operators of
// `registry`. Every problem found is added to `diagnostics` as file:line:column with a hint;
// returns nullopt if there was any.
std::optional<PipelineSpec> LoadPipelineSpec(const std::string& path, Diagnostics& diagnostics,
                                             const OperatorRegistry& registry =
                                                 OperatorRegistry::Default());

}  // namespace brandpulse
