// The live progress line of `run`, `backtest` and `generate` on a terminal:
//   run   12.4s  1,234,567 records  99,512/s  45.2% of 512.0 MB  ETA 15s  mentions 12,345  alerts 3
// Rewritten in place (carriage return) at most a few times a second, and erased at the end so
// the command's own output follows on a clean line. Silent when stderr is not a terminal (a log
// file, a pipe, CI) or with --quiet: then nothing at all is written.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace brandpulse {

struct ProgressFigures {
  uint64_t records = 0;        // records (or posts) so far
  uint64_t position = 0;       // bytes into a finite input (0 = unknown)
  uint64_t total = 0;          // the input's size in bytes, or the records to make (0 = unknown)
  bool total_is_records = false;  // `total` counts records, not bytes (generate)
  uint64_t matches = 0;        // brand mentions
  uint64_t alerts = 0;
  bool show_matches = true;
  bool show_alerts = true;
  double seconds = 0;          // since the start
};

class ProgressLine {
 public:
  // Enabled when not `quiet` and `out` is a terminal.
  ProgressLine(std::FILE* out, bool quiet, std::string label);
  ~ProgressLine() { Finish(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  bool enabled() const { return enabled_; }
  // Redraws when at least `min_interval_seconds` passed since the last draw.
  void Update(const ProgressFigures& figures, double min_interval_seconds = 0.2);
  // Erases the line (once).
  void Finish();

  // The text of one line (no carriage return), for tests.
  static std::string Render(std::string_view label, const ProgressFigures& figures,
                            double rate_per_second);

 private:
  std::FILE* out_;
  bool enabled_;
  std::string label_;
  bool drawn_ = false;
  double last_draw_seconds_ = -1;
  double rate_ = 0;  // smoothed records per second
  double last_seconds_ = 0;
  uint64_t last_records_ = 0;
};

// The size of a regular file, or 0.
uint64_t FileSizeOrZero(const std::string& path);

}  // namespace brandpulse
