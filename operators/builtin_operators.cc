// The built-in operators, registered by `type:` (operators/registry.h). Each reader lives with its
// operator; the ones here only adapt operators whose options come from pipeline-wide sections
// (the watchlist, the windows) or are a plain function of their section.
#include <fmt/format.h>

#include "operators/enrich_transform.h"
#include "operators/file_source.h"
#include "operators/hyperscan_match.h"
#include "operators/json_decode.h"
#include "operators/json_lines_sink.h"
#include "operators/kafka_sink.h"
#include "operators/kafka_source.h"
#include "operators/registry.h"
#include "operators/threshold_alert.h"
#include "operators/unanswered_rule.h"  // alert rules (issue 12)
#include "operators/spike_rule.h"
#include "operators/webhook_sink.h"
#include "operators/share_of_voice_rule.h"
#include "operators/sentiment_shift_rule.h"
#include "operators/viral_post_rule.h"
#include "operators/window_aggregate.h"
#include "operators/dedup.h"
#include "operators/public_metrics.h"  // issue 12
#include "operators/response_times.h"  // issue 12

namespace brandpulse {
namespace {

Result<std::unique_ptr<TransformSpec>> ReadDecode(YamlMap& section, const ConfigContext&) {
  std::optional<DecodeSpec> decode = ReadDecodeSpec(section);
  if (!decode) return Status::InvalidArgument("invalid decode section");
  return TransformSpecOf("decode", [decode = *std::move(decode)](const TransformBuildContext& context) {
    return MakeJsonDecode(decode, context.store);  // jetstream's DID map persists (issue 14)
  });
}

// Matches against the pipeline's watchlist (`watchlist:`), rebuilt when it is reloaded.
Result<std::unique_ptr<TransformSpec>> ReadMatch(YamlMap& section, const ConfigContext&) {
  RETURN_IF_ERROR(section.Finish());
  return TransformSpecOf(
      "match",
      [](const TransformBuildContext& context) -> Result<std::unique_ptr<Transform>> {
        if (context.watchlist == nullptr) return Status::InvalidArgument("match needs a watchlist");
        return MakeHyperscanMatch(context.watchlist);
      },
      TransformTraits{.uses_watchlist = true, .needs_before = {"decode"}});
}

// Pre-aggregates into the pipeline's windows (`windows:`, `metrics:`, `time:`). Brand indexes
// key its deltas, so it is rebuilt with the watchlist too.
Result<std::unique_ptr<Transform>> MakeWindow(const TransformBuildContext& context) {
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

Result<std::unique_ptr<TransformSpec>> ReadWindow(YamlMap& section, const ConfigContext&) {
  RETURN_IF_ERROR(section.Finish());
  return TransformSpecOf("window", MakeWindow,
                         TransformTraits{.uses_watchlist = true, .needs_before = {"match"}});
}

SinkReader JsonLinesSinkReader(std::string type, LineFile::Kind kind) {
  return [type, kind](YamlMap& section,
                      const ConfigContext& context) -> Result<std::unique_ptr<SinkSpec>> {
    JsonLinesSinkOptions options{kind, {}};
    if (kind == LineFile::Kind::kFile) {
      if (auto path = section.String("path", true)) options.path = context.ResolvePath(*path);
    }
    RETURN_IF_ERROR(section.Finish());
    return SinkSpecOf(type, [options](const SinkBuildContext& build) {
      return MakeJsonLinesSink(options, build.name, build.truncate);
    });
  };
}

}  // namespace

void RegisterBuiltinOperators(OperatorRegistry& registry) {
  registry.AddSource("file", ReadFileSource);
  registry.AddSource("stdin", ReadStdinSource);
  registry.AddSource("kafka", ReadKafkaSource);

  registry.AddTransform("decode", ReadDecode);
  registry.AddTransform("match", ReadMatch);
  registry.AddTransform("window", ReadWindow);
  registry.AddTransform("dedup", ReadDedup);  // issue 14: post-id de-duplication

  registry.AddSink("file", JsonLinesSinkReader("file", LineFile::Kind::kFile));
  registry.AddSink("stdout", JsonLinesSinkReader("stdout", LineFile::Kind::kStdout));
  registry.AddSink("none", JsonLinesSinkReader("none", LineFile::Kind::kNone));
  registry.AddSink("webhook", ReadWebhookSink);  // issue 12
  registry.AddSink("kafka", ReadKafkaSink);

  registry.AddAlertRule("threshold", ReadThresholdRule);
  // Alert rules (issue 12).
  registry.AddAlertRule("unanswered", ReadUnansweredRule);
  registry.AddAlertRule("spike", ReadSpikeRule);
  registry.AddAlertRule("share_of_voice", ReadShareOfVoiceRule);
  registry.AddAlertRule("sentiment_shift", ReadSentimentShiftRule);
  registry.AddAlertRule("viral_post", ReadViralPostRule);

  RegisterEnrichment(registry);  // enrich: post fields, counters, dimensions, query fields
  RegisterResponseTimeMetrics();  // issue 12: after enrichment's counters (ids are stored)
  RegisterPublicMetricFields();   // issue 12: like/repost/reply/quote counts the decoders set
}

}  // namespace brandpulse
