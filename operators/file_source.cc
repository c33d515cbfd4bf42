#include "operators/file_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "operators/json_array_records.h"

namespace brandpulse {
namespace {

// Reads a file descriptor in large chunks and cuts lines without copying them twice.
class JsonLinesSource final : public Source {
 public:
  JsonLinesSource(std::string id, int descriptor, bool follow, bool seekable)
      : id_(std::move(id)), descriptor_(descriptor), follow_(follow), seekable_(seekable) {
    buffer_.resize(kInitialBufferBytes);
  }
  ~JsonLinesSource() override {
    if (descriptor_ > 2) ::close(descriptor_);
  }

  const std::string& id() const override { return id_; }

  SourceCapabilities capabilities() const override {
    return SourceCapabilities{.resumable = seekable_, .finite = !follow_};
  }

  Status Seek(uint32_t partition, uint64_t position) override {
    if (!seekable_) return Status::InvalidArgument(fmt::format("{} cannot seek", id_));
    if (partition != 0) return Status::InvalidArgument(fmt::format("{} has one partition", id_));
    if (::lseek(descriptor_, static_cast<off_t>(position), SEEK_SET) < 0) {
      return Status::IoError(fmt::format("seek {} to {}: {}", id_, position, std::strerror(errno)));
    }
    begin_ = end_ = 0;
    buffer_position_ = position;
    end_of_file_ = false;
    return Status::Ok();
  }

  Result<SourceRead> Fill(Batch& batch, size_t max_records) override {
    while (batch.size() < max_records) {
      const char* data = buffer_.data();
      const void* newline = std::memchr(data + begin_, '\n', end_ - begin_);
      if (newline != nullptr) {
        size_t line_end = static_cast<const char*>(newline) - data;
        AddLine(batch, begin_, line_end, line_end + 1);
        begin_ = line_end + 1;
        continue;
      }
      if (end_of_file_) {
        if (follow_) {
          // A partial last line waits for its newline; check for appended bytes again.
          end_of_file_ = false;
          break;
        }
        if (begin_ < end_) {
          AddLine(batch, begin_, end_, end_);
          begin_ = end_;
        }
        batch.PadInput();
        return SourceRead::kEndOfInput;
      }
      Status status = ReadMore();
      if (!status.ok()) return status;
    }
    batch.PadInput();
    return batch.empty() ? SourceRead::kNoDataYet : SourceRead::kHaveData;
  }

 private:
  static constexpr size_t kInitialBufferBytes = 4 << 20;

  void AddLine(Batch& batch, size_t begin, size_t end, size_t next) {
    uint64_t end_position = buffer_position_ + next;
    size_t trimmed_end = end;
    if (trimmed_end > begin && buffer_[trimmed_end - 1] == '\r') --trimmed_end;
    bool blank = true;
    for (size_t i = begin; i < trimmed_end && blank; ++i) {
      char c = buffer_[i];
      blank = c == ' ' || c == '\t';
    }
    if (blank) return;
    batch.AddRecord(std::string_view(buffer_.data() + begin, trimmed_end - begin), end_position);
  }

  // Moves the unread tail to the front, grows the buffer if one line fills it, reads more.
  Status ReadMore() {
    if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      buffer_position_ += begin_;
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
    while (true) {
      ssize_t count = ::read(descriptor_, buffer_.data() + end_, buffer_.size() - end_);
      if (count < 0 && errno == EINTR) continue;
      if (count < 0) return Status::IoError(fmt::format("read {}: {}", id_, std::strerror(errno)));
      if (count == 0) end_of_file_ = true;
      end_ += static_cast<size_t>(count);
      return Status::Ok();
    }
  }

