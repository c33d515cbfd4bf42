// PipelineSpec: a pipeline YAML file parsed and validated into an immutable description.
// Nothing here opens files or compiles patterns beyond reading the watchlist's YAML: building
// operators from the spec is the runner's job (engine/pipeline_runner.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/diagnostics.h"
#include "operators/firehose_generator.h"
#include "operators/json_decode.h"
#include "operators/watchlist.h"

namespace brandpulse {

enum class SourceType { kFile, kStdin, kGenerator };

struct SourceSpec {
  SourceType type = SourceType::kFile;
  std::string path;           // kFile: absolute, resolved against the pipeline file's folder
  bool follow = false;        // kFile: keep reading appended data like `tail -f`
  std::string array_pointer;  // kFile: one JSON document; records are this array's elements
  GeneratorSpec generator;    // kGenerator: brands are filled from the watchlist
  SourceLocation location;
};

enum class WindowType { kTumbling, kHopping, kSliding };
std::string_view WindowTypeName(WindowType type);

// What a window is additionally keyed by, besides the brand (docs/state.md, "dimensions").
enum class Dimension : uint8_t { kLanguage = 1, kPlatform = 2, kAuthor = 3 };
std::string_view DimensionName(Dimension dimension);  // "lang", "platform", "author"

struct WindowSpec {
  std::string name;  // referenced by alert rules and queries
  WindowType type = WindowType::kTumbling;
  int64_t size_ms = 0;
  // kHopping: a new window starts every slide_ms (divides size_ms). kSliding: the window covering
  // the last size_ms is re-evaluated every slide_ms, built from buckets of slide_ms.
  int64_t slide_ms = 0;
  std::vector<Dimension> dimensions;  // brand × each of these, besides the brand total
  SourceLocation location;

  // The windows this spec stores: tumbling → (size, 0); hopping → (size, slide); sliding → its
  // buckets (slide, 0). Specs with the same stored shape share the stored windows.
  int64_t stored_size_ms() const { return type == WindowType::kSliding ? slide_ms : size_ms; }
  int64_t stored_slide_ms() const { return type == WindowType::kHopping ? slide_ms : 0; }
};

enum class AlertMetric { kMentions, kUniqueAuthors, kReach };
std::string_view AlertMetricName(AlertMetric metric);

struct AlertRuleSpec {
  std::string name;
  std::string type = "threshold";
  size_t window_index = 0;  // into PipelineSpec::windows
  AlertMetric metric = AlertMetric::kMentions;
  uint64_t above = 0;               // fires when metric > above
  std::vector<std::string> brands;  // brand ids; empty = every brand
  SourceLocation location;
};

enum class SinkType { kNone, kFile, kStdout };

struct SinkSpec {
  SinkType type = SinkType::kNone;
  std::string path;  // kFile: absolute
};

struct PipelineSpec {
  std::string file;  // the pipeline YAML, as given
  std::string name;
  SourceSpec source;
  DecodeSpec decode;
  WatchlistSpec watchlist;
  int workers = 0;  // resolved: >= 1
  int batch_records = 1024;
  std::string state_directory;  // absolute
  uint64_t memory_budget_bytes = 256ull << 20;
  int64_t commit_every_records = 50000;
  int64_t commit_interval_ms = 1000;  // in follow mode, when input pauses
  int64_t retention_ms = 7 * 24 * 3600 * 1000LL;  // windows ending this long before the watermark are deleted
  int64_t max_out_of_orderness_ms = 30000;
  int64_t allowed_lateness_ms = 60000;
  // A partition without input for this long (processing time) stops holding the watermark back;
  // 0 = never (a finite file is one partition that ends).
  int64_t idle_timeout_ms = 0;
  std::vector<WindowSpec> windows;
  // Top hashtags / co-occurring terms kept per brand window (metrics.top_k); 0 = none. They are
  // kept for one window spec (metrics.window, default the first): counting terms is the most
  // expensive per-mention work there is (bench/RESULTS.md), so it is paid once.
  int top_k = 10;
  // Also count co-occurring words (metrics.co_terms), not only hashtags and cashtags. Off by
  // default: tokenizing every matching post and keeping every distinct word of open windows
  // costs more than the rest of window aggregation together (bench/RESULTS.md).
  bool co_terms = false;
  size_t top_k_window = 0;  // index into windows
  std::vector<AlertRuleSpec> alert_rules;
  SinkSpec alerts_sink;
  SinkSpec dead_letter_sink;
  SinkSpec late_sink;
};

// How many terms a stored top-k summary keeps for `top_k` reported ones.
inline uint64_t TermCapacityFor(int top_k) { return top_k <= 0 ? 0 : std::max(32, 4 * top_k); }

// The watchlist's terms, handles ('@') and hashtags ('#') as the generator inserts them.
std::vector<GeneratedBrand> GeneratedBrandsFrom(const WatchlistSpec& watchlist);

// Reads and validates a pipeline file and the watchlist it names. Every problem found is added
// to `diagnostics` as file:line:column with a hint; returns nullopt if there was any.
std::optional<PipelineSpec> LoadPipelineSpec(const std::string& path, Diagnostics& diagnostics);

}  // namespace brandpulse
