#include "pipeline/pipeline_config.h"

#include <filesystem>
#include <thread>

#include "engine/yaml_reader.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;

std::string ResolvePath(const std::string& pipeline_file, const std::string& path) {
  if (path.empty() || path == "-") return path;
  fs::path candidate(path);
  if (candidate.is_absolute()) return candidate.lexically_normal().string();
  // Relative to the pipeline file; kept relative when that is, so messages show short paths.
  fs::path base = fs::path(pipeline_file).parent_path();
  return (base / candidate).lexically_normal().string();
}

void ReadGeneratorSource(YamlMap& map, GeneratorSpec& generator) {
  if (auto format_name = map.Choice(
          "format", {"twitter-v1", "twitter-v2", "jetstream", "mastodon", "json"})) {
    generator.format = *ParseFirehoseFormat(*format_name);
  }
  if (auto value = map.Integer("count", 0, INT64_MAX)) generator.count = *value;
  if (auto value = map.Integer("seed", 0, INT64_MAX)) generator.seed = *value;
  if (auto value = map.Number("mention_share", 0, 1)) generator.mention_share = *value;
  if (auto value = map.Number("malformed_share", 0, 1)) generator.malformed_share = *value;
  if (auto value = map.Number("zipf_exponent", 0, 10)) generator.zipf_exponent = *value;
  if (auto value = map.StringList("languages")) generator.languages = *value;
  if (auto value = map.Integer("authors", 1, INT64_MAX)) generator.author_count = *value;
  if (auto value = map.Number("posts_per_second", 0.001, 1e9)) generator.posts_per_second = *value;
  if (auto value = map.DurationMs("max_disorder")) generator.max_disorder_ms = *value;
}

void ReadSource(YamlMap& map, const std::string& pipeline_file, SourceSpec& source) {
  source.location = map.Location();
  std::optional<std::string> type = map.Choice("type", {"file", "stdin", "generator"}, true);
  if (!type) return;  // the other keys depend on the type: nothing more to say about them
  if (*type == "file") {
    source.type = SourceType::kFile;
    if (auto path = map.String("path", true)) source.path = ResolvePath(pipeline_file, *path);
    if (auto follow = map.Boolean("follow")) source.follow = *follow;
    if (auto pointer = map.String("array_path")) {
      source.array_pointer = *pointer;
      if (!pointer->empty() && pointer->front() != '/') {
        map.diagnostics().Add(map.LocationOf("array_path"),
                              fmt::format("array_path '{}' is not a JSON pointer", *pointer),
                              fmt::format("write '/{}'", *pointer));
      }
      if (source.follow) {
        map.diagnostics().Add(map.LocationOf("follow"),
                              "follow cannot be combined with array_path",
                              "a JSON document with an array is read whole; use JSON lines to follow");
      }
    }
  } else if (*type == "stdin") {
    source.type = SourceType::kStdin;
  } else {
    source.type = SourceType::kGenerator;
    ReadGeneratorSource(map, source.generator);
  }
  map.CheckNoUnknownKeys();
}

SinkSpec ReadSink(YamlMap& sinks, std::string_view key, const std::string& pipeline_file) {
  SinkSpec sink;
  YAML::Node node = sinks.Child(key);
  if (!node.IsDefined()) return sink;
  YamlMap map(node, sinks.file(), fmt::format("sink '{}'", key), sinks.diagnostics());
  if (!map.valid()) return sink;
  std::optional<std::string> type = map.Choice("type", {"file", "stdout", "none"}, true);
  if (type == "file") {
    sink.type = SinkType::kFile;
    if (auto path = map.String("path", true)) sink.path = ResolvePath(pipeline_file, *path);
  } else if (type == "stdout") {
    sink.type = SinkType::kStdout;
  }
  map.CheckNoUnknownKeys();
  return sink;
}

