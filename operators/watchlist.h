// Watchlists: the brands to find, read from YAML into an immutable, validated spec. The format
// is documented at the top of pipelines/watchlists/nordic-spanish-telecoms.yaml:
//
//   brands:
//     - id: telenor                 # [a-z0-9_-]+, unique
//       name: Telenor               # display name (defaults to the id)
//       group: nordic-telecom       # competitor group, optional, [a-z0-9_-]+
//       terms: [telenor, "telenor norge"]
//       handles: ["@telenor_norge"]  # '@' optional in the file
//       hashtags: ["#telenor"]       # '#' optional in the file
//       exclude: ["telenor arena"]   # a post with an exclusion hit does not count for this brand
//       profiles: {press: "@TelenorPresse"}  # named own accounts (also own handles)
//       query: |                     # boolean query (docs/queries.md), ORed with terms
//         telenor AND NOT arena
//   groups:                          # competitor groups: name -> brand ids
//     nordic: [telenor, telia]
//
// A brand matches a post when one of its terms, handles or hashtags is found or its query is
// true, and none of its exclusions is found. Posts written by one of its handles or profiles are
// its own posts.
//
// Matching (operators/hyperscan_match.h) is caseless and whole-word; the loader rejects entries
// that could never match that way.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/diagnostics.h"
#include "operators/query.h"

namespace brandpulse {

struct BrandSpec {
  std::string id;     // [a-z0-9_-]+, unique in the watchlist
  std::string name;   // display name; the id when the file gives none
  std::string group;  // competitor group; empty when none
  // Entries as written (trimmed, inner runs of white space made one space), in file order,
  // without duplicates. Every entry is valid UTF-8 and holds at least one letter or digit.
  std::vector<std::string> terms;
  std::vector<std::string> handles;     // each starts with '@'
  std::vector<std::string> hashtags;    // each starts with '#'
  std::vector<std::string> exclusions;  // the `exclude` key
  // Named own accounts (`profiles:` name -> handle, handle with '@'), in file order. Their
  // handles are also in `handles`.
  std::vector<std::pair<std::string, std::string>> profiles;
  std::optional<Query> query;  // the `query` key, parsed
  // Where the query's text starts and its continuation indent (ParseQuery's `start`, `indent`):
  // the parse cache (LoadWatchlist) keeps the text and parses it again from there.
  SourceLocation query_start;
  int query_indent = 0;
  SourceLocation location;              // of the brand's mapping
};

struct CompetitorGroup {
  std::string name;                     // [a-z0-9_-]+
  std::vector<std::string> brand_ids;   // each a brand of the watchlist, in file order
};

struct WatchlistSpec {
  std::string path;  // file the spec was read from (for messages)
  std::vector<BrandSpec> brands;
  // The top-level `groups:` plus one group per distinct brand `group:` (its members appended
  // when the name is also listed at the top), in file order.
  std::vector<CompetitorGroup> groups;
  // Where CompiledWatchlist::Make(spec) caches the compiled database; empty: no cache. Not read
  // from the watchlist file: the pipeline's `state.watchlist_cache` sets it.
  std::string cache_directory;
};

// $XDG_CACHE_HOME/brandpulse/hyperscan, else $HOME/.cache/brandpulse/hyperscan, else empty.
std::string DefaultWatchlistCacheDirectory();

// Reads a watchlist. Adds one file:line:column diagnostic per problem to `diagnostics`, pointing
// at the offending key or list entry: YAML syntax, a duplicate or unknown key (with "did you
// mean"), a missing, malformed or duplicate id (reported at the second one), a bad group, a brand
// with no terms, handles or hashtags, an empty or white-space-only entry, an entry that cannot
// match as a whole word (no letter or digit, starts with a combining mark, invalid UTF-8, a
// control character, white space inside a handle or hashtag), and an exclusion equal to one of
// the brand's own terms. Returns nullopt when it added any diagnostic.
//
// Parse cache (issue 17: yaml-cpp took ~1 s for 10k brands): a file that loaded without any
// diagnostic and uses no ${ENV} substitution is kept, decoded, under
// $XDG_CACHE_HOME/brandpulse/watchlist-spec (else ~/.cache/...), keyed by its path, its bytes
// (two 64-bit hashes and the length) and this binary (size and modification time). The same
// file read again by the same binary is decoded from there instead of parsed: the spec is the
// same (queries are parsed again from their text). A file with any problem is never cached, so
// its diagnostics are always the parser's. BRANDPULSE_WATCHLIST_SPEC_CACHE=off turns it off.
std::optional<WatchlistSpec> LoadWatchlist(const std::string& path, Diagnostics& diagnostics);
// Same for YAML text in memory; `file_name` names it in diagnostics.
std::optional<WatchlistSpec> ParseWatchlist(std::string_view yaml_text,
                                            const std::string& file_name, Diagnostics& diagnostics);

}  // namespace brandpulse
