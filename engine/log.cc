#include "engine/log.h"

#include <regex>

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "engine/json_writer.h"

namespace brandpulse {
namespace {

std::atomic<LogFormat> log_format{LogFormat::kText};

spdlog::level::level_enum ToSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return spdlog::level::trace;
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
    case LogLevel::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

// stderr, unbuffered and locked: log lines from several threads never interleave.
spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto made = std::make_shared<spdlog::logger>(
        "brandpulse", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    made->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %-5l %v", spdlog::pattern_time_type::utc));
    made->set_level(spdlog::level::info);
    made->flush_on(spdlog::level::trace);
    return made;
  }();
  return *logger;
}

bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') return true;
  }
  return false;
}

}  // namespace

Result<LogLevel> ParseLogLevel(std::string_view text) {
  if (text == "trace") return LogLevel::kTrace;
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn" || text == "warning") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  if (text == "off") return LogLevel::kOff;
  return Status::InvalidArgument(
      fmt::format("'{}' is not a log level (trace, debug, info, warn, error, off)", text));
}

Result<LogFormat> ParseLogFormat(std::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return Status::InvalidArgument(fmt::format("'{}' is not a log format (text, json)", text));
}

void ConfigureLogging(LogLevel level, LogFormat format) {
  spdlog::logger& logger = Logger();
  logger.set_level(ToSpdlog(level));
  log_format.store(format);
  if (format == LogFormat::kJson) {
    // The message part (%v) is already JSON members: "msg":"...","key":"...".
    logger.set_formatter(std::make_unique<spdlog::pattern_formatter>(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})", spdlog::pattern_time_type::utc));
  } else {
    logger.set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %-5l %v", spdlog::pattern_time_type::utc));
  }
}

bool LogEnabled(LogLevel level) { return Logger().should_log(ToSpdlog(level)); }

void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  std::string body;
  if (log_format.load() == LogFormat::kJson) {
    body = "\"msg\":";
    AppendJsonString(body, RedactSecrets(message));
    for (const auto& [key, value] : fields) {
      AppendJsonKey(body, key);
      AppendJsonString(body, RedactSecrets(value));
    }
  } else {
    body = RedactSecrets(message);
    for (const auto& [key, value] : fields) {
      std::string redacted = RedactSecrets(value);
      if (NeedsQuotes(redacted)) {
        std::string quoted;
        AppendJsonString(quoted, redacted);
        body += fmt::format(" {}={}", key, quoted);
      } else {
        body += fmt::format(" {}={}", key, redacted);
      }
    }
  }
  Logger().log(ToSpdlog(level), "{}", body);
}

std::string RedactSecrets(std::string_view text) {
  static const std::regex url_password(R"((://[^/\s:@]+:)[^@\s/]+@)");
  static const std::regex secret_pair(
      R"re(((?:token|password|passwd|pwd|secret|(?:api|access|secret|private)[_-]?key|apikey|signature|sig|credentials?|auth)"?\s*[=:]\s*"?)[^&\s,;"'}]+)re",
      std::regex::icase);
  static const std::regex bearer(R"(\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+)", std::regex::icase);
  std::string out(text);
  if (out.find_first_of(":=") == std::string::npos &&
      out.find("earer") == std::string::npos && out.find("asic") == std::string::npos) {
    return out;  // nothing that could hold a secret
  }
  out = std::regex_replace(out, url_password, "$1***@");
  out = std::regex_replace(out, secret_pair, "$1***");
  out = std::regex_replace(out, bearer, "$1 ***");
  return out;
}

}  // namespace brandpulse
