// Runs a pipeline: one coordinator thread reads the source into batches and hands them to N
// shared-nothing workers (the transform chain: by default decode → match → window). Every
// `commit_every_records` records the coordinator stops dispatching, waits for the workers
// (a barrier), and writes all window deltas, the source position, the watermark and the alerts
// of windows that closed (with the alert rules' state) in ONE RocksDB WriteBatch. A restart resumes from that position, so
// nothing is lost or counted twice. Epoch boundaries depend only on the input, so results are
// identical for any number of workers (see docs/architecture.md). The barrier covers only the
// hand-over, the watermark, window closing and the rules: the WriteBatch is written on another
// thread while the next epoch runs (one write in flight), and alerts reach the sinks' delivery
// threads only once it is written.
//
// RunSummary::commit_seconds: the coordinator's time in commits (the barrier's work, and waits
// for the write before it).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/clock.h"
#include "engine/metrics.h"
#include "engine/status.h"
#include "pipeline/pipeline_config.h"

namespace brandpulse {


struct RunSummary;

struct RunOptions {
  bool fresh = false;  // delete the state directory and truncate file sinks first
  int workers = 0;     // > 0 overrides the pipeline's workers
  // Called on the coordinator thread about once a second, and once at the end, with the run's
  // figures so far (the summary as it stands).
  std::function<void(const RunSummary&)> on_progress;
  // Called once on the coordinator thread when the first input is read: how long opening state,
  // compiling the watchlist and seeking to the committed position took (restart-to-resume).
  std::function<void(bool resumed, uint64_t position, double seconds)> on_ready;
  // Set from a signal handler to stop after a final commit.
  const std::atomic<bool>* stop_requested = nullptr;
  // Non-empty: serve the HTTP query API (pipeline/http_api.h) on this HOST:PORT while running.
  std::string api_listen;
  // Called once the API listens, with its address (http://host:port).
  std::function<void(const std::string& address)> on_api_ready;
  // Set (e.g. from a SIGHUP handler) to reload the watchlist file; the runner clears it.
  std::atomic<bool>* reload_requested = nullptr;
  // Reload the watchlist when its file changes (checked about once a second).
  bool watch_watchlist_file = true;
  // Called on the coordinator thread after each reload attempt: swapped in, or the error.
  std::function<void(bool swapped, const std::string& error)> on_reload;
  // > 0: stop at the first commit after this many records (tests of resumption).
  uint64_t stop_after_records = 0;
  // Processing time (commit interval, idle partitions, delivery back-off, file checks); tests
  // pass a SimulatedClock.
  Clock* clock = &Clock::System();
  // Called on the coordinator thread with something an operator should know while the run goes
  // on: ingestion paused because a sink's outbox is full, resumed, assignment changes.
  std::function<void(const std::string& message)> on_notice;

  // Operations (docs/operations.md). The API listener (api_listen) also serves /metrics,
  // /healthz, /readyz and the dashboard; `metrics_listen` (HOST:PORT) serves them on a listener
  // of their own, e.g. when the query API is off.
  std::string metrics_listen;
  // Called once the metrics listener listens, with its address (http://host:port).
  std::function<void(const std::string& address)> on_metrics_ready;
  // Where the run's metrics go; null = MetricsRegistry::Default() (what /metrics serves).
  MetricsRegistry* metrics_registry = nullptr;
  // Brands exported with their own label in brandpulse_brand_mentions_total; the rest: "other".
  size_t metrics_top_brands = 20;
};

struct SinkSummary {
  std::string name;         // the outbox key prefix
  std::string stream;       // "alerts", "dead_letter", "late"
  std::string description;  // "out/alerts.jsonl"
  uint64_t delivered = 0;   // outbox entries acknowledged this run
  uint64_t failures = 0;    // failed delivery attempts (retried)
  uint64_t given_up = 0;    // refused for good
  uint64_t pending = 0;     // still in the outbox at the end (delivered after a restart)
  std::string last_error;
};

struct BrandSummary {
  std::string id;
  std::string name;
  uint64_t mentions = 0;  // posts mentioning the brand in this run (late ones included)
  uint64_t own_posts = 0;  // posts by the brand's own handles that match it (not mentions)
  uint64_t alerts = 0;
};

struct RunSummary {
  uint64_t records = 0;
  uint64_t posts = 0;
  uint64_t skipped_records = 0;
  uint64_t dead_letters = 0;
  uint64_t late_posts = 0;
  // Posts dated outside the allowed event times (docs/limits.md); also among dead_letters.
  uint64_t event_times_refused = 0;
  uint64_t mentions = 0;   // as the windows count them: own posts excluded
  uint64_t own_posts = 0;  // matches by a brand's own handles and profiles
  uint64_t alerts = 0;
  // De-duplication (issue 14, operators/dedup.h): posts whose id was counted already, edits
  // that replaced an earlier version in open windows, edits that came after it closed.
  uint64_t duplicates_dropped = 0;
  uint64_t edits_applied = 0;
  uint64_t edits_late = 0;
  uint64_t commits = 0;
  uint64_t input_bytes = 0;
  int workers = 0;
  bool resumed = false;            // state held a position for this source
  uint64_t resumed_position = 0;
  double seconds = 0;
  double resume_seconds = 0;
  double commit_seconds = 0;     // coordinator time in commits (workers wait at the barrier)
  uint64_t window_updates = 0;   // window deltas handed over (merge operands written to RocksDB)
  std::vector<BrandSummary> brands;
  std::string api_address;  // empty when no API was served
  uint64_t watchlist_reloads = 0;          // watchlists swapped in
  uint64_t watchlist_reload_failures = 0;  // new watchlists that did not compile (old kept)
  std::string last_reload_error;           // file:line:column: what is wrong
  std::vector<SinkSummary> sinks;  // in config order; the first of a stream describes it
  uint64_t backpressure_waits = 0;   // commits that waited for a full outbox
  double backpressure_seconds = 0;   // time ingestion was paused by them
  uint64_t state_full_pauses = 0;    // commits that waited for space on the state's disk
  uint64_t partitions_gained = 0;    // assignment changes reported by the source
  uint64_t partitions_lost = 0;
  // Progress (cli/progress.h): where partition 0 stands, and the input file when it is one.
  uint64_t position = 0;
  std::string input_path;
};

// Hot reload: a changed watchlist (file change, *reload_requested, POST /api/v1/reload) is
// parsed and compiled on a background thread; the pipeline keeps running on the old one. It is
// swapped in right after the next commit, when no batch is in flight and no delta is pending,
// so every post is matched by exactly one watchlist and the commit boundaries (and with them all
// results) are those of a run without the reload. A watchlist that fails to load or compile is
// counted and reported; the old one stays.
//
// Runs until the input ends (a finite file: all windows are then closed and flushed) or until
// *stop_requested. Errors are I/O or state failures; bad input never stops a run.
Result<RunSummary> RunPipeline(const PipelineSpec& spec, const RunOptions& options);

}  // namespace brandpulse
