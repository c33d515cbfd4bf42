// The on-disk cache of a CompiledWatchlist's Hyperscan database: a restart or a reload with the
// same pattern set on the same CPU loads the serialized database instead of compiling it. The
// options and the outcome are here; CompiledWatchlist::CompileOrLoad() (watchlist_cache.cc)
// keys, reads, checks and writes the cache file.
#pragma once

#include <string>

namespace brandpulse {

// Where the serialized Hyperscan database is cached between runs.
struct WatchlistCacheOptions {
  std::string directory;  // empty: no cache
};

// What Make() did, for logs and tests.
struct WatchlistBuildInfo {
  bool loaded_from_cache = false;
  bool cache_was_corrupt = false;  // a cache file existed but could not be used
  bool cache_written = false;
  std::string cache_file;  // empty without a cache
  double seconds = 0;      // compile or load time
};

}  // namespace brandpulse
