// `brandpulse run PIPELINE`: runs a pipeline until its input ends or Ctrl-C, then prints the
// run's summary. SIGINT/SIGTERM stop after a final commit; SIGHUP reloads the watchlist.
#include <atomic>
#include <csignal>
#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.h"
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
};

int Run(const std::string& path, bool fresh, int workers, bool quiet, const std::string& api) {
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
  options.reload_requested = &reload_requested;
  options.on_reload = [](bool swapped, const std::string& error) {
    if (swapped) {
      std::fprintf(stderr, "watchlist reloaded\n");
    } else {
      std::fprintf(stderr, "watchlist reload failed, the previous one keeps running:\n%s\n",
                   error.c_str());
    }
  };
  options.on_notice = [](const std::string& message) {
    std::fprintf(stderr, "%s\n", message.c_str());
  };
  options.fresh = fresh;
  options.workers = workers;
  options.stop_requested = &stop_requested;
  options.api_listen = api;
  options.on_api_ready = [](const std::string& address) {
    std::fprintf(stderr, "query API on %s/api/v1/ (see docs/api.md)\n", address.c_str());
  };
  options.on_ready = [](bool resumed, uint64_t position, double seconds) {
    if (resumed) {
      std::fprintf(stderr, "resumed from committed position %s, ready after %.3f s\n",
                   Grouped(position).c_str(), seconds);
    } else {
      std::fprintf(stderr, "no committed position: starting at the beginning, ready after %.3f s\n",
                   seconds);
    }
  };
  if (!quiet) {
    options.on_progress = [](const RunSummary& progress) {
      std::fprintf(stderr, "  %8.1fs  records %s  posts %s  mentions %s  dead %s  alerts %s\n",
                   progress.seconds, Grouped(progress.records).c_str(),
                   Grouped(progress.posts).c_str(), Grouped(progress.mentions).c_str(),
                   Grouped(progress.dead_letters).c_str(), Grouped(progress.alerts).c_str());
    };
  }
  Result<RunSummary> result = RunPipeline(*spec, options);
  if (!result.ok()) {
    std::fprintf(stderr, "brandpulse: run failed: %s\n", result.status().ToString().c_str());
    return 1;
  }
  const RunSummary& summary = *result;
  double rate = summary.seconds > 0 ? summary.records / summary.seconds : 0;
  std::printf("\npipeline '%s' finished in %.2f s with %d worker%s: %s records, %s posts/s, %.1f MB/s\n",
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
  std::printf("\n  %-30s %10s %8s\n", "brand", "mentions", "alerts");
  for (const BrandSummary& brand : summary.brands) {
    std::printf("  %s %10s %8s\n", PadRight(fmt::format("{} ({})", brand.name, brand.id), 30).c_str(),
                Grouped(brand.mentions).c_str(), Grouped(brand.alerts).c_str());
  }
  std::printf("  %-30s %10s %8s\n\n", "total", Grouped(summary.mentions).c_str(),
              Grouped(summary.alerts).c_str());
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
  command->add_flag("--quiet,-q", args->quiet, "No progress lines");
  command->add_option("--api", args->api_listen,
                      "Serve the HTTP query API on HOST:PORT while running");
  commands.push_back(CliCommand{command, [args] {
                                  return Run(args->pipeline_path, args->fresh, args->workers,
                                             args->quiet, args->api_listen);
                                }});
}

}  // namespace brandpulse
