#include "operators/public_metrics.h"

namespace brandpulse {

const PublicMetricSlots& RegisterPublicMetricFields() {
  static const PublicMetricSlots slots = [] {
    PublicMetricSlots made;
    made.likes = *RegisterPostField(kLikeCountField, PostFieldKind::kNumber,
                                    "likes the payload reports (X, Mastodon)");
    made.reposts = *RegisterPostField(kRepostCountField, PostFieldKind::kNumber,
                                      "reposts the payload reports (X retweets, Mastodon reblogs)");
    made.replies = *RegisterPostField(kReplyCountField, PostFieldKind::kNumber,
                                      "replies the payload reports (X, Mastodon)");
    made.quotes = *RegisterPostField(kQuoteCountField, PostFieldKind::kNumber,
                                     "quotes the payload reports (X)");
    made.repost_of = *RegisterPostField(kRepostOfField, PostFieldKind::kText,
                                        "id of the post this one reposts");
    made.quote_of = *RegisterPostField(kQuoteOfField, PostFieldKind::kText,
                                       "id of the post this one quotes");
    return made;
  }();
  return slots;
}

int64_t PublicCount(const Post& post, uint32_t slot) {
  const PostFieldValue* value = FieldOf(post, slot);
  return value == nullptr ? -1 : value->number;
}

std::string_view PublicText(const Post& post, uint32_t slot) {
  const PostFieldValue* value = FieldOf(post, slot);
  return value == nullptr ? std::string_view() : value->text;
}

}  // namespace brandpulse
