// The JSON-lines sink (`type: file`, `type: stdout`, `type: none`): one JSON object a line.
// Outbox entries (alerts) are appended and fsynced before they are acknowledged; side records
// (dead letters, late posts) are formatted here (operators/side_record_json.h) and fsynced by
// Flush() before the commit that moves past them.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/sink.h"
#include "engine/status.h"

namespace brandpulse {

// Appends lines to a file or stdout through a buffer. One thread at a time per LineFile; several
// LineFiles on stdout (alerts and dead letters both there) write whole buffers under one lock.
class LineFile {
 public:
  enum class Kind { kNone, kFile, kStdout };
  // kNone discards. `truncate` empties an existing file (fresh runs); missing folders are made.
  // An existing file whose last line was cut off (a kill inside write(), a full disk) loses that
  // piece: it was never acknowledged, so it is written again whole.
  static Result<std::unique_ptr<LineFile>> Open(Kind kind, const std::string& path, bool truncate);
  ~LineFile();
  LineFile(const LineFile&) = delete;
  LineFile& operator=(const LineFile&) = delete;

  // Appends `line` and a newline to the buffer; writes out when the buffer is large.
  Status Append(std::string_view line);
  // Writes the buffer out; with `sync`, fsyncs the file too (so a commit after it is safe).
  Status Flush(bool sync);
  // "out/alerts.jsonl", "stdout" or "none".
  const std::string& description() const { return description_; }
  // Forgets everything appended since the last successful Flush(): the buffer is dropped and a
  // file cut back to the size it had then. For a delivery that failed half-way, so that its retry
  // does not write the same lines twice.
  Status Rollback();

 private:
  LineFile(int descriptor, std::string description)
      : descriptor_(descriptor), description_(std::move(description)) {}
  Status WriteOut();
  Status RepairTornTail();

  int descriptor_;  // -1 for kNone
  std::string description_;
  std::string buffer_;
  // Sizes of a regular file (-1 for stdout and none), kept by counting what this LineFile writes
  // (the only writer of its file) instead of asking the file system after every flush.
  int64_t written_size_ = -1;  // after the last write
  int64_t flushed_size_ = -1;  // after the last successful Flush()
  // After the last fsync; no size at first, so the first Flush(true) always syncs.
  int64_t synced_size_ = -2;
};

struct JsonLinesSinkOptions {
  LineFile::Kind kind = LineFile::Kind::kNone;
  std::string path;  // kFile: resolved against the pipeline file's folder
};

// Thread safety: the Sink contract (engine/sink.h); Deliver() and Append() on one instance are
// never called at once by the runner (an instance serves one stream).
Result<std::unique_ptr<Sink>> MakeJsonLinesSink(const JsonLinesSinkOptions& options,
                                                std::string name, bool truncate);

}  // namespace brandpulse
