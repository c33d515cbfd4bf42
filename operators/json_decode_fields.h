// The simdjson field readers shared by the `decode` operator's formats (decode_*.cc): each reads
// one value of a record into a PostDraft, or says why the record is a dead letter. Internal to
// the decode operator (operators/json_decode.h is its interface).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <simdjson.h>

#include "engine/batch.h"
#include "engine/string_arena.h"

namespace brandpulse::decode_internal {

namespace ondemand = simdjson::ondemand;

// Why a record became a dead letter; empty means fine. Static text or arena-owned.
using Reason = std::string_view;

// Fields of one post as found in the document: views into the input or the parser's string
// buffer, valid until the next document is iterated.
struct PostDraft {
  std::string_view id, text, author_id, author_handle, language;
  std::string_view reply_to_post_id, reply_to_author_id, reply_to_handle;
  std::string_view time_text;
  int64_t time_number = 0;
  bool has_time_number = false;
  int64_t followers = 0;
  // Expanded link URLs (entities.urls[].expanded_url), the first kMaxUrls of them.
  static constexpr size_t kMaxUrls = 8;
  std::array<std::string_view, kMaxUrls> urls{};
  uint32_t url_count = 0;
  int text_priority = -1;  // which text field won: higher is better (full_text over text)
  bool html_text = false;  // Mastodon content: strip tags when copying
  // twitter-v2: the object has a field only tweets have (text, author_id, ...); a page whose
  // data holds users, lists or counts has none, and is not a page of posts.
  bool has_tweet_fields = false;
  std::string_view retweet_of;  // twitter-v2: referenced_tweets type "retweeted"
  // Edits (Post::edit_of): `edited` when the payload says this version is an edit of the post
  // with the same id (Mastodon `edited_at`, Jetstream `update`); `edit_of` the first version's
  // id when the format names it (X v2 edit_history_tweet_ids[0]; an original names itself).
  bool edited = false;
  std::string_view edit_of;
  // Public metrics (issue 12, operators/public_metrics.h): -1 = not in the payload.
  int64_t like_count = -1, repost_count = -1, reply_count = -1, quote_count = -1;
  std::string_view quote_of;  // the quoted post's id
  // Reposts: the reposted post's counts when the payload holds its object (X and Mastodon give
  // a repost the original's retweet count and 0 likes of its own).
  bool counts_from_original = false;
};

// Reads a public-metrics object's counts into `draft` (X v2 public_metrics: like_count,
// retweet_count, reply_count, quote_count; other keys ignored).
Reason ReadPublicMetrics(Batch& batch, ondemand::value& value, std::string_view field,
                         PostDraft& draft);

// X/Twitter escapes '&', '<' and '>' in tweet text as &amp;, &lt;, &gt; (v1.1 and v2): copies
// `text` into the arena with those (and &quot;, &#39;) decoded once. "AT&amp;T" -> "AT&T";
// "&amp;amp;" -> "&amp;" (the author typed the entity). Never longer than the input.
std::string_view UnescapeTwitterText(std::string_view text, StringArena& arena);

// Copies `text` into the batch's arena, so the reason outlives the document.
Reason Formatted(Batch& batch, std::string text);

// "invalid UTF-8", or "invalid JSON: " and simdjson's message.
Reason JsonError(Batch& batch, simdjson::error_code error);

// A string, or null (empty). Anything else is a wrong type.
Reason ReadString(Batch& batch, ondemand::value& value, std::string_view field,
                  std::string_view& out);

// A whole number, a numeric string, or null (0).
Reason ReadInteger(Batch& batch, ondemand::value& value, std::string_view field, int64_t& out);

// An ISO/Twitter time string or an epoch number.
Reason ReadTime(Batch& batch, ondemand::value& value, std::string_view field, PostDraft& draft);

#define RETURN_IF_REASON(expression)         \
  do {                                       \
    Reason reason_or_empty_ = (expression);  \
    if (!reason_or_empty_.empty()) return reason_or_empty_; \
  } while (0)

// Iterates the fields of `object`, calling visit(key, value) -> Reason for each.
template <typename Visit>
Reason ForEachField(Batch& batch, ondemand::object object, Visit&& visit) {
  for (auto field_result : object) {
    ondemand::field field;
    if (auto error = std::move(field_result).get(field)) return JsonError(batch, error);
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) return JsonError(batch, error);
    ondemand::value value = field.value();
    RETURN_IF_REASON(visit(key, value));
  }
  return {};
}

template <typename Visit>
Reason ForEachFieldOf(Batch& batch, ondemand::value& value, std::string_view field, Visit&& visit) {
  ondemand::json_type type;
  if (auto error = value.type().get(type)) return JsonError(batch, error);
  if (type == ondemand::json_type::null) return {};
  ondemand::object object;
  if (type != ondemand::json_type::object || value.get_object().get(object)) {
    return Formatted(batch, fmt::format("field '{}' has wrong type: expected object", field));
  }
  return ForEachField(batch, object, visit);
}

template <typename Visit>
Reason ForEachElementOf(Batch& batch, ondemand::value& value, std::string_view field, Visit&& visit) {
  ondemand::json_type type;
  if (auto error = value.type().get(type)) return JsonError(batch, error);
  if (type == ondemand::json_type::null) return {};
  ondemand::array array;
  if (type != ondemand::json_type::array || value.get_array().get(array)) {
    return Formatted(batch, fmt::format("field '{}' has wrong type: expected array", field));
  }
  for (auto element_result : array) {
    ondemand::value element;
    if (auto error = std::move(element_result).get(element)) return JsonError(batch, error);
    RETURN_IF_REASON(visit(element));
  }
  return {};
}

// Keeps `text` when `priority` beats the text field found so far (full_text over text).
inline void OfferText(PostDraft& draft, std::string_view text, int priority) {
  if (priority > draft.text_priority) {
    draft.text = text;
    draft.text_priority = priority;
  }
}

// entities.urls[].expanded_url (X/Twitter v1.1 and v2): the links as the author wrote them. A
// link already seen (v1.1 repeats them in extended_tweet) is not added twice.
Reason ReadUrlEntities(Batch& batch, ondemand::value& entities, std::string_view field,
                       PostDraft& draft);

// Mastodon content is HTML: drop tags (paragraphs and <br> become newlines) and decode
// entities. The output is never longer than the input, so it is written into the arena in place.
std::string_view HtmlToText(std::string_view html, StringArena& arena);

}  // namespace brandpulse::decode_internal
