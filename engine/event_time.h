// Timestamp parsing for the formats posts carry. No allocation, no locale, UTC results.
#pragma once

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

}  // namespace brandpulse
