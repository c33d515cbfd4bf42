// WindowAggregate: window assignment for tumbling, hopping and sliding (bucket) windows, late
// detection, dimensions, own posts, replies and questions, and the term summaries' input.
#include "operators/window_aggregate.h"

#include <map>

#include <gtest/gtest.h>

#include "engine/batch.h"

namespace brandpulse {
namespace {

constexpr int64_t kMinute = 60'000;

WindowSpec Window(WindowType type, int64_t size_ms, int64_t slide_ms = 0,
                  std::vector<Dimension> dimensions = {}) {
  WindowSpec window;
  window.name = "w";
  window.type = type;
  window.size_ms = size_ms;
  window.slide_ms = slide_ms;
  window.dimensions = std::move(dimensions);
  return window;
}

struct Delta {
  std::string dimension;
  uint32_t shape = 0;
  int64_t start_ms = 0;
  auto operator<=>(const Delta&) const = default;
};

class WindowAggregateTest : public ::testing::Test {
 protected:
  // Runs `batch` through an aggregate over `windows` and returns mentions per delta key.
  std::map<Delta, WindowMetrics> Run(const std::vector<WindowSpec>& windows, Batch& batch,
                                     int64_t watermark = INT64_MIN, int64_t lateness = 0,
                                     uint64_t term_capacity = 0) {
    WindowAggregate::Options options;
    options.layout = MakeWindowLayout(windows);
    options.allowed_lateness_ms = lateness;
    options.term_capacity = term_capacity;
    options.co_terms = true;
    watermark_.store(watermark);
    WindowAggregate aggregate(std::move(options), &watermark_);
    auto state = aggregate.MakeState().value();
    EXPECT_TRUE(aggregate.Process(batch, *state).ok());
    std::map<Delta, WindowMetrics> deltas;
    WindowDeltaMap handed_over;
    EpochHandOver epoch{&handed_over, nullptr};
    EXPECT_TRUE(aggregate.HandOver(*state, epoch).ok());
    for (const auto& [key, metrics] : handed_over) {
      deltas[Delta{DimensionString(key.dimension), key.shape_index, key.start_ms}].Merge(metrics);
    }
    return deltas;
  }

  void AddPost(Batch& batch, int64_t time_ms, std::string_view text = "hello acme",
               std::string_view handle = "someone", std::string_view language = "en") {
    Post post;
    post.author_id = handle;
    post.author_handle = handle;
    post.text = text;
    post.language = language;
    post.platform = Platform::kTwitter;
    post.event_time_ms = time_ms;
    batch.posts.push_back(post);
    uint32_t index = static_cast<uint32_t>(batch.posts.size() - 1);
    size_t hit = text.find("acme");
    uint32_t begin = hit == std::string_view::npos ? 0 : static_cast<uint32_t>(hit);
    batch.mentions.push_back(Mention{index, 0, begin, begin + 4});
  }

