#include "operators/json_array_records.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "engine/unicode.h"

namespace brandpulse {
namespace {

constexpr size_t kMaxKeyBytes = 4096;  // longer object keys never match a pointer token

bool IsSpace(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
// Bytes that cannot begin a value: a value "starting" with one is a malformed structure.
bool IsStructural(int c) { return c == ',' || c == ':' || c == ']' || c == '}'; }

// The text of a JSON string's contents with its escapes decoded (for comparing object keys
// with pointer tokens); a bad escape is kept as written, so it matches nothing real.
std::string Unescape(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  auto hex4 = [&](size_t at) -> int64_t {
    if (at + 4 > raw.size()) return -1;
    uint32_t value = 0;
    for (size_t k = at; k < at + 4; ++k) {
      const char c = raw[k];
      value <<= 4;
      if (c >= '0' && c <= '9') value |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') value |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') value |= static_cast<uint32_t>(c - 'A' + 10);
      else return -1;
    }
    return value;
  };
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\' || i + 1 == raw.size()) {
      out.push_back(raw[i]);
      continue;
    }
    const char c = raw[++i];
    switch (c) {
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        int64_t unit = hex4(i + 1);
        if (unit < 0) {
          out += "\\u";
          break;
        }
        i += 4;
        uint32_t code_point = static_cast<uint32_t>(unit);
        if (code_point >= 0xD800 && code_point < 0xDC00 && i + 6 < raw.size() &&
            raw[i + 1] == '\\' && raw[i + 2] == 'u') {
          int64_t low = hex4(i + 3);
          if (low >= 0xDC00 && low < 0xE000) {
            code_point = 0x10000 + ((code_point - 0xD800) << 10) + (static_cast<uint32_t>(low) - 0xDC00);
            i += 6;
          }
        }
        AppendUtf8(code_point, out);
        break;
      }
      default: out.push_back(c); break;  // \" \\ \/ (and anything else, kept)
    }
  }
  return out;
}

// RFC 6901 tokens of `pointer` ("" = none), with ~1 and ~0 decoded.
Result<std::vector<std::string>> PointerTokens(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer[0] != '/') {
    return Status::InvalidArgument(fmt::format("'{}' is not a JSON pointer (it must start with '/')", pointer));
  }
  size_t at = 1;
  while (true) {
    const size_t slash = pointer.find('/', at);
    std::string_view raw = pointer.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at);
    std::string token;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token.push_back(raw[i + 1] == '0' ? '~' : '/');
        ++i;
      } else {
        token.push_back(raw[i]);
      }
    }
    tokens.push_back(std::move(token));
    if (slash == std::string_view::npos) break;
    at = slash + 1;
  }
  return tokens;
}

std::optional<uint64_t> ArrayIndex(const std::string& token) {
  if (token.empty() || token.size() > 18 || (token.size() > 1 && token[0] == '0')) return std::nullopt;
  uint64_t value = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

}  // namespace

JsonArrayReader::JsonArrayReader(ReadFn read, size_t max_element_bytes, size_t chunk_bytes)
    : read_(std::move(read)),
      max_element_bytes_(std::max<size_t>(max_element_bytes, 1)),
      chunk_bytes_(std::max<size_t>(chunk_bytes, 1)) {}

Status JsonArrayReader::Refill() {
  // Keep what is still needed (the element being scanned), drop the rest.
  const size_t keep = keep_from_ == std::string::npos ? position_ : keep_from_;
  if (keep > 0) {
    buffer_.erase(0, keep);
    base_offset_ += keep;
    position_ -= keep;
    if (keep_from_ != std::string::npos) keep_from_ -= keep;
  }
  // Read at least as much as is kept, so a long element costs amortized linear copying.
  const size_t want = std::max(chunk_bytes_, buffer_.size());
  const size_t old_size = buffer_.size();
  buffer_.resize(old_size + want);
  Result<size_t> count = read_(buffer_.data() + old_size, want);
  if (!count.ok()) {
    buffer_.resize(old_size);
    return count.status();
  }
  buffer_.resize(old_size + *count);
  if (*count == 0) input_ended_ = true;
  return Status::Ok();
}

