// `brandpulse query`: reads the windows a pipeline has committed. `dump` prints every window
// exactly (the crash test compares dumps byte for byte).
#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.h"
#include "engine/pipeline_config.h"
#include "engine/state_store.h"

namespace brandpulse {
namespace {

struct QueryArgs {
  std::string pipeline_path;
  std::string state_directory;
};

// The state directory: --state wins, else the pipeline's `state.directory`.
Result<std::string> StateDirectoryOf(const QueryArgs& args) {
  if (!args.state_directory.empty()) return args.state_directory;
  if (args.pipeline_path.empty()) {
    return Status::InvalidArgument("give --pipeline FILE or --state DIR");
  }
  Diagnostics diagnostics;
  std::optional<PipelineSpec> spec = LoadPipelineSpec(args.pipeline_path, diagnostics);
  if (!spec) {
    PrintDiagnostics(diagnostics);
    return Status::InvalidArgument(fmt::format("{} is not a valid pipeline", args.pipeline_path));
  }
  return spec->state_directory;
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

// One line per window in key order: brand, size, start, mentions, reach, estimated unique
// authors, then the exact stored encoding (HLL registers included) in hex.
int Dump(const QueryArgs& args) {
  Result<std::string> directory = StateDirectoryOf(args);
  if (!directory.ok()) {
    std::fprintf(stderr, "brandpulse query: %s\n", directory.status().ToString().c_str());
    return 2;
  }
  Result<std::unique_ptr<StateStore>> store = StateStore::Open(StateOptions{*directory});
  if (!store.ok()) {
    std::fprintf(stderr, "brandpulse query: %s\n", store.status().ToString().c_str());
    return 1;
  }
  std::string encoded;
  Status status = (*store)->ScanAllWindows([&](const WindowKey& key, const WindowMetrics& metrics) {
    encoded.clear();
    metrics.EncodeTo(encoded);
    std::printf("%s %lld %lld %llu %llu %llu %s\n", key.brand_id.c_str(),
                static_cast<long long>(key.size_ms), static_cast<long long>(key.start_ms),
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

void AddQueryCommand(CLI::App& app, CliCommands& commands) {
  auto args = std::make_shared<QueryArgs>();
  CLI::App* query = app.add_subcommand("query", "Read committed windows from a pipeline's state.");
  query->require_subcommand(1);
  auto add_state_options = [&](CLI::App* command) {
    command->add_option("--pipeline,-p", args->pipeline_path, "Pipeline YAML (its state directory)");
    command->add_option("--state,-s", args->state_directory, "State directory (instead of --pipeline)");
  };
  CLI::App* dump = query->add_subcommand(
      "dump", "Every window, exactly: brand size_ms start_ms mentions reach authors encoding-hex");
  add_state_options(dump);
  commands.push_back({dump, [args] { return Dump(*args); }});
}

}  // namespace brandpulse