  std::atomic<int64_t> watermark_{INT64_MIN};
};

TEST(WindowLayoutTest, SpecsOfTheSameShapeShareStoredWindows) {
  std::vector<WindowSpec> windows = {
      Window(WindowType::kTumbling, 5 * kMinute),
      Window(WindowType::kSliding, kMinute * 60, 5 * kMinute, {Dimension::kLanguage}),
      Window(WindowType::kHopping, kMinute * 60, 5 * kMinute),
      Window(WindowType::kTumbling, kMinute * 60, 0, {Dimension::kPlatform}),
  };
  WindowLayout layout = MakeWindowLayout(windows);
  // The sliding hour's 5-minute buckets are the 5-minute tumbling windows.
  ASSERT_EQ(layout.shapes.size(), 3u);
  EXPECT_EQ(layout.shape_of_window, (std::vector<uint32_t>{0, 0, 1, 2}));
  EXPECT_EQ(layout.shapes[0].size_ms, 5 * kMinute);
  EXPECT_EQ(layout.shapes[0].dimensions, std::vector<Dimension>{Dimension::kLanguage});
  EXPECT_EQ(layout.shapes[1].slide_ms, 5 * kMinute);
}

TEST_F(WindowAggregateTest, TumblingWindowsFloorAndLateOnesAreRecordedNotCounted) {
  Batch batch;
  for (int64_t time : {5000, 70000, 130000, -1}) AddPost(batch, time);
  // Watermark 120000, lateness 10s: [0,60000) closed at 70000 (late); [-60000,0) too.
  auto deltas = Run({Window(WindowType::kTumbling, kMinute)}, batch, 120000, 10000);
  EXPECT_EQ(batch.late_post_indices, (std::vector<uint32_t>{0, 3}));
  ASSERT_EQ(deltas.size(), 2u);
  EXPECT_EQ(deltas[(Delta{"", 0, 60000})].mentions, 1u);
  EXPECT_EQ(deltas[(Delta{"", 0, 120000})].mentions, 1u);
}

TEST_F(WindowAggregateTest, HoppingWindowsHoldAPostSizeOverSlideTimes) {
  Batch batch;
  AddPost(batch, 7 * kMinute + 30'000);  // 00:07:30
  auto deltas = Run({Window(WindowType::kHopping, 10 * kMinute, 5 * kMinute)}, batch);
  // [00:00, 00:10) and [00:05, 00:15) hold 00:07:30.
  ASSERT_EQ(deltas.size(), 2u);
  EXPECT_EQ(deltas[(Delta{"", 0, 0})].mentions, 1u);
  EXPECT_EQ(deltas[(Delta{"", 0, 5 * kMinute})].mentions, 1u);

  Batch negative;
  AddPost(negative, -1);
  deltas = Run({Window(WindowType::kHopping, 3 * kMinute, kMinute)}, negative);
  std::vector<int64_t> starts;
  for (const auto& [key, metrics] : deltas) starts.push_back(key.start_ms);
  EXPECT_EQ(starts, (std::vector<int64_t>{-3 * kMinute, -2 * kMinute, -kMinute}));
}

TEST_F(WindowAggregateTest, HoppingLatenessIsPerWindow) {
  Batch batch;
  AddPost(batch, 7 * kMinute);
  // Watermark 00:10:30: [00:00,00:10) is closed, [00:05,00:15) still open.
  auto deltas = Run({Window(WindowType::kHopping, 10 * kMinute, 5 * kMinute)}, batch,
                    10 * kMinute + 30'000);
  EXPECT_EQ(batch.late_post_indices, std::vector<uint32_t>{0});
  ASSERT_EQ(deltas.size(), 1u);
  EXPECT_EQ(deltas.begin()->first.start_ms, 5 * kMinute);
}

TEST_F(WindowAggregateTest, SlidingWindowsStoreBuckets) {
  Batch batch;
  AddPost(batch, 7 * kMinute);
  AddPost(batch, 58 * kMinute);
  auto deltas = Run({Window(WindowType::kSliding, 60 * kMinute, 5 * kMinute)}, batch);
  ASSERT_EQ(deltas.size(), 2u);
  EXPECT_EQ(deltas[(Delta{"", 0, 5 * kMinute})].mentions, 1u);
  EXPECT_EQ(deltas[(Delta{"", 0, 55 * kMinute})].mentions, 1u);
}

TEST_F(WindowAggregateTest, DimensionsSliceTheBrandTotal) {
  Batch batch;
  AddPost(batch, 1000, "acme rocks", "ola", "no");
  AddPost(batch, 2000, "acme rocks", "kari", "NO");
  AddPost(batch, 3000, "acme mola", "juan", "es");
  AddPost(batch, 4000, "acme", "anon", "");
  auto deltas = Run({Window(WindowType::kTumbling, kMinute, 0,
                            {Dimension::kLanguage, Dimension::kPlatform})},
                    batch);
  EXPECT_EQ(deltas[(Delta{"", 0, 0})].mentions, 4u);
  EXPECT_EQ(deltas[(Delta{"lang:no", 0, 0})].mentions, 2u);  // tags are lower-cased
  EXPECT_EQ(deltas[(Delta{"lang:es", 0, 0})].mentions, 1u);
  EXPECT_EQ(deltas[(Delta{"lang:und", 0, 0})].mentions, 1u);
  EXPECT_EQ(deltas[(Delta{"platform:twitter", 0, 0})].mentions, 4u);
  EXPECT_EQ(deltas.size(), 5u);
}

TEST_F(WindowAggregateTest, OwnPostsAreNotCustomerMentions) {
  Batch batch;
  AddPost(batch, 1000, "acme: our network is back", "Acme_Support");
  AddPost(batch, 2000, "acme is down again?", "customer");
  batch.mentions[0].own_post = true;  // the matcher marks posts by the brand's handles
  auto deltas = Run({Window(WindowType::kTumbling, kMinute, 0, {Dimension::kAuthor})}, batch);
  EXPECT_EQ(deltas[(Delta{"", 0, 0})].mentions, 1u);
  EXPECT_EQ(deltas[(Delta{"", 0, 0})].questions, 1u);
  EXPECT_EQ(deltas[(Delta{"author:own", 0, 0})].mentions, 1u);
  // Without the author dimension an own post is counted nowhere.
  Batch again;
  AddPost(again, 1000, "acme: our network is back", "acme_support");
  again.mentions[0].own_post = true;
  deltas = Run({Window(WindowType::kTumbling, kMinute)}, again);
  EXPECT_TRUE(deltas.empty());
}

TEST_F(WindowAggregateTest, RepliesQuestionsAndTerms) {
  Batch batch;
  AddPost(batch, 1000, "Is the acme #Fiber outage over? https://status.acme.no/x @helpdesk ¿y?");
  batch.posts[0].reply_to_post_id = "123";
  AddPost(batch, 2000, "acme fiber outage in Bergen #fiber #5G");
  auto deltas = Run({Window(WindowType::kTumbling, kMinute)}, batch, INT64_MIN, 0, 32);
  const WindowMetrics& total = deltas[(Delta{"", 0, 0})];
  EXPECT_EQ(total.mentions, 2u);
  EXPECT_EQ(total.replies, 1u);
  EXPECT_EQ(total.questions, 1u);
  EXPECT_EQ(total.term_capacity, 32u);
  using Counts = std::vector<std::pair<std::string, uint64_t>>;
  EXPECT_EQ(total.hashtags.Top(5), (Counts{{"#fiber", 2}, {"#5g", 1}}));
  // Not the brand's own hit, stop words, short words, URL parts or handles.
  EXPECT_EQ(total.terms.Top(10), (Counts{{"outage", 2}, {"bergen", 1}, {"fiber", 1}, {"over", 1}}));
}

TEST(PostTermsTest, WordsOfEveryScript) {
  PostTerms terms;
  terms.Extract("Støyen på TELENOR-nettet! Señal débil 🙁 ソニーの新型 #Ñandú");
  std::vector<std::string> seen;
  for (const auto& token : terms.tokens) seen.emplace_back(terms.View(token));
  EXPECT_EQ(seen, (std::vector<std::string>{"støyen", "telenor", "nettet", "señal", "débil",
                                            "ソニーの新型", "#ñandú"}));
}

TEST(PostTermsTest, WithoutWordsOnlyHashtagsAndCashtags) {
  PostTerms terms;
  terms.Extract("Telenor #5G outage, $TEL down", false);
  std::vector<std::string> seen;
  for (const auto& token : terms.tokens) seen.emplace_back(terms.View(token));
  EXPECT_EQ(seen, (std::vector<std::string>{"#5g", "$tel"}));
  terms.Extract("no tags here at all", false);
  EXPECT_TRUE(terms.tokens.empty());
}

// Hashtags and cashtags by twitter-text's rules (engine/social_entities.h).
TEST(PostTermsTest, HashtagsAndCashtagsFollowTwitterText) {
  PostTerms terms;
  terms.Extract("On the #16 bus, $10 off $AAPL x$MSFT ＃テレノール #il·lusió "
                "http://twitter.com/#anchor #max#min",
                false);
  std::vector<std::string> seen;
  for (const auto& token : terms.tokens) seen.emplace_back(terms.View(token));
  EXPECT_EQ(seen, (std::vector<std::string>{"$aapl", "＃テレノール", "#il·lusió"}));
  terms.Extract("On the #16 bus with #1 fans");
  seen.clear();
  for (const auto& token : terms.tokens) seen.emplace_back(terms.View(token));
  EXPECT_EQ(seen, (std::vector<std::string>{"bus", "fans"}));
}

}  // namespace
}  // namespace brandpulse
