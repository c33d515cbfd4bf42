#include "operators/file_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>

#include "operators/json_array_records.h"

namespace brandpulse {
namespace {

// Reads a file descriptor in large chunks and cuts lines without copying them twice.
class JsonLinesSource final : public Source {
 public:
  JsonLinesSource(std::string id, int descriptor, bool follow, bool seekable,
                  size_t max_record_bytes)
      : id_(std::move(id)),
        descriptor_(descriptor),
        follow_(follow),
        seekable_(seekable),
        max_record_bytes_(std::max<size_t>(max_record_bytes, 1)) {
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
    skipping_ = false;
    return Status::Ok();
  }

  Result<SourceRead> Fill(Batch& batch, size_t max_records) override {
    while (batch.size() < max_records) {
      const char* data = buffer_.data();
      const void* newline = std::memchr(data + begin_, '\n', end_ - begin_);
      if (skipping_) {
        // Inside a record longer than max_record_bytes: its bytes are dropped as they come, so
        // memory stays bounded by the buffer; its prefix and length become a dead letter.
        size_t until = newline != nullptr ? static_cast<const char*>(newline) - data : end_;
        skipped_bytes_ += until - begin_;
        if (newline != nullptr || (end_of_file_ && !follow_)) {
          const size_t next = newline != nullptr ? until + 1 : until;
          batch.AddRefusedRecord(
              skipped_prefix_, buffer_position_ + next,
              fmt::format("record of {} bytes is longer than max_record_bytes ({}); it begins "
                          "with the {} bytes kept here",
                          skipped_bytes_, max_record_bytes_, skipped_prefix_.size()));
          skipping_ = false;
          begin_ = next;
          continue;
        }
        begin_ = end_;
      } else if (newline == nullptr && end_ - begin_ > max_record_bytes_) {
        skipping_ = true;
        skipped_prefix_.assign(data + begin_, std::min<size_t>(kRefusedPrefixBytes, end_ - begin_));
        skipped_bytes_ = 0;
        continue;
      } else if (newline != nullptr && static_cast<size_t>(static_cast<const char*>(newline) - data) -
                                               begin_ > max_record_bytes_) {
        skipping_ = true;
        skipped_prefix_.assign(data + begin_, std::min<size_t>(kRefusedPrefixBytes, max_record_bytes_));
        skipped_bytes_ = 0;
        continue;
      }
      if (skipping_) {
        // fall through to reading more
      } else if (newline != nullptr) {
        size_t line_end = static_cast<const char*>(newline) - data;
        AddLine(batch, begin_, line_end, line_end + 1);
        begin_ = line_end + 1;
        continue;
      }
      if (end_of_file_) {
        if (follow_ && skipping_) {
          end_of_file_ = false;
          break;
        }
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
  static constexpr size_t kRefusedPrefixBytes = 256;

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
  size_t max_record_bytes_;
  bool skipping_ = false;        // inside a record longer than max_record_bytes_
  std::string skipped_prefix_;   // its first bytes
  size_t skipped_bytes_ = 0;     // its length so far
  std::string buffer_;
  size_t begin_ = 0;  // first unread byte in buffer_
  size_t end_ = 0;    // one past the last valid byte in buffer_
  uint64_t buffer_position_ = 0;  // file offset of buffer_[0]
  bool end_of_file_ = false;
};

// Records cut from a whole file held in memory (the elements of an array, or a file of JSON
// documents); positions are record counts.
class JsonRecordsSource final : public Source {
 public:
  struct Record {
    std::string bytes;    // the record, or the prefix of a refused one
    std::string refused;  // the reason, when refused
  };
  JsonRecordsSource(std::string id, std::vector<Record> records)
      : id_(std::move(id)), records_(std::move(records)) {}

  const std::string& id() const override { return id_; }

  Status Seek(uint32_t partition, uint64_t position) override {
    if (partition != 0) return Status::InvalidArgument(fmt::format("{} has one partition", id_));
    next_ = std::min<uint64_t>(position, records_.size());
    return Status::Ok();
  }

  Result<SourceRead> Fill(Batch& batch, size_t max_records) override {
    while (batch.size() < max_records && next_ < records_.size()) {
      const Record& record = records_[next_];
      if (record.refused.empty()) {
        batch.AddRecord(record.bytes, next_ + 1);
      } else {
        batch.AddRefusedRecord(record.bytes, next_ + 1, record.refused);
      }
      ++next_;
    }
    batch.PadInput();
    return next_ == records_.size() ? SourceRead::kEndOfInput : SourceRead::kHaveData;
  }

 private:
  std::string id_;
  std::vector<Record> records_;
  uint64_t next_ = 0;
};

constexpr size_t kRefusedPrefixBytes = 256;

JsonRecordsSource::Record RecordOf(std::string_view bytes, size_t max_record_bytes) {
  if (bytes.size() <= max_record_bytes) return {std::string(bytes), {}};
  return {std::string(bytes.substr(0, std::min(kRefusedPrefixBytes, max_record_bytes))),
          fmt::format("record of {} bytes is longer than max_record_bytes ({}); it begins with the "
                      "bytes kept here",
                      bytes.size(), max_record_bytes)};
}

// Opens `path` for reading if it is a regular file: /dev/zero would be read until memory runs
// out and a FIFO blocks forever (stdin is the source for pipes).
Result<int> OpenRegularFile(const std::string& path) {
  int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (descriptor < 0) {
    return Status::IoError(fmt::format("cannot open input {}: {}", path, std::strerror(errno)));
  }
  struct stat info;
  if (::fstat(descriptor, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(descriptor);
    const char* kind = S_ISDIR(info.st_mode)    ? "a directory"
                       : S_ISFIFO(info.st_mode) ? "a FIFO"
                       : S_ISCHR(info.st_mode)  ? "a character device"
                       : S_ISSOCK(info.st_mode) ? "a socket"
                                                : "not a regular file";
    return Status::InvalidArgument(fmt::format(
        "input {} is {}, not a regular file (for a pipe use source: {{type: stdin}})", path, kind));
  }
  ::fcntl(descriptor, F_SETFL, ::fcntl(descriptor, F_GETFL) & ~O_NONBLOCK);
  return descriptor;
}

Result<std::string> ReadWholeFile(const std::string& path) {
  ASSIGN_OR_RETURN(int descriptor, OpenRegularFile(path));
  std::string contents;
  char block[1 << 16];
  while (true) {
    ssize_t count = ::read(descriptor, block, sizeof(block));
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      int error = errno;
      ::close(descriptor);
      return Status::IoError(fmt::format("read {}: {}", path, std::strerror(error)));
    }
    if (count == 0) break;
    contents.append(block, static_cast<size_t>(count));
  }
  ::close(descriptor);
  return contents;
}

// Splits concatenated JSON documents (pretty-printed or not, any white space between them):
// counts brackets outside strings, so nesting depth costs nothing. A top-level value that is not
// an object or array, or an unterminated last document, is one record the decoder refuses.
std::vector<std::string_view> SplitDocuments(std::string_view text) {
  std::vector<std::string_view> documents;
  size_t i = 0;
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    if (i == text.size()) break;
    if (i == 0 && text.substr(0, 3) == "\xEF\xBB\xBF") {  // a byte-order mark
      i = 3;
      continue;
    }
    const size_t begin = i;
    if (text[i] != '{' && text[i] != '[') {
      while (i < text.size() && !is_space(text[i]) && text[i] != '{' && text[i] != '[') ++i;
      documents.push_back(text.substr(begin, i - begin));
      continue;
    }
    int64_t depth = 0;
    bool in_string = false;
    for (; i < text.size(); ++i) {
      const char c = text[i];
      if (in_string) {
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          in_string = false;
        }
      } else if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) {
          ++i;
          break;
        }
      }
    }
    documents.push_back(text.substr(begin, std::min(i, text.size()) - begin));
  }
  return documents;
}

}  // namespace

