// Public metrics (issue 12): the engagement counts a payload carries, and what a post reposts or
// quotes, as registered post fields (engine/post_fields.h) set by the decode operator's formats:
//
//   like_count    X v2 public_metrics.like_count, v1.1 favorite_count, Mastodon favourites_count
//   repost_count  X retweet_count, Mastodon reblogs_count
//   reply_count   X reply_count, Mastodon replies_count
//   quote_count   X quote_count (Mastodon has none)
//   repost_of     the id of the post this one reposts (X retweet, Mastodon reblog)
//   quote_of      the id of the post this one quotes (X v2 referenced_tweets "quoted", v1.1
//                 quoted_status_id_str)
//
// A count is present only when the payload has it. On a repost the counts are the reposted
// post's as the platform sent them with the repost (X sends a retweet's retweet_count as the
// original's and its like_count as 0, so the original's object — v1.1 retweeted_status, v2
// includes.tweets, Mastodon reblog — is read instead; when the payload lacks it the counts are
// left out). Bluesky Jetstream carries no counts: none are set for its posts.
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/post.h"

namespace brandpulse {

inline constexpr std::string_view kLikeCountField = "like_count";
inline constexpr std::string_view kRepostCountField = "repost_count";
inline constexpr std::string_view kReplyCountField = "reply_count";
inline constexpr std::string_view kQuoteCountField = "quote_count";
inline constexpr std::string_view kRepostOfField = "repost_of";
inline constexpr std::string_view kQuoteOfField = "quote_of";

struct PublicMetricSlots {
  uint32_t likes = 0, reposts = 0, replies = 0, quotes = 0, repost_of = 0, quote_of = 0;
};

// Registers the fields once (start-up: RegisterBuiltinOperators, and the decode operator when
// made) and returns their slots.
const PublicMetricSlots& RegisterPublicMetricFields();

// A post's count, or -1 when its payload did not carry it.
int64_t PublicCount(const Post& post, uint32_t slot);
// A post's text field (repost_of, quote_of), or empty.
std::string_view PublicText(const Post& post, uint32_t slot);

}  // namespace brandpulse