void ReadWindows(YamlMap& pipeline, PipelineSpec& spec) {
  YAML::Node node = pipeline.Child("windows", true);
  if (!node.IsDefined()) return;
  Diagnostics& diagnostics = pipeline.diagnostics();
  if (!node.IsSequence() || node.size() == 0) {
    diagnostics.Add(LocationOf(node, spec.file), "windows must be a non-empty list",
                    "e.g. windows: [{name: 5m, size: 5m}]");
    return;
  }
  for (const YAML::Node& entry : node) {
    YamlMap map(entry, spec.file, "window", diagnostics);
    if (!map.valid()) continue;
    WindowSpec window;
    window.location = map.Location();
    window.name = map.String("name", true).value_or("");
    std::string type = map.Choice("type", {"tumbling", "hopping", "sliding"}).value_or("tumbling");
    window.type = type == "hopping"   ? WindowType::kHopping
                  : type == "sliding" ? WindowType::kSliding
                                      : WindowType::kTumbling;
    if (auto size = map.DurationMs("size", true)) {
      if (*size < 1000) {
        diagnostics.Add(map.LocationOf("size"), "window size must be at least 1s");
      }
      window.size_ms = *size;
    }
    // hopping: `slide`; sliding: `every` (the update interval and bucket size).
    const char* step_key = window.type == WindowType::kHopping ? "slide" : "every";
    std::optional<int64_t> step;
    if (window.type != WindowType::kTumbling) step = map.DurationMs(step_key, true);
    if (step && window.size_ms > 0) {
      if (*step <= 0 || *step > window.size_ms || window.size_ms % *step != 0) {
        diagnostics.Add(map.LocationOf(step_key),
                        fmt::format("{} must divide the window size", step_key),
                        fmt::format("e.g. size: 1h, {}: 5m", step_key));
      } else if (window.size_ms / *step > 120) {
        diagnostics.Add(map.LocationOf(step_key),
                        fmt::format("{} is too small: at most 120 per window size", step_key),
                        "each post would update more than 120 windows");
      } else {
        window.slide_ms = *step;
      }
    }
    if (auto dimensions = map.StringList("dimensions")) {
      for (const std::string& name : *dimensions) {
        const DimensionDefinition* definition = FindDimension(name);
        if (definition == nullptr) {
          std::vector<std::string> known = DimensionNames();
          std::string closest = ClosestMatch(name, known);
          std::string all;
          for (const std::string& known_name : known) all += (all.empty() ? "" : ", ") + known_name;
          diagnostics.Add(map.LocationOf("dimensions"), fmt::format("unknown dimension '{}'", name),
                          closest.empty() ? fmt::format("dimensions are {}", all)
                                          : fmt::format("did you mean '{}'? (dimensions are {})",
                                                        closest, all));
          continue;
        }
        Dimension dimension = definition->id;
        if (std::find(window.dimensions.begin(), window.dimensions.end(), dimension) ==
            window.dimensions.end()) {
          window.dimensions.push_back(dimension);
        }
      }
    }
    for (const WindowSpec& other : spec.windows) {
      if (other.name == window.name) {
        diagnostics.Add(map.LocationOf("name"), fmt::format("duplicate window name '{}'", window.name));
      }
    }
    map.CheckNoUnknownKeys();
    spec.windows.push_back(std::move(window));
  }
}

