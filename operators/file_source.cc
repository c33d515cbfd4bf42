#include "operators/file_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <optional>

#include "engine/hash.h"
#include "engine/log.h"
#include "engine/metrics.h"

#include "operators/json_array_records.h"

namespace brandpulse {
namespace {

Result<int> OpenRegularFile(const std::string& path);

MetricCounter& RotationCounter() {
  static MetricCounter& counter = MetricsRegistry::Default().GetCounter(
      "brandpulse_file_source_rotations_total",
      "Followed input files replaced under their name (rotated, or replaced while stopped)");
  return counter;
}
MetricCounter& TruncationCounter() {
  static MetricCounter& counter = MetricsRegistry::Default().GetCounter(
      "brandpulse_file_source_truncations_total",
      "Followed input files truncated or rewritten in place (read again from their start)");
  return counter;
}

// Reads a file descriptor in large chunks and cuts lines without copying them twice.
//
// A named file (not stdin) has an identity: device, inode and the hash of its first bytes (up
// to kFingerprintBytes, never past the position it describes, so it holds for an append-only
// file however it grows). Every batch carries it (Batch::input_identity) and the runner stores
// it beside the position. Like `tail -F`, a followed file that is renamed away and replaced is
// read to its end before the new one is read from its start; one that shrinks or whose first
// bytes change (copytruncate, rewritten in place) is read again from its start. A restart
// checks the same against the stored identity, and finds a file rotated while it was stopped in
// the same directory (same device and inode) to finish it first.
class JsonLinesSource final : public Source {
 public:
  JsonLinesSource(std::string id, std::string path, int descriptor, bool follow, bool seekable,
                  size_t max_record_bytes)
      : id_(std::move(id)),
        path_(std::move(path)),
        descriptor_(descriptor),
        follow_(follow),
        seekable_(seekable),
        max_record_bytes_(std::max<size_t>(max_record_bytes, 1)) {
    buffer_.resize(kInitialBufferBytes);
    RememberFile();
  }
  ~JsonLinesSource() override {
    if (descriptor_ > 2) ::close(descriptor_);
  }

  const std::string& id() const override { return id_; }

  SourceCapabilities capabilities() const override {
    return SourceCapabilities{.resumable = seekable_, .finite = !follow_};
  }

  Status Seek(uint32_t partition, uint64_t position) override {
    return SeekIdentified(partition, position, "");
  }

  Status SeekIdentified(uint32_t partition, uint64_t position,
                        std::string_view identity) override {
    if (!seekable_) return Status::InvalidArgument(fmt::format("{} cannot seek", id_));
    if (partition != 0) return Status::InvalidArgument(fmt::format("{} has one partition", id_));
    std::optional<Identity> stored = ParseIdentity(identity);
    if (stored && (stored->device != device_ || stored->inode != inode_)) {
      // Replaced while stopped. A rotated file usually stays in the same directory: finish it.
      Result<int> rotated = FindRotatedFile(*stored, position);
      if (rotated.ok()) {
        RotationCounter().Add();
        LogWarn("input file was rotated while stopped: finishing the rotated file, then reading "
                "the new one from its start",
                {{"input", path_}, {"rotated_file", rotated_name_}, {"position",
                                                                     std::to_string(position)}});
        std::swap(descriptor_, *rotated);
        ::close(*rotated);
        RememberFile();
        draining_ = true;
        return SeekTo(position);
      }
      if (BeginsWith(position, stored->prefix_bytes, stored->prefix_hash)) {
        // Replaced by a file that holds what was read (written elsewhere and renamed over it).
        LogInfo("input file was replaced by one that begins with what was read: continuing at "
                "the committed position",
                {{"input", path_}, {"position", std::to_string(position)}});
        return SeekTo(position);
      }
      RotationCounter().Add();
      LogWarn("input file is not the one the committed position is in (rotated or replaced while "
              "stopped, and the old one is not beside it): reading it from its start",
              {{"input", path_}, {"position", std::to_string(position)}});
      return SeekTo(0);
    }
    struct stat info;
    if (::fstat(descriptor_, &info) != 0) {
      return Status::IoError(fmt::format("stat {}: {}", id_, std::strerror(errno)));
    }
    const uint64_t size = static_cast<uint64_t>(info.st_size);
    std::string_view why;
    if (size < position) {
      why = "is shorter than the committed position (truncated while stopped)";
    } else if (stored && stored->prefix_bytes > 0 &&
               HashBytes(ReadAt(0, stored->prefix_bytes)) != stored->prefix_hash) {
      why = "begins with other bytes than when the position was committed (rewritten)";
    } else if (!LineEndsAt(position, size)) {
      why = "has no line end before the committed position (rewritten)";
    }
    if (!why.empty()) {
      TruncationCounter().Add();
      LogWarn(fmt::format("input file {}: reading it from its start", why),
              {{"input", path_}, {"position", std::to_string(position)},
               {"size", std::to_string(size)}});
      return SeekTo(0);
    }
    return SeekTo(position);
  }