Result<std::unique_ptr<Source>> MakeJsonLinesFileSource(const std::string& path, bool follow,
                                                        size_t max_record_bytes) {
  ASSIGN_OR_RETURN(int descriptor, OpenRegularFile(path));
  return std::unique_ptr<Source>(std::make_unique<JsonLinesSource>(
      "file:" + path, descriptor, follow, true, max_record_bytes));
}

Result<std::unique_ptr<Source>> MakeStdinSource(size_t max_record_bytes) {
  return std::unique_ptr<Source>(
      std::make_unique<JsonLinesSource>("stdin", 0, false, false, max_record_bytes));
}

Result<std::unique_ptr<Source>> MakeJsonArrayFileSource(const std::string& path,
                                                        const std::string& array_pointer,
                                                        size_t max_record_bytes) {
  ASSIGN_OR_RETURN(std::string document, ReadWholeFile(path));
  std::vector<JsonRecordsSource::Record> records;
  Status status = ForEachArrayElement(document, array_pointer, [&](std::string_view element) {
    records.push_back(RecordOf(element, max_record_bytes));
  });
  if (!status.ok()) {
    return Status::InvalidArgument(
        fmt::format("{}: cannot read the array at '{}': {}", path, array_pointer, status.message()));
  }
  return std::unique_ptr<Source>(std::make_unique<JsonRecordsSource>(
      "file:" + path + "#" + array_pointer, std::move(records)));
}

