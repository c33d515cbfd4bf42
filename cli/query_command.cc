// `brandpulse query`: reads the windows a pipeline has committed, read-only (works while the
// pipeline runs). series/top/share-of-voice/brands print exactly the JSON the HTTP API returns
// (pipeline/http_api.h); `dump` prints every window exactly (the crash test compares dumps).
// `brandpulse serve` serves the HTTP API over a state directory from another process.
#include <csignal>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "pipeline/http_api.h"
#include "pipeline/pipeline_config.h"
#include "engine/state_store.h"

namespace brandpulse {
namespace {

struct QueryArgs {
  std::string pipeline_path;
  std::string state_directory;
  std::map<std::string, std::string> params;  // API parameters by name
  std::string listen = "127.0.0.1:8642";
};

Result<PipelineSpec> LoadSpec(const QueryArgs& args) {
  if (args.pipeline_path.empty()) return Status::InvalidArgument("give --pipeline FILE");
  Diagnostics diagnostics;
  std::optional<PipelineSpec> spec = LoadPipelineSpec(args.pipeline_path, diagnostics);
  if (!spec) {
    PrintDiagnostics(diagnostics);
    return Status::InvalidArgument(fmt::format("{} is not a valid pipeline", args.pipeline_path));
  }
  if (!args.state_directory.empty()) spec->state_directory = args.state_directory;
  return std::move(*spec);
}

// The state directory: --state wins, else the pipeline's `state.directory`.
Result<std::string> StateDirectoryOf(const QueryArgs& args) {
  if (!args.state_directory.empty()) return args.state_directory;
  if (args.pipeline_path.empty()) return Status::InvalidArgument("give --pipeline FILE or --state DIR");
  ASSIGN_OR_RETURN(PipelineSpec spec, LoadSpec(args));
  return spec.state_directory;
}

// Opens the state read-only for one use: sees everything committed up to now.
Status WithReadOnlyQueries(const PipelineSpec& spec,
                           const std::function<void(const WindowQueries&)>& use) {
  StateOptions options{spec.state_directory, 16ull << 20, /*read_only=*/true};
  ASSIGN_OR_RETURN(std::unique_ptr<StateStore> store, StateStore::Open(options));
  WindowQueries queries(*store, spec);
  use(queries);
  return Status::Ok();
}

int Ask(const QueryArgs& args, std::string_view endpoint) {
  Result<PipelineSpec> spec = LoadSpec(args);
  if (!spec.ok()) {
    std::fprintf(stderr, "brandpulse query: %s\n", spec.status().ToString().c_str());
    return 2;
  }
  ApiResponse response;
  Status status = WithReadOnlyQueries(*spec, [&](const WindowQueries& queries) {
    response = AnswerApiRequest(queries, endpoint, [&](std::string_view name) {
      auto found = args.params.find(std::string(name));
      return found == args.params.end() ? std::string() : found->second;
    });
  });
  if (!status.ok()) {
    std::fprintf(stderr, "brandpulse query: %s\n", status.ToString().c_str());
    return 1;
  }
  std::printf("%s\n", response.json.c_str());
  return response.http_status == 200 ? 0 : 1;
}

std::atomic<bool> serve_stop{false};
void OnServeStop(int) { serve_stop.store(true); }

int Serve(const QueryArgs& args) {
  Result<PipelineSpec> loaded = LoadSpec(args);
  if (!loaded.ok()) {
    std::fprintf(stderr, "brandpulse serve: %s\n", loaded.status().ToString().c_str());
    return 2;
  }
  Result<HttpApiOptions> options = ParseListenAddress(args.listen);
  if (!options.ok()) {
    std::fprintf(stderr, "brandpulse serve: %s\n", options.status().ToString().c_str());
    return 2;
  }
  auto spec = std::make_shared<PipelineSpec>(std::move(loaded).value());
  Result<std::unique_ptr<HttpApi>> api = HttpApi::Start(*options, [spec](const auto& use) {
    return WithReadOnlyQueries(*spec, use);
  });
  if (!api.ok()) {
    std::fprintf(stderr, "brandpulse serve: %s\n", api.status().ToString().c_str());
    return 1;
  }
  std::signal(SIGINT, OnServeStop);
  std::signal(SIGTERM, OnServeStop);
  std::printf("serving %s of pipeline '%s' on %s (Ctrl-C stops)\n", spec->state_directory.c_str(),
              spec->name.c_str(), (*api)->address().c_str());
  std::fflush(stdout);
  while (!serve_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return 0;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

// One line per window in key order: brand, dimension ("-" for the total), size, slide, start,
// mentions, reach, estimated unique authors, then the exact stored encoding in hex.
int Dump(const QueryArgs& args) {
  Result<std::string> directory = StateDirectoryOf(args);
  if (!directory.ok()) {
    std::fprintf(stderr, "brandpulse query: %s\n", directory.status().ToString().c_str());
    return 2;
  }
  // Read-only: beside a running pipeline, on a read-only directory, and a mistyped --state is
  // "no state in ..." instead of a new empty database.
  Result<std::unique_ptr<StateStore>> store =
      StateStore::Open(StateOptions{*directory, 16ull << 20, /*read_only=*/true});
  if (!store.ok()) {
    std::fprintf(stderr, "brandpulse query: %s\n", store.status().ToString().c_str());
    return 1;
  }
  std::string encoded;
  Status status = (*store)->ScanAllWindows([&](const WindowKey& key, const WindowMetrics& metrics) {
    encoded.clear();
    metrics.EncodeTo(encoded);
    std::printf("%s %s %lld %lld %lld %llu %llu %llu %s\n", key.brand_id.c_str(),
                key.dimension.empty() ? "-" : key.dimension.c_str(),
                static_cast<long long>(key.size_ms), static_cast<long long>(key.slide_ms),
                static_cast<long long>(key.start_ms),
                static_cast<unsigned long long>(metrics.mentions),
                static_cast<unsigned long long>(metrics.reach),
                static_cast<unsigned long long>(metrics.authors.Estimate()), Hex(encoded).c_str());
  });
  if (!status.ok()) {
    std::fprintf(stderr, "brandpulse query: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

void RegisterQueryCommand(CLI::App& app, CliCommands& commands) {
  auto args = std::make_shared<QueryArgs>();
  CLI::App* query = app.add_subcommand("query", "Read committed windows from a pipeline's state.");
  query->require_subcommand(1);
  auto add_state_options = [&](CLI::App* command) {
    command->add_option("--pipeline,-p", args->pipeline_path, "Pipeline YAML (its state directory)");
    command->add_option("--state,-s", args->state_directory, "State directory (instead of --pipeline)");
  };
  auto add_param = [&](CLI::App* command, const std::string& flag, const std::string& name,
                       const std::string& help) {
    command->add_option_function<std::string>(
        flag, [args, name](const std::string& value) { args->params[name] = value; }, help);
  };
  auto add_range = [&](CLI::App* command) {
    add_param(command, "--window,-w", "window", "Window name from the pipeline (default: the first)");
    add_param(command, "--metric,-m", "metric", "mentions | unique_authors | reach (default mentions)");
    add_param(command, "--from", "from", "Start: epoch ms, ISO-8601, or -2h (relative to now)");
    add_param(command, "--to", "to", "End (default: now = the newest committed event time)");
    add_param(command, "--last", "last", "Duration ending at --to, e.g. 15m (default 1h)");
    add_param(command, "--dimension,-d", "dimension", "A slice: lang:no, platform:bluesky, author:own");
  };

  CLI::App* series = query->add_subcommand("series", "A brand's metric per window over a range.");
  add_state_options(series);
  add_param(series, "--brand,-b", "brand", "Brand id");
  series->get_option("--brand")->required();
  add_range(series);
  commands.push_back({series, [args] { return Ask(*args, "series"); }});

  CLI::App* top = query->add_subcommand("top", "Top brands by a metric over a range.");
  add_state_options(top);
  add_range(top);
  add_param(top, "--limit,-n", "limit", "How many brands (default 10)");
  commands.push_back({top, [args] { return Ask(*args, "top"); }});

  CLI::App* share = query->add_subcommand("share-of-voice", "Each brand's share in a competitor group.");
  share->alias("sov");
  add_state_options(share);
  add_param(share, "--group,-g", "group", "Competitor group");
  share->get_option("--group")->required();
  add_range(share);
  commands.push_back({share, [args] { return Ask(*args, "share-of-voice"); }});

  CLI::App* terms = query->add_subcommand("top-terms", "A brand's top hashtags and co-occurring terms.");
  add_state_options(terms);
  add_param(terms, "--brand,-b", "brand", "Brand id");
  terms->get_option("--brand")->required();
  add_range(terms);
  add_param(terms, "--limit,-n", "limit", "How many of each (default 10)");
  commands.push_back({terms, [args] { return Ask(*args, "top-terms"); }});

  CLI::App* brands = query->add_subcommand("brands", "Brands, groups, windows and the current time.");
  add_state_options(brands);
  commands.push_back({brands, [args] { return Ask(*args, "brands"); }});

  CLI::App* serve = app.add_subcommand(
      "serve", "Serve the HTTP query API over a pipeline's state (read-only, another process).");
  serve->add_option("--pipeline,-p", args->pipeline_path, "Pipeline YAML")->required();
  serve->add_option("--state,-s", args->state_directory, "State directory (overrides the pipeline's)");
  serve->add_option("--listen,-l", args->listen, "HOST:PORT")->capture_default_str();
  commands.push_back({serve, [args] { return Serve(*args); }});

  CLI::App* dump = query->add_subcommand(
      "dump", "Every window, exactly: brand dimension size_ms slide_ms start_ms mentions reach authors encoding-hex");
  add_state_options(dump);
  commands.push_back({dump, [args] { return Dump(*args); }});
}

}  // namespace brandpulse
