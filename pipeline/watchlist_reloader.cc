#include "pipeline/watchlist_reloader.h"

#include <fmt/format.h>

namespace brandpulse {
namespace {

LoadedWatchlist LoadAndCompile(const std::string& path, const std::string& cache_directory) {
  LoadedWatchlist loaded;
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> spec = LoadWatchlist(path, diagnostics);
  if (!spec) {
    loaded.error = diagnostics.ToString();
    return loaded;
  }
  spec->cache_directory = cache_directory;
  Result<std::shared_ptr<const CompiledWatchlist>> compiled = CompiledWatchlist::Make(*spec);
  if (!compiled.ok()) {
    loaded.error = fmt::format("{}: {}", path, compiled.status().message());
    return loaded;
  }
  loaded.spec = std::make_shared<const WatchlistSpec>(*std::move(spec));
  loaded.compiled = *compiled;
  return loaded;
}

}  // namespace

WatchlistReloader::WatchlistReloader(std::string path, std::string cache_directory,
                                     bool watch_file, Clock& clock)
    : path_(std::move(path)),
      cache_directory_(std::move(cache_directory)),
      watch_file_(watch_file),
      clock_(clock),
      last_check_ms_(clock.NowMs()) {
  if (!path_.empty()) {
    std::error_code error;
    mtime_ = std::filesystem::last_write_time(path_, error);
  }
}

WatchlistReloader::~WatchlistReloader() {
  if (compile_.valid()) compile_.wait();
}

std::optional<LoadedWatchlist> WatchlistReloader::Poll() {
  if (path_.empty()) return std::nullopt;
  bool requested = requested_.exchange(false);
  if (watch_file_ && clock_.NowMs() - last_check_ms_ >= 1000) {
    last_check_ms_ = clock_.NowMs();
    std::error_code error;
    auto mtime = std::filesystem::last_write_time(path_, error);
    if (!error && mtime != mtime_) {
      mtime_ = mtime;
      requested = true;
    }
  }
  if (requested && !compile_.valid()) {
    compile_ = std::async(std::launch::async, LoadAndCompile, path_, cache_directory_);
  }
  if (compile_.valid() &&
      compile_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
    return compile_.get();
  }
  return std::nullopt;
}

}  // namespace brandpulse
