// Partials: what an instance of a cluster publishes per epoch so that the owners of the partials
// partitions can merge every instance's windows exactly (docs/cluster.md, "Global windows").
//
// Two kinds of records go to the partials topic, both produced by the pre-aggregating instance:
// - a *prepared* record per partials partition and epoch: the epoch's id, the source partitions'
//   position ranges [start, end) with their newest event time and whether they were at their end,
//   and the epoch's window deltas of the brands that map to that partials partition;
// - a *commit marker* per partials partition: only the epoch id, produced after the epoch's
//   source offsets were committed to the consumer group (a generation-fenced commit).
// Mergers apply a prepared record only once they saw its marker (PartialsMergeLog).
//
// Encoding (all integers varints, signed ones zigzag):
//   prepared: 'P' 0x01 nonce(8 bytes BE) seq count_of_source_partitions
//             n × (partition start end zigzag(max_event_time) at_end_byte)
//   (at_end_byte: bit 0 at its end; bit 1, since stop 25, idle — only ever with bit 0, so a
//   merger from before reads an idle partition as at its end, which it is)
//             m × (len brand_id  shape_index  dimension  zigzag(start_ms)  len window_value)
//   marker:   'M' 0x01 nonce(8 bytes BE) seq
// Version 0x02 of a prepared record (issue 11: inquiries keyed by brand) is version 0x01
// followed by the epoch's inquiry events of the brands that map to that partials partition:
//             k × (kind_byte  len rule  len brand_id  zigzag(event_time_ms)  len payload)
// A prepared record without inquiry events is still written as 0x01 (byte for byte as before);
// both versions decode. A merger built before 0x02 counts a 0x02 record as corrupt: upgrade
// every instance before a pipeline with an `unanswered` rule runs with `cluster:`.
// Inquiry event kinds (engine/alert_rule.h): 1 opened, 2 reply (`unanswered`); 3 viral tracked
// (brand set) and 4 viral growth (brand empty; a copy on every partials partition) of
// `viral_post` (s25). Kinds 3 and 4 ride in the same section, so records without them are byte
// for byte as before; a merger built before s25 counts a record with them as corrupt (its
// decoder refuses unknown kinds) and skips it: upgrade every instance before a pipeline with a
// `viral_post` rule runs with `cluster:`.
// Kinds 5 (own post: a post by a brand's handle, to the brand's partition) and 6 (inquiry
// candidate: a question or complaint replying to a post with no handle, brand empty, a copy on
// every partials partition) of `unanswered` (s26) likewise: a merger built before s26 skips a
// record with them as corrupt; upgrade every instance first.
// Version 0x03 (issue 11: de-duplication keyed by brand) is version 0x02 (with an inquiry count,
// maybe 0) followed by the epoch's post events of the brands of that partials partition:
//             j × (len brand_id  key_hash(8 bytes BE)  zigzag(event_time_ms)  text_hash(8 bytes BE)
//                  edit_byte  w × (shape_index  dimension  zigzag(start_ms)  len window_value))
// written only when there are post events (records without them stay 0x01/0x02, byte for byte).
// window_value is WindowMetrics::EncodeTo (docs/state.md). Shape indexes and dimension values are
// those of the pipeline's window layout: every instance of a cluster runs the same pipeline.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/alert_rule.h"
#include "engine/status.h"
#include "engine/window_metrics.h"

