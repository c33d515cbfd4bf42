// The `decode` operator's input formats, one file each (decode_twitter_v1.cc,
// decode_twitter_v2.cc, decode_jetstream.cc, decode_mastodon.cc, decode_json_pointers.cc), and
// the per-worker state they share with the operator (json_decode.cc). MakeJsonDecode()
// instantiates the operator with one format, so the per-record path calls that format directly:
// the format is chosen once, not tested per record. Internal to the decode operator.
//
// A format is a type with:
//   kPlatform                   the Post::platform of its posts
//   kSnowflakeIds               ids carry their creation time (X/Twitter): a post without a
//                               time field takes it from its id
//   kEscapedText                the text is HTML-escaped (&amp; &lt; &gt;): unescape it
//   kMissingText, kMissingTime  dead-letter reasons that name the format's own fields
//   ParseTime(text)             the event time (epoch ms) of a time string; nullopt if unparseable
//   Visit(batch, record, state, draft, skip)
//       reads a record's top-level object: its post into `draft`, or each post of a page
//       (twitter-v2) into state.drafts; sets `skip` when the record holds no post (a stream
//       notice, a deletion, another event). Returns why the record is a dead letter, or empty.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/event_time.h"
#include "engine/hash.h"
#include "engine/post.h"
#include "engine/status.h"
#include "engine/transform.h"
#include "operators/json_decode.h"
#include "operators/json_decode_fields.h"

namespace brandpulse::decode_internal {

// A user of a twitter-v2 page's includes.users: the authors of its tweets.
struct UserEntry {
  std::string_view id, username;
  int64_t followers = 0;
};

// A tweet of a twitter-v2 page's includes.tweets (the full text of what a retweet cut off).
struct IncludedTweet {
  std::string_view id, text, author_id;
  int text_priority = -1;  // note_tweet.text over text
  int64_t like_count = -1, repost_count = -1, reply_count = -1, quote_count = -1;  // issue 12
};

// Per worker, reused for every record.
class JsonDecodeState final : public TransformState {
 public:
  ondemand::parser parser;
  std::vector<PostDraft> drafts;  // v2 pages hold several tweets
  std::vector<UserEntry> users;
  std::vector<IncludedTweet> included_tweets;
};

// The creation time (epoch ms) of an X/Twitter snowflake id: (id >> 22) + 1288834974657; nullopt
// when `id` is not a number or predates snowflakes.
std::optional<int64_t> SnowflakeTimeMs(std::string_view id);

// Bluesky DIDs and the handles the stream's identity events gave them, shared by every worker of
// one decode operator (identity events and posts land on any worker). Bounded: at most
// kMaxEntries DIDs (about 100 bytes each); when full, new DIDs are not added (known ones still
// update). Thread-safe.
//
// Persisted (issue 14): the handles learnt during an epoch are written into the epoch's commit
// (`rules` column family, owner kDidHandlesOwner, key DID, value handle) and read back when the
// operator is made, so handles survive a restart exactly as far as the committed positions go.
class DidHandles {
 public:
  static constexpr size_t kMaxEntries = 1 << 20;
  void Set(std::string_view did, std::string_view handle);
  // The handle of `did` copied into `arena`, or empty.
  std::string_view Find(std::string_view did, StringArena& arena) const;
  // Reads the committed map (at most kMaxEntries DIDs, in key order).
  Status Load(StateStore& store);
  // Moves the DIDs set since the last call into `commit` (nothing is written when it is null).
  void WriteChanges(StateStore::Commit* commit);