Result<int> JsonArrayReader::Peek() {
  while (position_ >= buffer_.size()) {
    if (input_ended_) return -1;
    RETURN_IF_ERROR(Refill());
  }
  return static_cast<unsigned char>(buffer_[position_]);
}

Result<int> JsonArrayReader::PeekAfterSpace() {
  while (true) {
    ASSIGN_OR_RETURN(int c, Peek());
    if (!IsSpace(c)) return c;
    ++position_;
  }
}

std::string JsonArrayReader::Describe(int byte) const {
  if (byte < 0) return "the end of the input";
  if (byte >= 0x20 && byte < 0x7F) return fmt::format("'{}'", static_cast<char>(byte));
  return fmt::format("byte 0x{:02X}", byte);
}

Status JsonArrayReader::ScanValue(bool keep, bool& complete) {
  const uint64_t start = offset();
  keep_from_ = keep ? position_ : std::string::npos;
  oversized_ = false;
  prefix_.clear();
  const unsigned char first = static_cast<unsigned char>(buffer_[position_]);
  const bool scalar = first != '{' && first != '[' && first != '"';
  int64_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  complete = false;
  while (true) {
    if (position_ >= buffer_.size()) {
      if (keep && !oversized_ && position_ - keep_from_ > max_element_bytes_) {
        // Too long to keep: its first bytes for the dead letter, the rest dropped as read.
        oversized_ = true;
        prefix_.assign(buffer_, keep_from_, std::min(kRefusedPrefixBytes, max_element_bytes_));
        keep_from_ = std::string::npos;
      }
      if (input_ended_) {
        complete = scalar;  // a number or literal may end with the input
        break;
      }
      RETURN_IF_ERROR(Refill());
      continue;
    }
    const char* data = buffer_.data();
    const size_t size = buffer_.size();
    size_t i = position_;
    bool done = false;
    for (; i < size; ++i) {
      const char c = data[i];
      if (in_string) {
        if (escaped) {
          escaped = false;
        } else if (c == '\\') {
          escaped = true;
        } else if (c == '"') {
          in_string = false;
          if (depth == 0) {
            ++i;
            done = true;
            break;
          }
        }
        continue;
      }
      if (scalar) {
        if (IsSpace(c) || IsStructural(c) || c == '[' || c == '{' || c == '"') {
          done = true;
          break;
        }
        continue;
      }
      if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) {
          ++i;
          done = true;
          break;
        }
      }
    }
    position_ = i;
    if (done) {
      complete = true;
      break;
    }
  }
  scanned_bytes_ = offset() - start;
  if (keep && !oversized_ && scanned_bytes_ > max_element_bytes_) {
    oversized_ = true;
    prefix_.assign(buffer_, keep_from_, std::min(kRefusedPrefixBytes, max_element_bytes_));
  }
  return Status::Ok();
}

Status JsonArrayReader::ReadKey(std::string& key, bool& complete) {
  // At the opening quote.
  const uint64_t start = offset();
  ++position_;
  std::string raw;
  bool too_long = false;
  bool escaped = false;
  complete = false;
  while (true) {
    ASSIGN_OR_RETURN(int c, Peek());
    if (c < 0) return Status::Ok();
    ++position_;
    if (!escaped && c == '"') break;
    escaped = !escaped && c == '\\';
    if (raw.size() < kMaxKeyBytes) {
      raw.push_back(static_cast<char>(c));
    } else {
      too_long = true;
    }
  }
  complete = true;
  // A key too long to compare matches nothing (no pointer token is that long in practice).
  key = too_long ? fmt::format("\x01too long at {}", start) : Unescape(raw);
  return Status::Ok();
}