void ReadAlertRules(YamlMap& pipeline, PipelineSpec& spec) {
  YAML::Node node = pipeline.Child("alerts");
  if (!node.IsDefined()) return;
  Diagnostics& diagnostics = pipeline.diagnostics();
  if (!node.IsSequence()) {
    diagnostics.Add(LocationOf(node, spec.file), "alerts must be a list of rules");
    return;
  }
  std::vector<std::string> window_names;
  for (const WindowSpec& window : spec.windows) window_names.push_back(window.name);
  for (const YAML::Node& entry : node) {
    YamlMap map(entry, spec.file, "alert rule", diagnostics);
    if (!map.valid()) continue;
    AlertRuleSpec rule;
    rule.location = map.Location();
    rule.name = map.String("name", true).value_or("");
    for (const AlertRuleSpec& other : spec.alert_rules) {
      if (other.name == rule.name) {
        diagnostics.Add(map.LocationOf("name"), fmt::format("duplicate alert rule name '{}'", rule.name));
      }
    }
    rule.type = map.Choice("type", {"threshold"}, true).value_or("threshold");
    if (auto window = map.String("window", true)) {
      auto found = std::find(window_names.begin(), window_names.end(), *window);
      if (found == window_names.end()) {
        std::string closest = ClosestMatch(*window, window_names);
        diagnostics.Add(map.LocationOf("window"), fmt::format("no window named '{}'", *window),
                        closest.empty() ? "define it under windows:"
                                        : fmt::format("did you mean '{}'?", closest));
      } else {
        rule.window_index = static_cast<size_t>(found - window_names.begin());
      }
    }
    if (auto metric = map.Choice("metric", {"mentions", "unique_authors", "reach"})) {
      rule.metric = *metric == "mentions"         ? AlertMetric::kMentions
                    : *metric == "unique_authors" ? AlertMetric::kUniqueAuthors
                                                  : AlertMetric::kReach;
    }
    if (auto above = map.Integer("above", 0, INT64_MAX, true)) rule.above = *above;
    if (auto brands = map.StringList("brands")) {
      rule.brands = *brands;
      std::vector<std::string> brand_ids;
      for (const BrandSpec& brand : spec.watchlist.brands) brand_ids.push_back(brand.id);
      if (!brand_ids.empty()) {
        for (const std::string& brand : rule.brands) {
          if (std::find(brand_ids.begin(), brand_ids.end(), brand) != brand_ids.end()) continue;
          std::string closest = ClosestMatch(brand, brand_ids);
          diagnostics.Add(map.LocationOf("brands"),
                          fmt::format("alert rule '{}' names brand '{}', which the watchlist lacks",
                                      rule.name, brand),
                          closest.empty() ? "add it to the watchlist"
                                          : fmt::format("did you mean '{}'?", closest));
        }
      }
    }
    map.CheckNoUnknownKeys();
    spec.alert_rules.push_back(std::move(rule));
  }
}

}  // namespace

std::vector<GeneratedBrand> GeneratedBrandsFrom(const WatchlistSpec& watchlist) {
  std::vector<GeneratedBrand> brands;
  for (const BrandSpec& brand : watchlist.brands) {
    GeneratedBrand generated{brand.id, brand.terms};
    for (const std::string& handle : brand.handles) {
      generated.terms.push_back(handle.starts_with('@') ? handle : "@" + handle);
    }
    for (const std::string& hashtag : brand.hashtags) {
      generated.terms.push_back(hashtag.starts_with('#') ? hashtag : "#" + hashtag);
    }
    brands.push_back(std::move(generated));
  }
  return brands;
}

