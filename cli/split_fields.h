// Splitting a line of a labelled TSV set into its fields (eval-enrichment, train-enrichment).
#pragma once

#include <string_view>
#include <vector>

namespace brandpulse {

// The parts of `text` between `separator`s, empty parts kept; views into `text`.
inline std::vector<std::string_view> SplitFields(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

}  // namespace brandpulse