  Result<SourceRead> Fill(Batch& batch, size_t max_records) override {
    if (pending_ != Pending::kNone) {
      // A change found while the last batch held records of the previous file.
      RETURN_IF_ERROR(ApplyPending());
      if (pending_ != Pending::kNone) {
        batch.PadInput();
        return SourceRead::kNoDataYet;
      }
    }
    while (batch.size() < max_records) {
      const char* data = buffer_.data();
      const void* newline = std::memchr(data + begin_, '\n', end_ - begin_);
      const bool finishing = end_of_file_ && (!follow_ || draining_);
      if (skipping_) {
        // Inside a record longer than max_record_bytes: its bytes are dropped as they come, so
        // memory stays bounded by the buffer; its prefix and length become a dead letter.
        size_t until = newline != nullptr ? static_cast<const char*>(newline) - data : end_;
        skipped_bytes_ += until - begin_;
        if (newline != nullptr || finishing) {
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
        if (draining_) {
          // The rotated file is finished (its last line too, newline or not): on to the new
          // one, in a batch of its own so a batch's positions are all in one file.
          if (!skipping_ && begin_ < end_) {
            AddLine(batch, begin_, end_, end_);
            begin_ = end_;
          }
          end_of_file_ = false;
          pending_ = Pending::kReopen;
          if (!batch.empty()) break;
          RETURN_IF_ERROR(ApplyPending());
          if (pending_ != Pending::kNone) break;
          continue;
        }
        if (follow_) {
          // A partial last line waits for its newline; check for appended bytes again, and
          // whether the file was rotated, truncated or rewritten.
          end_of_file_ = false;
          waited_at_end_ = !path_.empty();
          ASSIGN_OR_RETURN(Pending change, CheckFile());
          if (change == Pending::kReopen) {
            draining_ = true;  // read what is left of the old file first
            continue;
          }
          if (change == Pending::kRewind) {
            pending_ = change;
            if (!batch.empty()) break;
            RETURN_IF_ERROR(ApplyPending());
            continue;
          }
          break;
        }
        if (begin_ < end_) {
          AddLine(batch, begin_, end_, end_);
          begin_ = end_;
        }
        StampIdentity(batch);
        batch.PadInput();
        return SourceRead::kEndOfInput;
      }
      Status status = ReadMore();
      if (!status.ok()) return status;
      if (pending_ == Pending::kRewind) {
        if (!batch.empty()) break;
        RETURN_IF_ERROR(ApplyPending());
      }
    }
    StampIdentity(batch);
    batch.PadInput();
    return batch.empty() ? SourceRead::kNoDataYet : SourceRead::kHaveData;
  }

 private:
  static constexpr size_t kInitialBufferBytes = 4 << 20;
  static constexpr size_t kRefusedPrefixBytes = 256;
  static constexpr uint64_t kFingerprintBytes = 1024;

  struct Identity {
    uint64_t device = 0;
    uint64_t inode = 0;
    uint64_t prefix_bytes = 0;
    uint64_t prefix_hash = 0;
  };
  enum class Pending { kNone, kReopen, kRewind };

  // "device:inode:prefix bytes:prefix hash (hex)"; nullopt for anything else (an old state).
  static std::optional<Identity> ParseIdentity(std::string_view text) {
    Identity identity;
    uint64_t* fields[] = {&identity.device, &identity.inode, &identity.prefix_bytes,
                          &identity.prefix_hash};
    for (int i = 0; i < 4; ++i) {
      const size_t colon = i < 3 ? text.find(':') : text.size();
      if (colon == std::string_view::npos || colon == 0) return std::nullopt;
      const std::string_view field = text.substr(0, colon);
      auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), *fields[i],
                                          i < 3 ? 10 : 16);
      if (error != std::errc() || end != field.data() + field.size()) return std::nullopt;
      text.remove_prefix(std::min(text.size(), colon + 1));
    }
    return identity;
  }

