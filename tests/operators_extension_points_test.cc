// What a later operator (enrichment) adds without the runner or the query language knowing it by
// name: a post field in the batch's arena, a query field that reads it, a window dimension that
// slices by it, and a window counter that becomes a metric of the shared vocabulary.
#include <atomic>
#include <map>

#include <gtest/gtest.h>

#include "engine/batch.h"
#include "engine/post_fields.h"
#include "engine/window_metric_registry.h"
#include "engine/window_types.h"
#include "operators/hyperscan_match.h"
#include "operators/query.h"
#include "operators/watchlist.h"
#include "operators/window_aggregate.h"

namespace brandpulse {
namespace {

// A stand-in for what a sentiment operator would register: a "mood" post field (1 happy,
// 2 sad), the query field `mood:`, the dimension `mood` and the counter `sad_posts`.
uint32_t MoodSlot() {
  static const uint32_t slot = *RegisterPostField("mood", PostFieldKind::kNumber, "1 happy, 2 sad");
  return slot;
}

int64_t MoodOf(const Post& post) {
  const PostFieldValue* value = FieldOf(post, MoodSlot());
  return value == nullptr ? 0 : value->number;
}

constexpr Dimension kMood{200};

void RegisterMood() {
  MoodSlot();
  RegisterQueryField(QueryFieldDefinition{
      "mood", {"happy", "sad"}, "write mood:happy",
      [](const Post& post, std::string_view value) {
        return MoodOf(post) == (value == "happy" ? 1 : 2);
      }});
  RegisterDimension(DimensionDefinition{
      kMood, "mood", "happy or sad",
      [](const Post& post, const Mention&, uint64_t& payload) {
        payload = static_cast<uint64_t>(MoodOf(post));
        return payload != 0;
      },
      [](uint64_t payload, std::string& out) { out += payload == 1 ? "happy" : "sad"; }});
  RegisterWindowCounter("sad_posts", "mentions in a sad post",
                        [](const Post& post, const Mention&) -> uint64_t { return MoodOf(post) == 2; });
}

class ExtensionPointsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { RegisterMood(); }

