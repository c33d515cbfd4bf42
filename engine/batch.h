// Batch: the unit that flows between operators. A source fills its input records; decode turns
// records into posts; match adds mentions; aggregation reads them. One batch is owned by one
// thread at a time and reused from a pool, so nothing on the per-post path allocates once warm.
#pragma once

#include <cstdint>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "engine/post.h"
#include "engine/string_arena.h"

namespace brandpulse {

// simdjson reads up to this many bytes past the end of a document; input buffers reserve them.
inline constexpr size_t kInputPadding = 64;

// One input record (a JSON line, one element of a JSON array, one Kafka message).
struct InputRecord {
  uint32_t offset = 0;  // into Batch::input_bytes
  uint32_t length = 0;
  // Source position of the byte after this record (file offset, Kafka offset + 1); committing
  // it means "everything up to here is in the state".
  uint64_t end_position = 0;
  // The source made it a dead letter already (too long: its bytes are a prefix, its reason is in
  // Batch::dead_letters); decoders skip it.
  bool refused = false;
};

// Why a record or post left the normal path. Dead letters keep the original bytes.
struct DeadLetter {
  uint32_t record_index = 0;
  std::string_view reason;  // static text or arena-owned
};

// A brand found in a post.
struct Mention {
  uint32_t post_index = 0;
  uint32_t brand_index = 0;  // index into the compiled watchlist's brands
  uint32_t first_hit_begin = 0;  // byte offsets of the first accepted hit in Post::text
  uint32_t first_hit_end = 0;
  // Written by one of the brand's own handles or profiles: not a customer mention (window
  // aggregation skips it for `mentions`).
  bool own_post = false;
  // Enrichment (operators/enrich_transform.h): the sentiment towards this brand in this post,
  // 0 not enriched, 1 negative, 2 neutral, 3 positive.
  uint8_t sentiment = 0;
  // Issue 11, `dedup` with `cluster:`: the brand's merger counts it (a PostEvent), not this
  // instance's window deltas (operators/dedup.h, "Across instances").
  bool per_post = false;
};

// De-duplication (operators/dedup.h): the contribution of an earlier version of an edited post,
// to be taken back out of the windows it was counted in (window aggregation subtracts it from
// every window that is still open). Dimension payloads and counter values are those the earlier
// version was counted with; the arrays live in the batch's arena.
struct RetractedDimension {
  uint8_t dimension = 0;  // a Dimension id (engine/window_types.h)
  uint64_t payload = 0;
};
struct RetractedCounter {
  uint32_t id = 0;  // a registered window counter (engine/window_metric_registry.h)
  uint64_t value = 0;
};
struct Retraction {
  uint32_t brand_index = 0;
  bool own_post = false;
  bool reply = false;
  bool question = false;
  int64_t event_time_ms = 0;
  int64_t followers = 0;
  const RetractedDimension* dimensions = nullptr;
  uint32_t dimension_count = 0;
  const RetractedCounter* counters = nullptr;
  uint32_t counter_count = 0;
};

class Batch {
 public:
  Batch() = default;
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  // Empties the batch for reuse, keeping capacity.
  void Reset() {
    sequence = 0;
    partition = 0;
    input_bytes.clear();
    records.clear();
    posts.clear();
    dead_letters.clear();
    mentions.clear();
    late_post_indices.clear();
    retractions.clear();
    duplicates_dropped = 0;
    edits_applied = 0;
    edits_late = 0;
    dedup_evicted = 0;
    arena.Reset();
    skipped_records = 0;
    late_posts = 0;
    max_event_time_ms = INT64_MIN;
    ingest_time_ms = 0;
    input_identity.clear();
  }

  // Appends one record; keeps kInputPadding readable bytes after the last one.
  void AddRecord(std::string_view bytes, uint64_t end_position) {
    InputRecord record;
    record.offset = static_cast<uint32_t>(input_bytes.size());
    record.length = static_cast<uint32_t>(bytes.size());
    record.end_position = end_position;
    input_bytes.append(bytes);
    input_bytes.push_back('\n');
    records.push_back(record);
  }

  std::string_view RecordBytes(uint32_t index) const {
    const InputRecord& record = records[index];
    return std::string_view(input_bytes.data() + record.offset, record.length);
  }
  // Bytes readable past the record's end (for simdjson's padding requirement). The source
  // must call PadInput() once after the last AddRecord().
  size_t RecordCapacity(uint32_t index) const {
    return input_bytes.size() - records[index].offset;
  }
  void PadInput() { input_bytes.append(kInputPadding, ' '); }
  // Appends a record the source refuses (kept: `prefix` of its bytes, for the dead-letter
  // output); `reason` is copied into the arena.
  void AddRefusedRecord(std::string_view prefix, uint64_t end_position, std::string_view reason) {
    AddRecord(prefix, end_position);
    records.back().refused = true;
    dead_letters.push_back(DeadLetter{static_cast<uint32_t>(records.size() - 1), arena.Copy(reason)});
  }

  // The post's field array (engine/post_fields.h), allocated zeroed on first use.
  PostFieldValue* MutableFields(Post& post) {
    if (post.fields == nullptr) {
      const uint32_t count = PostFieldCount();
      void* space = arena.AllocateAligned(sizeof(PostFieldValue) * (count == 0 ? 1 : count),
                                          alignof(PostFieldValue));
      post.fields = static_cast<PostFieldValue*>(space);
      for (uint32_t slot = 0; slot < count; ++slot) new (&post.fields[slot]) PostFieldValue();
    }
    return post.fields;
  }

  size_t size() const { return records.size(); }
  bool empty() const { return records.empty(); }

  uint64_t sequence = 0;   // order of the batch in its source, for ordered output
  uint32_t partition = 0;  // source partition (file: 0)
  std::string input_bytes;
  std::vector<InputRecord> records;
  std::vector<Post> posts;
  std::vector<DeadLetter> dead_letters;
  std::vector<Mention> mentions;
  std::vector<uint32_t> late_post_indices;  // posts too late for a window they mention a brand in
  // Earlier versions of edited posts to take out of open windows (operators/dedup.h).
  std::vector<Retraction> retractions;
  StringArena arena;
  uint32_t skipped_records = 0;  // decoded fine but not a post (e.g. a Bluesky like event)
  uint32_t late_posts = 0;
  int64_t max_event_time_ms = INT64_MIN;
  // Which instance of the input the records' positions are offsets into, as the source writes it
  // (a followed file: device, inode and a hash of its first bytes); stored beside the committed
  // position and handed back to Source::SeekIdentified. Empty for sources without the notion.
  std::string input_identity;
  // De-duplication (operators/dedup.h): posts dropped because their id was counted already,
  // edits that replaced an earlier version in open windows, edits that came after it closed.
  uint32_t duplicates_dropped = 0;
  uint32_t edits_applied = 0;
  uint32_t edits_late = 0;
  uint32_t dedup_evicted = 0;  // ids the full set forgot to make room (oldest first)
  // Wall-clock ms (Unix epoch) when the runner read the batch from its source; 0 when not set.
  // Alerts report it as their newest post's ingest time (latency = emit or delivery − this).
  int64_t ingest_time_ms = 0;
};

}  // namespace brandpulse
