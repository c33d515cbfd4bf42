// The decode operator's X/Twitter v2 format (json_decode_internal.h): pages of tweets with their
// authors in includes.users, or bare tweet objects.
#include <cstring>

#include "operators/json_decode_internal.h"

namespace brandpulse::decode_internal {
namespace {

Reason VisitTwitterV2TweetField(Batch& batch, std::string_view key, ondemand::value& value,
                                PostDraft& draft) {
  std::string_view text;
  // Fields only a tweet has: a users, lists or counts page has none of them.
  draft.has_tweet_fields |= key == "text" || key == "note_tweet" || key == "author_id" ||
                            key == "edit_history_tweet_ids" || key == "conversation_id" ||
                            key == "referenced_tweets" || key == "in_reply_to_user_id";
  if (key == "id") return ReadString(batch, value, "id", draft.id);
  if (key == "edit_history_tweet_ids") {  // oldest first: the first is the original tweet
    return ForEachElementOf(batch, value, key, [&](ondemand::value& element) -> Reason {
      if (!draft.edit_of.empty()) return {};
      return ReadString(batch, element, "edit_history_tweet_ids", draft.edit_of);
    });
  }
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
  if (key == "public_metrics") return ReadPublicMetrics(batch, value, key, draft);  // issue 12
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
      if (type == "retweeted") draft.retweet_of = id;
      if (type == "quoted") draft.quote_of = id;
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
        if (inner == "tweets") {
          // The tweets this page's tweets refer to: a retweet's full text is here.
          return ForEachElementOf(batch, v, "includes.tweets", [&](ondemand::value& tweet_value) -> Reason {
            PostDraft included;
            RETURN_IF_REASON(ForEachFieldOf(batch, tweet_value, "includes.tweets", [&](std::string_view field, ondemand::value& t) {
              return VisitTwitterV2TweetField(batch, field, t, included);
            }));
            state.included_tweets.push_back(
                IncludedTweet{included.id, included.text, included.author_id, included.text_priority});
            IncludedTweet& kept = state.included_tweets.back();
            kept.like_count = included.like_count;
            kept.repost_count = included.repost_count;
            kept.reply_count = included.reply_count;
            kept.quote_count = included.quote_count;
            return {};
          });
        }
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
  state.included_tweets.clear();
  RETURN_IF_REASON(VisitTwitterV2Page(batch, record, state, draft, has_errors));
  // Pages of users, lists or counts (data without tweet fields) and pages of errors or metadata
  // alone hold no posts: skipped and counted, not dead letters.
  std::erase_if(state.drafts, [](const PostDraft& tweet) { return !tweet.has_tweet_fields; });
  if (state.drafts.empty() && !draft.has_tweet_fields) skip = true;
  auto username_of = [&](std::string_view author_id) {
    for (const UserEntry& user : state.users) {
      if (user.id == author_id) return user.username;
    }
    return std::string_view();
  };
  // A retweet's text is cut at 140 characters ("RT @x: ... long te…"); the whole text of what it
  // retweets is in includes.tweets.
  auto complete_retweet = [&](PostDraft& tweet) {
    if (tweet.retweet_of.empty()) return;
    for (const IncludedTweet& original : state.included_tweets) {
      if (original.id != tweet.retweet_of || original.text_priority < 0) continue;
      // "RT @handle: " + the whole text, written straight into the batch's arena.
      std::string_view handle = username_of(original.author_id);
      std::string_view own = tweet.text;
      std::string_view own_prefix;
      if (handle.empty() && own.starts_with("RT @") && own.find(": ") != std::string_view::npos) {
        own_prefix = own.substr(0, own.find(": ") + 2);
      }
      const size_t prefix_size = handle.empty() ? own_prefix.size() : 4 + handle.size() + 2;
      char* out = batch.arena.Allocate(prefix_size + original.text.size());
      size_t at = 0;
      auto append = [&](std::string_view piece) {
        if (piece.empty()) return;  // an empty view may hold nullptr: memcpy must not get it
        std::memcpy(out + at, piece.data(), piece.size());
        at += piece.size();
      };
      if (handle.empty()) {
        append(own_prefix);
      } else {
        append("RT @");
        append(handle);
        append(": ");
      }
      append(original.text);
      tweet.text = std::string_view(out, at);
      return;
    }
  };
  // A retweet's own public_metrics are the original's retweet count and 0 likes: its counts are
  // the original's from includes.tweets, or none (issue 12, operators/public_metrics.h).
  auto original_counts = [&](PostDraft& tweet) {
    if (tweet.retweet_of.empty()) return;
    tweet.like_count = tweet.repost_count = tweet.reply_count = tweet.quote_count = -1;
    for (const IncludedTweet& original : state.included_tweets) {
      if (original.id != tweet.retweet_of) continue;
      tweet.like_count = original.like_count;
      tweet.repost_count = original.repost_count;
      tweet.reply_count = original.reply_count;
      tweet.quote_count = original.quote_count;
      tweet.counts_from_original = true;
      return;
    }
  };
  original_counts(draft);
  for (PostDraft& tweet : state.drafts) original_counts(tweet);
  complete_retweet(draft);
  for (PostDraft& tweet : state.drafts) complete_retweet(tweet);
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