std::optional<PipelineSpec> LoadPipelineSpec(const std::string& path, Diagnostics& diagnostics) {
  size_t errors_before = diagnostics.size();
  std::optional<YAML::Node> root = LoadYamlFile(path, diagnostics);
  if (!root) return std::nullopt;
  PipelineSpec spec;
  spec.file = path;
  YamlMap pipeline(*root, path, "pipeline", diagnostics);
  if (!pipeline.valid()) return std::nullopt;

  spec.name = pipeline.String("name").value_or(fs::path(path).stem().string());

  // The watchlist first: alert rules refer to its brands.
  if (auto watchlist_path = pipeline.String("watchlist", true)) {
    std::string resolved = ResolvePath(path, *watchlist_path);
    Diagnostics watchlist_diagnostics;
    if (auto watchlist = LoadWatchlist(resolved, watchlist_diagnostics)) {
      spec.watchlist = std::move(*watchlist);
    }
    for (const Diagnostic& item : watchlist_diagnostics.items()) {
      diagnostics.Add(item.location, item.message, item.hint);
    }
  }

  YamlMap source(pipeline.Child("source", true), path, "source", diagnostics);
  if (source.valid()) ReadSource(source, path, spec.source);

  YamlMap decode(pipeline.Child("decode", true), path, "decode", diagnostics);
  if (decode.valid()) {
    if (auto decode_spec = ReadDecodeSpec(decode)) spec.decode = std::move(*decode_spec);
  }

  if (auto workers = pipeline.Integer("workers", 0, 256)) spec.workers = static_cast<int>(*workers);
  if (spec.workers == 0) spec.workers = std::max(1u, std::thread::hardware_concurrency());
  if (auto records = pipeline.Integer("batch_records", 1, 1 << 20)) {
    spec.batch_records = static_cast<int>(*records);
  }

  YamlMap state(pipeline.Child("state", true), path, "state", diagnostics);
  if (state.valid()) {
    if (auto directory = state.String("directory", true)) {
      spec.state_directory = ResolvePath(path, *directory);
    }
    if (auto megabytes = state.Integer("memory_budget_mb", 16, 1 << 20)) {
      spec.memory_budget_bytes = static_cast<uint64_t>(*megabytes) << 20;
    }
    if (auto records = state.Integer("commit_every_records", 1, INT64_MAX)) {
      spec.commit_every_records = *records;
    }
    if (auto interval = state.DurationMs("commit_interval")) spec.commit_interval_ms = *interval;
    if (auto retention = state.DurationMs("retention")) spec.retention_ms = *retention;
    // Where the compiled watchlist is cached; "none" turns the cache off.
    if (auto cache = state.String("watchlist_cache")) {
      spec.watchlist.cache_directory = *cache == "none" ? std::string() : ResolvePath(path, *cache);
    } else {
      spec.watchlist.cache_directory = DefaultWatchlistCacheDirectory();
    }
    state.CheckNoUnknownKeys();
  }

  YamlMap time(pipeline.Child("time"), path, "time", diagnostics);
  if (time.valid()) {
    if (auto value = time.DurationMs("max_out_of_orderness")) spec.max_out_of_orderness_ms = *value;
    if (auto value = time.DurationMs("allowed_lateness")) spec.allowed_lateness_ms = *value;
    if (auto value = time.DurationMs("idle_timeout")) spec.idle_timeout_ms = *value;
    time.CheckNoUnknownKeys();
  }

  std::optional<std::string> top_k_window;
  SourceLocation top_k_window_location;
  YamlMap metrics(pipeline.Child("metrics"), path, "metrics", diagnostics);
  if (metrics.valid()) {
    if (auto top_k = metrics.Integer("top_k", 0, 1000)) spec.top_k = static_cast<int>(*top_k);
    if (auto co_terms = metrics.Boolean("co_terms")) spec.co_terms = *co_terms;
    top_k_window = metrics.String("window");
    top_k_window_location = metrics.LocationOf("window");
    metrics.CheckNoUnknownKeys();
  }

  ReadWindows(pipeline, spec);
  if (top_k_window) {
    auto found = std::find_if(spec.windows.begin(), spec.windows.end(),
                              [&](const WindowSpec& window) { return window.name == *top_k_window; });
    if (found == spec.windows.end()) {
      diagnostics.Add(top_k_window_location, fmt::format("unknown window '{}'", *top_k_window),
                      "metrics.window names one of the windows: entries");
    } else {
      spec.top_k_window = static_cast<size_t>(found - spec.windows.begin());
    }
  }
  ReadAlertRules(pipeline, spec);

  YamlMap sinks(pipeline.Child("sinks", true), path, "sinks", diagnostics);
  if (sinks.valid()) {
    spec.alerts_sink = ReadSink(sinks, "alerts", path);
    spec.dead_letter_sink = ReadSink(sinks, "dead_letter", path);
    spec.late_sink = ReadSink(sinks, "late", path);
    if (spec.alerts_sink.type == SinkType::kNone && !spec.alert_rules.empty()) {
      diagnostics.Add(sinks.Location(), "alert rules are defined but sinks.alerts is missing",
                      "add sinks: {alerts: {type: file, path: out/alerts.jsonl}}");
    }
    if (spec.dead_letter_sink.type == SinkType::kNone) {
      diagnostics.Add(sinks.Location(), "sinks.dead_letter is missing",
                      "bad input must go somewhere: add dead_letter: {type: file, path: ...}");
    }
    sinks.CheckNoUnknownKeys();
  }

  pipeline.CheckNoUnknownKeys();

  if (spec.source.type == SourceType::kGenerator) {
    spec.source.generator.brands = GeneratedBrandsFrom(spec.watchlist);
  }
  if (diagnostics.size() != errors_before) return std::nullopt;
  return spec;
}

}  // namespace brandpulse
