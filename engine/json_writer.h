// Small helpers to write JSON text by hand into a reused std::string (no DOM, no allocation
// beyond the output's growth).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace brandpulse {

// Appends `text` as a quoted JSON string. REQUIRES: `text` is valid UTF-8.
void AppendJsonString(std::string& out, std::string_view text);
// Appends "key": with a leading comma unless `first`.
void AppendJsonKey(std::string& out, std::string_view key, bool first = false);
// "2026-01-01T00:05:00.000Z"
std::string FormatIsoTime(int64_t epoch_ms);
bool IsValidUtf8(std::string_view text);
std::string EncodeBase64(std::string_view bytes);

}  // namespace brandpulse
