// Decoding real posts from public samples, every JSONTestSuite document, and bad input.
#include "operators/json_decode.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "operators/json_array_records.h"
#include "operators/public_metrics.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
using brandpulse_test::ReadFile;

const fs::path kFixtures = fs::path(BRANDPULSE_SOURCE_DIR) / "tests" / "fixtures";

std::vector<std::string> ReadLines(const fs::path& path) {
  std::vector<std::string> lines;
  std::istringstream in(ReadFile(path));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

DecodeSpec Preset(DecodeFormat format) {
  DecodeSpec spec;
  spec.format = format;
  return spec;
}

DecodeSpec GenericJson() {
  DecodeSpec spec;
  spec.format = DecodeFormat::kJson;
  spec.field_pointers = {{"id", "/id"}, {"text", "/text"}, {"event_time", "/t"},
                         {"author_id", "/user/id"}, {"author_followers", "/user/followers"}};
  return spec;
}

// Decodes `records` as one batch.
class Decoded {
 public:
  Decoded(const DecodeSpec& spec, const std::vector<std::string>& records) {
    auto decode = MakeJsonDecode(spec);
    EXPECT_TRUE(decode.ok()) << decode.status().ToString();
    for (size_t i = 0; i < records.size(); ++i) batch.AddRecord(records[i], i + 1);
    batch.PadInput();
    auto state = (*decode)->MakeState().value();
    Status status = (*decode)->Process(batch, *state);
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
  std::string ReasonFor(uint32_t record) const {
    for (const DeadLetter& dead : batch.dead_letters) {
      if (dead.record_index == record) return std::string(dead.reason);
    }
    return "";
  }
  Batch batch;
};

std::vector<std::string> StatusesOf(const fs::path& path) {
  std::vector<std::string> records;
  std::string document = ReadFile(path);
  Status status = ForEachArrayElement(document, "/statuses", [&](std::string_view element) {
    records.emplace_back(element);
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  return records;
}

TEST(JsonDecodeTest, EveryV1TweetDecodesIdenticallyFromRawAndEscapedJson) {
  std::vector<std::string> raw = StatusesOf(kFixtures / "twitter-v1" / "twitter.json");
  std::vector<std::string> escaped = StatusesOf(kFixtures / "twitter-v1" / "twitterescaped.json");
  ASSERT_EQ(raw.size(), 100u);
  ASSERT_EQ(escaped.size(), 100u);
  Decoded from_raw(Preset(DecodeFormat::kTwitterV1), raw);
  Decoded from_escaped(Preset(DecodeFormat::kTwitterV1), escaped);
  ASSERT_EQ(from_raw.batch.posts.size(), 100u) << from_raw.ReasonFor(0);
  ASSERT_EQ(from_escaped.batch.posts.size(), 100u) << from_escaped.ReasonFor(0);
  EXPECT_TRUE(from_raw.batch.dead_letters.empty());
  for (size_t i = 0; i < 100; ++i) {
    const Post& a = from_raw.batch.posts[i];
    const Post& b = from_escaped.batch.posts[i];
    SCOPED_TRACE(fmt::format("tweet {} id {}", i, a.id));
    EXPECT_FALSE(a.id.empty());
    EXPECT_EQ(a.id, b.id);
    EXPECT_FALSE(a.text.empty());
    EXPECT_EQ(a.text, b.text);
    EXPECT_EQ(a.author_id, b.author_id);
    EXPECT_EQ(a.author_handle, b.author_handle);
    EXPECT_EQ(a.author_followers, b.author_followers);
    EXPECT_EQ(a.event_time_ms, b.event_time_ms);
    EXPECT_EQ(a.language, b.language);
    EXPECT_EQ(a.platform, Platform::kTwitter);
  }
  // The first status of the sample, checked by hand.
  const Post& first = from_raw.batch.posts[0];
  EXPECT_EQ(first.id, "505874924095815681");
  EXPECT_EQ(first.author_handle, "ayuu0123");
  EXPECT_EQ(first.language, "ja");
  EXPECT_EQ(first.event_time_ms, 1409444955000);  // Sun Aug 31 00:29:15 +0000 2014
  EXPECT_TRUE(first.text.starts_with("@aym0566x"));
}

TEST(JsonDecodeTest, OfficialV1PayloadsDecode) {
  std::vector<std::string> lines = ReadLines(kFixtures / "twitter-v1" / "original_format_examples.json");
  ASSERT_FALSE(lines.empty());
  Decoded decoded(Preset(DecodeFormat::kTwitterV1), lines);
  EXPECT_EQ(decoded.batch.posts.size() + decoded.batch.skipped_records, lines.size())
      << decoded.ReasonFor(decoded.batch.dead_letters.empty() ? 0 : decoded.batch.dead_letters[0].record_index);
  for (const Post& post : decoded.batch.posts) {
    EXPECT_FALSE(post.text.empty());
    EXPECT_FALSE(post.author_handle.empty());
    EXPECT_GT(post.event_time_ms, 1200000000000);
  }
}

TEST(JsonDecodeTest, V2PagesResolveAuthorsFromIncludes) {
  int files = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(kFixtures / "twitter-v2")) {
    if (entry.path().extension() != ".jsonl") continue;
    ++files;
    SCOPED_TRACE(entry.path().filename().string());
    std::vector<std::string> lines = ReadLines(entry.path());
    Decoded decoded(Preset(DecodeFormat::kTwitterV2), lines);
    bool truncated_sample = entry.path().filename() == "streaming_output_with_error.jsonl";
    if (truncated_sample) {
      ASSERT_EQ(decoded.batch.dead_letters.size(), 1u);
      EXPECT_EQ(decoded.batch.dead_letters[0].record_index, lines.size() - 1);
      EXPECT_TRUE(decoded.batch.dead_letters[0].reason.starts_with("invalid JSON"))
          << decoded.batch.dead_letters[0].reason;
    } else {
      EXPECT_TRUE(decoded.batch.dead_letters.empty()) << decoded.ReasonFor(decoded.batch.dead_letters[0].record_index);
    }
    EXPECT_GT(decoded.batch.posts.size(), 0u);
    size_t resolved = 0;
    for (const Post& post : decoded.batch.posts) {
      EXPECT_FALSE(post.id.empty());
      EXPECT_FALSE(post.author_id.empty());
      EXPECT_GT(post.event_time_ms, 1200000000000);
      resolved += !post.author_handle.empty();
    }
    EXPECT_EQ(resolved, decoded.batch.posts.size()) << "every author is in includes.users";
  }
  EXPECT_GE(files, 8);
}

TEST(JsonDecodeTest, V2PageHasManyTweetsWithHandlesAndFollowers) {
  std::vector<std::string> lines = ReadLines(kFixtures / "twitter-v2" / "brexit.jsonl");
  Decoded decoded(Preset(DecodeFormat::kTwitterV2), lines);
  ASSERT_GT(decoded.batch.posts.size(), 10u);
  size_t with_followers = 0;
  for (const Post& post : decoded.batch.posts) with_followers += post.author_followers > 0;
  EXPECT_GT(with_followers, decoded.batch.posts.size() / 2);
}

TEST(JsonDecodeTest, JetstreamKeepsPostCreatesAndSkipsTheRest) {
  std::vector<std::string> lines = ReadLines(kFixtures / "bluesky-jetstream" / "golden_v1.jsonl");
  ASSERT_EQ(lines.size(), 10u);
  Decoded decoded(Preset(DecodeFormat::kJetstream), lines);
  EXPECT_TRUE(decoded.batch.dead_letters.empty())
      << decoded.ReasonFor(decoded.batch.dead_letters.empty() ? 0 : decoded.batch.dead_letters[0].record_index);
  EXPECT_EQ(decoded.batch.posts.size() + decoded.batch.skipped_records, 10u);
  ASSERT_GT(decoded.batch.posts.size(), 0u);
  ASSERT_GT(decoded.batch.skipped_records, 0u);
  for (const Post& post : decoded.batch.posts) {
    EXPECT_TRUE(post.id.starts_with("at://did:")) << post.id;
    EXPECT_TRUE(post.author_id.starts_with("did:")) << post.author_id;
    EXPECT_EQ(post.platform, Platform::kBluesky);
    EXPECT_GT(post.event_time_ms, 1600000000000);
  }
}

TEST(JsonDecodeTest, MastodonStatusesBecomePlainText) {
  std::vector<std::string> lines = ReadLines(kFixtures / "mastodon" / "streaming_update_examples.jsonl");
  lines.push_back(ReadFile(kFixtures / "mastodon" / "Status_example.json"));
  // The pretty-printed Status holds newlines: a record may span lines when it is one document.
  Decoded decoded(Preset(DecodeFormat::kMastodon), lines);
  EXPECT_TRUE(decoded.batch.dead_letters.empty())
      << decoded.ReasonFor(decoded.batch.dead_letters.empty() ? 0 : decoded.batch.dead_letters[0].record_index);
  ASSERT_EQ(decoded.batch.posts.size(), 8u);
  for (const Post& post : decoded.batch.posts) {
    EXPECT_EQ(post.text.find("<p>"), std::string_view::npos) << post.text;
    EXPECT_EQ(post.text.find("&amp;"), std::string_view::npos) << post.text;
    EXPECT_FALSE(post.author_handle.empty());
  }
  const Post& status = decoded.batch.posts.back();
  EXPECT_EQ(status.id, "103270115826048975");
  EXPECT_EQ(status.event_time_ms, 1575776913901);  // 2019-12-08T03:48:33.901Z
  EXPECT_EQ(status.language, "en");
  EXPECT_EQ(status.author_handle, "Gargron");
}

TEST(JsonDecodeTest, EveryJsonTestSuiteDocumentIsHandledAndEveryInvalidOneIsDeadLettered) {
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(kFixtures / "json-test-suite" / "test_parsing")) {
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GT(files.size(), 300u);
  size_t invalid = 0;
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.filename().string());
    std::string document = ReadFile(file);
    Decoded decoded(GenericJson(), {document});
    size_t outcomes = decoded.batch.posts.size() + decoded.batch.dead_letters.size() +
                      decoded.batch.skipped_records;
    EXPECT_GE(outcomes, 1u);
    if (file.filename().string().starts_with("n_")) {
      ++invalid;
      EXPECT_EQ(decoded.batch.dead_letters.size(), 1u);
      EXPECT_TRUE(decoded.batch.posts.empty());
    }
  }
  EXPECT_GT(invalid, 150u);
}

TEST(JsonDecodeTest, BadInputIsDeadLetteredWithReasonsAndProcessingContinues) {
  std::string huge_text(10 << 20, 'a');
  std::vector<std::string> records = {
      R"({"id":"1","text":"fine","t":1767225600000})",
      R"({"id":"2","text":"unclosed)",
      R"({"id":"3","text":42,"t":1767225600000})",
      R"({"id":"4","t":1767225600000})",
      "{\"id\":\"5\",\"text\":\"bad \xff byte\",\"t\":1767225600000}",
      R"({"id":"6","text":"no time"})",
      R"({"id":"7","text":"bad time","t":"yesterday"})",
      R"({"id":"8","text":"trailing","t":1767225600000} {})",
      R"(["an", "array"])",
      R"({"id":"10","text":"\ud800 lone surrogate","t":1767225600000})",
      "{\"id\":\"11\",\"text\":\"" + huge_text + "\",\"t\":1767225600000}",
      "{\"id\":\"12\",\"text\":\"" + huge_text,
      R"({"id":"13","text":"still fine","t":"2026-01-01T00:00:01Z","user":{"id":7,"followers":"12"}})",
  };
  Decoded decoded(GenericJson(), records);
  EXPECT_EQ(decoded.ReasonFor(0), "");
  EXPECT_TRUE(decoded.ReasonFor(1).starts_with("invalid JSON")) << decoded.ReasonFor(1);
  EXPECT_EQ(decoded.ReasonFor(2), "field 'text' has wrong type: expected string");
  EXPECT_EQ(decoded.ReasonFor(3), "missing field 'text'");
  EXPECT_EQ(decoded.ReasonFor(4), "invalid UTF-8");
  EXPECT_EQ(decoded.ReasonFor(5), "missing event time field");
  EXPECT_EQ(decoded.ReasonFor(6), "unparseable event time 'yesterday'");
  EXPECT_EQ(decoded.ReasonFor(7), "trailing content after the JSON document");
  EXPECT_EQ(decoded.ReasonFor(8), "record is not a JSON object");
  EXPECT_NE(decoded.ReasonFor(9), "") << "a lone surrogate escape is not valid text";
  EXPECT_EQ(decoded.ReasonFor(10), "");
  EXPECT_TRUE(decoded.ReasonFor(11).starts_with("invalid JSON")) << decoded.ReasonFor(11);
  EXPECT_EQ(decoded.ReasonFor(12), "");
  ASSERT_EQ(decoded.batch.posts.size(), 3u);
  EXPECT_EQ(decoded.batch.posts[1].text.size(), huge_text.size());
  const Post& last = decoded.batch.posts[2];
  EXPECT_EQ(last.text, "still fine");
  EXPECT_EQ(last.author_id, "7");
  EXPECT_EQ(last.author_followers, 12);
  EXPECT_EQ(last.event_time_ms, 1767225601000);
  EXPECT_EQ(decoded.batch.max_event_time_ms, 1767225601000);
}

