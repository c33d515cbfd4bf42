#include "operators/response_times.h"

#include <algorithm>
#include <map>
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
  uint32_t unanswered = 0;
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

// The profile dimension's values: labels interned for the process (payload = index + 1), so
// workers and the writer thread print keys without the brand directory. Append-only.
struct ProfileLabels {
  std::mutex mutex;
  std::vector<std::string> labels;
  std::map<std::string, uint64_t, std::less<>> index;
};
ProfileLabels& Labels() {
  static ProfileLabels* labels = new ProfileLabels;  // never destroyed: the writer may print late
  return *labels;
}
uint64_t InternProfile(std::string_view label) {
  ProfileLabels& labels = Labels();
  std::lock_guard lock(labels.mutex);
  auto found = labels.index.find(label);
  if (found != labels.index.end()) return found->second;
  labels.labels.emplace_back(label);
  const uint64_t payload = labels.labels.size();
  labels.index.emplace(std::string(label), payload);
  return payload;
}
void AppendProfile(uint64_t payload, std::string& out) {
  ProfileLabels& labels = Labels();
  std::lock_guard lock(labels.mutex);
  if (payload >= 1 && payload <= labels.labels.size()) out += labels.labels[payload - 1];
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
    // Registered last: the ids above are stored.
    g_ids.unanswered = *RegisterOwnedWindowCounter(
        "inquiries_unanswered",
        "inquiries no brand profile answered within the rule's `within` (by the inquiry's time)",
        true);
    RegisterDimension(DimensionDefinition{
        kProfileDimension, "profile",
        "the brand profile an inquiry was addressed to (response-time metrics only)",
        [](const Post&, const Mention&, uint64_t&) { return false; },  // posts: no slice
        AppendProfile});
    g_ids.registered = true;
  });
}

bool CompleteAfterWindowCloses(std::string_view metric) { return metric == "inquiries_unanswered"; }

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

void AddInquiryWindowDeltas(std::span<const InquiryObservation> observations,
                            const WindowLayout& layout, int64_t allowed_lateness_ms,
                            int64_t watermark_ms, int64_t retention_ms, WindowDeltaMap& deltas) {
  if (!g_ids.registered) return;
  for (const InquiryObservation& observation : observations) {
    const bool unanswered = observation.kind == InquiryObservation::Kind::kUnanswered;
    uint64_t profile = 0;  // interned once per observation, only when a shape keeps profiles
    for (uint32_t shape_index = 0; shape_index < layout.shapes.size(); ++shape_index) {
      const WindowShape& shape = layout.shapes[shape_index];
      const bool by_profile =
          !observation.profile.empty() &&
          std::find(shape.dimensions.begin(), shape.dimensions.end(), kProfileDimension) !=
              shape.dimensions.end();
      if (by_profile && profile == 0) profile = InternProfile(observation.profile);
      const int64_t step = shape.slide_ms > 0 ? shape.slide_ms : shape.size_ms;
      const int64_t windows = shape.size_ms / step;
      const int64_t last_start = WindowStart(observation.event_time_ms, step);
      for (int64_t k = 0; k < windows; ++k) {
        const int64_t start = last_start - k * step;
        if (unanswered) {
          // A final window still takes it (merged into the store); a deleted one does not, nor
          // one that was final when the inquiry was read (it did not count the inquiry).
          if (WindowCloseTime(start, shape.size_ms, allowed_lateness_ms) <=
              observation.opened_under_watermark_ms) {
            continue;
          }
          if (retention_ms > 0 && watermark_ms > INT64_MIN + retention_ms &&
              start + shape.size_ms <= watermark_ms - retention_ms) {
            continue;
          }
        } else if (WindowCloseTime(start, shape.size_ms, allowed_lateness_ms) <= watermark_ms) {
          continue;
        }
        for (int slice = 0; slice < (by_profile ? 2 : 1); ++slice) {
          const DimensionValue dimension =
              slice == 0 ? kBrandTotal : PackDimension(kProfileDimension, profile);
          WindowMetrics& metrics =
              deltas[WindowDeltaKey{observation.brand_index, shape_index, dimension, start}];
          switch (observation.kind) {
            case InquiryObservation::Kind::kOpened:
              metrics.AddCounter(g_ids.inquiries, 1);
              break;
            case InquiryObservation::Kind::kUnanswered:
              metrics.AddCounter(g_ids.unanswered, 1);
              break;
            case InquiryObservation::Kind::kAnswered:
              metrics.AddCounter(g_ids.answered, 1);
              if (observation.after_deadline) metrics.AddCounter(g_ids.answered_late, 1);
              metrics.AddCounter(g_ids.buckets[BucketOf(observation.response_ms)], 1);
              break;
          }
        }
      }
    }
  }
}

}  // namespace brandpulse
