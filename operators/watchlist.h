// Watchlists: the brands to find, as YAML. See pipelines/watchlists/nordic-spanish-telecoms.yaml
// for the format.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/diagnostics.h"

namespace brandpulse {

struct BrandSpec {
  std::string id;     // [a-z0-9_-]+, unique in the watchlist
  std::string name;   // display name (defaults to id)
  std::string group;  // competitor group, may be empty
  std::vector<std::string> terms;
  std::vector<std::string> handles;     // normalized to start with '@'
  std::vector<std::string> hashtags;    // normalized to start with '#'
  std::vector<std::string> exclusions;  // a post with an exclusion hit does not count
  SourceLocation location;
};

struct WatchlistSpec {
  std::string path;
  std::vector<BrandSpec> brands;
};

// Adds a file:line:column diagnostic for every problem (YAML syntax, unknown keys, missing or
// bad or duplicate ids, brands with nothing to match, empty terms); nullopt if there was any.
std::optional<WatchlistSpec> LoadWatchlist(const std::string& path, Diagnostics& diagnostics);
std::optional<WatchlistSpec> ParseWatchlist(std::string_view yaml_text, const std::string& file_name,
                                            Diagnostics& diagnostics);

}  // namespace brandpulse
