// The decode operator's Mastodon format (json_decode_internal.h): statuses, whose HTML content
// becomes plain text when the post is emitted.
#include "operators/json_decode_internal.h"

namespace brandpulse::decode_internal {
namespace {

Reason VisitMastodon(Batch& batch, ondemand::object status, PostDraft& draft) {
  PostDraft reblogged;  // the reblogged status's id and counts (issue 12)
  RETURN_IF_REASON(ForEachField(batch, status, [&](std::string_view key, ondemand::value& value) -> Reason {
    std::string_view text;
    if (key == "id") return ReadString(batch, value, "id", draft.id);
    if (key == "created_at") return ReadString(batch, value, "created_at", draft.time_text);
    if (key == "in_reply_to_id") return ReadString(batch, value, key, draft.reply_to_post_id);
    if (key == "in_reply_to_account_id") return ReadString(batch, value, key, draft.reply_to_author_id);
    if (key == "language") return ReadString(batch, value, "language", draft.language);
    // Public metrics (issue 12, operators/public_metrics.h): a reblog's own counts are 0; the
    // reblogged status's (in `reblog`) replace them below.
    if (key == "favourites_count") return ReadInteger(batch, value, key, draft.like_count);
    if (key == "reblogs_count") return ReadInteger(batch, value, key, draft.repost_count);
    if (key == "replies_count") return ReadInteger(batch, value, key, draft.reply_count);
    if (key == "reblog") {
      ondemand::json_type type;
      if (auto error = value.type().get(type)) return JsonError(batch, error);
      if (type == ondemand::json_type::null) return {};
      reblogged.counts_from_original = true;
      return ForEachFieldOf(batch, value, key, [&](std::string_view field, ondemand::value& v) -> Reason {
        if (field == "id") return ReadString(batch, v, "reblog.id", reblogged.id);
        if (field == "favourites_count") return ReadInteger(batch, v, "reblog.favourites_count", reblogged.like_count);
        if (field == "reblogs_count") return ReadInteger(batch, v, "reblog.reblogs_count", reblogged.repost_count);
        if (field == "replies_count") return ReadInteger(batch, v, "reblog.replies_count", reblogged.reply_count);
        return {};
      });
    }
    if (key == "edited_at") {  // set on a status.update event's payload: an edit of status `id`
      std::string_view edited_at;
      RETURN_IF_REASON(ReadString(batch, value, "edited_at", edited_at));
      draft.edited = !edited_at.empty();
      return {};
    }
    if (key == "content") {
      RETURN_IF_REASON(ReadString(batch, value, "content", text));
      OfferText(draft, text, 0);
      draft.html_text = true;
      return {};
    }
    if (key == "account") {
      return ForEachFieldOf(batch, value, key, [&](std::string_view field, ondemand::value& v) -> Reason {
        if (field == "id") return ReadString(batch, v, "account.id", draft.author_id);
        if (field == "acct") return ReadString(batch, v, "account.acct", draft.author_handle);
        if (field == "followers_count") return ReadInteger(batch, v, "account.followers_count", draft.followers);
        return {};
      });
    }
    return {};
  }));
  if (reblogged.counts_from_original) {
    draft.retweet_of = reblogged.id;
    draft.like_count = reblogged.like_count;
    draft.repost_count = reblogged.repost_count;
    draft.reply_count = reblogged.reply_count;
    draft.counts_from_original = true;
  }
  return {};
}

}  // namespace

Reason MastodonFormat::Visit(Batch& batch, ondemand::object record, JsonDecodeState& state,
                             PostDraft& draft, bool& skip) {
  return VisitMastodon(batch, record, draft);
}

}  // namespace brandpulse::decode_internal
