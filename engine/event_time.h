// Timestamp parsing for the formats posts carry. No allocation, no locale, UTC results.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

namespace brandpulse {

// "Wed Aug 27 13:08:45 +0000 2008" (X/Twitter v1.1 created_at).
std::optional<int64_t> ParseTwitterTimestampMs(std::string_view text);
// "2019-12-08T03:48:33.901Z", "2026-01-01T00:00:00+01:00", fraction optional (any digits).
std::optional<int64_t> ParseIso8601Ms(std::string_view text);
// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

// ---- Event-time sanity (docs/limits.md) ----------------------------------------------------
// Which event times a pipeline counts. A post outside [oldest_ms, newest allowed] is a dead
// letter with the reason and never reaches the windows or the watermark: one post dated
// 9999-12-31 would otherwise move the watermark past every window, and posts dated 0000 or 1970
// would open windows there. `oldest_ms` and `newest_ms` are fixed (time.min_event_time,
// time.max_event_time); the coordinator lowers the newest allowed at each commit barrier to
// the wall clock + max_future_skew on live sources and to the second-newest partition's
// newest event time + max_future_skew when there are several partitions, so no partition can
// run ahead of all the others. Workers read it; the coordinator writes it.
struct EventTimeLimits {
  int64_t oldest_ms = 946684800000;    // 2000-01-01T00:00:00Z
  int64_t newest_ms = 4102444800000;   // 2100-01-01T00:00:00Z
  int64_t max_future_skew_ms = 3600 * 1000;
  std::atomic<int64_t> newest_allowed_ms{4102444800000};
  std::atomic<uint64_t> rejected{0};  // posts refused so far (a run counter)
};

class Batch;
// Moves posts of `batch` whose event time is outside `limits` to its dead letters (reason in the
// batch's arena; other posts of the same record stay) and recomputes batch.max_event_time_ms.
// Run right after decoding, before anything looks at the posts.
void ApplyEventTimeLimits(Batch& batch, EventTimeLimits& limits);

}  // namespace brandpulse
