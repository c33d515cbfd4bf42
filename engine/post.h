// Post: the common shape every input format decodes into.
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/post_fields.h"

namespace brandpulse {

enum class Platform : uint8_t { kUnknown = 0, kTwitter, kBluesky, kMastodon, kGeneric };

std::string_view PlatformName(Platform platform);

// All views point into the owning Batch (its input bytes or its arena) and live as long as the
// batch is not reset. Empty view = field absent.
struct Post {
  std::string_view id;
  std::string_view text;  // UTF-8, validated, unescaped
  std::string_view author_id;
  std::string_view author_handle;  // without '@'
  std::string_view language;       // BCP-47 tag from the payload ("en", "no", "es"), or empty
  std::string_view reply_to_post_id;
  std::string_view reply_to_author_id;
  std::string_view reply_to_handle;  // without '@'
  // Expanded link URLs in the post (X/Twitter entities.urls), separated by single spaces;
  // empty when none or the format does not carry them yet (Bluesky, Mastodon).
  std::string_view urls;
  // An edit (issue 14, operators/dedup.h): the id of the post it edits — the first version's id,
  // so every version of a post has one key. Mastodon: a status with `edited_at` (its own id);
  // Bluesky Jetstream: a commit with `operation: update` (its at:// URI); X v2: the first of
  // `edit_history_tweet_ids` when it is not the tweet's own id. Empty when not an edit.
  std::string_view edit_of;
  int64_t event_time_ms = 0;         // milliseconds since the Unix epoch, UTC
  int64_t author_followers = 0;      // reach; 0 when unknown
  Platform platform = Platform::kUnknown;
  uint32_t record_index = 0;  // which input record of the batch it came from
  // Fields added by later operators (engine/post_fields.h): PostFieldCount() values in the
  // batch's arena, or nullptr while no operator set one. Use Batch::MutableFields / FieldOf.
  PostFieldValue* fields = nullptr;
};

// The value of registered field `slot` of `post`; nullptr when the post has none.
inline const PostFieldValue* FieldOf(const Post& post, uint32_t slot) {
  if (post.fields == nullptr || !post.fields[slot].present) return nullptr;
  return &post.fields[slot];
}

}  // namespace brandpulse
