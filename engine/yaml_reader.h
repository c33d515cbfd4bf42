// Strict YAML reading for pipeline and watchlist configs: typed getters that record a
// file:line:column diagnostic for every problem, unknown keys reported with "did you mean",
// and ${ENV_VAR} / ${ENV_VAR:-default} substitution in every string value.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "engine/diagnostics.h"

namespace brandpulse {

// Parses a YAML file. On failure adds a diagnostic (with yaml-cpp's line and column) and
// returns nullopt.
std::optional<YAML::Node> LoadYamlFile(const std::string& path, Diagnostics& diagnostics);
// Same for text held in memory; `file` names it in diagnostics.
std::optional<YAML::Node> LoadYamlText(std::string_view text, const std::string& file,
                                       Diagnostics& diagnostics);

SourceLocation LocationOf(const YAML::Node& node, const std::string& file);

// Replaces ${NAME} and ${NAME:-default}. An unset NAME without default is a diagnostic.
std::string SubstituteEnvironment(std::string_view text, const SourceLocation& location,
                                  Diagnostics& diagnostics);

// Parses "250ms", "30s", "5m", "1h", "1d" (or a bare integer of seconds) into milliseconds.
// Longest duration accepted anywhere (100 years): longer ones, and any whose milliseconds would
// overflow, are refused rather than wrapped around.
// Largest pipeline or watchlist file read (a big watchlist of 100k brands is a few MiB).
inline constexpr uintmax_t kMaxYamlFileBytes = 64ull << 20;
inline constexpr int64_t kMaxDurationMs = 100LL * 366 * 24 * 3600 * 1000;
std::optional<int64_t> ParseDurationMs(std::string_view text);

// The closest candidate within a small edit distance, or empty.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);
// The hint for a mistyped name: "did you mean 'x'?" for the closest candidate, else `otherwise`.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates,
                       std::string_view otherwise);

// Reads one YAML mapping. Every getter declares its key as known; CheckNoUnknownKeys() then
// reports the keys nobody asked for. Getters return nullopt when the key is absent or wrong
// (a diagnostic is added when it is wrong, or absent but required).
class YamlMap {
 public:
  // `context` names the mapping in messages, e.g. "source" or "brand 'telenor'".
  YamlMap(YAML::Node node, std::string file, std::string context, Diagnostics& diagnostics);

  // False when the node is not a mapping (a diagnostic was added).
  bool valid() const { return valid_; }
  bool Has(std::string_view key) const;
  SourceLocation Location() const { return brandpulse::LocationOf(node_, file_); }
  SourceLocation LocationOf(std::string_view key) const;  // of the value; the map's if absent
  const std::string& file() const { return file_; }
  Diagnostics& diagnostics() { return diagnostics_; }

  std::optional<std::string> String(std::string_view key, bool required = false);
  std::optional<int64_t> Integer(std::string_view key, int64_t min, int64_t max,
                                 bool required = false);
  std::optional<double> Number(std::string_view key, double min, double max,
                               bool required = false);
  std::optional<bool> Boolean(std::string_view key, bool required = false);
  std::optional<int64_t> DurationMs(std::string_view key, bool required = false);
  // A list of strings; a single string is accepted as a list of one.
  std::optional<std::vector<std::string>> StringList(std::string_view key, bool required = false);
  // The raw child node (undefined when absent); the key counts as known.
  YAML::Node Child(std::string_view key, bool required = false);
  // String that must be one of `choices`.
  std::optional<std::string> Choice(std::string_view key, const std::vector<std::string>& choices,
                                    bool required = false);

  // Adds a diagnostic for each key that no getter asked for.
  void CheckNoUnknownKeys();
  // For a reader done with its section: CheckNoUnknownKeys(), then InvalidArgument when any
  // problem was reported since this map was made (its own keys or its children's), else Ok.
  Status Finish();

 private:
  YAML::Node Lookup(std::string_view key, bool required);
  std::optional<std::string> Scalar(std::string_view key, const YAML::Node& value);

  YAML::Node node_;
  std::string file_;
  std::string context_;
  Diagnostics& diagnostics_;
  bool valid_ = true;
  std::vector<std::string> known_keys_;
  size_t errors_at_start_ = 0;  // diagnostics_.size() when the map was made
};

}  // namespace brandpulse
