// Response times as window metrics (issue 12): what the `unanswered` rules observe of inquiries
// (engine/alert_rule.h, InquiryObservation) becomes per-brand window counters, stored with the
// windows in the epoch's commit, so `brandpulse query`, the HTTP API and threshold rules read them
// like mentions:
//   inquiries                 inquiries opened, in the window of the inquiry's event time
//   inquiries_answered        first answers from a brand profile, in the window of the answer's
//   inquiries_answered_late   of those, answers after the rule's `within` (its alert had fired)
//   inquiries_unanswered      inquiries no brand profile answered within `within` (the rule's
//                             alert fired), in the window of the inquiry's event time
//   response_time_p50_seconds median time from inquiry to first answer of the window's answers
//   response_time_p90_seconds 90th percentile of the same
// The quantiles come from an exact histogram with fixed bounds (kResponseTimeBoundsSeconds),
// one unlisted counter per bucket (`response_time_bucket_<bound>s`): counts add, so windows,
// workers and restarts merge exactly and a query over a range gives the range's quantiles.
// Inside a bucket the quantile is interpolated linearly (integer arithmetic: deterministic);
// its error is at most the bucket's width (bounds grow by at most 1.5×).
//
// Unanswered is known only when the watermark passes the inquiry's deadline (event time plus
// `within`), which may be after the inquiry's window is final: that count is then merged into the
// stored (final) window, in the commit that also removes the inquiry's timer from the rule state,
// so the stored windows are exact across restarts and worker counts. The window closer does not
// reopen a final window for it (pipeline/window_closer.h), and no window rule may read
// `inquiries_unanswered` (ReadRuleMetric refuses it: what a rule would see at the window's close
// would depend on `within`, not on the window). docs/alerts.md, "Response times".
//
// Per profile: a window spec with `dimensions: [profile]` also keeps every counter above per brand
// profile addressed: its `profiles:` name (`profile:support`), else its handle
// (`profile:@telenor_norge`). Inquiries that only name the brand, and posts, have no profile slice.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "engine/alert_rule.h"
#include "engine/window_metrics.h"
#include "engine/window_types.h"

namespace brandpulse {

// Upper bounds (inclusive) of the histogram's buckets, in seconds; one more bucket holds
// everything above the last bound (its quantile reads as the last bound).
inline constexpr std::array<uint32_t, 33> kResponseTimeBoundsSeconds = {
    5,     10,    15,    20,    30,    45,    60,    90,     120,    180,    240,
    300,   420,   600,   900,   1200,  1800,  2700,  3600,   5400,   7200,   10800,
    14400, 21600, 28800, 43200, 64800, 86400, 129600, 172800, 259200, 345600, 604800};

// Registers the counters and metrics above and the `profile` dimension, once, in a fixed order
// (their ids are stored). Called by RegisterBuiltinOperators after enrichment's counters.
void RegisterResponseTimeMetrics();

// The dimension id of `profile` (stored in window keys).
inline constexpr Dimension kProfileDimension{24};

// True for a metric a window rule must not read: complete only after its window is final.
bool CompleteAfterWindowCloses(std::string_view metric);

// The `q` quantile (0 < q <= 1) of the response times counted in `metrics`, in whole seconds;
// 0 when none was answered.
uint64_t ResponseTimeQuantileSeconds(const WindowMetrics& metrics, double q);

// Adds observations to the windows of every stored shape (brand totals, and the profile slice
// of shapes that keep the `profile` dimension), as window aggregation does: opened and answered
// inquiries skip a window whose close time is at or before `watermark_ms` (the watermark the
// epoch's batches were read under: it is final, like a late mention). Unanswered ones count in
// the inquiry's window even when it is final (the caller merges them into the store without
// reopening it, see above), unless retention may already have deleted it (its end at or before
// `watermark_ms - retention_ms`).
void AddInquiryWindowDeltas(std::span<const InquiryObservation> observations,
                            const WindowLayout& layout, int64_t allowed_lateness_ms,
                            int64_t watermark_ms, int64_t retention_ms, WindowDeltaMap& deltas);

}  // namespace brandpulse
