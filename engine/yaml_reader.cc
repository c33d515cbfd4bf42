#include "engine/yaml_reader.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace brandpulse {
namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

}  // namespace

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates,
                       std::string_view otherwise) {
  std::string closest = ClosestMatch(word, candidates);
  if (!closest.empty()) return fmt::format("did you mean '{}'?", closest);
  return std::string(otherwise);
}

std::optional<YAML::Node> LoadYamlText(std::string_view text, const std::string& file,
                                       Diagnostics& diagnostics) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& error) {
    diagnostics.Add(SourceLocation{file, error.mark.line + 1, error.mark.column + 1},
                    fmt::format("YAML syntax: {}", error.msg),
                    "check indentation, quotes and ':' after keys");
    return std::nullopt;
  }
}

std::optional<YAML::Node> LoadYamlFile(const std::string& path, Diagnostics& diagnostics) {
  // Only regular files: a directory gave ten errors at :0:0, /dev/zero is endless, a FIFO
  // blocks. File-level errors point at 1:1.
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (error || !std::filesystem::exists(status)) {
    diagnostics.Add(SourceLocation{path, 1, 1}, "cannot open file: it does not exist",
                    "check the path");
    return std::nullopt;
  }
  if (!std::filesystem::is_regular_file(status)) {
    diagnostics.Add(SourceLocation{path, 1, 1},
                    std::filesystem::is_directory(status) ? "is a directory, not a YAML file"
                                                          : "is not a regular file (a device, FIFO "
                                                            "or socket)",
                    "name the YAML file itself");
    return std::nullopt;
  }
  if (std::filesystem::file_size(path, error) > kMaxYamlFileBytes) {
    diagnostics.Add(SourceLocation{path, 1, 1},
                    fmt::format("is larger than {} MiB", kMaxYamlFileBytes >> 20),
                    "a pipeline or watchlist file is small; is this the right file?");
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diagnostics.Add(SourceLocation{path, 1, 1}, "cannot open file", "check the path and its permissions");
    return std::nullopt;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return LoadYamlText(buffer.str(), path, diagnostics);
}

SourceLocation LocationOf(const YAML::Node& node, const std::string& file) {
  // Never :0:0 — a node without a position (an empty document, a missing key) is at 1:1.
  if (!node.IsDefined()) return SourceLocation{file, 1, 1};
  YAML::Mark mark = node.Mark();
  if (mark.is_null()) return SourceLocation{file, 1, 1};
  return SourceLocation{file, mark.line + 1, mark.column + 1};
}

std::string SubstituteEnvironment(std::string_view text, const SourceLocation& location,
                                  Diagnostics& diagnostics) {
  std::string out;
  size_t position = 0;
  while (position < text.size()) {
    size_t start = text.find("${", position);
    if (start == std::string_view::npos) break;
    size_t end = text.find('}', start + 2);
    if (end == std::string_view::npos) {
      diagnostics.Add(location, fmt::format("unterminated '${{' in '{}'", text),
                      "write ${NAME} or ${NAME:-default}");
      return std::string(text);
    }
    out.append(text.substr(position, start - position));
    std::string_view reference = text.substr(start + 2, end - start - 2);
    std::string_view name = reference;
    std::optional<std::string_view> fallback;
    if (size_t colon = reference.find(":-"); colon != std::string_view::npos) {
      name = reference.substr(0, colon);
      fallback = reference.substr(colon + 2);
    }
    const char* value = std::getenv(std::string(name).c_str());
    if (value != nullptr && (*value != '\0' || !fallback)) {
      out.append(value);
    } else if (fallback) {
      out.append(*fallback);
    } else {
      diagnostics.Add(location, fmt::format("environment variable '{}' is not set", name),
                      fmt::format("export {}=... or write ${{{}:-default}}", name, name));
    }
    position = end + 1;
  }
  out.append(text.substr(position));
  return out;
}

std::optional<int64_t> ParseDurationMs(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t amount = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), amount);
  if (error != std::errc() || amount < 0) return std::nullopt;
  std::string_view unit(end, text.data() + text.size() - end);
  int64_t scale = 0;
  if (unit.empty() || unit == "s") scale = 1000;
  else if (unit == "ms") scale = 1;
  else if (unit == "m" || unit == "min") scale = 60 * 1000;
  else if (unit == "h") scale = 3600 * 1000;
  else if (unit == "d") scale = 24 * 3600 * 1000;
  else return std::nullopt;
  if (amount > kMaxDurationMs / scale) return std::nullopt;  // would overflow (or is absurd)
  return amount * scale;
}

