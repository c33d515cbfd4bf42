// `brandpulse run PIPELINE`: runs a pipeline until its input ends or Ctrl-C, then prints the
// run's summary. SIGINT/SIGTERM stop after a final commit; SIGHUP reloads the watchlist.
#include <atomic>
#include <csignal>
#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/progress.h"
#include "engine/log.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"

namespace brandpulse {
namespace {

std::atomic<bool> stop_requested{false};
void OnStopSignal(int) { stop_requested.store(true); }

std::atomic<bool> reload_requested{false};
void OnReloadSignal(int) { reload_requested.store(true); }

struct RunArgs {
  std::string pipeline_path;
  bool fresh = false;
  bool quiet = false;
  int workers = 0;
  std::string api_listen;
  std::string metrics_listen;
};

int Run(const std::string& path, bool fresh, int workers, bool quiet, const std::string& api,
        const std::string& metrics_listen) {
  Diagnostics diagnostics;
  std::optional<PipelineSpec> spec = LoadPipelineSpec(path, diagnostics);
  if (!spec) {
    PrintDiagnostics(diagnostics);
    std::fprintf(stderr, "brandpulse: %s is not valid; nothing was run\n", path.c_str());
    return 2;
  }
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  std::signal(SIGHUP, OnReloadSignal);
  RunOptions options;
  // Log lines go on a line of their own: the progress line is erased first, redrawn after.
  ProgressLine progress(stderr, quiet, "run");
  options.reload_requested = &reload_requested;
  options.on_reload = [&progress](bool swapped, const std::string& error) {
    progress.Finish();
    if (swapped) {
      LogInfo("watchlist reloaded");
    } else {
      LogWarn("watchlist reload failed, the previous one keeps running", {{"error", error}});
    }
  };
  options.on_notice = [&progress](const std::string& message) {
    progress.Finish();
    LogWarn(message);
  };
  options.fresh = fresh;
  options.workers = workers;
  options.stop_requested = &stop_requested;
  options.api_listen = api;
  options.metrics_listen = metrics_listen;
  // The address is in the message (not only a field): tests and deploy/ read
  // "query API on http://HOST:PORT/" from the log.
  options.on_api_ready = [](const std::string& address) {
    LogInfo(fmt::format("query API on {}/api/v1/ (see docs/api.md)", address));
    LogInfo(fmt::format("dashboard on {}/dashboard/, metrics on {}/metrics (see docs/operations.md)",
                        address, address));
  };
  options.on_metrics_ready = [](const std::string& address) {
    LogInfo(fmt::format("metrics on {}/metrics, probes on /healthz and /readyz", address));
  };
  options.on_ready = [&progress](bool resumed, uint64_t position, double seconds) {
    progress.Finish();
    // scripts/crash-test.sh reads "ready after N s" from these lines.
    if (resumed) {
      LogInfo(fmt::format("resumed from committed position {}, ready after {:.3f} s",
                          Grouped(position), seconds));
    } else {
      LogInfo(fmt::format("no committed position: starting at the beginning, ready after {:.3f} s",
                          seconds));
    }
  };
  if (progress.enabled()) {
    options.on_progress = [&progress](const RunSummary& summary) {
      ProgressFigures figures;
      figures.records = summary.records;
      figures.position = summary.position;
      figures.total = FileSizeOrZero(summary.input_path);
      figures.matches = summary.mentions;
      figures.alerts = summary.alerts;
      figures.seconds = summary.seconds;
      progress.Update(figures, 0);
    };
  }
  Result<RunSummary> result = RunPipeline(*spec, options);
  progress.Finish();
  if (!result.ok()) {
    std::fprintf(stderr, "brandpulse: run failed: %s\n", result.status().ToString().c_str());
    return 1;
  }
  const RunSummary& summary = *result;
  double rate = summary.seconds > 0 ? summary.records / summary.seconds : 0;
  std::printf("\npipeline '%s' finished in %.2f s with %d worker%s: %s records, %s records/s, %.1f MB/s\n",
              spec->name.c_str(), summary.seconds, summary.workers,
              summary.workers == 1 ? "" : "s", Grouped(summary.records).c_str(),
              Grouped(static_cast<uint64_t>(rate)).c_str(),
              summary.seconds > 0 ? summary.input_bytes / summary.seconds / 1e6 : 0.0);
  if (summary.resumed) {
    std::printf("resumed from committed position %s (ready after %.3f s)\n",
                Grouped(summary.resumed_position).c_str(), summary.resume_seconds);
  }
  std::printf("posts %s   skipped %s   dead letters %s   late %s   commits %s (%.2f s, %s window updates)\n",
              Grouped(summary.posts).c_str(), Grouped(summary.skipped_records).c_str(),
              Grouped(summary.dead_letters).c_str(), Grouped(summary.late_posts).c_str(),
              Grouped(summary.commits).c_str(), summary.commit_seconds,
              Grouped(summary.window_updates).c_str());
  if (summary.event_times_refused > 0) {
    std::printf("event times out of range (dead letters): %s (docs/limits.md, time.max_future_skew)\n",
                Grouped(summary.event_times_refused).c_str());
  }
  // Issue 14: what the dedup transform did (docs/state.md "De-duplication").
  if (summary.duplicates_dropped + summary.edits_applied + summary.edits_late > 0) {
    std::printf("duplicates dropped %s   edits applied %s   edits late %s\n",
                Grouped(summary.duplicates_dropped).c_str(), Grouped(summary.edits_applied).c_str(),
                Grouped(summary.edits_late).c_str());
  }
  // Own posts apart, as the windows keep them (docs/queries.md "Own posts and groups").
  std::printf("\n  %-30s %10s %9s %8s\n", "brand", "mentions", "own posts", "alerts");
  for (const BrandSummary& brand : summary.brands) {
    std::printf("  %s %10s %9s %8s\n", PadRight(fmt::format("{} ({})", brand.name, brand.id), 30).c_str(),
                Grouped(brand.mentions).c_str(), Grouped(brand.own_posts).c_str(),
                Grouped(brand.alerts).c_str());
  }
  std::printf("  %-30s %10s %9s %8s\n\n", "total", Grouped(summary.mentions).c_str(),
              Grouped(summary.own_posts).c_str(), Grouped(summary.alerts).c_str());
  // A stream is described by its first sink.
  auto described = [&](std::string_view stream) -> std::string {
    for (const SinkSummary& sink : summary.sinks) {
      if (sink.stream == stream) return sink.description;
    }
    return "none";
  };
  std::printf("alerts:       %s\n", described(kAlertsStream).c_str());
  std::printf("dead letters: %s\n", described(kDeadLetterStream).c_str());
  if (described(kLateStream) != "none") {
    std::printf("late posts:   %s\n", described(kLateStream).c_str());
  }
  std::printf("state:        %s\n", spec->state_directory.c_str());
  for (const SinkSummary& sink : summary.sinks) {
    if (sink.failures == 0 && sink.pending == 0 && sink.given_up == 0) continue;
    std::printf("sink %s:   %s delivered, %s failed attempts, %s given up, %s left in the outbox%s%s\n",
                sink.name.c_str(), Grouped(sink.delivered).c_str(), Grouped(sink.failures).c_str(),
                Grouped(sink.given_up).c_str(), Grouped(sink.pending).c_str(),
                sink.last_error.empty() ? "" : "; last error: ", sink.last_error.c_str());
  }
  if (summary.backpressure_waits > 0) {
    std::printf("backpressure: ingestion paused %s times for full outboxes (%.2f s)\n",
                Grouped(summary.backpressure_waits).c_str(), summary.backpressure_seconds);
  }
  if (summary.watchlist_reloads + summary.watchlist_reload_failures > 0) {
    std::printf("watchlist:    %s reloads, %s failed%s%s\n", Grouped(summary.watchlist_reloads).c_str(),
                Grouped(summary.watchlist_reload_failures).c_str(),
                summary.last_reload_error.empty() ? "" : "; last error: ",
                summary.last_reload_error.c_str());
  }
  return 0;
}

}  // namespace

void RegisterRunCommand(CLI::App& app, CliCommands& commands) {
  auto args = std::make_shared<RunArgs>();  // shared: the callback outlives this call
  CLI::App* command = app.add_subcommand("run", "Run a pipeline until its input ends (or Ctrl-C).");
  command->add_option("pipeline", args->pipeline_path, "Pipeline YAML file")->required();
  command->add_flag("--fresh", args->fresh, "Delete the state directory and empty file sinks first");
  command->add_option("--workers", args->workers,
                      "Worker threads (overrides the pipeline; 0 = as configured)");
  command->add_flag("--quiet,-q", args->quiet, "No progress line (there is none when stderr is not a terminal)");
  command->add_option("--api", args->api_listen,
                      "Serve the HTTP query API on HOST:PORT while running");
  command->add_option("--metrics", args->metrics_listen,
                      "Serve /metrics, /healthz and /readyz on HOST:PORT (also on --api)");
  commands.push_back(CliCommand{command, [args] {
                                  return Run(args->pipeline_path, args->fresh, args->workers,
                                             args->quiet, args->api_listen, args->metrics_listen);
                                }});
}

}  // namespace brandpulse
