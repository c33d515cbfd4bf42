// The operator registry: every source, transform, sink and alert rule registers a reader under
// its `type:`. A reader takes the operator's own YAML section, reports problems as
// file:line:column diagnostics (with "did you mean"), and returns an immutable spec; the spec
// builds the operator when the pipeline starts (expensive set-up there, not while reading, so
// `validate` stays cheap). The pipeline layer (pipeline/pipeline_config.h) only looks types up
// here: adding an operator is a reader, a spec, and one line in a Register…() function.
//
// Thread safety: registration happens at start-up; lookups afterwards may come from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/alert_rule.h"
#include "engine/clock.h"
#include "engine/event_time.h"
#include "engine/sink.h"
#include "engine/source.h"
#include "engine/status.h"
#include "engine/transform.h"
#include "engine/window_types.h"
#include "engine/yaml_reader.h"
#include "operators/watchlist.h"

namespace brandpulse {

class CompiledWatchlist;
class TransformSpec;

// What a reader may consult besides its own section. References live during the read only.
struct ConfigContext {
  const std::string& pipeline_file;
  const WatchlistSpec& watchlist;         // brands, for checks and "did you mean"
  const std::vector<WindowSpec>& windows;  // window names for rules
  // A path as written in the pipeline file, resolved against the file's folder.
  std::string ResolvePath(const std::string& path) const;
  // issue 12: the pipeline's transforms, read before its alert rules (nullptr when unknown), so a
  // rule can tell that what it reads is off; and where it says so (`validate` prints notes).
  const std::vector<std::shared_ptr<const TransformSpec>>* transforms = nullptr;
  std::vector<Diagnostic>* notes = nullptr;
};

// ---- Sources ---------------------------------------------------------------------------------

struct SourceBuildContext {
  Clock* clock = &Clock::System();
};

class SourceSpec {
 public:
  virtual ~SourceSpec() = default;
  virtual std::string_view type() const = 0;
  virtual Result<std::unique_ptr<Source>> Make(const SourceBuildContext& context) const = 0;
};

// ---- Transforms ------------------------------------------------------------------------------

// Settings of the window operator that the pipeline reads (windows:, time:, metrics:).
struct WindowSettings {
  std::vector<WindowSpec> windows;
  int64_t allowed_lateness_ms = 60000;
  int top_k = 10;
  bool co_terms = false;
  size_t top_k_window = 0;  // index into windows
};

struct TransformBuildContext {
  // The watchlist in force; a reload builds the transforms that use it again.
  std::shared_ptr<const CompiledWatchlist> watchlist;
  const WindowSettings* windows = nullptr;
  const WindowLayout* layout = nullptr;
  // Written by the coordinator at commit barriers only; read by workers.
  const std::atomic<int64_t>* watermark = nullptr;
  // Event-time sanity applied right after decoding (engine/event_time.h); null = none.
  EventTimeLimits* event_time_limits = nullptr;
  // Issue 14 (de-duplication). The run's durable state: a transform that keeps state of its own
  // reads it back here at start and writes it through EpochHandOver::commit. Null when there is
  // no store (bench, backtest): such a transform then keeps its state in memory only.
  StateStore* store = nullptr;
  // Objects that outlive a watchlist reload: a transform rebuilt after a reload finds what its
  // predecessor kept under its own key (the de-duplication set). Owned by the run; null = none.
  std::map<std::string, std::shared_ptr<void>, std::less<>>* run_objects = nullptr;
};

class TransformSpec {
 public:
  virtual ~TransformSpec() = default;
  virtual std::string_view type() const = 0;
  // True when the transform must be built again after a watchlist reload.
  virtual bool uses_watchlist() const { return false; }
  // Transform types that must come earlier in the chain (match needs decoded posts).
  virtual std::vector<std::string_view> needs_before() const { return {}; }
  virtual Result<std::unique_ptr<Transform>> Make(const TransformBuildContext& context) const = 0;
  // Memory the transform holds outside RocksDB that is taken out of state.memory_budget_mb
  // (the de-duplication set): the runner gives RocksDB the budget minus the sum of these.
  virtual uint64_t memory_bytes() const { return 0; }
};

// ---- Sinks -----------------------------------------------------------------------------------

struct SinkBuildContext {
  std::string name;       // unique in the pipeline: the outbox key prefix
  bool truncate = false;  // a fresh run empties file outputs first
};

class SinkSpec {
 public:
  virtual ~SinkSpec() = default;
  virtual std::string_view type() const = 0;
  virtual Result<std::unique_ptr<Sink>> Make(const SinkBuildContext& context) const = 0;
};

// ---- Alert rules -----------------------------------------------------------------------------

struct RuleBuildContext {
  const std::vector<WindowSpec>* windows = nullptr;
  const BrandDirectory* brands = nullptr;  // the watchlist in force at start
  // When windows are final (time.allowed_lateness): rules that evaluate every window of a
  // series, silence included, need the windows' close times.
  int64_t allowed_lateness_ms = 60000;
};

class AlertRuleSpec {
 public:
  virtual ~AlertRuleSpec() = default;
  virtual const std::string& name() const = 0;
  virtual std::string_view type() const = 0;
  virtual Result<std::unique_ptr<AlertRule>> Make(const RuleBuildContext& context) const = 0;
};

// ---- Specs from a function -------------------------------------------------------------------

// Most specs are their options and a function that builds the operator from them: these make
// such a spec from a lambda that captures the options read from YAML.
using SourceMaker = std::function<Result<std::unique_ptr<Source>>(const SourceBuildContext&)>;
using TransformMaker =
    std::function<Result<std::unique_ptr<Transform>>(const TransformBuildContext&)>;
using SinkMaker = std::function<Result<std::unique_ptr<Sink>>(const SinkBuildContext&)>;
using AlertRuleMaker = std::function<Result<std::unique_ptr<AlertRule>>(const RuleBuildContext&)>;

struct TransformTraits {
  bool uses_watchlist = false;                  // TransformSpec::uses_watchlist
  std::vector<std::string_view> needs_before;  // TransformSpec::needs_before
};

std::unique_ptr<SourceSpec> SourceSpecOf(std::string type, SourceMaker make);
std::unique_ptr<TransformSpec> TransformSpecOf(std::string type, TransformMaker make,
                                               TransformTraits traits = {});
std::unique_ptr<SinkSpec> SinkSpecOf(std::string type, SinkMaker make);
std::unique_ptr<AlertRuleSpec> AlertRuleSpecOf(std::string name, std::string type,
                                               AlertRuleMaker make);

// ---- The registry ----------------------------------------------------------------------------

// Readers return InvalidArgument after adding at least one diagnostic when the section is wrong.
// `section` has its `type` key already read; the reader reads the rest and calls
// CheckNoUnknownKeys(). Alert rule readers also get the rule's name.
using SourceReader =
    std::function<Result<std::unique_ptr<SourceSpec>>(YamlMap& section, const ConfigContext&)>;
using TransformReader =
    std::function<Result<std::unique_ptr<TransformSpec>>(YamlMap& section, const ConfigContext&)>;
using SinkReader =
    std::function<Result<std::unique_ptr<SinkSpec>>(YamlMap& section, const ConfigContext&)>;
using AlertRuleReader = std::function<Result<std::unique_ptr<AlertRuleSpec>>(
    const std::string& name, YamlMap& section, const ConfigContext&)>;

class OperatorRegistry {
 public:
  // The built-in operators of operators/ (file and stdin sources; decode, match and window
  // transforms; file, stdout and none sinks; the threshold rule). Programs add their own
  // (e.g. generator/) before loading pipelines.
  static OperatorRegistry& Default();

  void AddSource(std::string type, SourceReader reader);
  void AddTransform(std::string type, TransformReader reader);
  void AddSink(std::string type, SinkReader reader);
  void AddAlertRule(std::string type, AlertRuleReader reader);

  // nullptr when no operator has the type.
  const SourceReader* FindSource(std::string_view type) const;
  const TransformReader* FindTransform(std::string_view type) const;
  const SinkReader* FindSink(std::string_view type) const;
  const AlertRuleReader* FindAlertRule(std::string_view type) const;

  // Registered types of a role, sorted, for "did you mean" and hints.
  std::vector<std::string> SourceTypes() const;
  std::vector<std::string> TransformTypes() const;
  std::vector<std::string> SinkTypes() const;
  std::vector<std::string> AlertRuleTypes() const;

 private:
  std::map<std::string, SourceReader, std::less<>> sources_;
  std::map<std::string, TransformReader, std::less<>> transforms_;
  std::map<std::string, SinkReader, std::less<>> sinks_;
  std::map<std::string, AlertRuleReader, std::less<>> alert_rules_;
};

// Registers operators/' built-ins into `registry` (Default() calls it once).
void RegisterBuiltinOperators(OperatorRegistry& registry);

}  // namespace brandpulse