Status JsonArrayReader::FindArray(std::string_view array_pointer) {
  mode_ = Mode::kArray;
  ASSIGN_OR_RETURN(std::vector<std::string> tokens, PointerTokens(array_pointer));
  auto fail = [&](std::string why) {
    mode_ = Mode::kEnded;
    return Status::InvalidArgument(
        fmt::format("no array at '{}': {} (byte {})", array_pointer, why, offset()));
  };
  ASSIGN_OR_RETURN(int c, Peek());
  if (c == 0xEF) {  // a byte-order mark
    for (int k = 0; k < 3; ++k) {
      ASSIGN_OR_RETURN(int b, Peek());
      if (b < 0) break;
      ++position_;
    }
  }
  std::string path;  // the part of the pointer found so far, for messages
  for (const std::string& token : tokens) {
    ASSIGN_OR_RETURN(c, PeekAfterSpace());
    if (c == '{') {
      ++position_;
      while (true) {
        ASSIGN_OR_RETURN(c, PeekAfterSpace());
        if (c == '}') return fail(fmt::format("the object at '{}' has no key '{}'", path, token));
        if (c != '"') return fail(fmt::format("expected a key in the object at '{}', found {}", path, Describe(c)));
        std::string key;
        bool complete = false;
        RETURN_IF_ERROR(ReadKey(key, complete));
        if (!complete) return fail("the input ends inside a key");
        ASSIGN_OR_RETURN(c, PeekAfterSpace());
        if (c != ':') return fail(fmt::format("expected ':' after a key, found {}", Describe(c)));
        ++position_;
        ASSIGN_OR_RETURN(c, PeekAfterSpace());
        if (c < 0 || IsStructural(c)) return fail(fmt::format("expected a value, found {}", Describe(c)));
        if (key == token) break;
        RETURN_IF_ERROR(ScanValue(false, complete));
        if (!complete) return fail("the input ends inside a value");
        ASSIGN_OR_RETURN(c, PeekAfterSpace());
        if (c == '}') return fail(fmt::format("the object at '{}' has no key '{}'", path, token));
        if (c != ',') return fail(fmt::format("expected ',' or '}}' in the object at '{}', found {}", path, Describe(c)));
        ++position_;
      }
    } else if (c == '[') {
      std::optional<uint64_t> index = ArrayIndex(token);
      if (!index) return fail(fmt::format("'{}' at '{}' is an array, and '{}' is not an index", path, path, token));
      ++position_;
      for (uint64_t k = 0;; ++k) {
        ASSIGN_OR_RETURN(c, PeekAfterSpace());
        if (c == ']') return fail(fmt::format("the array at '{}' has no element {}", path, *index));
        if (c < 0 || IsStructural(c)) return fail(fmt::format("expected a value, found {}", Describe(c)));
        if (k == *index) break;
        bool complete = false;
        RETURN_IF_ERROR(ScanValue(false, complete));
        if (!complete) return fail("the input ends inside a value");
        ASSIGN_OR_RETURN(c, PeekAfterSpace());
        if (c == ']') return fail(fmt::format("the array at '{}' has no element {}", path, *index));
        if (c != ',') return fail(fmt::format("expected ',' or ']' in the array at '{}', found {}", path, Describe(c)));
        ++position_;
      }
    } else {
      return fail(fmt::format("the value at '{}' is {}, not an object or array", path,
                              c < 0 ? "missing" : Describe(c)));
    }
    path += "/" + token;
  }
  ASSIGN_OR_RETURN(c, PeekAfterSpace());
  if (c != '[') {
    return fail(fmt::format("the value there begins with {}, not '['", Describe(c)));
  }
  ++position_;
  expect_separator_ = false;
  return Status::Ok();
}

Status JsonArrayReader::StartDocuments() {
  mode_ = Mode::kDocuments;
  in_array_ = false;
  ASSIGN_OR_RETURN(int c, Peek());
  if (c == 0xEF) {
    for (int k = 0; k < 3; ++k) {
      ASSIGN_OR_RETURN(int b, Peek());
      if (b < 0) break;
      ++position_;
    }
  }
  ASSIGN_OR_RETURN(c, PeekAfterSpace());
  if (c == '[') {  // a file that is one array: its elements are the records
    ++position_;
    in_array_ = true;
    expect_separator_ = false;
  }
  return Status::Ok();
}

Result<bool> JsonArrayReader::Next(Element& element) { return NextImpl(element, true); }

Result<bool> JsonArrayReader::Skip() {
  Element ignored;
  return NextImpl(ignored, false);
}

