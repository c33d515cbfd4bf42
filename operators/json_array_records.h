// Splits one JSON document into records — the elements of the array at a JSON pointer (for a
// v1.1 search response, "/statuses") — or a file of concatenated JSON documents into one record
// per document, reading the input in chunks (issue 16, item 7).
//
// Memory is bounded by the longest record kept (max_element_bytes) plus one read chunk, however
// large the document: elements are cut by counting brackets outside strings (so nesting depth
// costs nothing and an element may span any number of reads); the bytes of an element longer
// than the limit are dropped as they are read, only its first kRefusedPrefixBytes kept.
// Elements are not parsed here: the decoder parses each one (and dead-letters what is not
// valid JSON). The structure around them is checked: a malformed or truncated tail becomes one
// refused record with the reason and the byte offset, and the input ends there.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace brandpulse {

// Bytes of a refused record kept for the dead-letter output.
inline constexpr size_t kRefusedPrefixBytes = 256;

class JsonArrayReader {
 public:
  // Fills `into` with up to `capacity` bytes of the document; 0 at its end.
  using ReadFn = std::function<Result<size_t>(char* into, size_t capacity)>;

  JsonArrayReader(ReadFn read, size_t max_element_bytes, size_t chunk_bytes = 1 << 16);

  // Reads up to the first element of the array at RFC 6901 `array_pointer` ("" = the document
  // itself). InvalidArgument, naming the byte offset, when the document has no array there or
  // is malformed before it.
  Status FindArray(std::string_view array_pointer);
  // Instead of FindArray: the input is concatenated JSON documents, each one record; when the
  // first document is an array, its elements are the records.
  Status StartDocuments();

  struct Element {
    std::string_view bytes;  // the element; for a refused one its first kRefusedPrefixBytes
    uint64_t size = 0;       // the element's whole length in bytes
    std::string refused;     // why it is refused (too long, malformed tail); empty when fine
  };
  // The next element (valid until the next call), or false at the end of the array or input.
  // IoError only when reading fails.
  Result<bool> Next(Element& element);
  // Skips the next element without keeping it (for a restart); false at the end.
  Result<bool> Skip();

  // Bytes of the document consumed so far.
  uint64_t offset() const { return base_offset_ + position_; }

 private:
  enum class Mode { kArray, kDocuments, kEnded };
  // The next byte (without consuming it), or -1 at the end of the input.
  Result<int> Peek();
  Result<int> PeekAfterSpace();  // skips white space first
  Status Refill();
  // Scans one JSON value starting at position_ (not consumed yet) to its end; sets whether it
  // is complete (false: the input ended inside it). Keeps its bytes when `keep`.
  Status ScanValue(bool keep, bool& complete);
  Status ReadKey(std::string& key, bool& complete);
  std::string Describe(int byte) const;
  Result<bool> NextImpl(Element& element, bool keep);

  ReadFn read_;
  size_t max_element_bytes_;
  size_t chunk_bytes_;
  std::string buffer_;
  size_t position_ = 0;               // next unread byte in buffer_
  size_t keep_from_ = std::string::npos;  // start of bytes refills must keep (an element)
  uint64_t base_offset_ = 0;          // document offset of buffer_[0]
  bool input_ended_ = false;
  Mode mode_ = Mode::kEnded;
  bool in_array_ = false;       // documents mode: inside a first top-level array
  bool expect_separator_ = false;  // array: an element was read, ',' or ']' comes next
  uint64_t elements_ = 0;
  // The element being scanned when it grew past the limit: its first bytes and its length.
  std::string prefix_;
  uint64_t scanned_bytes_ = 0;
  bool oversized_ = false;
};

// Calls `on_record` with the raw JSON bytes of each element, in order. `array_pointer` is an
// RFC 6901 pointer ("" = the document itself is the array). InvalidArgument when the pointer
// does not lead to an array or the array is malformed or truncated (the elements before were
// handed on).
Status ForEachArrayElement(std::string_view document, std::string_view array_pointer,
                           const std::function<void(std::string_view element)>& on_record);

}  // namespace brandpulse