namespace brandpulse {

// An epoch of one instance: `nonce` is drawn at the instance's start, `seq` counts its epochs.
struct EpochId {
  uint64_t nonce = 0;
  uint64_t seq = 0;
  auto operator<=>(const EpochId&) const = default;
  std::string ToString() const;                              // "<16 hex>:<seq>"
  static std::optional<EpochId> Parse(std::string_view text);  // of ToString()
};

// One source partition's part of an epoch.
struct SourceRange {
  uint32_t partition = 0;
  uint64_t start = 0;  // the position the epoch started from (Kafka: next offset)
  uint64_t end = 0;    // the position after its last record (== start: no records)
  int64_t max_event_time_ms = INT64_MIN;  // newest event time up to `end` this owner saw
  bool at_end = false;  // the partition's end was reached at `end`
  // Issue 11 (`time.idle_timeout` across instances): at its end and no record read for the idle
  // timeout of the reader's processing time; mergers leave it out of the merged watermark until
  // a range of it says otherwise. Only with at_end.
  bool idle = false;
  bool operator==(const SourceRange&) const = default;
};

struct PartialWindow {
  std::string brand_id;
  uint32_t shape_index = 0;
  uint64_t dimension = 0;
  int64_t start_ms = 0;
  WindowMetrics metrics;
};

// Issue 11, `dedup` with `cluster:`: one post that would enter the de-duplication set, as one
// brand's part of it (operators/dedup.h, "Across instances"). Its windows are what the post alone
// adds to that brand's windows; the brand's merger decides whether they count.
struct PostEvent {
  std::string brand_id;
  uint64_t key_hash = 0;   // the post's de-duplication key (platform + first version's id)
  int64_t event_time_ms = 0;
  uint64_t text_hash = 0;  // tells an edit from a replay of the counted version
  bool edit = false;       // Post::edit_of was set
  std::vector<PartialWindow> windows;  // brand_id empty (the event's)
  bool operator==(const PostEvent& other) const {
    if (brand_id != other.brand_id || key_hash != other.key_hash ||
        event_time_ms != other.event_time_ms || text_hash != other.text_hash ||
        edit != other.edit || windows.size() != other.windows.size()) {
      return false;
    }
    for (size_t i = 0; i < windows.size(); ++i) {
      const PartialWindow& a = windows[i];
      const PartialWindow& b = other.windows[i];
      if (a.shape_index != b.shape_index || a.dimension != b.dimension ||
          a.start_ms != b.start_ms || !(a.metrics == b.metrics)) {
        return false;
      }
    }
    return true;
  }
};

struct PreparedPartials {
  EpochId epoch;
  uint32_t source_partition_count = 0;  // partitions of the source topic
  std::vector<SourceRange> ranges;
  std::vector<PartialWindow> windows;
  // What `unanswered` and `viral_post` rules read in the epoch, of the brands of this partials
  // partition, and the brandless viral growth events (every partition's record has them), in
  // the order it was read (engine/alert_rule.h).
  std::vector<InquiryEvent> inquiries;
  // Posts `dedup` leaves to the brands' mergers (version 0x03), in the order they were read.
  std::vector<PostEvent> posts;
};

enum class PartialsKind { kPrepared, kMarker };

void EncodePrepared(const PreparedPartials& prepared, std::string& out);
void EncodeMarker(const EpochId& epoch, std::string& out);
// The kind of an encoded record; Corruption for anything else.
Result<PartialsKind> PartialsKindOf(std::string_view bytes);
Result<PreparedPartials> DecodePrepared(std::string_view bytes);
// The bytes one inquiry event adds to a prepared record (s25: the cost of a viral growth event,
// which every partials partition's record carries).
size_t EncodedInquiryEventSize(const InquiryEvent& event);

// A post event's windows (no brand id: the event names it), in the layout a prepared record
// carries them; the `dedup` merger stores its entries' windows the same way (operators/dedup.cc).
// ReadPostWindows advances `in` and returns false on anything that does not decode.
void AppendPostWindows(const std::vector<PartialWindow>& windows, std::string& out);
bool ReadPostWindows(std::string_view& in, std::vector<PartialWindow>& windows);
Result<EpochId> DecodeMarker(std::string_view bytes);

// The partials partition of a brand (or of a share-of-voice group: pass the group's key), a
// stable hash so that every instance sends it to the same one.
uint32_t PartialsPartitionOf(std::string_view key, uint32_t partition_count);

}  // namespace brandpulse