std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const std::string& candidate : candidates) {
    size_t distance = EditDistance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

YamlMap::YamlMap(YAML::Node node, std::string file, std::string context, Diagnostics& diagnostics)
    : node_(std::move(node)), file_(std::move(file)), context_(std::move(context)),
      diagnostics_(diagnostics), errors_at_start_(diagnostics.size()) {
  if (!node_.IsDefined() || node_.IsNull()) {
    node_ = YAML::Node(YAML::NodeType::Map);
  } else if (!node_.IsMap()) {
    valid_ = false;
    diagnostics_.Add(brandpulse::LocationOf(node_, file_), fmt::format("{} must be a mapping of keys", context_),
                     "write 'key: value' lines indented under it");
  }
}

bool YamlMap::Has(std::string_view key) const {
  return valid_ && node_[std::string(key)].IsDefined();
}

SourceLocation YamlMap::LocationOf(std::string_view key) const {
  if (valid_) {
    YAML::Node value = node_[std::string(key)];
    if (value.IsDefined()) return brandpulse::LocationOf(value, file_);
  }
  return Location();
}

YAML::Node YamlMap::Lookup(std::string_view key, bool required) {
  known_keys_.emplace_back(key);
  if (!valid_) return YAML::Node(YAML::NodeType::Undefined);
  YAML::Node value = node_[std::string(key)];
  if ((!value.IsDefined() || value.IsNull()) && required) {
    diagnostics_.Add(Location(), fmt::format("{} is missing required key '{}'", context_, key));
  }
  if (value.IsDefined() && value.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
  return value;
}

std::optional<std::string> YamlMap::Scalar(std::string_view key, const YAML::Node& value) {
  if (!value.IsScalar()) {
    diagnostics_.Add(brandpulse::LocationOf(value, file_),
                     fmt::format("'{}' in {} must be a single value", key, context_));
    return std::nullopt;
  }
  return SubstituteEnvironment(value.Scalar(), brandpulse::LocationOf(value, file_), diagnostics_);
}

YAML::Node YamlMap::Child(std::string_view key, bool required) { return Lookup(key, required); }

std::optional<std::string> YamlMap::String(std::string_view key, bool required) {
  YAML::Node value = Lookup(key, required);
  if (!value.IsDefined()) return std::nullopt;
  return Scalar(key, value);
}

std::optional<std::string> YamlMap::Choice(std::string_view key,
                                           const std::vector<std::string>& choices,
                                           bool required) {
  std::optional<std::string> text = String(key, required);
  if (!text) return std::nullopt;
  if (std::find(choices.begin(), choices.end(), *text) != choices.end()) return text;
  std::string list = fmt::format("{}", fmt::join(choices, ", "));
  std::string closest = ClosestMatch(*text, choices);
  diagnostics_.Add(LocationOf(key),
                   fmt::format("'{}' is not a valid {} for {}", *text, key, context_),
                   closest.empty() ? fmt::format("one of: {}", list)
                                   : fmt::format("did you mean '{}'? (one of: {})", closest, list));
  return std::nullopt;
}

std::optional<int64_t> YamlMap::Integer(std::string_view key, int64_t min, int64_t max,
                                        bool required) {
  std::optional<std::string> text = String(key, required);
  if (!text) return std::nullopt;
  int64_t number = 0;
  auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), number);
  if (error != std::errc() || end != text->data() + text->size()) {
    diagnostics_.Add(LocationOf(key), fmt::format("'{}' must be a whole number, not '{}'", key, *text));
    return std::nullopt;
  }
  if (number < min || number > max) {
    diagnostics_.Add(LocationOf(key),
                     fmt::format("'{}' is {}, outside {}..{}", key, number, min, max));
    return std::nullopt;
  }
  return number;
}

