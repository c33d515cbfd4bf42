// The mention writer (operators/mention_json.h): the exact bytes of brandpulse.mention/1 for
// posts of each platform, with and without enrichment fields.
#include "operators/mention_json.h"

#include <gtest/gtest.h>

#include "engine/batch.h"
#include "engine/enrichment_fields.h"

namespace brandpulse {
namespace {

Post TwitterPost() {
  Post post;
  post.id = "1790000000000000001";
  post.platform = Platform::kTwitter;
  post.event_time_ms = 1767261605000;  // 2026-01-01T10:00:05Z
  post.author_id = "42";
  post.author_handle = "kari_n";
  post.text = "@telenor_norge why is my fiber down again?";
  post.reply_to_handle = "telenor_norge";
  return post;
}

TEST(MentionJson, WritesEveryKeyOfTheSchema) {
  Post post = TwitterPost();
  const MentionTerm terms[] = {{"@telenor_norge", "handle", 0, 14}};
  const MentionBrand brands[] = {{"telenor", "Telenor", "nordic", false, terms, std::nullopt}};
  const MentionExclusion excluded[] = {{"telia", "exclude 'telia parken'"}};
  MentionRecord record{&post, brands, excluded, 1767261605120};
  std::string out;
  MentionJsonWriter().Append(record, out);
  EXPECT_EQ(out,
            "{\"schema\":\"brandpulse.mention/1\",\"post_id\":\"1790000000000000001\","
            "\"platform\":\"twitter\",\"event_time\":\"2026-01-01T10:00:05.000Z\","
            "\"ingest_time\":\"2026-01-01T10:00:05.120Z\",\"author_id\":\"42\","
            "\"author_handle\":\"kari_n\","
            "\"link\":\"https://x.com/kari_n/status/1790000000000000001\","
            "\"text\":\"@telenor_norge why is my fiber down again?\","
            "\"reply_to\":{\"post_id\":\"\",\"author_id\":\"\",\"handle\":\"telenor_norge\"},"
            "\"own_post\":false,\"brands\":[{\"brand\":\"telenor\",\"name\":\"Telenor\","
            "\"group\":\"nordic\",\"own_post\":false,\"terms\":[{\"term\":\"@telenor_norge\","
            "\"kind\":\"handle\",\"begin\":0,\"end\":14}]}],"
            "\"excluded\":[{\"brand\":\"telia\",\"exclusion\":\"exclude 'telia parken'\"}]}");
}

TEST(MentionJson, LinksPerPlatform) {
  Post post;
  post.id = "at://did:plc:abc/app.bsky.feed.post/3kxyz";
  post.platform = Platform::kBluesky;
  std::string out;
  EXPECT_TRUE(AppendPostLink(post, out));
  EXPECT_EQ(out, "https://bsky.app/profile/did:plc:abc/post/3kxyz");
  post.platform = Platform::kMastodon;
  post.id = "1100";
  post.author_handle = "ola@mastodon.social";
  out.clear();
  EXPECT_TRUE(AppendPostLink(post, out));
  EXPECT_EQ(out, "https://mastodon.social/@ola/1100");
  post.author_handle = "ola";  // local account: no instance known
  out.clear();
  EXPECT_FALSE(AppendPostLink(post, out));
  EXPECT_EQ(out, "");
  post.platform = Platform::kGeneric;
  EXPECT_FALSE(AppendPostLink(post, out));
}

TEST(MentionJson, OwnPostAndEnrichmentFieldsWhenPresent) {
  // Registered the way the enrich transform registers them (engine/enrichment_fields.h).
  const uint32_t lang = *RegisterPostField(enrichment::kLanguageField, PostFieldKind::kText, "");
  const uint32_t sentiment =
      *RegisterPostField(enrichment::kSentimentField, PostFieldKind::kNumber, "");
  const uint32_t intents = *RegisterPostField(enrichment::kIntentsField, PostFieldKind::kNumber, "");
  Batch batch;
  Post post = TwitterPost();
  post.reply_to_handle = {};
  post.platform = Platform::kGeneric;
  PostFieldValue* fields = batch.MutableFields(post);
  fields[lang] = PostFieldValue{"no", 0, true};
  fields[sentiment] = PostFieldValue{{}, -1, true};
  fields[intents] =
      PostFieldValue{{}, enrichment::kIntentQuestion | enrichment::kIntentComplaint, true};
  const MentionBrand brands[] = {{"telenor", "Telenor", "", true, {}, -1}};
  MentionRecord record{&post, brands, {}, 0};
  std::string out;
  MentionJsonWriter().Append(record, out);
  EXPECT_NE(out.find("\"link\":null,"), std::string::npos) << out;
  EXPECT_EQ(out.find("reply_to"), std::string::npos) << out;
  EXPECT_EQ(out.find("ingest_time"), std::string::npos) << out;
  EXPECT_NE(out.find("\"own_post\":true,\"brands\":[{\"brand\":\"telenor\",\"name\":\"Telenor\","
                     "\"group\":\"\",\"own_post\":true,\"terms\":[],\"sentiment\":-1}],"
                     "\"excluded\":[],\"lang\":\"no\",\"sentiment\":-1,"
                     "\"intents\":[\"question\",\"complaint\"]}"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace brandpulse
