// The decode operator's X/Twitter v2 format (json_decode_internal.h): pages of tweets with their
// authors in includes.users, or bare tweet objects.
#include "operators/json_decode_internal.h"

namespace brandpulse::decode_internal {
namespace {

Reason VisitTwitterV2TweetField(Batch& batch, std::string_view key, ondemand::value& value,
                                PostDraft& draft) {
  std::string_view text;
  if (key == "id") return ReadString(batch, value, "id", draft.id);
  if (key == "text") {
    RETURN_IF_REASON(ReadString(batch, value, "text", text));
    OfferText(draft, text, 0);
    return {};
  }
  if (key == "note_tweet") {  // long posts carry the whole text here
    return ForEachFieldOf(batch, value, key, [&](std::string_view inner, ondemand::value& v) -> Reason {
      if (inner != "text") return {};
      RETURN_IF_REASON(ReadString(batch, v, "note_tweet.text", text));
      OfferText(draft, text, 1);
      return {};
    });
  }
  if (key == "author_id") return ReadString(batch, value, "author_id", draft.author_id);
  if (key == "entities") return ReadUrlEntities(batch, value, "entities", draft);
  if (key == "created_at") return ReadString(batch, value, "created_at", draft.time_text);
  if (key == "lang") return ReadString(batch, value, "lang", draft.language);
  if (key == "in_reply_to_user_id") return ReadString(batch, value, key, draft.reply_to_author_id);
  if (key == "referenced_tweets") {
    return ForEachElementOf(batch, value, key, [&](ondemand::value& element) -> Reason {
      std::string_view type, id;
      RETURN_IF_REASON(ForEachFieldOf(batch, element, key, [&](std::string_view inner, ondemand::value& v) -> Reason {
        if (inner == "type") return ReadString(batch, v, "referenced_tweets.type", type);
        if (inner == "id") return ReadString(batch, v, "referenced_tweets.id", id);
        return {};
      }));
      if (type == "replied_to") draft.reply_to_post_id = id;
      return {};
    });
  }
  return {};
}

Reason VisitTwitterV2Tweet(Batch& batch, ondemand::value& value, JsonDecodeState& state) {
  state.drafts.emplace_back();
  return ForEachFieldOf(batch, value, "data", [&](std::string_view key, ondemand::value& v) {
    return VisitTwitterV2TweetField(batch, key, v, state.drafts.back());
  });
}

Reason VisitTwitterV2Page(Batch& batch, ondemand::object page, JsonDecodeState& state,
                          PostDraft& bare_tweet, bool& has_errors) {
  return ForEachField(batch, page, [&](std::string_view key, ondemand::value& value) -> Reason {
    if (key == "data") {
      ondemand::json_type type;
      if (auto error = value.type().get(type)) return JsonError(batch, error);
      if (type == ondemand::json_type::array) {
        return ForEachElementOf(batch, value, "data", [&](ondemand::value& element) {
          return VisitTwitterV2Tweet(batch, element, state);
        });
      }
      return VisitTwitterV2Tweet(batch, value, state);
    }
    if (key == "includes") {
      return ForEachFieldOf(batch, value, key, [&](std::string_view inner, ondemand::value& v) -> Reason {
        if (inner != "users") return {};
        return ForEachElementOf(batch, v, "includes.users", [&](ondemand::value& user_value) -> Reason {
          UserEntry user;
          RETURN_IF_REASON(ForEachFieldOf(batch, user_value, "includes.users", [&](std::string_view field, ondemand::value& u) -> Reason {
            if (field == "id") return ReadString(batch, u, "includes.users.id", user.id);
            if (field == "username") return ReadString(batch, u, "includes.users.username", user.username);
            if (field == "public_metrics") {
              return ForEachFieldOf(batch, u, field, [&](std::string_view metric, ondemand::value& m) -> Reason {
                if (metric != "followers_count") return {};
                return ReadInteger(batch, m, "public_metrics.followers_count", user.followers);
              });
            }
            return {};
          }));
          state.users.push_back(user);
          return {};
        });
      });
    }
    if (key == "errors") {
      has_errors = true;
      return {};
    }
    // A bare tweet object (no page around it).
    return VisitTwitterV2TweetField(batch, key, value, bare_tweet);
  });
}

}  // namespace

Reason TwitterV2Format::Visit(Batch& batch, ondemand::object record, JsonDecodeState& state,
                              PostDraft& draft, bool& skip) {
  bool has_errors = false;
  RETURN_IF_REASON(VisitTwitterV2Page(batch, record, state, draft, has_errors));
  if (state.drafts.empty() && draft.text_priority < 0 && draft.id.empty()) skip = true;
  // A page's tweets name their authors by id only: take handle and followers from its users.
  for (PostDraft& tweet : state.drafts) {
    for (const UserEntry& user : state.users) {
      if (user.id == tweet.author_id) {
        tweet.author_handle = user.username;
        tweet.followers = user.followers;
      }
      if (!tweet.reply_to_author_id.empty() && user.id == tweet.reply_to_author_id) {
        tweet.reply_to_handle = user.username;
      }
    }
  }
  return {};
}

}  // namespace brandpulse::decode_internal
