// WatchlistReloader: hot reload of the watchlist. A reload is asked for (a flag set by SIGHUP or
// the API) or noticed (the file changed, checked about once a second); the new watchlist is
// parsed and compiled on a background thread while the pipeline runs on the old one, and handed
// to the runner, which swaps it in at the next point where no epoch is open (right after a
// commit), so every post is matched by exactly one watchlist and commit boundaries stay those
// of a run without the reload. A watchlist that fails to load or compile is reported; the old
// one stays.
//
// Thread safety: the coordinator calls every method; the compile runs on its own thread.
#pragma once

#include <atomic>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "engine/clock.h"
#include "operators/hyperscan_match.h"
#include "operators/watchlist.h"

namespace brandpulse {

struct LoadedWatchlist {
  std::shared_ptr<const WatchlistSpec> spec;
  std::shared_ptr<const CompiledWatchlist> compiled;
  std::string error;  // file:line:column: what is wrong; empty when it loaded
};

class WatchlistReloader {
 public:
  // `path` empty: the pipeline's watchlist has no file (nothing to reload).
  WatchlistReloader(std::string path, std::string cache_directory, bool watch_file, Clock& clock);
  ~WatchlistReloader();  // waits for a compile in progress

  // Asks for a reload (from any thread).
  void Request() { requested_.store(true); }
  // Starts a compile when asked to or when the file changed; returns a finished load (swap it
  // in, or report its error) once one is ready.
  std::optional<LoadedWatchlist> Poll();

 private:
  std::string path_;
  std::string cache_directory_;
  bool watch_file_;
  Clock& clock_;
  std::atomic<bool> requested_{false};
  std::filesystem::file_time_type mtime_{};
  int64_t last_check_ms_ = 0;
  std::future<LoadedWatchlist> compile_;  // in progress when valid()
};

}  // namespace brandpulse
