#include "operators/response_times.h"

#include <mutex>
#include <string>

#include <fmt/format.h>

#include "engine/window_metric_registry.h"

namespace brandpulse {
namespace {

constexpr size_t kBuckets = kResponseTimeBoundsSeconds.size() + 1;

struct ResponseTimeIds {
  uint32_t inquiries = 0;
  uint32_t answered = 0;
  uint32_t answered_late = 0;
  std::array<uint32_t, kBuckets> buckets{};
  bool registered = false;
};
ResponseTimeIds g_ids;

size_t BucketOf(int64_t response_ms) {
  const int64_t seconds = (std::max<int64_t>(0, response_ms) + 999) / 1000;  // ceil
  for (size_t i = 0; i < kResponseTimeBoundsSeconds.size(); ++i) {
    if (seconds <= kResponseTimeBoundsSeconds[i]) return i;
  }
  return kResponseTimeBoundsSeconds.size();
}

uint64_t P50(const WindowMetrics& metrics) { return ResponseTimeQuantileSeconds(metrics, 0.5); }
uint64_t P90(const WindowMetrics& metrics) { return ResponseTimeQuantileSeconds(metrics, 0.9); }

}  // namespace

void RegisterResponseTimeMetrics() {
  static std::once_flag registered;
  std::call_once(registered, [] {
    // Fixed order: the counter ids are part of the stored windows.
    g_ids.inquiries = *RegisterOwnedWindowCounter(
        "inquiries", "questions and complaints addressed to the brand (unanswered rules)", true);
    g_ids.answered = *RegisterOwnedWindowCounter(
        "inquiries_answered", "inquiries a brand profile answered (first answer, by its time)", true);
    g_ids.answered_late = *RegisterOwnedWindowCounter(
        "inquiries_answered_late", "of those, answered after the rule's `within`", true);
    for (size_t i = 0; i < kBuckets; ++i) {
      const std::string name =
          i < kResponseTimeBoundsSeconds.size()
              ? fmt::format("response_time_bucket_{}s", kResponseTimeBoundsSeconds[i])
              : std::string("response_time_bucket_inf");
      g_ids.buckets[i] =
          *RegisterOwnedWindowCounter(name, "answers in this bucket of response time", false);
    }
    RegisterDerivedWindowMetric("response_time_p50_seconds",
                                "median time from an inquiry to the brand's first answer", P50);
    RegisterDerivedWindowMetric("response_time_p90_seconds",
                                "90th percentile time from an inquiry to the first answer", P90);
    g_ids.registered = true;
  });
}

uint64_t ResponseTimeQuantileSeconds(const WindowMetrics& metrics, double q) {
  if (!g_ids.registered || metrics.counters.empty()) return 0;
  std::array<uint64_t, kBuckets> counts{};
  uint64_t total = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    counts[i] = metrics.Counter(g_ids.buckets[i]);
    total += counts[i];
  }
  if (total == 0) return 0;
  // The rank-th smallest response time (1-based), rank = ceil(q · total).
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total));
  if (static_cast<double>(rank) < q * static_cast<double>(total)) ++rank;
  rank = std::clamp<uint64_t>(rank, 1, total);
  uint64_t before = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    if (before + counts[i] >= rank) {
      if (i == kResponseTimeBoundsSeconds.size()) return kResponseTimeBoundsSeconds.back();
      const uint64_t low = i == 0 ? 0 : kResponseTimeBoundsSeconds[i - 1];
      const uint64_t high = kResponseTimeBoundsSeconds[i];
      return low + (high - low) * (rank - before) / counts[i];
    }
    before += counts[i];
  }
  return kResponseTimeBoundsSeconds.back();
}

void AddInquiryWindowDeltas(const std::vector<InquiryObservation>& observations,
                            const WindowLayout& layout, int64_t allowed_lateness_ms,
                            int64_t watermark_ms, WindowDeltaMap& deltas) {
  if (!g_ids.registered) return;
  for (const InquiryObservation& observation : observations) {
    if (observation.kind == InquiryObservation::Kind::kUnanswered) continue;
    for (uint32_t shape_index = 0; shape_index < layout.shapes.size(); ++shape_index) {
      const WindowShape& shape = layout.shapes[shape_index];
      const int64_t step = shape.slide_ms > 0 ? shape.slide_ms : shape.size_ms;
      const int64_t windows = shape.size_ms / step;
      const int64_t last_start = WindowStart(observation.event_time_ms, step);
      for (int64_t k = 0; k < windows; ++k) {
        const int64_t start = last_start - k * step;
        if (WindowCloseTime(start, shape.size_ms, allowed_lateness_ms) <= watermark_ms) continue;
        WindowMetrics& metrics =
            deltas[WindowDeltaKey{observation.brand_index, shape_index, kBrandTotal, start}];
        if (observation.kind == InquiryObservation::Kind::kOpened) {
          metrics.AddCounter(g_ids.inquiries, 1);
          continue;
        }
        metrics.AddCounter(g_ids.answered, 1);
        if (observation.after_deadline) metrics.AddCounter(g_ids.answered_late, 1);
        metrics.AddCounter(g_ids.buckets[BucketOf(observation.response_ms)], 1);
      }
    }
  }
}

}  // namespace brandpulse
