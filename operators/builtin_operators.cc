// The built-in operators, registered by `type:` (operators/registry.h). Each reader and spec
// lives with its operator; the specs here only adapt the operators whose options come from
// pipeline-wide sections (the watchlist, the windows) rather than from a section of their own.
#include <fmt/format.h>

#include "operators/file_source.h"
#include "operators/hyperscan_match.h"
#include "operators/json_decode.h"
#include "operators/json_lines_sink.h"
#include "operators/registry.h"
#include "operators/threshold_alert.h"
#include "operators/window_aggregate.h"

namespace brandpulse {
namespace {

class DecodeTransformSpec final : public TransformSpec {
 public:
  explicit DecodeTransformSpec(DecodeSpec spec) : spec_(std::move(spec)) {}
  std::string_view type() const override { return "decode"; }
  Result<std::unique_ptr<Transform>> Make(const TransformBuildContext&) const override {
    return MakeJsonDecode(spec_);
  }

 private:
  DecodeSpec spec_;
};

// Matches against the pipeline's watchlist (`watchlist:`), rebuilt when it is reloaded.
class MatchTransformSpec final : public TransformSpec {
 public:
  std::string_view type() const override { return "match"; }
  bool uses_watchlist() const override { return true; }
  std::vector<std::string_view> needs_before() const override { return {"decode"}; }
  Result<std::unique_ptr<Transform>> Make(const TransformBuildContext& context) const override {
    if (context.watchlist == nullptr) return Status::InvalidArgument("match needs a watchlist");
    return MakeHyperscanMatch(context.watchlist);
  }
};

// Pre-aggregates into the pipeline's windows (`windows:`, `metrics:`, `time:`). Brand indexes
// key its deltas, so it is rebuilt with the watchlist too.
class WindowTransformSpec final : public TransformSpec {
 public:
  std::string_view type() const override { return "window"; }
  bool uses_watchlist() const override { return true; }
  std::vector<std::string_view> needs_before() const override { return {"match"}; }
  Result<std::unique_ptr<Transform>> Make(const TransformBuildContext& context) const override {
    if (context.windows == nullptr || context.layout == nullptr || context.watermark == nullptr) {
      return Status::InvalidArgument("window needs the pipeline's windows and watermark");
    }
    const WindowSettings& settings = *context.windows;
    WindowAggregate::Options options;
    options.layout = *context.layout;
    options.allowed_lateness_ms = settings.allowed_lateness_ms;
    options.term_capacity = TermCapacityFor(settings.top_k);
    options.co_terms = settings.co_terms;
    if (!options.layout.shape_of_window.empty()) {
      options.term_shape = options.layout.shape_of_window[settings.top_k_window];
    }
    return std::unique_ptr<Transform>(
        std::make_unique<WindowAggregate>(std::move(options), context.watermark));
  }
};

Result<std::unique_ptr<TransformSpec>> NoOptions(YamlMap& section,
                                                 std::unique_ptr<TransformSpec> spec) {
  const size_t errors_before = section.diagnostics().size();
  section.CheckNoUnknownKeys();
  if (section.diagnostics().size() != errors_before) {
    return Status::InvalidArgument(fmt::format("{} takes no options here", spec->type()));
  }
  return spec;
}

class JsonLinesSinkSpec final : public SinkSpec {
 public:
  explicit JsonLinesSinkSpec(JsonLinesSinkOptions options) : options_(std::move(options)) {}
  std::string_view type() const override {
    switch (options_.kind) {
      case LineFile::Kind::kFile: return "file";
      case LineFile::Kind::kStdout: return "stdout";
      case LineFile::Kind::kNone: return "none";
    }
    return "none";
  }
  Result<std::unique_ptr<Sink>> Make(const SinkBuildContext& context) const override {
    return MakeJsonLinesSink(options_, context.name, context.truncate);
  }

 private:
  JsonLinesSinkOptions options_;
};

SinkReader JsonLinesSinkReader(LineFile::Kind kind) {
  return [kind](YamlMap& section,
                const ConfigContext& context) -> Result<std::unique_ptr<SinkSpec>> {
    const size_t errors_before = section.diagnostics().size();
    JsonLinesSinkOptions options;
    options.kind = kind;
    if (kind == LineFile::Kind::kFile) {
      if (auto path = section.String("path", true)) options.path = context.ResolvePath(*path);
    }
    section.CheckNoUnknownKeys();
    if (section.diagnostics().size() != errors_before) {
      return Status::InvalidArgument("invalid sink");
    }
    return std::unique_ptr<SinkSpec>(std::make_unique<JsonLinesSinkSpec>(std::move(options)));
  };
}

}  // namespace

void RegisterBuiltinOperators(OperatorRegistry& registry) {
  registry.AddSource("file", ReadFileSource);
  registry.AddSource("stdin", ReadStdinSource);

  registry.AddTransform(
      "decode", [](YamlMap& section, const ConfigContext&) -> Result<std::unique_ptr<TransformSpec>> {
        std::optional<DecodeSpec> spec = ReadDecodeSpec(section);
        if (!spec) return Status::InvalidArgument("invalid decode section");
        return std::unique_ptr<TransformSpec>(std::make_unique<DecodeTransformSpec>(*std::move(spec)));
      });
  registry.AddTransform("match", [](YamlMap& section, const ConfigContext&) {
    return NoOptions(section, std::make_unique<MatchTransformSpec>());
  });
  registry.AddTransform("window", [](YamlMap& section, const ConfigContext&) {
    return NoOptions(section, std::make_unique<WindowTransformSpec>());
  });

  registry.AddSink("file", JsonLinesSinkReader(LineFile::Kind::kFile));
  registry.AddSink("stdout", JsonLinesSinkReader(LineFile::Kind::kStdout));
  registry.AddSink("none", JsonLinesSinkReader(LineFile::Kind::kNone));

  registry.AddAlertRule("threshold", ReadThresholdRule);
}

}  // namespace brandpulse
