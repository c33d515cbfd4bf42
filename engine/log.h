// Logging (spdlog): levels, text or JSON lines on stderr, secrets masked.
//
//   LogInfo("watchlist reloaded", {{"brands", "12"}});
// text:  2026-12-02T03:40:01.123Z info  watchlist reloaded brands=12
// json:  {"ts":"2026-12-02T03:40:01.123Z","level":"info","msg":"watchlist reloaded","brands":"12"}
//
// Every message and field value passes through RedactSecrets first, so a URL with a password or
// token, or an Authorization header, never reaches a log shipper. Library code logs only what an
// operator should know while a run goes on; results are printed by the commands.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "engine/status.h"

namespace brandpulse {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kOff };
enum class LogFormat { kText, kJson };

// "trace", "debug", "info", "warn", "error", "off"; InvalidArgument naming the choices otherwise.
Result<LogLevel> ParseLogLevel(std::string_view text);
// "text" or "json".
Result<LogFormat> ParseLogFormat(std::string_view text);

// Sets the level and format of the process's logger (stderr). Until called: info, text.
void ConfigureLogging(LogLevel level, LogFormat format);
bool LogEnabled(LogLevel level);

using LogField = std::pair<std::string_view, std::string_view>;
void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});
inline void LogDebug(std::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kDebug, m, f); }
inline void LogInfo(std::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kInfo, m, f); }
inline void LogWarn(std::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kWarn, m, f); }
inline void LogError(std::string_view m, std::initializer_list<LogField> f = {}) { Log(LogLevel::kError, m, f); }

// Masks secrets in free text: the password of a URL's user info (scheme://user:SECRET@host),
// values of query parameters and key=value / key: value pairs whose key names a secret (token,
// password, passwd, secret, api_key, apikey, key, signature, sig, auth, access_token,
// sasl.password, ...), and the credentials after "Bearer " or "Basic ". Each becomes "***".
std::string RedactSecrets(std::string_view text);

}  // namespace brandpulse
