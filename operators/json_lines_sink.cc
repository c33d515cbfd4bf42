#include "operators/json_lines_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace brandpulse {

Result<std::unique_ptr<LineSink>> LineSink::Open(const SinkSpec& spec, bool truncate) {
  switch (spec.type) {
    case SinkType::kNone:
      return std::unique_ptr<LineSink>(new LineSink(-1, "none"));
    case SinkType::kStdout:
      return std::unique_ptr<LineSink>(new LineSink(1, "stdout"));
    case SinkType::kFile: {
      std::error_code error;
      std::filesystem::create_directories(std::filesystem::path(spec.path).parent_path(), error);
      int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0);
      int descriptor = ::open(spec.path.c_str(), flags, 0644);
      if (descriptor < 0) {
        return Status::IoError(fmt::format("cannot open {}: {}", spec.path, std::strerror(errno)));
      }
      return std::unique_ptr<LineSink>(new LineSink(descriptor, spec.path));
    }
  }
  return Status::Internal("unknown sink type");
}

LineSink::~LineSink() {
  WriteOut().IgnoreError();  // best effort on destruction; Flush() reports errors
  if (descriptor_ > 2) ::close(descriptor_);
}

Status LineSink::Append(std::string_view line) {
  if (descriptor_ < 0) return Status::Ok();
  buffer_.append(line);
  buffer_.push_back('\n');
  ++lines_written_;
  if (buffer_.size() >= (1 << 20)) return WriteOut();
  return Status::Ok();
}

Status LineSink::WriteOut() {
  size_t written = 0;
  while (written < buffer_.size()) {
    ssize_t count = ::write(descriptor_, buffer_.data() + written, buffer_.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      return Status::IoError(fmt::format("write {}: {}", description_, std::strerror(errno)));
    }
    written += static_cast<size_t>(count);
  }
  buffer_.clear();
  return Status::Ok();
}

Status LineSink::Flush(bool sync) {
  if (descriptor_ < 0) return Status::Ok();
  RETURN_IF_ERROR(WriteOut());
  if (sync && descriptor_ > 2 && ::fsync(descriptor_) != 0) {
    return Status::IoError(fmt::format("fsync {}: {}", description_, std::strerror(errno)));
  }
  return Status::Ok();
}

}  // namespace brandpulse