  // Device and inode of the open descriptor (a named file only).
  void RememberFile() {
    struct stat info;
    if (path_.empty() || ::fstat(descriptor_, &info) != 0) return;
    device_ = static_cast<uint64_t>(info.st_dev);
    inode_ = static_cast<uint64_t>(info.st_ino);
  }

  // Up to `count` bytes of the open file at `offset` (fewer at its end).
  std::string ReadAt(uint64_t offset, uint64_t count) const {
    std::string bytes(count, '\0');
    size_t done = 0;
    while (done < count) {
      ssize_t got = ::pread(descriptor_, bytes.data() + done, count - done,
                            static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      done += static_cast<size_t>(got);
    }
    bytes.resize(done);
    return bytes;
  }

  // Position 0, the end of the file, or just after a '\n': where a record ends.
  bool LineEndsAt(uint64_t position, uint64_t size) const {
    return position == 0 || position >= size || ReadAt(position - 1, 1) == "\n";
  }

  // The open file is at least `position` long, its first `prefix_bytes` hash to `prefix_hash`
  // and a record ends at `position`: it holds what was read of the file the position was in.
  bool BeginsWith(uint64_t position, uint64_t prefix_bytes, uint64_t prefix_hash) const {
    struct stat info;
    if (::fstat(descriptor_, &info) != 0 || static_cast<uint64_t>(info.st_size) < position) {
      return false;
    }
    if (position > 0 && prefix_bytes == 0) return false;  // nothing to compare
    return HashBytes(ReadAt(0, prefix_bytes)) == prefix_hash &&
           LineEndsAt(position, static_cast<uint64_t>(info.st_size));
  }

  // A regular file in the input's directory with the stored device and inode, long enough and
  // with the stored first bytes: the rotated input (logrotate's "posts.jsonl.1").
  Result<int> FindRotatedFile(const Identity& stored, uint64_t position) {
    std::error_code error;
    const std::filesystem::path directory =
        std::filesystem::path(path_).has_parent_path() ? std::filesystem::path(path_).parent_path()
                                                       : std::filesystem::path(".");
    for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
      struct stat info;
      if (::stat(entry.path().c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
      if (static_cast<uint64_t>(info.st_dev) != stored.device ||
          static_cast<uint64_t>(info.st_ino) != stored.inode ||
          static_cast<uint64_t>(info.st_size) < position) {
        continue;
      }
      Result<int> opened = OpenRegularFile(entry.path().string());
      if (!opened.ok()) continue;
      std::string prefix(stored.prefix_bytes, '\0');
      ssize_t got = ::pread(*opened, prefix.data(), prefix.size(), 0);
      if (got != static_cast<ssize_t>(prefix.size()) || HashBytes(prefix) != stored.prefix_hash) {
        ::close(*opened);
        continue;
      }
      rotated_name_ = entry.path().string();
      return opened;
    }
    return Status::NotFound("no rotated file");
  }

  // Continues the open file at `position`: a fresh buffer, and the first bytes read back for
  // the identity.
  Status SeekTo(uint64_t position) {
    if (::lseek(descriptor_, static_cast<off_t>(position), SEEK_SET) < 0) {
      return Status::IoError(fmt::format("seek {} to {}: {}", id_, position, std::strerror(errno)));
    }
    begin_ = end_ = 0;
    buffer_position_ = position;
    end_of_file_ = false;
    skipping_ = false;
    prefix_ = path_.empty() ? std::string() : ReadAt(0, std::min(position, kFingerprintBytes));
    stamped_bytes_ = UINT64_MAX;
    return Status::Ok();
  }

  // At the end of a followed file: was it renamed away (kReopen), truncated or rewritten
  // (kRewind)?
  Result<Pending> CheckFile() {
    if (path_.empty()) return Pending::kNone;
    struct stat info;
    if (::fstat(descriptor_, &info) != 0) {
      return Status::IoError(fmt::format("stat {}: {}", id_, std::strerror(errno)));
    }
    const uint64_t read_end = buffer_position_ + end_;
    if (static_cast<uint64_t>(info.st_size) < read_end ||
        (!prefix_.empty() && ReadAt(0, prefix_.size()) != prefix_)) {
      return Pending::kRewind;
    }
    struct stat named;
    if (::stat(path_.c_str(), &named) == 0 &&
        (static_cast<uint64_t>(named.st_dev) != device_ ||
         static_cast<uint64_t>(named.st_ino) != inode_)) {
      return Pending::kReopen;
    }
    return Pending::kNone;  // unchanged, or renamed and not replaced yet: keep waiting
  }

  Status ApplyPending() {
    if (pending_ == Pending::kRewind) {
      TruncationCounter().Add();
      LogWarn("input file was truncated or rewritten: reading it again from its start",
              {{"input", path_}, {"read_up_to", std::to_string(buffer_position_ + end_)}});
      pending_ = Pending::kNone;
      return SeekTo(0);
    }
    if (pending_ == Pending::kReopen) {
      Result<int> opened = OpenRegularFile(path_);
      if (!opened.ok()) return Status::Ok();  // not there yet: try again at the next Fill
      const uint64_t read = buffer_position_ + begin_;
      const uint64_t prefix_bytes = std::min<uint64_t>(read, prefix_.size());
      const uint64_t prefix_hash = HashBytes(std::string_view(prefix_).substr(0, prefix_bytes));
      ::close(descriptor_);
      descriptor_ = *opened;
      RememberFile();
      draining_ = false;
      pending_ = Pending::kNone;
      if (read > 0 && BeginsWith(read, prefix_bytes, prefix_hash)) {
        // Replaced by a file that holds what was read (written elsewhere and renamed over it).
        LogInfo("input file was replaced by one that begins with what was read: continuing there",
                {{"input", path_}, {"position", std::to_string(read)}});
        return SeekTo(read);
      }
      RotationCounter().Add();
      LogWarn("input file was rotated: the old one was read to its end, the new one is read from "
              "its start",
              {{"input", path_}});
      return SeekTo(0);
    }
    return Status::Ok();
  }

  // Batch::input_identity: the file and the hash of its first bytes up to the batch's end.
  void StampIdentity(Batch& batch) {
    if (path_.empty() || batch.empty()) return;
    const uint64_t bytes = std::min(batch.records.back().end_position, kFingerprintBytes);
    if (bytes != stamped_bytes_) {
      if (prefix_.size() < bytes) prefix_ = ReadAt(0, bytes);
      identity_.clear();
      fmt::format_to(std::back_inserter(identity_), "{}:{}:{}:{:x}", device_, inode_, bytes,
                     HashBytes(std::string_view(prefix_).substr(0, bytes)));
      stamped_bytes_ = bytes;
    }
    batch.input_identity.assign(identity_);
  }

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
      if (count > 0 && waited_at_end_) {
        // New bytes after a wait at the end: appended, or the file was rewritten in place
        // (then these are from the middle of its new contents, and its first bytes changed).
        waited_at_end_ = false;
        if (!prefix_.empty() && ReadAt(0, prefix_.size()) != prefix_) {
          pending_ = Pending::kRewind;
          return Status::Ok();
        }
      }
      // The identity's first bytes, as they are read.
      const uint64_t read_from = buffer_position_ + end_;
      if (!path_.empty() && read_from == prefix_.size() && read_from < kFingerprintBytes) {
        prefix_.append(buffer_.data() + end_,
                       std::min<uint64_t>(static_cast<uint64_t>(count),
                                          kFingerprintBytes - read_from));
      }
      end_ += static_cast<size_t>(count);
      return Status::Ok();
    }
  }

