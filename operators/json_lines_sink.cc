#include "operators/json_lines_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

#include <fmt/format.h>

#include "operators/side_record_json.h"

namespace brandpulse {

Result<std::unique_ptr<LineFile>> LineFile::Open(Kind kind, const std::string& path,
                                                 bool truncate) {
  switch (kind) {
    case Kind::kNone:
      return std::unique_ptr<LineFile>(new LineFile(-1, "none"));
    case Kind::kStdout:
      return std::unique_ptr<LineFile>(new LineFile(1, "stdout"));
    case Kind::kFile: {
      std::error_code error;
      std::filesystem::create_directories(std::filesystem::path(path).parent_path(), error);
      // Read-write: the torn-tail repair reads the end of the file.
      int flags = O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0);
      int descriptor = ::open(path.c_str(), flags, 0644);
      if (descriptor < 0) {
        return Status::IoError(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
      }
      std::unique_ptr<LineFile> file(new LineFile(descriptor, path));
      RETURN_IF_ERROR(file->RepairTornTail());
      struct stat info;
      if (::fstat(descriptor, &info) == 0 && S_ISREG(info.st_mode)) {
        file->flushed_size_ = file->written_size_ = info.st_size;
      }
      return file;
    }
  }
  return Status::Internal("unknown line file kind");
}

// A process killed inside write() (or a full disk) can leave the last line cut short. What was
// cut was never acknowledged (an outbox entry) or committed past (a side record), so it is
// written again, whole, after the restart; the cut piece is removed so it does not glue onto it.
Status LineFile::RepairTornTail() {
  struct stat info;
  if (::fstat(descriptor_, &info) != 0) {
    return Status::IoError(fmt::format("stat {}: {}", description_, std::strerror(errno)));
  }
  if (!S_ISREG(info.st_mode) || info.st_size == 0) return Status::Ok();
  off_t end = info.st_size;
  char last = 0;
  if (::pread(descriptor_, &last, 1, end - 1) != 1) {
    return Status::IoError(fmt::format("read {}: {}", description_, std::strerror(errno)));
  }
  if (last == '\n') return Status::Ok();
  // Look back for the last complete line, a block at a time.
  char block[4096];
  off_t keep = 0;
  for (off_t block_end = end; block_end > 0 && keep == 0;) {
    off_t block_begin = block_end > static_cast<off_t>(sizeof(block)) ? block_end - sizeof(block) : 0;
    ssize_t count = ::pread(descriptor_, block, static_cast<size_t>(block_end - block_begin), block_begin);
    if (count <= 0) {
      return Status::IoError(fmt::format("read {}: {}", description_, std::strerror(errno)));
    }
    for (ssize_t index = count - 1; index >= 0; --index) {
      if (block[index] == '\n') {
        keep = block_begin + index + 1;
        break;
      }
    }
    block_end = block_begin;
  }
  if (::ftruncate(descriptor_, keep) != 0) {
    return Status::IoError(fmt::format("truncate the torn last line of {}: {}", description_,
                                       std::strerror(errno)));
  }
  return Status::Ok();
}

LineFile::~LineFile() {
  WriteOut().IgnoreError();  // best effort on destruction; Flush() reports errors
  if (descriptor_ > 2) ::close(descriptor_);
}

Status LineFile::Append(std::string_view line) {
  if (descriptor_ < 0) return Status::Ok();
  buffer_.append(line);
  buffer_.push_back('\n');
  if (buffer_.size() >= (1 << 20)) return WriteOut();
  return Status::Ok();
}

// Writers of stdout share it across sinks and threads: one lock keeps their lines whole.
std::mutex& StdoutMutex() {
  static std::mutex mutex;
  return mutex;
}

Status LineFile::WriteOut() {
  std::unique_lock<std::mutex> stdout_lock;
  if (descriptor_ == 1) stdout_lock = std::unique_lock<std::mutex>(StdoutMutex());
  size_t written = 0;
  while (written < buffer_.size()) {
    ssize_t count = ::write(descriptor_, buffer_.data() + written, buffer_.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      buffer_.erase(0, written);
      return Status::IoError(fmt::format("write {}: {}", description_, std::strerror(errno)));
    }
    written += static_cast<size_t>(count);
    if (written_size_ >= 0) written_size_ += count;
  }
  buffer_.clear();
  return Status::Ok();
}

Status LineFile::Flush(bool sync) {
  if (descriptor_ < 0) return Status::Ok();
  RETURN_IF_ERROR(WriteOut());
  // Nothing written since the last fsync: none needed (issue 17: two empty side sinks were
  // fsynced at every commit).
  if (sync && descriptor_ > 2 && written_size_ != synced_size_ && ::fsync(descriptor_) != 0) {
    return Status::IoError(fmt::format("fsync {}: {}", description_, std::strerror(errno)));
  }
  flushed_size_ = written_size_;
  if (sync) synced_size_ = written_size_;
  return Status::Ok();
}

Status LineFile::Rollback() {
  buffer_.clear();
  if (flushed_size_ < 0) return Status::Ok();  // stdout or none: nothing to cut back
  written_size_ = flushed_size_;
  if (::ftruncate(descriptor_, flushed_size_) != 0) {
    return Status::IoError(fmt::format("cut {} back to {} bytes: {}", description_, flushed_size_,
                                       std::strerror(errno)));
  }
  return Status::Ok();
}

namespace {

class JsonLinesSink final : public Sink {
 public:
  JsonLinesSink(std::string name, std::unique_ptr<LineFile> file)
      : name_(std::move(name)), file_(std::move(file)) {}

  const std::string& name() const override { return name_; }
  std::string description() const override { return file_->description(); }

  Status Append(const SideRecord& record) override {
    line_.clear();
    AppendSideRecordJson(record, line_);
    return file_->Append(line_);
  }

  Status Flush() override { return file_->Flush(true); }

  DeliveryOutcome Deliver(std::span<const OutboxEntry> entries) override {
    DeliveryOutcome outcome;
    for (const OutboxEntry& entry : entries) {
      outcome.error = file_->Append(entry.payload);
      if (!outcome.error.ok()) break;
    }
    // Acknowledged only once on disk: a crash before this line re-delivers them all.
    if (outcome.error.ok()) outcome.error = file_->Flush(true);
    if (outcome.error.ok()) {
      outcome.delivered = entries.size();
    } else {
      // Nothing of a failed attempt stays behind, so the retry writes each line once.
      Status rolled_back = file_->Rollback();
      if (!rolled_back.ok()) outcome.error = outcome.error.WithContext(rolled_back.ToString());
    }
    return outcome;
  }

 private:
  std::string name_;
  std::unique_ptr<LineFile> file_;
  std::string line_;  // reused
};

}  // namespace

Result<std::unique_ptr<Sink>> MakeJsonLinesSink(const JsonLinesSinkOptions& options,
                                                std::string name, bool truncate) {
  ASSIGN_OR_RETURN(std::unique_ptr<LineFile> file,
                   LineFile::Open(options.kind, options.path, truncate));
  return std::unique_ptr<Sink>(std::make_unique<JsonLinesSink>(std::move(name), std::move(file)));
}

}  // namespace brandpulse
