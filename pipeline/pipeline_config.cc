#include "pipeline/pipeline_config.h"

#include <filesystem>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "engine/event_time.h"
#include "engine/yaml_reader.h"
#include "pipeline/cluster_spec.h"  // issue 11

namespace brandpulse {
namespace {

namespace fs = std::filesystem;

// The transform chain when `transforms:` is absent.
const std::vector<std::string> kDefaultTransforms = {"decode", "match", "window"};

// Reads `source:` with the reader registered for its type.
void ReadSource(YamlMap& pipeline, const OperatorRegistry& registry, const ConfigContext& context,
                PipelineSpec& spec) {
  YamlMap map(pipeline.Child("source", true), pipeline.file(), "source", pipeline.diagnostics());
  if (!map.valid()) return;
  std::optional<std::string> type = map.Choice("type", registry.SourceTypes(), true);
  if (!type) return;  // the other keys depend on the type: nothing more to say about them
  Result<std::unique_ptr<SourceSpec>> source = (*registry.FindSource(*type))(map, context);
  if (source.ok()) spec.source = std::move(*source);
}

// One transform of the chain: `entry` is a type name alone (its options, if any, are the
// pipeline's top-level section of that name, e.g. `decode:`) or a map with `type:`.
void ReadTransform(YamlMap& pipeline, const YAML::Node& entry, const OperatorRegistry& registry,
                   const ConfigContext& context, PipelineSpec& spec,
                   std::vector<std::string>& types) {
  Diagnostics& diagnostics = pipeline.diagnostics();
  const std::vector<std::string> known = registry.TransformTypes();
  auto unknown = [&](const SourceLocation& location, const std::string& type) {
    diagnostics.Add(location, fmt::format("unknown transform '{}'", type),
                    DidYouMean(type, known, fmt::format("transforms are {}", fmt::join(known, ", "))));
  };
  std::string type;
  std::optional<YamlMap> section;
  YAML::Node empty_section(YAML::NodeType::Map);
  SourceLocation where = LocationOf(entry, spec.file);
  if (entry.IsScalar()) {
    type = entry.Scalar();
    if (registry.FindTransform(type) == nullptr) return unknown(where, type);
    // The section of that name, required for decode (its format has no default).
    YAML::Node own = pipeline.Child(type, type == "decode");
    if (type == "decode" && !own.IsDefined()) return;
    section.emplace(own.IsDefined() ? own : empty_section, spec.file, type, diagnostics);
  } else {
    section.emplace(entry, spec.file, "transform", diagnostics);
    if (!section->valid()) return;
    std::optional<std::string> named = section->String("type", true);
    if (!named) return;
    type = *named;
    if (registry.FindTransform(type) == nullptr) {
      return unknown(section->LocationOf("type"), type);
    }
  }
  if (!section->valid()) return;
  Result<std::unique_ptr<TransformSpec>> transform =
      (*registry.FindTransform(type))(*section, context);
  if (!transform.ok()) return;
  for (std::string_view needed : (*transform)->needs_before()) {
    if (std::find(types.begin(), types.end(), needed) == types.end()) {
      diagnostics.Add(where, fmt::format("transform '{}' needs '{}' before it", type, needed),
                      "transforms run in the order they are listed");
    }
  }
  types.push_back(type);
  spec.transforms.push_back(std::move(*transform));
}

void ReadTransforms(YamlMap& pipeline, const OperatorRegistry& registry,
                    const ConfigContext& context, PipelineSpec& spec) {
  std::vector<std::string> types;          // in chain order
  std::vector<std::string> by_section;     // types that read their top-level section
  YAML::Node chain = pipeline.Child("transforms");
  Diagnostics& diagnostics = pipeline.diagnostics();
  if (!chain.IsDefined()) {
    for (const std::string& type : kDefaultTransforms) {
      ReadTransform(pipeline, YAML::Node(type), registry, context, spec, types);
      by_section.push_back(type);
    }
  } else if (!chain.IsSequence() || chain.size() == 0) {
    diagnostics.Add(LocationOf(chain, spec.file), "transforms must be a non-empty list",
                    fmt::format("e.g. transforms: [{}]", fmt::join(kDefaultTransforms, ", ")));
    for (const std::string& type : registry.TransformTypes()) pipeline.Child(type);  // said enough
    return;
  } else {
    const SourceLocation chain_location = LocationOf(chain, spec.file);
    for (const YAML::Node& entry : chain) {
      if (entry.IsNull()) {
        diagnostics.Add(chain_location, "transforms: has an empty entry",
                        fmt::format("write a type, e.g. transforms: [{}]",
                                    fmt::join(kDefaultTransforms, ", ")));
        continue;
      }
      const size_t before = types.size();
      ReadTransform(pipeline, entry, registry, context, spec, types);
      if (entry.IsScalar() && types.size() > before) by_section.push_back(types.back());
    }
  }
  // A transform of a kind works on every post once: a second one would decode or count twice.
  for (size_t index = 0; index < types.size(); ++index) {
    if (std::find(types.begin(), types.begin() + index, types[index]) != types.begin() + index) {
      diagnostics.Add(LocationOf(chain, spec.file),
                      fmt::format("transform '{}' is listed twice", types[index]),
                      "each transform runs once per post");
    }
  }
  // A top-level section of a transform type that no entry read is a mistake, not unknown.
  for (const std::string& type : registry.TransformTypes()) {
    if (std::find(by_section.begin(), by_section.end(), type) != by_section.end()) continue;
    if (!pipeline.Has(type)) continue;
    YAML::Node unused = pipeline.Child(type);
    diagnostics.Add(LocationOf(unused, spec.file), fmt::format("'{}:' is not used", type),
                    std::find(types.begin(), types.end(), type) != types.end()
                        ? fmt::format("transforms: configures {} in its own entry; move these "
                                      "options there",
                                      type)
                        : fmt::format("transforms: does not list {}", type));
  }
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
          std::string all = fmt::format("dimensions are {}", fmt::join(known, ", "));
          std::string hint = DidYouMean(name, known, all);
          diagnostics.Add(map.LocationOf("dimensions"), fmt::format("unknown dimension '{}'", name),
                          hint == all ? all : fmt::format("{} ({})", hint, all));
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

void ReadAlertRules(YamlMap& pipeline, const OperatorRegistry& registry,
                    const ConfigContext& context, PipelineSpec& spec) {
  YAML::Node node = pipeline.Child("alerts");
  if (!node.IsDefined()) return;
  Diagnostics& diagnostics = pipeline.diagnostics();
  if (!node.IsSequence()) {
    diagnostics.Add(LocationOf(node, spec.file), "alerts must be a list of rules");
    return;
  }
  std::set<std::string> names;
  for (const YAML::Node& entry : node) {
    YamlMap map(entry, spec.file, "alert rule", diagnostics);
    if (!map.valid()) continue;
    std::string name = map.String("name", true).value_or("");
    if (!name.empty() && !names.insert(name).second) {
      diagnostics.Add(map.LocationOf("name"), fmt::format("duplicate alert rule name '{}'", name));
    }
    if (name.find('\0') != std::string::npos || name.find('/') != std::string::npos) {
      diagnostics.Add(map.LocationOf("name"), "an alert rule name cannot contain '/'",
                      "it is part of alert ids and of the rule's stored state");
    }
    std::optional<std::string> type = map.Choice("type", registry.AlertRuleTypes(), true);
    if (!type) continue;
    Result<std::unique_ptr<AlertRuleSpec>> rule =
        (*registry.FindAlertRule(*type))(name, map, context);
    if (rule.ok()) spec.alert_rules.push_back(std::move(*rule));
  }
}

// `sinks: {STREAM: SINK or [SINK, ...]}`; each SINK is `{type: ..., name: ..., options}`.
void ReadSinks(YamlMap& pipeline, const OperatorRegistry& registry, const ConfigContext& context,
               PipelineSpec& spec) {
  YamlMap sinks(pipeline.Child("sinks", true), spec.file, "sinks", pipeline.diagnostics());
  if (!sinks.valid()) return;
  Diagnostics& diagnostics = pipeline.diagnostics();
  std::set<std::string> names;
  for (std::string_view stream : {kAlertsStream, kDeadLetterStream, kLateStream, kMentionsStream}) {
    YAML::Node node = sinks.Child(stream);
    if (!node.IsDefined()) continue;
    std::vector<YAML::Node> entries;
    if (node.IsSequence() && node.size() == 0) {
      diagnostics.Add(LocationOf(node, spec.file), fmt::format("sinks.{} is an empty list", stream),
                      "give it a sink, or {type: none} to discard on purpose");
    }
    if (node.IsSequence()) {
      for (const YAML::Node& entry : node) entries.push_back(entry);
    } else {
      entries.push_back(node);
    }
    for (size_t index = 0; index < entries.size(); ++index) {
      YamlMap map(entries[index], spec.file, fmt::format("sink '{}'", stream), diagnostics);
      if (!map.valid()) continue;
      SinkBinding binding;
      binding.stream = std::string(stream);
      binding.location = map.Location();
      // The first sink of a stream is named after it, so adding a second one keeps its outbox.
      binding.name = index == 0 ? std::string(stream) : fmt::format("{}-{}", stream, index + 1);
      if (auto name = map.String("name")) {
        if (name->empty() || name->find('/') != std::string::npos ||
            name->find('\0') != std::string::npos) {
          diagnostics.Add(map.LocationOf("name"), fmt::format("invalid sink name '{}'", *name),
                          "a sink name is not empty and has no '/'");
        }
        binding.name = *name;
      }
      if (!names.insert(binding.name).second) {
        diagnostics.Add(map.Location(), fmt::format("two sinks are named '{}'", binding.name),
                        "give one of them another name:");
      }
      std::optional<std::string> type = map.Choice("type", registry.SinkTypes(), true);
      if (!type) continue;
      Result<std::unique_ptr<SinkSpec>> sink = (*registry.FindSink(*type))(map, context);
      if (!sink.ok()) continue;
      if ((*sink)->type() == "none") continue;  // discards: nothing to build
      binding.spec = std::move(*sink);
      spec.sinks.push_back(std::move(binding));
    }
  }
  auto declared = [&](std::string_view stream) {
    YAML::Node node = sinks.Child(stream);
    return node.IsDefined();
  };
  if (!declared(kAlertsStream) && !spec.alert_rules.empty()) {
    diagnostics.Add(sinks.Location(), "alert rules are defined but sinks.alerts is missing",
                    "add sinks: {alerts: {type: file, path: out/alerts.jsonl}}");
  }
  if (!declared(kDeadLetterStream)) {
    diagnostics.Add(sinks.Location(), "sinks.dead_letter is missing",
                    "bad input must go somewhere: add dead_letter: {type: file, path: ...}");
  }
  sinks.CheckNoUnknownKeys();
}

}  // namespace

std::vector<const SinkBinding*> PipelineSpec::SinksOf(std::string_view stream) const {
  std::vector<const SinkBinding*> bindings;
  for (const SinkBinding& binding : sinks) {
    if (binding.stream == stream) bindings.push_back(&binding);
  }
  return bindings;
}

std::optional<PipelineSpec> LoadPipelineSpec(const std::string& path, Diagnostics& diagnostics,
                                             const OperatorRegistry& registry) {
  size_t errors_before = diagnostics.size();
  std::optional<YAML::Node> root = LoadYamlFile(path, diagnostics);
  if (!root) return std::nullopt;
  PipelineSpec spec;
  spec.file = path;
  YamlMap pipeline(*root, path, "pipeline", diagnostics);
  if (!pipeline.valid()) return std::nullopt;
  const ConfigContext context{spec.file, spec.watchlist, spec.windows, &spec.transforms,
                              &spec.notes};

  spec.name = pipeline.String("name").value_or(fs::path(path).stem().string());

  // The watchlist first: the source (a generator) and alert rules refer to its brands.
  if (auto watchlist_path = pipeline.String("watchlist", true)) {
    std::string resolved = context.ResolvePath(*watchlist_path);
    Diagnostics watchlist_diagnostics;
    if (auto watchlist = LoadWatchlist(resolved, watchlist_diagnostics)) {
      spec.watchlist = std::move(*watchlist);
    }
    for (const Diagnostic& item : watchlist_diagnostics.items()) {
      diagnostics.Add(item.location, item.message, item.hint);
    }
  }

  ReadSource(pipeline, registry, context, spec);

  if (auto workers = pipeline.Integer("workers", 0, 256)) spec.workers = static_cast<int>(*workers);
  if (spec.workers == 0) spec.workers = std::max(1u, std::thread::hardware_concurrency());
  if (auto records = pipeline.Integer("batch_records", 1, 1 << 20)) {
    spec.batch_records = static_cast<int>(*records);
  }

  YamlMap state(pipeline.Child("state", true), path, "state", diagnostics);
  if (state.valid()) {
    if (auto directory = state.String("directory", true)) {
      spec.state_directory = context.ResolvePath(*directory);
    }
    // At most 128 GiB: RocksDB aborted on budgets of 224 GiB and more (docs/limits.md).
    if (auto megabytes = state.Integer("memory_budget_mb", 16, 128 << 10)) {
      spec.memory_budget_bytes = static_cast<uint64_t>(*megabytes) << 20;
    }
    if (auto megabytes = state.Integer("min_free_mb", 0, 1 << 20)) {
      spec.state_min_free_bytes = static_cast<uint64_t>(*megabytes) << 20;
    }
    if (auto records = state.Integer("commit_every_records", 1, INT64_MAX)) {
      spec.commit_every_records = *records;
    }
    if (auto interval = state.DurationMs("commit_interval")) spec.commit_interval_ms = *interval;
    if (auto retention = state.DurationMs("retention")) spec.retention_ms = *retention;
    if (auto limit = state.Integer("outbox_limit", 1, INT64_MAX)) {
      spec.outbox_limit = static_cast<uint64_t>(*limit);
    }
    // Where the compiled watchlist is cached; "none" turns the cache off.
    if (auto cache = state.String("watchlist_cache")) {
      spec.watchlist.cache_directory =
          *cache == "none" ? std::string() : context.ResolvePath(*cache);
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
    if (auto value = time.DurationMs("max_future_skew")) spec.max_future_skew_ms = *value;
    for (auto [key, target] : {std::pair{"min_event_time", &spec.min_event_time_ms},
                               std::pair{"max_event_time", &spec.max_event_time_ms}}) {
      if (auto text = time.String(key)) {
        std::optional<int64_t> parsed = ParseIso8601Ms(*text);
        if (!parsed) {
          diagnostics.Add(time.LocationOf(key), fmt::format("'{}' is not a time", *text),
                          "write it like 2000-01-01T00:00:00Z");
        } else {
          *target = *parsed;
        }
      }
    }
    if (spec.min_event_time_ms >= spec.max_event_time_ms) {
      diagnostics.Add(time.LocationOf("max_event_time"),
                      "time.max_event_time must be after time.min_event_time",
                      "the defaults are 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z");
    }
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
  // After the pipeline's own sections, so readers can check against the windows.
  ReadTransforms(pipeline, registry, context, spec);
  // Issue 14: memory transforms hold themselves (dedup.memory_mb) is part of the state budget;
  // RocksDB keeps at least half of it.
  uint64_t claimed = 0;
  for (const auto& transform : spec.transforms) claimed += transform->memory_bytes();
  if (claimed > spec.memory_budget_bytes / 2) {
    diagnostics.Add(state.valid() ? state.LocationOf("memory_budget_mb") : pipeline.Location(),
                    fmt::format("transforms hold {} MiB (dedup.memory_mb), more than half of "
                                "state.memory_budget_mb ({} MiB)",
                                claimed >> 20, spec.memory_budget_bytes >> 20),
                    "raise state.memory_budget_mb or lower dedup.memory_mb");
  }
  ReadAlertRules(pipeline, registry, context, spec);
  ReadSinks(pipeline, registry, context, spec);
  ReadClusterSection(pipeline, spec);  // issue 11: global windows

  pipeline.CheckNoUnknownKeys();
  if (diagnostics.size() != errors_before) return std::nullopt;
  return spec;
}

}  // namespace brandpulse
