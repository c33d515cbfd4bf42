// Sources of raw records: JSON lines from a file (optionally followed like `tail -f`) or stdin,
// the elements of one JSON document's array. (The synthetic firehose is generator/.)
#pragma once

#include <memory>
#include <string>

#include "engine/source.h"
#include "operators/registry.h"

namespace brandpulse {

// One record per line; blank lines are skipped; a final line without '\n' is a record unless
// following. Positions are byte offsets just past each line's '\n'.
Result<std::unique_ptr<Source>> MakeJsonLinesFileSource(const std::string& path, bool follow);
// JSON lines on standard input. Cannot seek: a restart does not resume stdin.
Result<std::unique_ptr<Source>> MakeStdinSource();
// Reads the whole file as one JSON document; each element of the array at `array_pointer`
// (e.g. "/statuses" in a v1.1 search response) is a record. Positions are element counts.
Result<std::unique_ptr<Source>> MakeJsonArrayFileSource(const std::string& path,
                                                        const std::string& array_pointer);

// `source: {type: file, path: ..., follow: bool, array_path: /pointer}`.
Result<std::unique_ptr<SourceSpec>> ReadFileSource(YamlMap& section, const ConfigContext& context);
// `source: {type: stdin}`.
Result<std::unique_ptr<SourceSpec>> ReadStdinSource(YamlMap& section, const ConfigContext& context);

}  // namespace brandpulse
