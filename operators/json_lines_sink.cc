#include "operators/json_lines_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

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
      int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0);
      int descriptor = ::open(path.c_str(), flags, 0644);
      if (descriptor < 0) {
        return Status::IoError(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
      }
      return std::unique_ptr<LineFile>(new LineFile(descriptor, path));
    }
  }
  return Status::Internal("unknown line file kind");
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

Status LineFile::WriteOut() {
  size_t written = 0;
  while (written < buffer_.size()) {
    ssize_t count = ::write(descriptor_, buffer_.data() + written, buffer_.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      buffer_.erase(0, written);
      return Status::IoError(fmt::format("write {}: {}", description_, std::strerror(errno)));
    }
    written += static_cast<size_t>(count);
  }
  buffer_.clear();
  return Status::Ok();
}

Status LineFile::Flush(bool sync) {
  if (descriptor_ < 0) return Status::Ok();
  RETURN_IF_ERROR(WriteOut());
  if (sync && descriptor_ > 2 && ::fsync(descriptor_) != 0) {
    return Status::IoError(fmt::format("fsync {}: {}", description_, std::strerror(errno)));
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
      if (!outcome.error.ok()) return outcome;
    }
    // Acknowledged only once on disk: a crash before this line re-delivers them all.
    outcome.error = file_->Flush(true);
    if (outcome.error.ok()) outcome.delivered = entries.size();
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