std::optional<double> YamlMap::Number(std::string_view key, double min, double max,
                                      bool required) {
  std::optional<std::string> text = String(key, required);
  if (!text) return std::nullopt;
  char* end = nullptr;
  double number = std::strtod(text->c_str(), &end);
  if (text->empty() || end != text->c_str() + text->size() || !std::isfinite(number)) {
    diagnostics_.Add(LocationOf(key), fmt::format("'{}' must be a number, not '{}'", key, *text));
    return std::nullopt;
  }
  if (number < min || number > max) {
    diagnostics_.Add(LocationOf(key),
                     fmt::format("'{}' is {}, outside {}..{}", key, number, min, max));
    return std::nullopt;
  }
  return number;
}

std::optional<bool> YamlMap::Boolean(std::string_view key, bool required) {
  std::optional<std::string> text = String(key, required);
  if (!text) return std::nullopt;
  if (*text == "true" || *text == "yes" || *text == "on") return true;
  if (*text == "false" || *text == "no" || *text == "off") return false;
  diagnostics_.Add(LocationOf(key), fmt::format("'{}' must be true or false, not '{}'", key, *text));
  return std::nullopt;
}

std::optional<int64_t> YamlMap::DurationMs(std::string_view key, bool required) {
  std::optional<std::string> text = String(key, required);
  if (!text) return std::nullopt;
  std::optional<int64_t> milliseconds = ParseDurationMs(*text);
  if (!milliseconds) {
    // Digits and a known unit that failed: the number is what is wrong (too large).
    const size_t unit = text->find_first_not_of("0123456789");
    const bool number = unit != 0 && !text->empty() &&
                        ParseDurationMs("1" + text->substr(unit == std::string::npos ? text->size() : unit));
    diagnostics_.Add(LocationOf(key),
                     number ? fmt::format("'{}' is too long: '{}' (at most 100 years)", key, *text)
                            : fmt::format("'{}' is not a duration: '{}'", key, *text),
                     "write e.g. 500ms, 30s, 5m, 1h or 1d");
  }
  return milliseconds;
}

std::optional<std::vector<std::string>> YamlMap::StringList(std::string_view key, bool required) {
  YAML::Node value = Lookup(key, required);
  if (!value.IsDefined()) return std::nullopt;
  std::vector<std::string> items;
  if (value.IsScalar()) {
    if (auto item = Scalar(key, value)) items.push_back(std::move(*item));
    return items;
  }
  if (!value.IsSequence()) {
    diagnostics_.Add(brandpulse::LocationOf(value, file_),
                     fmt::format("'{}' in {} must be a list", key, context_),
                     "write [a, b] or one '- item' per line");
    return std::nullopt;
  }
  for (const YAML::Node& element : value) {
    if (auto item = Scalar(key, element)) items.push_back(std::move(*item));
  }
  return items;
}

Status YamlMap::Finish() {
  CheckNoUnknownKeys();
  if (diagnostics_.size() == errors_at_start_) return Status::Ok();
  return Status::InvalidArgument(fmt::format("{} is invalid", context_));
}

void YamlMap::CheckNoUnknownKeys() {
  if (!valid_) return;
  for (const auto& entry : node_) {
    std::string key = entry.first.Scalar();
    if (std::find(known_keys_.begin(), known_keys_.end(), key) != known_keys_.end()) continue;
    diagnostics_.Add(brandpulse::LocationOf(entry.first, file_),
                     fmt::format("unknown key '{}' in {}", key, context_),
                     DidYouMean(key, known_keys_,
                                      known_keys_.empty()
                                          ? std::string()
                                          : fmt::format("known keys here: {}",
                                                        fmt::join(known_keys_, ", "))));
  }
}

}  // namespace brandpulse
