// Alert rules evaluated when a window closes (the watermark passed its end plus the allowed
// lateness), so every alert sees the window's final, exact metrics and fires at most once.
// Richer rules (spikes, sentiment, share of voice, unanswered inquiries) come later.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/diagnostics.h"
#include "engine/window_types.h"
#include "engine/window_metrics.h"
#include "operators/compiled_watchlist.h"

namespace brandpulse {

enum class AlertMetric { kMentions, kUniqueAuthors, kReach };
std::string_view AlertMetricName(AlertMetric metric);

struct AlertRuleSpec {
  std::string name;
  std::string type = "threshold";
  size_t window_index = 0;  // into the pipeline's windows
  AlertMetric metric = AlertMetric::kMentions;
  uint64_t above = 0;               // fires when metric > above
  std::vector<std::string> brands;  // brand ids; empty = every brand
  SourceLocation location;
};

struct FiredAlert {
  std::string id;       // stable: "<rule>/<brand>/<window start ms>"; receivers de-duplicate on it
  std::string payload;  // one JSON object, no newline
  uint32_t brand_index = 0;
};

// Immutable after construction; used by the coordinator only.
class AlertEvaluator {
 public:
  AlertEvaluator(const std::vector<AlertRuleSpec>& rules, const std::vector<WindowSpec>& windows,
                 const CompiledWatchlist& watchlist);

  // Appends an alert for every rule on `window_index` whose brand filter admits `brand_index`
  // and whose threshold `metrics` exceeds.
  void EvaluateClosedWindow(uint32_t brand_index, uint32_t window_index, int64_t start_ms,
                            const WindowMetrics& metrics, std::vector<FiredAlert>& out) const;

 private:
  struct Rule {
    AlertRuleSpec spec;
    std::vector<bool> brand_enabled;  // by brand index
  };
  const std::vector<WindowSpec>& windows_;
  const CompiledWatchlist& watchlist_;
  std::vector<Rule> rules_;
};

}  // namespace brandpulse
