// `brandpulse generate`: writes the deterministic synthetic firehose (generator/) as JSON lines.
#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/progress.h"
#include "engine/yaml_reader.h"
#include "generator/firehose_generator.h"
#include "generator/generator_source.h"
#include "operators/watchlist.h"

namespace brandpulse {
namespace {

struct GenerateArgs {
  GeneratorSpec generator;
  std::string format_name = "twitter-v2";
  std::string output_path;
  std::string watchlist;
  std::string languages = "en,no,es";
  std::string disorder = "10s";
  bool quiet = false;
};

int Generate(GenerateArgs& args) {
  GeneratorSpec& generator = args.generator;
  const std::string& format_name = args.format_name;
  const std::string& languages = args.languages;
  const std::string& disorder = args.disorder;
  const std::string& generate_watchlist = args.watchlist;
  const std::string& output_path = args.output_path;
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
  // On a terminal, a progress line (not when the firehose itself goes to the terminal).
  ProgressLine progress(stderr, args.quiet || out == stdout, "generate");
  const auto started = std::chrono::steady_clock::now();
  ProgressFigures figures;
  figures.total = generator.count;
  figures.total_is_records = true;
  figures.show_matches = false;
  figures.show_alerts = false;
  while (true) {
    record.clear();
    if (!(*made)->Next(record)) break;
    record.push_back('\n');
    std::fwrite(record.data(), 1, record.size(), out);
    if (progress.enabled() && (++figures.records & 0x3fff) == 0) {
      figures.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      progress.Update(figures);
    }
  }
  progress.Finish();
  if (out != stdout) std::fclose(out);
  return 0;
}

}  // namespace

void RegisterGenerateCommand(CLI::App& app, CliCommands& commands) {
  auto args = std::make_shared<GenerateArgs>();  // shared: the callback outlives this call
  GeneratorSpec& generator = args->generator;
  CLI::App* generate = app.add_subcommand(
      "generate", "Write a deterministic synthetic firehose (JSON lines) to stdout or a file.");
  generate->add_option("--watchlist,-w", args->watchlist, "Brands to mention (watchlist YAML)");
  generate->add_option("--format,-f", args->format_name,
                       "twitter-v1 | twitter-v2 | jetstream | mastodon | json")->capture_default_str();
  generate->add_option("--count,-n", generator.count, "Records")->capture_default_str();
  generate->add_option("--seed", generator.seed, "Random seed")->capture_default_str();
  generate->add_option("--mention-share", generator.mention_share,
                       "Share of posts mentioning a brand")->capture_default_str();
  generate->add_option("--malformed-share", generator.malformed_share,
                       "Share of broken lines")->capture_default_str();
  generate->add_option("--zipf", generator.zipf_exponent, "Zipf exponent over brands")->capture_default_str();
  generate->add_option("--languages", args->languages, "Comma-separated: en,no,es")->capture_default_str();
  generate->add_option("--authors", generator.author_count, "Distinct authors")->capture_default_str();
  generate->add_option("--rate", generator.posts_per_second, "Posts per second of event time")->capture_default_str();
  generate->add_option("--disorder", args->disorder, "Maximum event-time disorder, e.g. 10s")->capture_default_str();
  generate->add_option("--start-ms", generator.start_time_ms, "First event time (epoch ms)")->capture_default_str();
  generate->add_option("--output,-o", args->output_path, "Output file (default stdout)");
  generate->add_flag("--quiet,-q", args->quiet, "No progress line (there is none when stderr is not a terminal)");
  commands.push_back(CliCommand{generate, [args] { return Generate(*args); }});
}

}  // namespace brandpulse
