// PipelineSpec: a pipeline YAML file parsed and validated into an immutable description.
// Nothing here opens files or compiles patterns beyond reading the watchlist's YAML: building
// operators from the spec is the runner's job (pipeline/pipeline_runner.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/diagnostics.h"
#include "engine/window_types.h"
#include "generator/firehose_generator.h"
#include "operators/json_decode.h"
#include "operators/json_lines_sink.h"
#include "operators/threshold_alert.h"
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
