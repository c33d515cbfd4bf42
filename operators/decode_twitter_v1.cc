// The decode operator's X/Twitter v1.1 format (json_decode_internal.h): tweets from the v1.1
// streaming and search APIs, with the stream's control messages skipped.
#include <cstring>

#include "operators/json_decode_internal.h"

namespace brandpulse::decode_internal {
namespace {

Reason VisitTwitterV1(Batch& batch, ondemand::object tweet, PostDraft& draft, bool& is_notice) {
  PostDraft retweeted;  // retweeted_status: the whole text the retweet's own text cuts off
  RETURN_IF_REASON(ForEachField(batch, tweet, [&](std::string_view key, ondemand::value& value) -> Reason {
    std::string_view text;
    if (key == "retweeted_status") {
      ondemand::json_type type;
      if (auto error = value.type().get(type)) return JsonError(batch, error);
      if (type == ondemand::json_type::null) return {};
      ondemand::object original;
      if (type != ondemand::json_type::object || value.get_object().get(original)) {
        return "field 'retweeted_status' has wrong type: expected object";
      }
      bool ignored = false;
      return VisitTwitterV1(batch, original, retweeted, ignored);
    }
    if (key == "id_str") return ReadString(batch, value, "id_str", draft.id);
    if (key == "text" || key == "full_text") {
      RETURN_IF_REASON(ReadString(batch, value, key, text));
      if (!text.empty() || draft.text_priority < 0) OfferText(draft, text, key == "text" ? 0 : 1);
      return {};
    }
    if (key == "extended_tweet") {
      return ForEachFieldOf(batch, value, key, [&](std::string_view inner, ondemand::value& v) -> Reason {
        if (inner == "entities") return ReadUrlEntities(batch, v, "extended_tweet.entities", draft);
        if (inner != "full_text") return {};
        RETURN_IF_REASON(ReadString(batch, v, "extended_tweet.full_text", text));
        OfferText(draft, text, 2);
        return {};
      });
    }
    if (key == "user") {
      return ForEachFieldOf(batch, value, key, [&](std::string_view inner, ondemand::value& v) -> Reason {
        if (inner == "id_str") return ReadString(batch, v, "user.id_str", draft.author_id);
        if (inner == "screen_name") return ReadString(batch, v, "user.screen_name", draft.author_handle);
        if (inner == "followers_count") return ReadInteger(batch, v, "user.followers_count", draft.followers);
        return {};
      });
    }
    if (key == "created_at") return ReadString(batch, value, "created_at", draft.time_text);
    if (key == "entities") return ReadUrlEntities(batch, value, "entities", draft);
    if (key == "lang") return ReadString(batch, value, "lang", draft.language);
    if (key == "in_reply_to_status_id_str") return ReadString(batch, value, key, draft.reply_to_post_id);
    if (key == "in_reply_to_user_id_str") return ReadString(batch, value, key, draft.reply_to_author_id);
    if (key == "in_reply_to_screen_name") return ReadString(batch, value, key, draft.reply_to_handle);
    // Public metrics (issue 12, operators/public_metrics.h).
    if (key == "favorite_count") return ReadInteger(batch, value, key, draft.like_count);
    if (key == "retweet_count") return ReadInteger(batch, value, key, draft.repost_count);
    if (key == "reply_count") return ReadInteger(batch, value, key, draft.reply_count);
    if (key == "quote_count") return ReadInteger(batch, value, key, draft.quote_count);
    if (key == "quoted_status_id_str") return ReadString(batch, value, key, draft.quote_of);
    if (key == "delete" || key == "scrub_geo" || key == "limit" || key == "status_withheld" ||
        key == "user_withheld" || key == "disconnect" || key == "warning") {
      is_notice = true;  // stream control messages, not posts
    }
    return {};
  }));
  if (!retweeted.id.empty()) {
    // A retweet's own counts are the original's retweet count and 0 likes: the original's
    // object has the real ones (issue 12).
    draft.retweet_of = retweeted.id;
    draft.like_count = retweeted.like_count;
    draft.repost_count = retweeted.repost_count;
    draft.reply_count = retweeted.reply_count;
    draft.quote_count = retweeted.quote_count;
    draft.counts_from_original = true;
  }
  if (retweeted.text_priority >= 0 && !retweeted.author_handle.empty()) {
    // "RT @handle: " + the original's whole text, in the batch's arena.
    std::string_view handle = retweeted.author_handle;
    char* out = batch.arena.Allocate(4 + handle.size() + 2 + retweeted.text.size());
    size_t at = 0;
    for (std::string_view piece : {std::string_view("RT @"), handle, std::string_view(": "),
                                   retweeted.text}) {
      std::memcpy(out + at, piece.data(), piece.size());
      at += piece.size();
    }
    OfferText(draft, std::string_view(out, at), 3);
  }
  return {};
}

}  // namespace

Reason TwitterV1Format::Visit(Batch& batch, ondemand::object record, JsonDecodeState& state,
                              PostDraft& draft, bool& skip) {
  return VisitTwitterV1(batch, record, draft, skip);
}

}  // namespace brandpulse::decode_internal