  std::string id_;
  std::string path_;  // empty for stdin
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
  // The open file's identity (see the class comment).
  uint64_t device_ = 0;
  uint64_t inode_ = 0;
  std::string prefix_;           // its first bytes as read, at most kFingerprintBytes
  std::string identity_;         // the last identity written, for stamped_bytes_ of prefix
  uint64_t stamped_bytes_ = UINT64_MAX;
  bool draining_ = false;        // the open file was replaced under path_: read it to its end
  bool waited_at_end_ = false;   // followed to the end: check the first bytes when more comes
  Pending pending_ = Pending::kNone;  // to do at the next Fill (the last batch was of the old file)
  std::string rotated_name_;     // where a file rotated while stopped was found
};

// Records streamed out of one JSON document — the elements of the array at a pointer — or out
// of a file of JSON documents (operators/json_array_records.h): memory stays at about
// max_record_bytes plus a read buffer however large the file. Positions are record counts; a
// restart reads the file again from its start and skips that many records.
class JsonStreamSource final : public Source {
 public:
  // `array_pointer` empty with `documents`: concatenated documents (or one array of them).
  JsonStreamSource(std::string id, std::string path, int descriptor, std::string array_pointer,
                   bool documents, size_t max_record_bytes)
      : id_(std::move(id)),
        path_(std::move(path)),
        descriptor_(descriptor),
        array_pointer_(std::move(array_pointer)),
        documents_(documents),
        max_record_bytes_(max_record_bytes) {}
  ~JsonStreamSource() override {
    if (descriptor_ >= 0) ::close(descriptor_);
  }