 private:
  std::vector<std::pair<std::string, std::string>> changed_;  // GUARDED_BY(mutex_)
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::string, TransparentStringHash, std::equal_to<>> handles_;
};

// X/Twitter v1.1 tweets and stream notices (decode_twitter_v1.cc).
struct TwitterV1Format {
  static constexpr bool kSnowflakeIds = true;
  static constexpr bool kEscapedText = true;
  static constexpr Platform kPlatform = Platform::kTwitter;
  static constexpr Reason kMissingText = "missing field 'text'";
  static constexpr Reason kMissingTime = "missing field 'created_at'";
  static std::optional<int64_t> ParseTime(std::string_view text) {
    return ParseTwitterTimestampMs(text);
  }
  static Reason Visit(Batch& batch, ondemand::object record, JsonDecodeState& state,
                      PostDraft& draft, bool& skip);
};

// X/Twitter v2 pages (data, includes.users) and bare tweets (decode_twitter_v2.cc).
struct TwitterV2Format {
  static constexpr bool kSnowflakeIds = true;
  static constexpr bool kEscapedText = true;
  static constexpr Platform kPlatform = Platform::kTwitter;
  static constexpr Reason kMissingText = "missing field 'text'";
  static constexpr Reason kMissingTime = "missing field 'created_at'";
  static std::optional<int64_t> ParseTime(std::string_view text) { return ParseIso8601Ms(text); }
  static Reason Visit(Batch& batch, ondemand::object record, JsonDecodeState& state,
                      PostDraft& draft, bool& skip);
};

// Bluesky Jetstream events; only created posts are kept (decode_jetstream.cc). Identity events
// that carry a handle teach the format the handle of their DID: later posts by that DID get it
// as author_handle, and replies to its posts as reply_to_handle.
struct JetstreamFormat {
  static constexpr bool kSnowflakeIds = false;
  static constexpr bool kEscapedText = false;
  static constexpr Platform kPlatform = Platform::kBluesky;
  static constexpr Reason kMissingText = "missing field 'commit.record.text'";
  static constexpr Reason kMissingTime = "missing field 'commit.record.createdAt'";
  static std::optional<int64_t> ParseTime(std::string_view text) { return ParseIso8601Ms(text); }
  Reason Visit(Batch& batch, ondemand::object record, JsonDecodeState& state, PostDraft& draft,
               bool& skip) const;

  std::shared_ptr<DidHandles> handles = std::make_shared<DidHandles>();
};

// Mastodon statuses (decode_mastodon.cc).
struct MastodonFormat {
  static constexpr bool kSnowflakeIds = false;
  static constexpr bool kEscapedText = false;
  static constexpr Platform kPlatform = Platform::kMastodon;
  static constexpr Reason kMissingText = "missing field 'content'";
  static constexpr Reason kMissingTime = "missing field 'created_at'";
  static std::optional<int64_t> ParseTime(std::string_view text) { return ParseIso8601Ms(text); }
  static Reason Visit(Batch& batch, ondemand::object record, JsonDecodeState& state,
                      PostDraft& draft, bool& skip);
};

// ---- generic JSON with field pointers (decode_json_pointers.cc) ------------------------------

// The Post field a pointer fills.
enum class FieldSlot : uint8_t {
  kNone, kId, kText, kAuthorId, kAuthorHandle, kFollowers, kEventTime, kLanguage,
  kReplyToPostId, kReplyToAuthorId, kReplyToHandle,
};

// One key of the merged pointers: the field filled when a pointer ends here, and the keys below.
struct PointerNode {
  std::string key;
  FieldSlot slot = FieldSlot::kNone;
  std::string path;  // "/user/name", for messages
  std::vector<PointerNode> children;
};

// "/a/b~1c" -> {"a", "b/c"}; nullopt when `pointer` does not start with '/' or has an empty key.
std::optional<std::vector<std::string>> SplitPointer(std::string_view pointer);

// Any JSON, each Post field read from where its JSON pointer (DecodeSpec::field_pointers) says.
class JsonPointerFormat {
 public:
  static constexpr bool kSnowflakeIds = false;
  static constexpr bool kEscapedText = false;
  static constexpr Platform kPlatform = Platform::kGeneric;
  static constexpr Reason kMissingText = "missing field 'text'";
  static constexpr Reason kMissingTime = "missing event time field";
  // ISO 8601, or else Twitter's v1.1 format.
  static std::optional<int64_t> ParseTime(std::string_view text) {
    std::optional<int64_t> time = ParseIso8601Ms(text);
    if (!time) time = ParseTwitterTimestampMs(text);
    return time;
  }

  // The pointers merged into one tree of keys, so that one pass over a record finds them all.
  // InvalidArgument for an unknown field name or a malformed pointer.
  static Result<JsonPointerFormat> Make(
      const std::vector<std::pair<std::string, std::string>>& field_pointers);

  Reason Visit(Batch& batch, ondemand::object record, JsonDecodeState& state, PostDraft& draft,
               bool& skip) const;

 private:
  explicit JsonPointerFormat(PointerNode root) : root_(std::move(root)) {}

  PointerNode root_;
};

}  // namespace brandpulse::decode_internal