  // A batch of `moods.size()` posts naming Acme, the i-th with moods[i] (0 = none set).
  void Fill(Batch& batch, const std::vector<int64_t>& moods) {
    for (size_t index = 0; index < moods.size(); ++index) {
      Post post;
      post.id = "p";
      post.text = "acme again";
      post.author_id = "a";
      post.event_time_ms = 1767225600000 + static_cast<int64_t>(index);
      batch.posts.push_back(post);
      if (moods[index] != 0) {
        PostFieldValue* fields = batch.MutableFields(batch.posts.back());
        fields[MoodSlot()].number = moods[index];
        fields[MoodSlot()].present = true;
      }
    }
  }
};

TEST_F(ExtensionPointsTest, PostFieldsLiveInTheBatchAndStartUnset) {
  Batch batch;
  Fill(batch, {0, 1, 2});
  EXPECT_EQ(batch.posts[0].fields, nullptr);
  EXPECT_EQ(MoodOf(batch.posts[0]), 0);
  EXPECT_EQ(MoodOf(batch.posts[1]), 1);
  EXPECT_EQ(MoodOf(batch.posts[2]), 2);
  ASSERT_NE(FindPostField("mood"), nullptr);
  EXPECT_EQ(FindPostField("mood")->slot, MoodSlot());
  // The same name with another kind is refused; the same kind gives the same slot.
  EXPECT_FALSE(RegisterPostField("mood", PostFieldKind::kText, "").has_value());
  EXPECT_EQ(RegisterPostField("mood", PostFieldKind::kNumber, ""), MoodSlot());
}

TEST_F(ExtensionPointsTest, QueryFieldRegisteredByAnOperatorIsPartOfTheLanguage) {
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> spec = ParseWatchlist(R"(brands:
  - id: acme
    query: acme AND mood:SAD
)", "w.yaml", diagnostics);
  ASSERT_TRUE(spec) << diagnostics.ToString();
  Result<std::shared_ptr<const CompiledWatchlist>> watchlist = CompiledWatchlist::Make(*spec);
  ASSERT_TRUE(watchlist.ok()) << watchlist.status().ToString();
  auto scanner = (*watchlist)->MakeScanner();
  ASSERT_TRUE(scanner.ok());
  Batch batch;
  Fill(batch, {0, 1, 2});
  std::vector<size_t> matched;
  for (size_t index = 0; index < batch.posts.size(); ++index) {
    std::vector<MatchedBrand> brands;
    (*watchlist)->MatchPost(batch.posts[index], **scanner, brands);
    if (!brands.empty()) matched.push_back(index);
  }
  EXPECT_EQ(matched, std::vector<size_t>{2});
  const Query& query = *spec->brands[0].query;
  std::string fields;
  for (uint32_t index = 0; index < query.nodes.size(); ++index) {
    if (query.nodes[index].op == QueryOp::kField) fields += FormatQueryNode(query, index);
  }
  EXPECT_EQ(fields, "mood:sad");

  Diagnostics bad;
  EXPECT_FALSE(ParseWatchlist(R"(brands:
  - id: acme
    query: acme AND mood:hapy
)", "w.yaml", bad));
  EXPECT_NE(bad.ToString().find("'hapy' is not a value of mood: (hint: did you mean mood:happy?)"),
            std::string::npos)
      << bad.ToString();
}

TEST_F(ExtensionPointsTest, DimensionAndCounterRegisteredByAnOperatorAreKeptInTheWindows) {
  ASSERT_NE(FindDimension("mood"), nullptr);
  const WindowMetricDefinition* sad = FindWindowMetric("sad_posts");
  ASSERT_NE(sad, nullptr);

  WindowSpec minute;
  minute.name = "1m";
  minute.size_ms = 60'000;
  minute.dimensions = {kMood};
  WindowAggregate::Options options;
  options.layout = MakeWindowLayout({minute});
  std::atomic<int64_t> watermark{INT64_MIN};
  WindowAggregate aggregate(std::move(options), &watermark);
  auto state = aggregate.MakeState().value();

  Batch batch;
  Fill(batch, {0, 1, 2, 2});
  for (uint32_t index = 0; index < batch.posts.size(); ++index) {
    batch.mentions.push_back(Mention{index, 0, 0, 4, false});
  }
  ASSERT_TRUE(aggregate.Process(batch, *state).ok());
  std::map<std::string, WindowMetrics> windows;
  WindowDeltaMap deltas;
  EpochHandOver epoch{&deltas, nullptr};
  ASSERT_TRUE(aggregate.HandOver(*state, epoch).ok());
  for (const auto& [key, metrics] : deltas) windows[DimensionString(key.dimension)].Merge(metrics);
  ASSERT_EQ(windows.size(), 3u);
  EXPECT_EQ(windows[""].mentions, 4u);
  EXPECT_EQ(windows["mood:happy"].mentions, 1u);
  EXPECT_EQ(windows["mood:sad"].mentions, 2u);
  EXPECT_EQ(sad->Value(windows[""]), 2u);
  EXPECT_EQ(sad->Value(windows["mood:happy"]), 0u);

  // Stored with the counters (format version 3), read back equal, merged by adding.
  std::string encoded;
  windows[""].EncodeTo(encoded);
  EXPECT_EQ(encoded.front(), 3);
  Result<WindowMetrics> decoded = WindowMetrics::Decode(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, windows[""]);
  decoded->Merge(windows[""]);
  EXPECT_EQ(sad->Value(*decoded), 4u);
  // Metrics without counters keep format version 2, byte for byte.
  WindowMetrics plain;
  plain.AddMention(1, 10);
  std::string plain_encoded;
  plain.EncodeTo(plain_encoded);
  EXPECT_EQ(plain_encoded.front(), 2);
}

}  // namespace
}  // namespace brandpulse
