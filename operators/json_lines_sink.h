// LineSink: appends JSON lines to a file or stdout, buffered. Used for alerts, dead letters and
// late posts. Thread safety: one thread (the coordinator) writes.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace brandpulse {

enum class SinkType { kNone, kFile, kStdout };

struct SinkSpec {
  SinkType type = SinkType::kNone;
  std::string path;  // kFile: absolute
};

class LineSink {
 public:
  // kNone gives a sink that discards. `truncate` empties an existing file (fresh runs).
  static Result<std::unique_ptr<LineSink>> Open(const SinkSpec& spec, bool truncate);
  ~LineSink();
  LineSink(const LineSink&) = delete;
  LineSink& operator=(const LineSink&) = delete;

  // Appends `line` and a newline to the buffer; writes out when the buffer is large.
  Status Append(std::string_view line);
  // Writes the buffer out; with `sync`, fsyncs the file too (so a commit after it is safe).
  Status Flush(bool sync);
  // "out/alerts.jsonl", "stdout" or "none".
  const std::string& description() const { return description_; }
  uint64_t lines_written() const { return lines_written_; }

 private:
  LineSink(int descriptor, std::string description)
      : descriptor_(descriptor), description_(std::move(description)) {}
  Status WriteOut();

  int descriptor_;  // -1 for kNone
  std::string description_;
  std::string buffer_;
  uint64_t lines_written_ = 0;
};

}  // namespace brandpulse
