#include "cli/progress.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>

#include <fmt/format.h>

#include "cli/commands.h"

namespace brandpulse {
namespace {

std::string Bytes(uint64_t bytes) {
  if (bytes >= (1ull << 30)) return fmt::format("{:.1f} GB", bytes / double(1ull << 30));
  if (bytes >= (1ull << 20)) return fmt::format("{:.1f} MB", bytes / double(1ull << 20));
  if (bytes >= (1ull << 10)) return fmt::format("{:.1f} kB", bytes / double(1ull << 10));
  return fmt::format("{} B", bytes);
}

std::string Duration(double seconds) {
  auto whole = static_cast<uint64_t>(std::max(0.0, std::round(seconds)));
  if (whole >= 3600) return fmt::format("{}h{:02}m", whole / 3600, whole % 3600 / 60);
  if (whole >= 60) return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  return fmt::format("{}s", whole);
}

}  // namespace

uint64_t FileSizeOrZero(const std::string& path) {
  struct stat info {};
  if (path.empty() || ::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return 0;
  return static_cast<uint64_t>(info.st_size);
}

ProgressLine::ProgressLine(std::FILE* out, bool quiet, std::string label)
    : out_(out), enabled_(!quiet && out != nullptr && ::isatty(::fileno(out)) == 1),
      label_(std::move(label)) {}

std::string ProgressLine::Render(std::string_view label, const ProgressFigures& figures,
                                 double rate) {
  std::string line = fmt::format("{} {:6.1f}s  {} records  {}/s", label, figures.seconds,
                                 Grouped(figures.records), Grouped(static_cast<uint64_t>(rate)));
  uint64_t done = figures.total_is_records ? figures.records : figures.position;
  if (figures.total > 0 && done > 0) {
    double fraction = std::min(1.0, double(done) / double(figures.total));
    line += fmt::format("  {:.1f}% of {}", 100 * fraction,
                        figures.total_is_records ? Grouped(figures.total)
                                                 : Bytes(figures.total));
    // ETA from the average speed so far (steadier than the momentary rate).
    if (fraction > 0 && fraction < 1 && figures.seconds > 0.5) {
      line += fmt::format("  ETA {}", Duration(figures.seconds * (1 - fraction) / fraction));
    }
  } else if (figures.position > 0) {
    line += fmt::format("  at {}", Bytes(figures.position));
  }
  if (figures.show_matches) line += fmt::format("  mentions {}", Grouped(figures.matches));
  if (figures.show_alerts) line += fmt::format("  alerts {}", Grouped(figures.alerts));
  return line;
}

void ProgressLine::Update(const ProgressFigures& figures, double min_interval_seconds) {
  if (!enabled_) return;
  if (last_draw_seconds_ >= 0 && figures.seconds - last_draw_seconds_ < min_interval_seconds) return;
  double elapsed = figures.seconds - last_seconds_;
  if (elapsed > 0 && figures.records >= last_records_) {
    double momentary = (figures.records - last_records_) / elapsed;
    rate_ = drawn_ ? 0.5 * rate_ + 0.5 * momentary : momentary;
  }
  last_seconds_ = figures.seconds;
  last_records_ = figures.records;
  last_draw_seconds_ = figures.seconds;
  std::fprintf(out_, "\r\x1b[K%s", Render(label_, figures, rate_).c_str());
  std::fflush(out_);
  drawn_ = true;
}

void ProgressLine::Finish() {
  if (!enabled_ || !drawn_) return;
  std::fputs("\r\x1b[K", out_);
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace brandpulse
