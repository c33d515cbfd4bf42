// The `decode` operator: simdjson On-Demand decoding of raw JSON records into Posts, with
// presets for X/Twitter v1.1 and v2, Bluesky Jetstream and Mastodon, and user field pointers
// for any other JSON. Bad input becomes a dead letter with a reason, never an error.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/diagnostics.h"
#include "engine/transform.h"
#include "engine/yaml_reader.h"

namespace brandpulse {

enum class DecodeFormat { kTwitterV1, kTwitterV2, kJetstream, kMastodon, kJson };

struct DecodeSpec {
  DecodeFormat format = DecodeFormat::kJson;
  // kJson only: JSON pointers (RFC 6901) per Post field. Keys: id, text, author_id,
  // author_handle, author_followers, event_time, language, reply_to_post_id,
  // reply_to_author_id, reply_to_handle. text and event_time are required.
  std::vector<std::pair<std::string, std::string>> field_pointers;
  SourceLocation location;
};

std::string_view DecodeFormatName(DecodeFormat format);

// Reads a pipeline's `decode:` mapping: `format:` and, for json, `fields:`. Adds diagnostics for
// bad values and unknown keys; nullopt on error.
std::optional<DecodeSpec> ReadDecodeSpec(YamlMap& map);

// name() is "decode". Per-worker state holds one simdjson parser, reused for every record. The
// operator is made for spec.format alone (each format is a file of its own, listed in
// json_decode_internal.h), so records do not pay for choosing it. InvalidArgument for a field
// pointer with an unknown field name or a malformed pointer.
Result<std::unique_ptr<Transform>> MakeJsonDecode(const DecodeSpec& spec);
// The same with the run's state (issue 14): the jetstream format reads its DID → handle map from
// `store` (owner kDidHandlesOwner in the `rules` family) and writes what it learns into each
// epoch's commit. `store` may be null (no persistence).
Result<std::unique_ptr<Transform>> MakeJsonDecode(const DecodeSpec& spec, StateStore* store);
inline constexpr std::string_view kDidHandlesOwner = "transform/did-handles";

}  // namespace brandpulse