  // Reads up to the first record; InvalidArgument when there is no array at the pointer.
  Status Open() {
    if (::lseek(descriptor_, 0, SEEK_SET) < 0) {
      return Status::IoError(fmt::format("seek {}: {}", path_, std::strerror(errno)));
    }
    reader_ = std::make_unique<JsonArrayReader>(
        [this](char* into, size_t capacity) -> Result<size_t> {
          while (true) {
            ssize_t count = ::read(descriptor_, into, capacity);
            if (count >= 0) return static_cast<size_t>(count);
            if (errno != EINTR) {
              return Status::IoError(fmt::format("read {}: {}", path_, std::strerror(errno)));
            }
          }
        },
        max_record_bytes_);
    next_ = 0;
    ended_ = false;
    Status found = documents_ ? reader_->StartDocuments() : reader_->FindArray(array_pointer_);
    if (!found.ok() && found.code() == StatusCode::kInvalidArgument) {
      return Status::InvalidArgument(fmt::format("{}: cannot read the array at '{}': {}", path_,
                                                 array_pointer_, found.message()));
    }
    return found;
  }

  const std::string& id() const override { return id_; }

  Status Seek(uint32_t partition, uint64_t position) override {
    if (partition != 0) return Status::InvalidArgument(fmt::format("{} has one partition", id_));
    if (position < next_) RETURN_IF_ERROR(Open());
    while (next_ < position && !ended_) {
      ASSIGN_OR_RETURN(bool more, reader_->Skip());
      if (!more) {
        ended_ = true;
        break;
      }
      ++next_;
    }
    return Status::Ok();
  }

  Result<SourceRead> Fill(Batch& batch, size_t max_records) override {
    JsonArrayReader::Element element;
    while (batch.size() < max_records && !ended_) {
      ASSIGN_OR_RETURN(bool more, reader_->Next(element));
      if (!more) {
        ended_ = true;
        break;
      }
      ++next_;
      if (element.refused.empty()) {
        batch.AddRecord(element.bytes, next_);
      } else {
        batch.AddRefusedRecord(element.bytes, next_, element.refused);
      }
    }
    batch.PadInput();
    return ended_ ? SourceRead::kEndOfInput : SourceRead::kHaveData;
  }

 private:
  std::string id_;
  std::string path_;
  int descriptor_;
  std::string array_pointer_;
  bool documents_;
  size_t max_record_bytes_;
  std::unique_ptr<JsonArrayReader> reader_;
  uint64_t next_ = 0;  // records handed on (the position)
  bool ended_ = false;
};

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

}  // namespace

Result<std::unique_ptr<Source>> MakeJsonLinesFileSource(const std::string& path, bool follow,
                                                        size_t max_record_bytes) {
  ASSIGN_OR_RETURN(int descriptor, OpenRegularFile(path));
  return std::unique_ptr<Source>(std::make_unique<JsonLinesSource>(
      "file:" + path, path, descriptor, follow, true, max_record_bytes));
}

Result<std::unique_ptr<Source>> MakeStdinSource(size_t max_record_bytes) {
  return std::unique_ptr<Source>(
      std::make_unique<JsonLinesSource>("stdin", "", 0, false, false, max_record_bytes));
}

Result<std::unique_ptr<Source>> MakeJsonArrayFileSource(const std::string& path,
                                                        const std::string& array_pointer,
                                                        size_t max_record_bytes) {
  ASSIGN_OR_RETURN(int descriptor, OpenRegularFile(path));
  auto source = std::make_unique<JsonStreamSource>("file:" + path + "#" + array_pointer, path,
                                                   descriptor, array_pointer, false,
                                                   max_record_bytes);
  RETURN_IF_ERROR(source->Open());
  return std::unique_ptr<Source>(std::move(source));
}

Result<std::unique_ptr<Source>> MakeJsonDocumentsFileSource(const std::string& path,
                                                            size_t max_record_bytes) {
  ASSIGN_OR_RETURN(int descriptor, OpenRegularFile(path));
  auto source = std::make_unique<JsonStreamSource>("file:" + path, path, descriptor, "", true,
                                                   max_record_bytes);
  RETURN_IF_ERROR(source->Open());
  return std::unique_ptr<Source>(std::move(source));
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
