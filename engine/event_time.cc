#include "engine/event_time.h"

#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "engine/batch.h"
#include "engine/json_writer.h"

namespace brandpulse {
namespace {

bool ReadDigits(std::string_view text, size_t position, size_t count, int64_t& value) {
  if (position + count > text.size()) return false;
  value = 0;
  for (size_t i = position; i < position + count; ++i) {
    char c = text[i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return true;
}

std::optional<int64_t> Compose(int64_t year, int64_t month, int64_t day, int64_t hour,
                               int64_t minute, int64_t second, int64_t millisecond,
                               int64_t offset_minutes) {
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return seconds * 1000 + millisecond;
}

}  // namespace

// Howard Hinnant's days_from_civil.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const unsigned year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<int64_t>(day_of_era) - 719468;
}

std::optional<int64_t> ParseTwitterTimestampMs(std::string_view text) {
  // "Wed Aug 27 13:08:45 +0000 2008"
  //  0123456789012345678901234567890
  if (text.size() != 30 || text[3] != ' ' || text[7] != ' ' || text[10] != ' ' ||
      text[13] != ':' || text[16] != ':' || text[19] != ' ' || text[25] != ' ') {
    return std::nullopt;
  }
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  size_t month_index = kMonths.find(text.substr(4, 3));
  if (month_index == std::string_view::npos || month_index % 3 != 0) return std::nullopt;
  int64_t day, hour, minute, second, offset, year;
  if (!ReadDigits(text, 8, 2, day) || !ReadDigits(text, 11, 2, hour) ||
      !ReadDigits(text, 14, 2, minute) || !ReadDigits(text, 17, 2, second) ||
      !ReadDigits(text, 21, 4, offset) || !ReadDigits(text, 26, 4, year)) {
    return std::nullopt;
  }
  if (text[20] != '+' && text[20] != '-') return std::nullopt;
  int64_t offset_minutes = (offset / 100) * 60 + offset % 100;
  if (text[20] == '-') offset_minutes = -offset_minutes;
  return Compose(year, static_cast<int64_t>(month_index / 3 + 1), day, hour, minute, second, 0,
                 offset_minutes);
}

std::optional<int64_t> ParseIso8601Ms(std::string_view text) {
  // 2019-12-08T03:48:33.901Z
  int64_t year, month, day, hour, minute, second = 0;
  if (!ReadDigits(text, 0, 4, year) || text.size() < 16 || text[4] != '-' ||
      !ReadDigits(text, 5, 2, month) || text[7] != '-' || !ReadDigits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != ' ' && text[10] != 't') || !ReadDigits(text, 11, 2, hour) ||
      text[13] != ':' || !ReadDigits(text, 14, 2, minute)) {
    return std::nullopt;
  }
  size_t position = 16;
  if (position < text.size() && text[position] == ':') {
    if (!ReadDigits(text, position + 1, 2, second)) return std::nullopt;
    position += 3;
  }
  int64_t millisecond = 0;
  if (position < text.size() && (text[position] == '.' || text[position] == ',')) {
    ++position;
    int digits = 0;
    while (position < text.size() && text[position] >= '0' && text[position] <= '9') {
      if (digits < 3) millisecond = millisecond * 10 + (text[position] - '0');
      ++digits;
      ++position;
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 3; ++digits) millisecond *= 10;
  }
  int64_t offset_minutes = 0;
  if (position == text.size()) {
    // No zone: read as UTC.
  } else if (text[position] == 'Z' || text[position] == 'z') {
    ++position;
  } else if (text[position] == '+' || text[position] == '-') {
    int64_t offset_hours, offset_rest;
    bool negative = text[position] == '-';
    if (!ReadDigits(text, position + 1, 2, offset_hours)) return std::nullopt;
    position += 3;
    if (position < text.size() && text[position] == ':') ++position;
    if (!ReadDigits(text, position, 2, offset_rest)) return std::nullopt;
    position += 2;
    offset_minutes = offset_hours * 60 + offset_rest;
    if (negative) offset_minutes = -offset_minutes;
  }
  if (position != text.size()) return std::nullopt;
  return Compose(year, month, day, hour, minute, second, millisecond, offset_minutes);
}

}  // namespace brandpulse

namespace brandpulse {
namespace {

// ISO-8601 for years 0001..9999, else the number itself (gmtime cannot say, and the sum overflows).
std::string DescribeTime(int64_t epoch_ms) {
  constexpr int64_t kYear1 = -62135596800000;
  constexpr int64_t kYear10000 = 253402300800000;
  if (epoch_ms < kYear1 || epoch_ms >= kYear10000) return fmt::format("{} ms since 1970", epoch_ms);
  return FormatIsoTime(epoch_ms);
}

}  // namespace

void ApplyEventTimeLimits(Batch& batch, EventTimeLimits& limits) {
  const int64_t oldest = limits.oldest_ms;
  const int64_t newest = std::min(limits.newest_ms,
                                  limits.newest_allowed_ms.load(std::memory_order_acquire));
  size_t kept = 0;
  size_t refused = 0;
  int64_t max_event_time = INT64_MIN;
  for (size_t index = 0; index < batch.posts.size(); ++index) {
    const Post& post = batch.posts[index];
    const int64_t time = post.event_time_ms;
    if (time >= oldest && time <= newest) {
      max_event_time = std::max(max_event_time, time);
      if (kept != index) batch.posts[kept] = post;
      ++kept;
      continue;
    }
    ++refused;
    std::string reason =
        time < oldest
            ? fmt::format("event time {} is before {} (time.min_event_time)", FormatIsoTime(time),
                          FormatIsoTime(oldest))
            : fmt::format("event time {} is after the newest allowed {} (time.max_event_time, or "
                          "time.max_future_skew ahead of the wall clock or the other partitions)",
                          DescribeTime(time), DescribeTime(newest));
    batch.dead_letters.push_back(DeadLetter{post.record_index, batch.arena.Copy(reason)});
  }
  if (refused == 0) return;
  batch.posts.resize(kept);
  batch.max_event_time_ms = max_event_time;
  std::stable_sort(batch.dead_letters.begin(), batch.dead_letters.end(),
                   [](const DeadLetter& a, const DeadLetter& b) {
                     return a.record_index < b.record_index;
                   });
  limits.rejected.fetch_add(refused, std::memory_order_relaxed);
}

}  // namespace brandpulse
