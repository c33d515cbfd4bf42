// `brandpulse validate FILE...`: checks pipeline and watchlist files (a watchlist is compiled
// too) and prints every problem as file:line:column with a hint.
#include <cstdio>

#include <fmt/format.h>

#include "cli/ambiguity.h"
#include "cli/commands.h"
#include "engine/yaml_reader.h"
#include "operators/hyperscan_match.h"
#include "operators/watchlist.h"
#include "engine/unicode.h"

#include <algorithm>
#include <fstream>
#include <unordered_set>
#include <fmt/ranges.h>
#include "pipeline/pipeline_config.h"

namespace brandpulse {
namespace {

// A file whose top level has `brands:` is a watchlist; anything else is a pipeline.
bool LooksLikeWatchlist(const std::string& path) {
  Diagnostics ignored;
  std::optional<YAML::Node> root = LoadYamlFile(path, ignored);
  return root && root->IsMap() && (*root)["brands"].IsDefined() && !(*root)["source"].IsDefined();
}

int Validate(const std::vector<std::string>& paths) {
  int failures = 0;
  for (const std::string& path : paths) {
    Diagnostics diagnostics;
    std::string what;
    if (LooksLikeWatchlist(path)) {
      what = "watchlist";
      std::optional<WatchlistSpec> watchlist = LoadWatchlist(path, diagnostics);
      if (watchlist && diagnostics.empty()) {
        WatchlistBuildInfo build;
        Result<std::shared_ptr<const CompiledWatchlist>> compiled = CompiledWatchlist::Make(
            *watchlist, WatchlistCacheOptions{DefaultWatchlistCacheDirectory()}, &build);
        if (!compiled.ok()) {
          diagnostics.Add(SourceLocation{path, 0, 0}, compiled.status().message());
        } else {
          size_t queries = 0;
          for (const BrandSpec& brand : watchlist->brands) queries += brand.query.has_value();
          WarnAboutAmbiguousTerms(path, *watchlist);
          what = fmt::format(
              "watchlist: {} brands, {} queries, {} groups, {} patterns, database {:.1f} KB {} "
              "in {:.3f} s",
              (*compiled)->brand_count(), queries, watchlist->groups.size(),
              (*compiled)->pattern_count(), (*compiled)->database_bytes() / 1024.0,
              build.loaded_from_cache ? "loaded from cache" : "compiled", build.seconds);
        }
      }
    } else {
      what = "pipeline";
      std::optional<PipelineSpec> spec = LoadPipelineSpec(path, diagnostics);
      if (spec && diagnostics.empty()) {
        for (const Diagnostic& note : spec->notes) {  // issue 12: e.g. enrichment is off
          std::printf("%s:%d:%d: note: %s (hint: %s)\n", note.location.file.c_str(),
                      note.location.line, note.location.column, note.message.c_str(),
                      note.hint.c_str());
        }
        Result<std::shared_ptr<const CompiledWatchlist>> compiled =
            CompiledWatchlist::Make(spec->watchlist);
        if (!compiled.ok()) {
          diagnostics.Add(SourceLocation{spec->file, 0, 0}, compiled.status().message());
        } else {
          what = fmt::format("pipeline '{}': {} brands, {} windows, {} alert rules, {} workers",
                             spec->name, spec->watchlist.brands.size(), spec->windows.size(),
                             spec->alert_rules.size(), spec->workers);
        }
      }
    }
    if (diagnostics.empty()) {
      std::printf("%s: ok (%s)\n", path.c_str(), what.c_str());
    } else {
      PrintDiagnostics(diagnostics);
      std::fprintf(stderr, "%s: %zu error%s\n", path.c_str(), diagnostics.size(),
                   diagnostics.size() == 1 ? "" : "s");
      ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

void RegisterValidateCommand(CLI::App& app, CliCommands& commands) {
  auto paths = std::make_shared<std::vector<std::string>>();  // shared: outlives this call
  CLI::App* command = app.add_subcommand(
      "validate", "Check pipeline or watchlist files; print every error as file:line:column.");
  command->add_option("files", *paths, "Pipeline or watchlist YAML files")->required();
  commands.push_back(CliCommand{command, [paths] { return Validate(*paths); }});
}

}  // namespace brandpulse