TEST(JsonDecodeTest, ReadDecodeSpecReportsUnknownFieldsAndMissingRequiredOnes) {
  Diagnostics diagnostics;
  auto node = LoadYamlText("format: json\nfields: {txt: /text}\n", "p.yaml", diagnostics);
  YamlMap map(*node, "p.yaml", "decode", diagnostics);
  EXPECT_FALSE(ReadDecodeSpec(map).has_value());
  std::string text = diagnostics.ToString();
  EXPECT_NE(text.find("p.yaml:2:10: error: unknown key 'txt' in decode fields (hint: did you mean 'text'?)"),
            std::string::npos) << text;
  EXPECT_NE(text.find("format json needs fields.text"), std::string::npos) << text;
  EXPECT_NE(text.find("format json needs fields.event_time"), std::string::npos) << text;
}

}  // namespace
}  // namespace brandpulse

namespace brandpulse {
namespace {

TEST(JsonDecodeUrlTest, TwitterLinksAreDecodedExpandedAndSpaceSeparated) {
  std::vector<std::string> lines = ReadLines(kFixtures / "twitter-v2" / "many_urls.jsonl");
  Decoded decoded(Preset(DecodeFormat::kTwitterV2), lines);
  ASSERT_GT(decoded.batch.posts.size(), 0u);
  size_t with_urls = 0;
  for (const Post& post : decoded.batch.posts) {
    if (post.urls.empty()) continue;
    ++with_urls;
    EXPECT_TRUE(post.urls.starts_with("http")) << post.urls;
    EXPECT_EQ(post.urls.find("  "), std::string_view::npos) << post.urls;
    EXPECT_EQ(post.urls.find("https://t.co/"), std::string_view::npos)
        << "expanded, not shortened: " << post.urls;
  }
  EXPECT_GT(with_urls, 0u);

  std::vector<std::string> v1 = {
      R"({"id_str":"1","text":"see https://t.co/a and https://t.co/b","created_at":"Wed Oct 10 20:19:24 +0000 2018","user":{"id_str":"9","screen_name":"x"},"entities":{"hashtags":[],"urls":[{"url":"https://t.co/a","expanded_url":"https://www.telenor.no/5g"},{"url":"https://t.co/b","expanded_url":"http://example.com"}]}})"};
  Decoded v1_decoded(Preset(DecodeFormat::kTwitterV1), v1);
  ASSERT_EQ(v1_decoded.batch.posts.size(), 1u);
  EXPECT_EQ(v1_decoded.batch.posts[0].urls, "https://www.telenor.no/5g http://example.com");
}

}  // namespace
}  // namespace brandpulse

namespace brandpulse {
namespace {

// Issue 14: real payloads decoded whole.

TEST(JsonDecodeTest, V2TweetsWithoutCreatedAtTakeTheirTimeFromTheSnowflakeId) {
  // The v2 API omits created_at unless tweet.fields asks for it.
  Decoded decoded(Preset(DecodeFormat::kTwitterV2),
                  {R"({"data":[{"id":"1445880548472328192","text":"hello","author_id":"1",)"
                   R"("edit_history_tweet_ids":["1445880548472328192"]}]})",
                   R"({"id":"1212092628029698048","text":"bare tweet"})"});
  ASSERT_TRUE(decoded.batch.dead_letters.empty()) << decoded.ReasonFor(0) << decoded.ReasonFor(1);
  ASSERT_EQ(decoded.batch.posts.size(), 2u);
  // (1445880548472328192 >> 22) + 1288834974657 = 2021-10-06T22:36:00.574Z
  EXPECT_EQ(decoded.batch.posts[0].event_time_ms, (1445880548472328192LL >> 22) + 1288834974657LL);
  EXPECT_EQ(decoded.batch.posts[0].event_time_ms, 1633559760574LL);
  EXPECT_EQ(decoded.batch.posts[1].event_time_ms, (1212092628029698048LL >> 22) + 1288834974657LL);
}

TEST(JsonDecodeTest, ABadTweetIsADeadLetterOfItsOwnNamingItsId) {
  Decoded decoded(Preset(DecodeFormat::kTwitterV2),
                  {R"({"data":[{"id":"1445880548472328192","text":"good one","author_id":"1"},)"
                   R"({"id":"1445880548472328193","author_id":"2"},)"
                   R"({"id":"1445880548472328194","text":"late","created_at":"yesterday"}]})"});
  ASSERT_EQ(decoded.batch.posts.size(), 1u) << "the good tweet of the page is still a post";
  EXPECT_EQ(decoded.batch.posts[0].text, "good one");
  ASSERT_EQ(decoded.batch.dead_letters.size(), 2u);
  EXPECT_EQ(decoded.batch.dead_letters[0].reason, "tweet 1445880548472328193: missing field 'text'");
  EXPECT_EQ(decoded.batch.dead_letters[1].reason,
            "tweet 1445880548472328194: unparseable event time 'yesterday'");
  EXPECT_EQ(decoded.batch.skipped_records, 0u);
}

TEST(JsonDecodeTest, PagesWithoutTweetsAreSkippedAndCounted) {
  Decoded decoded(Preset(DecodeFormat::kTwitterV2),
                  {R"({"data":[{"id":"12","name":"Twitter Dev","username":"TwitterDev",)"
                   R"("created_at":"2013-12-14T04:35:55.000Z"}]})",  // users
                   R"({"data":{"id":"84839422","name":"Official Twitter Accounts"}})",  // a list
                   R"({"data":[{"end":"2021-06-17T00:00:00.000Z","start":"2021-06-16T00:00:00.000Z",)"
                   R"("tweet_count":7}],"meta":{"total_tweet_count":7}})",  // counts
                   R"({"meta":{"result_count":0}})"});
  EXPECT_TRUE(decoded.batch.dead_letters.empty()) << decoded.ReasonFor(0);
  EXPECT_TRUE(decoded.batch.posts.empty());
  EXPECT_EQ(decoded.batch.skipped_records, 4u);
}

TEST(JsonDecodeTest, TwitterTextIsHtmlUnescaped) {
  Decoded v2(Preset(DecodeFormat::kTwitterV2),
             {R"({"data":{"id":"1445880548472328192","text":"AT&amp;T vs P&amp;G: 1 &lt; 2 &gt; 0, &amp;amp;"}})"});
  ASSERT_EQ(v2.batch.posts.size(), 1u);
  EXPECT_EQ(v2.batch.posts[0].text, "AT&T vs P&G: 1 < 2 > 0, &amp;");
  Decoded v1(Preset(DecodeFormat::kTwitterV1),
             {R"({"id_str":"1","created_at":"Wed Oct 10 20:19:24 +0000 2018","text":"H&amp;M &amp; Q&amp;A"})"});
  ASSERT_EQ(v1.batch.posts.size(), 1u);
  EXPECT_EQ(v1.batch.posts[0].text, "H&M & Q&A");
}

TEST(JsonDecodeTest, RetweetsAreMatchedOnTheWholeTextTheyRetweet) {
  Decoded v2(Preset(DecodeFormat::kTwitterV2),
             {R"({"data":[{"id":"1445880548472328195","author_id":"10",)"
              R"("text":"RT @kpopnews: Big news for fans of the band, the tour starts #twi…",)"
              R"("referenced_tweets":[{"type":"retweeted","id":"1445880548472328100"}]}],)"
              R"("includes":{"users":[{"id":"10","username":"fan"},{"id":"11","username":"kpopnews"}],)"
              R"("tweets":[{"id":"1445880548472328100","author_id":"11",)"
              R"("text":"Big news for fans of the band, the tour starts #twitterblue &amp; more"}]}})"});
  ASSERT_EQ(v2.batch.posts.size(), 1u) << v2.ReasonFor(0);
  EXPECT_EQ(v2.batch.posts[0].text,
            "RT @kpopnews: Big news for fans of the band, the tour starts #twitterblue & more");
  EXPECT_EQ(v2.batch.posts[0].author_handle, "fan");
  Decoded v1(Preset(DecodeFormat::kTwitterV1),
             {R"({"id_str":"5","created_at":"Wed Oct 10 20:19:24 +0000 2018","text":"RT @orig: short…",)"
              R"("user":{"id_str":"9","screen_name":"fan"},"retweeted_status":{"id_str":"4",)"
              R"("created_at":"Wed Oct 10 20:00:00 +0000 2018","text":"short…","truncated":true,)"
              R"("extended_tweet":{"full_text":"short but the whole text &amp; more"},)"
              R"("user":{"id_str":"8","screen_name":"orig"}}})"});
  ASSERT_EQ(v1.batch.posts.size(), 1u) << v1.ReasonFor(0);
  EXPECT_EQ(v1.batch.posts[0].text, "RT @orig: short but the whole text & more");
  EXPECT_EQ(v1.batch.posts[0].author_handle, "fan");
  EXPECT_EQ(v1.batch.posts[0].id, "5");
}

TEST(JsonDecodeTest, JetstreamResolvesDidsToHandlesFromIdentityEventsAndReadsReplies) {
  Decoded decoded(
      Preset(DecodeFormat::kJetstream),
      {R"({"did":"did:plc:brand","time_us":1779719009000000,"kind":"identity",)"
       R"("identity":{"did":"did:plc:brand","handle":"telenor.no","seq":1,"time":"2026-05-25T14:23:29.950Z"}})",
       R"({"did":"did:plc:customer","time_us":1779719009100000,"kind":"identity",)"
       R"("identity":{"did":"did:plc:customer","handle":"kari.bsky.social","seq":2,"time":"2026-05-25T14:23:30.000Z"}})",
       R"({"did":"did:plc:brand","time_us":1779719010000000,"kind":"commit","commit":{"rev":"r",)"
       R"("operation":"create","collection":"app.bsky.feed.post","rkey":"3abc","record":{)"
       R"("$type":"app.bsky.feed.post","createdAt":"2026-05-25T14:24:00.000Z","langs":["no"],)"
       R"("text":"Beklager, vi ser på saken!","reply":{"root":{"cid":"c1",)"
       R"("uri":"at://did:plc:customer/app.bsky.feed.post/3root"},"parent":{"cid":"c2",)"
       R"("uri":"at://did:plc:customer/app.bsky.feed.post/3parent"}}}}})",
       R"({"did":"did:plc:unknown","time_us":1779719011000000,"kind":"commit","commit":{"rev":"r",)"
       R"("operation":"create","collection":"app.bsky.feed.post","rkey":"3def","record":{)"
       R"("$type":"app.bsky.feed.post","createdAt":"2026-05-25T14:25:00.000Z","text":"hei"}}})"});
  ASSERT_TRUE(decoded.batch.dead_letters.empty()) << decoded.ReasonFor(2);
  ASSERT_EQ(decoded.batch.posts.size(), 2u);
  EXPECT_EQ(decoded.batch.skipped_records, 2u) << "identity events are not posts";
  const Post& reply = decoded.batch.posts[0];
  EXPECT_EQ(reply.author_id, "did:plc:brand");
  EXPECT_EQ(reply.author_handle, "telenor.no");
  EXPECT_EQ(reply.reply_to_post_id, "at://did:plc:customer/app.bsky.feed.post/3parent");
  EXPECT_EQ(reply.reply_to_author_id, "did:plc:customer");
  EXPECT_EQ(reply.reply_to_handle, "kari.bsky.social");
  EXPECT_EQ(decoded.batch.posts[1].author_handle, "") << "no identity event: no handle";
  EXPECT_EQ(decoded.batch.posts[1].author_id, "did:plc:unknown");
}

}  // namespace
}  // namespace brandpulse

namespace brandpulse {
namespace {

// Issue 12 (operators/public_metrics.h): the payloads' engagement counts and what a post reposts
// or quotes, as registered post fields, from real posts. A repost's counts are the original's
// (X gives a retweet the original's retweet count and 0 likes of its own).
const Post* PostWithId(const Batch& batch, std::string_view id) {
  for (const Post& post : batch.posts) {
    if (post.id == id) return &post;
  }
  return nullptr;
}

TEST(JsonDecodePublicMetricsTest, XV1V2AndMastodonCountsRepostsAndQuotes) {
  const PublicMetricSlots& slots = RegisterPublicMetricFields();
  Decoded v1(Preset(DecodeFormat::kTwitterV1), StatusesOf(kFixtures / "twitter-v1" / "twitter.json"));
  const Post* retweet = PostWithId(v1.batch, "505874922023837696");
  ASSERT_NE(retweet, nullptr);
  EXPECT_EQ(PublicText(*retweet, slots.repost_of), "505864943636197376");
  EXPECT_EQ(PublicCount(*retweet, slots.likes), 42);   // the original's, not the retweet's 0
  EXPECT_EQ(PublicCount(*retweet, slots.reposts), 82);
  EXPECT_EQ(PublicCount(*retweet, slots.replies), -1);  // 2014 search payloads have no reply_count
  const Post* own = PostWithId(v1.batch, "505874924095815681");
  ASSERT_NE(own, nullptr);
  EXPECT_EQ(PublicCount(*own, slots.likes), 0);
  EXPECT_EQ(PublicText(*own, slots.repost_of), "");

  Decoded official(Preset(DecodeFormat::kTwitterV1),
                   ReadLines(kFixtures / "twitter-v1" / "original_format_examples.json"));
  const Post* quote = PostWithId(official.batch, "872836479608733696");
  ASSERT_NE(quote, nullptr);
  EXPECT_EQ(PublicText(*quote, slots.quote_of), "872836379595620353");
  EXPECT_EQ(PublicCount(*quote, slots.quotes), 0);

  Decoded v2(Preset(DecodeFormat::kTwitterV2), ReadLines(kFixtures / "twitter-v2" / "brexit.jsonl"));
  const Post* v2_retweet = PostWithId(v2.batch, "1440716856763977732");
  ASSERT_NE(v2_retweet, nullptr);
  EXPECT_FALSE(PublicText(*v2_retweet, slots.repost_of).empty());
  EXPECT_EQ(PublicCount(*v2_retweet, slots.likes), 20);  // includes.tweets' original, not 0
  EXPECT_EQ(PublicCount(*v2_retweet, slots.reposts), 22);
  EXPECT_EQ(PublicCount(*v2_retweet, slots.replies), 1);
  EXPECT_EQ(PublicCount(*v2_retweet, slots.quotes), 0);
  const Post* v2_quote = PostWithId(v2.batch, "1440714027773030407");
  ASSERT_NE(v2_quote, nullptr);
  EXPECT_EQ(PublicText(*v2_quote, slots.quote_of), "1440637197250486275");
  EXPECT_EQ(PublicCount(*v2_quote, slots.reposts), 3);
  EXPECT_EQ(PublicCount(*v2_quote, slots.replies), 1);
  EXPECT_EQ(PublicCount(*v2_quote, slots.likes), 1);

  const std::string status = ReadFile(kFixtures / "mastodon" / "Status_example.json");
  Decoded mastodon(Preset(DecodeFormat::kMastodon),
                   {status, R"({"id":"9","created_at":"2019-12-08T04:00:00.000Z","content":"",)"
                            R"("favourites_count":0,"reblogs_count":0,"replies_count":0,)"
                            R"("account":{"id":"7","acct":"fan"},"reblog":)" + status + "}"});
  ASSERT_EQ(mastodon.batch.posts.size(), 2u) << mastodon.ReasonFor(1);
  const Post& gargron = mastodon.batch.posts[0];
  EXPECT_EQ(PublicCount(gargron, slots.likes), 11);
  EXPECT_EQ(PublicCount(gargron, slots.reposts), 6);
  EXPECT_EQ(PublicCount(gargron, slots.replies), 5);
  EXPECT_EQ(PublicCount(gargron, slots.quotes), -1);  // Mastodon has no quote count
  const Post& reblog = mastodon.batch.posts[1];
  EXPECT_EQ(PublicText(reblog, slots.repost_of), "103270115826048975");
  EXPECT_EQ(PublicCount(reblog, slots.likes), 11);

  // Jetstream's events carry no counts.
  Decoded jetstream(Preset(DecodeFormat::kJetstream),
                    ReadLines(kFixtures / "bluesky-jetstream" / "golden_v1.jsonl"));
  ASSERT_GT(jetstream.batch.posts.size(), 0u);
  for (const Post& post : jetstream.batch.posts) EXPECT_EQ(PublicCount(post, slots.likes), -1);
}

}  // namespace
}  // namespace brandpulse
