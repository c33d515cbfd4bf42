// Sources of raw records: JSON lines from a file (optionally followed like `tail -f`) or stdin,
// the elements of one JSON document's array, or a file of JSON documents. (The synthetic firehose is generator/.)
#pragma once

#include <memory>
#include <string>

#include "engine/source.h"
#include "operators/registry.h"

namespace brandpulse {

// Longest record a source hands on (`max_record_bytes`, docs/limits.md). A longer one is a dead
// letter with the reason and its first 256 bytes; a JSON-lines source drops its bytes as they
// are read, so memory stays bounded by about twice this however long the line.
inline constexpr size_t kDefaultMaxRecordBytes = 8 << 20;

// Inputs must be regular files: a FIFO, a device (/dev/zero) or a directory is InvalidArgument.

// One record per line; blank lines are skipped; a final line without '\n' is a record unless
// following. Positions are byte offsets just past each line's '\n'.
Result<std::unique_ptr<Source>> MakeJsonLinesFileSource(
    const std::string& path, bool follow, size_t max_record_bytes = kDefaultMaxRecordBytes);
// JSON lines on standard input. Cannot seek: a restart does not resume stdin.
Result<std::unique_ptr<Source>> MakeStdinSource(size_t max_record_bytes = kDefaultMaxRecordBytes);
// The elements of the array at `array_pointer` (e.g. "/statuses" in a v1.1 search response) of
// one JSON document, streamed (operators/json_array_records.h): memory is about
// max_record_bytes plus a read buffer, however large the file. Longer elements, and a malformed
// or truncated tail, are dead letters with the reason. InvalidArgument at start when the
// document has no array there. Positions are element counts.
Result<std::unique_ptr<Source>> MakeJsonArrayFileSource(
    const std::string& path, const std::string& array_pointer,
    size_t max_record_bytes = kDefaultMaxRecordBytes);
// A file of JSON documents (`records: documents`): concatenated objects, pretty-printed or not,
// each a record; a file that begins with an array gives its elements. Streamed like the above;
// positions are record counts.
Result<std::unique_ptr<Source>> MakeJsonDocumentsFileSource(
    const std::string& path, size_t max_record_bytes = kDefaultMaxRecordBytes);

// `source: {type: file, path: ..., follow: bool, array_path: /pointer, records: lines|documents,
// max_record_bytes: N}`.
Result<std::unique_ptr<SourceSpec>> ReadFileSource(YamlMap& section, const ConfigContext& context);
// `source: {type: stdin, max_record_bytes: N}`.
Result<std::unique_ptr<SourceSpec>> ReadStdinSource(YamlMap& section, const ConfigContext& context);

}  // namespace brandpulse