Result<std::unique_ptr<Source>> MakeJsonDocumentsFileSource(const std::string& path,
                                                            size_t max_record_bytes) {
  ASSIGN_OR_RETURN(std::string document, ReadWholeFile(path));
  std::vector<std::string_view> documents = SplitDocuments(document);
  std::vector<JsonRecordsSource::Record> records;
  if (documents.size() == 1 && documents[0].starts_with('[') && documents[0].ends_with(']')) {
    // One array: its elements are the records.
    Status status = ForEachArrayElement(documents[0], "", [&](std::string_view element) {
      records.push_back(RecordOf(element, max_record_bytes));
    });
    if (!status.ok()) {
      return Status::InvalidArgument(
          fmt::format("{}: cannot read the array: {}", path, status.message()));
    }
  } else {
    for (std::string_view text : documents) records.push_back(RecordOf(text, max_record_bytes));
  }
  return std::unique_ptr<Source>(std::make_unique<JsonRecordsSource>(
      "file:" + path, std::move(records)));
}

Result<std::unique_ptr<SourceSpec>> ReadFileSource(YamlMap& section, const ConfigContext& context) {
  Diagnostics& diagnostics = section.diagnostics();
  std::string path;
  bool follow = false;
  std::string array_pointer;
  bool documents = false;
  size_t max_record_bytes = kDefaultMaxRecordBytes;
  if (auto value = section.String("path", true)) path = context.ResolvePath(*value);
  if (auto value = section.Boolean("follow")) follow = *value;
  if (auto value = section.Integer("max_record_bytes", 64, int64_t{1} << 31)) {
    max_record_bytes = static_cast<size_t>(*value);
  }
  if (auto value = section.Choice("records", {"lines", "documents"})) {
    documents = *value == "documents";
    if (documents && follow) {
      diagnostics.Add(section.LocationOf("records"), "records: documents cannot be followed",
                      "a file of JSON documents is read whole; use JSON lines to follow");
    }
  }
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
  return SourceSpecOf("file", [path, follow, array_pointer, documents,
                               max_record_bytes](const SourceBuildContext&) {
    if (!array_pointer.empty()) return MakeJsonArrayFileSource(path, array_pointer, max_record_bytes);
    if (documents) return MakeJsonDocumentsFileSource(path, max_record_bytes);
    return MakeJsonLinesFileSource(path, follow, max_record_bytes);
  });
}

Result<std::unique_ptr<SourceSpec>> ReadStdinSource(YamlMap& section, const ConfigContext&) {
  size_t max_record_bytes = kDefaultMaxRecordBytes;
  if (auto value = section.Integer("max_record_bytes", 64, int64_t{1} << 31)) {
    max_record_bytes = static_cast<size_t>(*value);
  }
  RETURN_IF_ERROR(section.Finish());
  return SourceSpecOf("stdin", [max_record_bytes](const SourceBuildContext&) {
    return MakeStdinSource(max_record_bytes);
  });
}

}  // namespace brandpulse
