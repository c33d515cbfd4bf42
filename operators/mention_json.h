// The one writer of a mention: a post that matched at least one brand, as one JSON object of the
// versioned schema `brandpulse.mention/1` (docs/schemas.md). Every producer of mentions writes
// through it: the mentions sink, `backtest --jsonl`, and the evidence posts of an alert (which
// use AppendPostLink and the same field names). Callers describe what they know in a
// MentionRecord; the writer reads enrichment fields (engine/enrichment_fields.h) from the post by
// name and writes them only when present.
//
// Thread safety: a MentionJsonWriter is immutable after construction; Append may be called from
// many threads at once, each with its own output string.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "engine/post.h"
#include "operators/public_metrics.h"

namespace brandpulse {

inline constexpr std::string_view kMentionSchema = "brandpulse.mention/1";

// One accepted hit of a brand's watchlist entry in the post's text.
struct MentionTerm {
  std::string_view term;        // as written in the watchlist ("telenor", "@telenor_norge")
  std::string_view kind;        // "term", "handle", "hashtag", "query term"
  uint32_t begin = 0;           // byte offsets in the post's text (UTF-8), end exclusive
  uint32_t end = 0;
};

// A brand the post mentions.
struct MentionBrand {
  std::string_view id;
  std::string_view name;
  std::string_view group;                // "" when none
  bool own_post = false;                 // written by one of the brand's handles or profiles
  std::span<const MentionTerm> terms;    // at least the first hit; may be empty for a query-only match
  std::optional<int> sentiment;          // towards this brand (-1, 0, +1), when enrichment knows it
};

// A brand whose terms were found but which an exclusion removed.
struct MentionExclusion {
  std::string_view brand_id;
  std::string_view exclusion;  // the `exclude:` entry or the NOT branch ("exclude 'ice cream'")
};

struct MentionRecord {
  const Post* post = nullptr;
  std::span<const MentionBrand> brands;
  std::span<const MentionExclusion> excluded;
  // When the engine read the post (ms since the epoch); 0 = unknown, not written.
  int64_t ingest_time_ms = 0;
};

// The platform's web address of a post, appended to `out`; false (and nothing appended) when
// the post does not carry enough to make one (a Mastodon post without an instance, a generic
// post).
bool AppendPostLink(const Post& post, std::string& out);

class MentionJsonWriter {
 public:
  // Looks up the enrichment post fields by name (absent = enrichment is off: not written).
  // REQUIRES: after start-up registration (fields registered later are not seen).
  MentionJsonWriter();

  // Appends the mention's JSON object (no newline) to `out`.
  // REQUIRES: record.post != nullptr; every view is valid UTF-8.
  void Append(const MentionRecord& record, std::string& out) const;

 private:
  std::optional<uint32_t> language_slot_;
  std::optional<uint32_t> sentiment_slot_;
  std::optional<uint32_t> intents_slot_;
  const PublicMetricSlots& public_slots_;  // issue 12: public metrics, repost_of, quote_of
};

// The intent names of a bitmask of enrichment::IntentBit, in bit order ("question", …), as a
// JSON array appended to `out`.
void AppendIntentNames(uint64_t intents, std::string& out);

}  // namespace brandpulse
