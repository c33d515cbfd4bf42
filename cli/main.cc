// brandpulse: the command-line entry point. Subcommands: run, validate, match, generate.
// Library code never prints; everything user-facing is written here.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"
#include "engine/yaml_reader.h"
#include "generator/firehose_generator.h"
#include "operators/hyperscan_match.h"
#include "operators/watchlist.h"

namespace brandpulse {
namespace {

std::atomic<bool> stop_requested{false};

void OnStopSignal(int) { stop_requested.store(true); }

std::atomic<bool> reload_requested{false};
void OnReloadSignal(int) { reload_requested.store(true); }

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
    options.on_progress = [](const RunProgress& progress) {
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
  std::printf("\n  %-30s %10s %8s\n", "brand", "mentions", "alerts");
  for (const BrandSummary& brand : summary.brands) {
    std::printf("  %s %10s %8s\n", PadRight(fmt::format("{} ({})", brand.name, brand.id), 30).c_str(),
                Grouped(brand.mentions).c_str(), Grouped(brand.alerts).c_str());
  }
  std::printf("  %-30s %10s %8s\n\n", "total", Grouped(summary.mentions).c_str(),
              Grouped(summary.alerts).c_str());
  std::printf("alerts:       %s\n", summary.alerts_sink.c_str());
  std::printf("dead letters: %s\n", summary.dead_letter_sink.c_str());
  if (summary.late_sink != "none") std::printf("late posts:   %s\n", summary.late_sink.c_str());
  std::printf("state:        %s\n", spec->state_directory.c_str());
  if (summary.watchlist_reloads + summary.watchlist_reload_failures > 0) {
    std::printf("watchlist:    %s reloads, %s failed%s%s\n", Grouped(summary.watchlist_reloads).c_str(),
                Grouped(summary.watchlist_reload_failures).c_str(),
                summary.last_reload_error.empty() ? "" : "; last error: ",
                summary.last_reload_error.c_str());
  }
  return 0;
}

struct MatchPostFields {
  std::string language;
  std::string author;
  std::string reply_to;
};

int Match(const std::string& watchlist_path, const std::vector<std::string>& texts,
          const MatchPostFields& fields) {
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> watchlist = LoadWatchlist(watchlist_path, diagnostics);
  if (!watchlist) {
    PrintDiagnostics(diagnostics);
    return 2;
  }
  watchlist->cache_directory = DefaultWatchlistCacheDirectory();
  Result<std::shared_ptr<const CompiledWatchlist>> compiled = CompiledWatchlist::Make(*watchlist);
  if (!compiled.ok()) {
    std::fprintf(stderr, "brandpulse: %s\n", compiled.status().ToString().c_str());
    return 1;
  }
  Result<std::unique_ptr<CompiledWatchlist::Scanner>> scanner = (*compiled)->MakeScanner();
  if (!scanner.ok()) {
    std::fprintf(stderr, "brandpulse: %s\n", scanner.status().ToString().c_str());
    return 1;
  }
  int matched_any = 0;
  for (const std::string& text : texts) {
    std::printf("text: %s\n", text.c_str());
    Post post;
    post.text = text;
    post.language = fields.language;
    post.author_handle = fields.author;
    post.reply_to_handle = fields.reply_to;
    std::vector<TermHit> hits = (*compiled)->ExplainText(text, **scanner);
    std::vector<MatchedBrand> brands;
    (*compiled)->MatchPost(post, **scanner, brands);
    std::vector<bool> explain_query((*compiled)->brand_count(), false);
    for (const TermHit& hit : hits) {
      const BrandSpec& brand = (*compiled)->brand(hit.brand_index);
      std::string where;
      if (hit.kind == TermKind::kQuery && brand.query) {
        const SourceLocation& location = brand.query->nodes[hit.query_node].location;
        where = fmt::format("  (query term at line {}:{})", location.line, location.column);
      }
      std::printf("  %-9s %-20s %-10s bytes %u..%u  \"%.*s\"%s\n",
                  hit.accepted ? "hit" : "rejected", brand.id.c_str(),
                  std::string(TermKindName(hit.kind)).c_str(), hit.begin, hit.end,
                  static_cast<int>(hit.end - hit.begin), text.data() + hit.begin, where.c_str());
      if (!hit.accepted) {
        std::printf("            (%s)\n", std::string(hit.why_rejected).c_str());
      }
      if (hit.kind == TermKind::kQuery) explain_query[hit.brand_index] = true;
    }
    for (const MatchedBrand& matched : brands) explain_query[matched.brand_index] = true;
    for (uint32_t index = 0; index < (*compiled)->brand_count(); ++index) {
      const BrandSpec& brand = (*compiled)->brand(index);
      if (!brand.query || !explain_query[index]) continue;
      std::vector<bool> values = (*compiled)->ExplainQuery(index, post, **scanner);
      std::printf("  query of %s: %s\n", brand.id.c_str(),
                  values[brand.query->root] ? "true" : "false");
      std::printf("%s", QueryTreeText(*brand.query, values, 2).c_str());
    }
    if (brands.empty()) std::printf("  no brand matched\n");
    for (const MatchedBrand& matched : brands) {
      const BrandSpec& brand = (*compiled)->brand(matched.brand_index);
      std::printf("  => %s (%s)%s\n", brand.name.c_str(), brand.id.c_str(),
                  (*compiled)->IsOwnHandle(matched.brand_index, fields.author)
                      ? " [own post: not counted as a mention]"
                      : "");
      matched_any = 1;
    }
  }
  return matched_any ? 0 : 3;
}

}  // namespace

std::string Grouped(uint64_t number) {
  std::string digits = std::to_string(number);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

// Pads to `width` display columns, counting UTF-8 code points rather than bytes.
std::string PadRight(std::string_view text, size_t width) {
  size_t columns = 0;
  for (char c : text) columns += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
  std::string out(text);
  if (columns < width) out.append(width - columns, ' ');
  return out;
}

void PrintDiagnostics(const Diagnostics& diagnostics) {
  for (const Diagnostic& item : diagnostics.items()) {
    std::fprintf(stderr, "%s\n", item.ToString().c_str());
  }
}

}  // namespace brandpulse

int main(int argc, char** argv) {
  using namespace brandpulse;
  CLI::App app{
      "brandpulse: stream processing for brand monitoring.\n"
      "Reads a firehose of posts, finds brand mentions, keeps windows in RocksDB, raises alerts."};
  app.set_version_flag("--version", std::string(BRANDPULSE_VERSION));
  app.require_subcommand(1);

  std::string pipeline_path;
  bool fresh = false;
  bool quiet = false;
  int workers = 0;
  CLI::App* run = app.add_subcommand("run", "Run a pipeline until its input ends (or Ctrl-C).");
  run->add_option("pipeline", pipeline_path, "Pipeline YAML file")->required();
  run->add_flag("--fresh", fresh, "Delete the state directory and empty file sinks first");
  run->add_option("--workers", workers, "Worker threads (overrides the pipeline; 0 = as configured)");
  run->add_flag("--quiet,-q", quiet, "No progress lines");
  std::string api_listen;
  run->add_option("--api", api_listen, "Serve the HTTP query API on HOST:PORT while running");

  std::vector<std::string> validate_paths;
  CLI::App* validate = app.add_subcommand(
      "validate", "Check pipeline or watchlist files; print every error as file:line:column.");
  validate->add_option("files", validate_paths, "Pipeline or watchlist YAML files")->required();

  std::string watchlist_path;
  std::vector<std::string> texts;
  CLI::App* match = app.add_subcommand("match", "Show which brands and terms match a text, and where.");
  match->add_option("--watchlist,-w", watchlist_path, "Watchlist YAML file")->required();
  match->add_option("text", texts, "Texts to match")->required();
  MatchPostFields match_fields;
  match->add_option("--lang", match_fields.language, "The post's language (for lang:)");
  match->add_option("--author", match_fields.author, "The post's author handle (for author:)");
  match->add_option("--reply-to", match_fields.reply_to, "The handle replied to (for reply:)");

  GeneratorSpec generator;
  std::string format_name = "twitter-v2";
  std::string output_path;
  std::string generate_watchlist;
  std::string languages = "en,no,es";
  std::string disorder = "10s";
  CLI::App* generate = app.add_subcommand(
      "generate", "Write a deterministic synthetic firehose (JSON lines) to stdout or a file.");
  generate->add_option("--watchlist,-w", generate_watchlist, "Brands to mention (watchlist YAML)");
  generate->add_option("--format,-f", format_name,
                       "twitter-v1 | twitter-v2 | jetstream | mastodon | json")->capture_default_str();
  generate->add_option("--count,-n", generator.count, "Records")->capture_default_str();
  generate->add_option("--seed", generator.seed, "Random seed")->capture_default_str();
  generate->add_option("--mention-share", generator.mention_share,
                       "Share of posts mentioning a brand")->capture_default_str();
  generate->add_option("--malformed-share", generator.malformed_share,
                       "Share of broken lines")->capture_default_str();
  generate->add_option("--zipf", generator.zipf_exponent, "Zipf exponent over brands")->capture_default_str();
  generate->add_option("--languages", languages, "Comma-separated: en,no,es")->capture_default_str();
  generate->add_option("--authors", generator.author_count, "Distinct authors")->capture_default_str();
  generate->add_option("--rate", generator.posts_per_second, "Posts per second of event time")->capture_default_str();
  generate->add_option("--disorder", disorder, "Maximum event-time disorder, e.g. 10s")->capture_default_str();
  generate->add_option("--start-ms", generator.start_time_ms, "First event time (epoch ms)")->capture_default_str();
  generate->add_option("--output,-o", output_path, "Output file (default stdout)");

  CliCommands commands;
  AddQueryCommand(app, commands);
  RegisterBacktestCommand(app, commands);

  CLI11_PARSE(app, argc, argv);

  for (const CliCommand& command : commands) {
    if (*command.app) return command.run();
  }

  if (*run) return Run(pipeline_path, fresh, workers, quiet, api_listen);
  if (*validate) return Validate(validate_paths);
  if (*match) return Match(watchlist_path, texts, match_fields);
  if (*generate) {
    std::optional<FirehoseFormat> format = ParseFirehoseFormat(format_name);
    if (!format) {
      std::fprintf(stderr, "brandpulse generate: unknown format '%s'\n", format_name.c_str());
      return 2;
    }
    generator.format = *format;
    generator.languages.clear();
    for (size_t begin = 0; begin <= languages.size();) {
      size_t end = languages.find(',', begin);
      if (end == std::string::npos) end = languages.size();
      if (end > begin) generator.languages.push_back(languages.substr(begin, end - begin));
      begin = end + 1;
    }
    std::optional<int64_t> disorder_ms = ParseDurationMs(disorder);
    if (!disorder_ms) {
      std::fprintf(stderr, "brandpulse generate: --disorder '%s' is not a duration\n", disorder.c_str());
      return 2;
    }
    generator.max_disorder_ms = *disorder_ms;
    if (!generate_watchlist.empty()) {
      Diagnostics diagnostics;
      std::optional<WatchlistSpec> watchlist = LoadWatchlist(generate_watchlist, diagnostics);
      if (!watchlist) {
        PrintDiagnostics(diagnostics);
        return 2;
      }
      generator.brands = GeneratedBrandsFrom(*watchlist);
    }
    Result<std::unique_ptr<FirehoseGenerator>> made = FirehoseGenerator::Make(generator);
    if (!made.ok()) {
      std::fprintf(stderr, "brandpulse generate: %s\n", made.status().ToString().c_str());
      return 1;
    }
    std::FILE* out = output_path.empty() ? stdout : std::fopen(output_path.c_str(), "wb");
    if (out == nullptr) {
      std::fprintf(stderr, "brandpulse generate: cannot write %s\n", output_path.c_str());
      return 1;
    }
    std::string record;
    while (true) {
      record.clear();
      if (!(*made)->Next(record)) break;
      record.push_back('\n');
      std::fwrite(record.data(), 1, record.size(), out);
    }
    if (out != stdout) std::fclose(out);
    return 0;
  }
  return 0;
}