Result<bool> JsonArrayReader::NextImpl(Element& element, bool keep) {
  keep_from_ = std::string::npos;  // the previous element is handed on
  element.bytes = {};
  element.size = 0;
  element.refused.clear();
  // The rest of the input from here is one refused record with `why`; the input ends.
  auto refuse_tail = [&](std::string why) -> Result<bool> {
    keep_from_ = position_;
    while (buffer_.size() - position_ < kRefusedPrefixBytes && !input_ended_) {
      RETURN_IF_ERROR(Refill());
    }
    element.bytes = std::string_view(buffer_).substr(position_, kRefusedPrefixBytes);
    element.size = element.bytes.size();
    element.refused = std::move(why);
    mode_ = Mode::kEnded;
    return true;
  };
  while (true) {
    if (mode_ == Mode::kEnded) return false;
    const bool array = mode_ == Mode::kArray || in_array_;
    ASSIGN_OR_RETURN(int c, PeekAfterSpace());
    if (array) {
      if (c == ']') {
        ++position_;
        if (mode_ == Mode::kArray) {
          mode_ = Mode::kEnded;  // what follows the array is not read
          return false;
        }
        in_array_ = false;  // documents: anything after the array is more documents
        continue;
      }
      if (expect_separator_) {
        if (c < 0) {
          return refuse_tail(fmt::format(
              "the input ends after element {} (byte {}) before the array's closing ']': is "
              "the file truncated?",
              elements_, offset()));
        }
        if (c != ',') {
          return refuse_tail(fmt::format(
              "malformed array: expected ',' or ']' after element {} at byte {}, found {}; the "
              "rest of the input is not read",
              elements_, offset(), Describe(c)));
        }
        ++position_;
        ASSIGN_OR_RETURN(c, PeekAfterSpace());
      }
      if (c < 0) {
        return refuse_tail(fmt::format(
            "the input ends at byte {} before the array's closing ']': is the file truncated?",
            offset()));
      }
      if (IsStructural(c)) {
        return refuse_tail(fmt::format(
            "malformed array: expected element {} at byte {}, found {}; the rest of the input "
            "is not read",
            elements_ + 1, offset(), Describe(c)));
      }
    } else {
      if (c < 0) {
        mode_ = Mode::kEnded;
        return false;
      }
      if (IsStructural(c)) {
        // A stray byte between documents: a record of its own, which the decoder refuses.
        keep_from_ = position_;
        element.bytes = std::string_view(buffer_).substr(position_, 1);
        element.size = 1;
        ++position_;
        ++elements_;
        return true;
      }
    }
    const uint64_t start = offset();
    bool complete = false;
    RETURN_IF_ERROR(ScanValue(keep, complete));
    ++elements_;
    expect_separator_ = array;
    element.size = scanned_bytes_;
    if (!keep) {
      if (!complete) mode_ = Mode::kEnded;
      return true;
    }
    if (!complete) {
      element.bytes = oversized_ ? std::string_view(prefix_)
                                 : std::string_view(buffer_).substr(keep_from_, kRefusedPrefixBytes);
      element.refused = fmt::format(
          "the input ends inside {} {} (it starts at byte {}, {} bytes read): is the file "
          "truncated?",
          array ? "element" : "document", elements_, start, scanned_bytes_);
      mode_ = Mode::kEnded;
      return true;
    }
    if (oversized_) {
      element.bytes = prefix_;
      element.refused = fmt::format(
          "record of {} bytes is longer than max_record_bytes ({}); it begins with the bytes "
          "kept here",
          scanned_bytes_, max_element_bytes_);
      return true;
    }
    element.bytes = std::string_view(buffer_).substr(keep_from_, position_ - keep_from_);
    return true;
  }
}

Status ForEachArrayElement(std::string_view document, std::string_view array_pointer,
                           const std::function<void(std::string_view element)>& on_record) {
  size_t read = 0;
  JsonArrayReader reader(
      [&](char* into, size_t capacity) -> Result<size_t> {
        const size_t count = std::min(capacity, document.size() - read);
        std::memcpy(into, document.data() + read, count);
        read += count;
        return count;
      },
      std::numeric_limits<size_t>::max(), std::max<size_t>(document.size(), 1));
  RETURN_IF_ERROR(reader.FindArray(array_pointer));
  JsonArrayReader::Element element;
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader.Next(element));
    if (!more) return Status::Ok();
    if (!element.refused.empty()) return Status::InvalidArgument(element.refused);
    on_record(element.bytes);
  }
}

}  // namespace brandpulse