  std::string id_;
  int descriptor_;
  bool follow_;
  bool seekable_;
  std::string buffer_;
  size_t begin_ = 0;  // first unread byte in buffer_
  size_t end_ = 0;    // one past the last valid byte in buffer_
  uint64_t buffer_position_ = 0;  // file offset of buffer_[0]
  bool end_of_file_ = false;
};

class JsonArraySource final : public Source {
 public:
  JsonArraySource(std::string id, std::vector<std::string> elements)
      : id_(std::move(id)), elements_(std::move(elements)) {}

  const std::string& id() const override { return id_; }

  Status Seek(uint32_t partition, uint64_t position) override {
    if (partition != 0) return Status::InvalidArgument(fmt::format("{} has one partition", id_));
    next_ = std::min<uint64_t>(position, elements_.size());
    return Status::Ok();
  }

  Result<SourceRead> Fill(Batch& batch, size_t max_records) override {
    while (batch.size() < max_records && next_ < elements_.size()) {
      batch.AddRecord(elements_[next_], next_ + 1);
      ++next_;
    }
    batch.PadInput();
    return next_ == elements_.size() ? SourceRead::kEndOfInput : SourceRead::kHaveData;
  }

 private:
  std::string id_;
  std::vector<std::string> elements_;
  uint64_t next_ = 0;
};


}  // namespace

Result<std::unique_ptr<Source>> MakeJsonLinesFileSource(const std::string& path, bool follow) {
  int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) {
    return Status::IoError(fmt::format("cannot open input {}: {}", path, std::strerror(errno)));
  }
  return std::unique_ptr<Source>(
      std::make_unique<JsonLinesSource>("file:" + path, descriptor, follow, true));
}

Result<std::unique_ptr<Source>> MakeStdinSource() {
  return std::unique_ptr<Source>(std::make_unique<JsonLinesSource>("stdin", 0, false, false));
}

Result<std::unique_ptr<Source>> MakeJsonArrayFileSource(const std::string& path,
                                                        const std::string& array_pointer) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError(fmt::format("cannot open input {}", path));
  std::stringstream contents;
  contents << in.rdbuf();
  std::string document = contents.str();
  std::vector<std::string> elements;
  Status status = ForEachArrayElement(document, array_pointer, [&](std::string_view element) {
    elements.emplace_back(element);
  });
  if (!status.ok()) {
    return Status::InvalidArgument(
        fmt::format("{}: cannot read the array at '{}': {}", path, array_pointer, status.message()));
  }
  return std::unique_ptr<Source>(
      std::make_unique<JsonArraySource>("file:" + path + "#" + array_pointer, std::move(elements)));
}


Result<std::unique_ptr<SourceSpec>> ReadFileSource(YamlMap& section, const ConfigContext& context) {
  Diagnostics& diagnostics = section.diagnostics();
  std::string path;
  bool follow = false;
  std::string array_pointer;
  if (auto value = section.String("path", true)) path = context.ResolvePath(*value);
  if (auto value = section.Boolean("follow")) follow = *value;
  if (auto pointer = section.String("array_path")) {
    array_pointer = *pointer;
    if (!pointer->empty() && pointer->front() != '/') {
      diagnostics.Add(section.LocationOf("array_path"),
                      fmt::format("array_path '{}' is not a JSON pointer", *pointer),
                      fmt::format("write '/{}'", *pointer));
    }
    if (follow) {
      diagnostics.Add(section.LocationOf("follow"), "follow cannot be combined with array_path",
                      "a JSON document with an array is read whole; use JSON lines to follow");
    }
  }
  RETURN_IF_ERROR(section.Finish());
  return SourceSpecOf("file", [path, follow, array_pointer](const SourceBuildContext&) {
    if (array_pointer.empty()) return MakeJsonLinesFileSource(path, follow);
    return MakeJsonArrayFileSource(path, array_pointer);
  });
}

Result<std::unique_ptr<SourceSpec>> ReadStdinSource(YamlMap& section, const ConfigContext&) {
  RETURN_IF_ERROR(section.Finish());
  return SourceSpecOf("stdin", [](const SourceBuildContext&) { return MakeStdinSource(); });
}

}  // namespace brandpulse
