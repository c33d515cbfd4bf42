// Issue 11, `dedup` with `cluster:` (operators/dedup.h, "Across instances"; docs/cluster.md,
// "De-duplication across instances"): the partials encoding of post events
// (operators/partials_codec.h, version 0x03), and the merger's decisions (DedupMerger) against
// one process running the same `dedup` and `window` transforms over the same posts: copies read
// by different instances count once, an edit replaces the counted version at its time, a replay
// of the counted version is dropped, an edit after every window closed is late, and the set is
// state (stored, loaded, dropped per brand).
#include <atomic>
#include <deque>
#include <map>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/batch.h"
#include "engine/state_store.h"
#include "engine/varint.h"
#include "operators/compiled_watchlist.h"
#include "operators/dedup.h"
#include "operators/partials_codec.h"
#include "operators/window_aggregate.h"
#include "test_support.h"

namespace brandpulse {
namespace {

using brandpulse_test::MakeTempDirectory;

constexpr int64_t kT0 = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr int64_t kMinute = 60000;
constexpr int64_t kHour = 60 * kMinute;

PostEvent Event(std::string brand, uint64_t key, int64_t time, uint64_t text, bool edit,
                uint64_t mentions = 1) {
  PostEvent event;
  event.brand_id = std::move(brand);
  event.key_hash = key;
  event.event_time_ms = time;
  event.text_hash = text;
  event.edit = edit;
  PartialWindow window;
  window.shape_index = 0;
  window.start_ms = WindowStart(time, kHour);
  window.metrics.mentions = mentions;
  window.metrics.reach = 10 * mentions;
  window.metrics.AddCounter(3, 2);
  event.windows.push_back(std::move(window));
  return event;
}

TEST(ClusterDedupCodec, PostEventsRoundTripAndRecordsWithoutThemKeepTheirVersion) {
  PreparedPartials prepared;
  prepared.epoch = EpochId{0x0123456789abcdefULL, 9};
  prepared.source_partition_count = 8;
  prepared.ranges.push_back(SourceRange{3, 10, 20, kT0, false});
  std::string version_one;
  EncodePrepared(prepared, version_one);
  ASSERT_EQ(version_one[1], '\x01');

  prepared.posts.push_back(Event("telenor", 0x1122334455667788ULL, kT0 + 5, 0xfeedULL, false));
  prepared.posts.push_back(Event("telia", 7, -3, 0, true, 2));
  prepared.posts.back().windows.clear();  // a post with no window (own post, no author shape)
  std::string bytes;
  EncodePrepared(prepared, bytes);
  EXPECT_EQ(bytes[1], '\x03');
  EXPECT_EQ(bytes.substr(2, version_one.size() - 2), version_one.substr(2));  // v1, then tails
  EXPECT_EQ(bytes[version_one.size()], '\x00');  // no inquiry events
  Result<PartialsKind> kind = PartialsKindOf(bytes);
  ASSERT_TRUE(kind.ok());
  EXPECT_EQ(*kind, PartialsKind::kPrepared);
  Result<PreparedPartials> decoded = DecodePrepared(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->ranges, prepared.ranges);
  EXPECT_TRUE(decoded->inquiries.empty());
  EXPECT_EQ(decoded->posts, prepared.posts);
  for (size_t length = 0; length < bytes.size(); ++length) {
    EXPECT_FALSE(DecodePrepared(std::string_view(bytes).substr(0, length)).ok()) << length;
  }

  // With inquiry events and posts: the 0x02 record, then the posts.
  prepared.inquiries.push_back(InquiryEvent{InquiryEvent::Kind::kOpened, "sla", "telenor", kT0, "q"});
  std::vector<PostEvent> posts = std::move(prepared.posts);
  prepared.posts.clear();
  std::string version_two;
  EncodePrepared(prepared, version_two);
  EXPECT_EQ(version_two[1], '\x02');  // unchanged without posts
  prepared.posts = posts;
  std::string both;
  EncodePrepared(prepared, both);
  EXPECT_EQ(both[1], '\x03');
  EXPECT_EQ(both.substr(2, version_two.size() - 2), version_two.substr(2));
  decoded = DecodePrepared(both);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->inquiries, prepared.inquiries);
  EXPECT_EQ(decoded->posts, prepared.posts);
  std::string bad_edit = bytes;
  // The first post's edit byte: after the brand (len + 7), key (8), time varint, text hash (8).
  const size_t post_start = version_one.size() + 2;
  std::string time;
  AppendVarint(time, static_cast<uint64_t>((kT0 + 5) << 1));
  bad_edit[post_start + 1 + 7 + 8 + time.size() + 8] = '\x05';
  EXPECT_FALSE(DecodePrepared(bad_edit).ok());
}

// One process (`dedup` deciding, then `window`) against two readers (`dedup` publishing, then
// `window`) and the brands' merger (DedupMerger), over the same posts.
class ClusterDedupMerge : public ::testing::Test {
 protected:
  void SetUp() override {
    WatchlistSpec spec;
    for (std::string id : {"telenor", "telia"}) {
      BrandSpec brand;
      brand.id = id;
      brand.name = id;
      brand.terms = {id};
      spec.brands.push_back(brand);
    }
    Result<std::shared_ptr<const CompiledWatchlist>> compiled = CompiledWatchlist::Make(spec);
    ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
    watchlist_ = *compiled;
    WindowSpec hour;
    hour.name = "1h";
    hour.size_ms = kHour;
    hour.dimensions = {Dimension::kLanguage};
    WindowSpec hopping;
    hopping.name = "2h";
    hopping.type = WindowType::kHopping;
    hopping.size_ms = 2 * kHour;
    hopping.slide_ms = kHour;
    settings_.windows = {hour, hopping};
    settings_.allowed_lateness_ms = 0;
    layout_ = MakeWindowLayout(settings_.windows);
  }

  TransformBuildContext Context(std::map<std::string, std::shared_ptr<void>, std::less<>>& objects) {
    TransformBuildContext context;
    context.watchlist = watchlist_;
    context.windows = &settings_;
    context.layout = &layout_;
    context.watermark = &watermark_;
    context.run_objects = &objects;
    return context;
  }

  struct Said {
    std::string id, edit_of, text;
    int64_t time_ms;
  };
  // Runs `posts` (one batch each) through dedup and window; returns the window deltas by
  // "brand shape dimension start" (encoded values), and the dedup transform's objects.
  std::map<std::string, std::string> Run(const std::vector<Said>& posts, bool cluster,
                                         std::vector<PostEvent>* events) {
    std::map<std::string, std::shared_ptr<void>, std::less<>> objects;
    if (cluster) objects.emplace(std::string(kDedupClusterMode), nullptr);
    TransformBuildContext context = Context(objects);
    DedupOptions options;
    Result<std::unique_ptr<Transform>> dedup = MakeDedup(options, context);
    EXPECT_TRUE(dedup.ok()) << dedup.status().ToString();
    WindowAggregate::Options window_options;  // as the pipeline's `window` (MakeWindow)
    window_options.layout = layout_;
    window_options.allowed_lateness_ms = settings_.allowed_lateness_ms;
    window_options.term_capacity = TermCapacityFor(settings_.top_k);
    window_options.co_terms = settings_.co_terms;
    window_options.term_shape = layout_.shape_of_window[settings_.top_k_window];
    WindowAggregate window(window_options, &watermark_);
    auto dedup_state = (*dedup)->MakeState();
    auto window_state = window.MakeState();
    EXPECT_TRUE(dedup_state.ok() && window_state.ok());
    std::deque<std::string> authors;  // the posts' views point here
    for (const Said& said : posts) {
      Batch batch;
      Post post;
      post.id = said.id;
      post.edit_of = said.edit_of;
      post.text = said.text;
      post.author_id = authors.emplace_back("author-" + said.id.substr(0, 2));
      post.language = "en";
      post.author_followers = 10;
      post.platform = Platform::kMastodon;
      post.event_time_ms = said.time_ms;
      batch.posts.push_back(post);
      for (uint32_t brand = 0; brand < static_cast<uint32_t>(watchlist_->brand_count()); ++brand) {
        const std::string& id = watchlist_->brand(brand).id;
        if (const size_t at = said.text.find(id); at != std::string::npos) {
          batch.mentions.push_back(Mention{0, brand, static_cast<uint32_t>(at),
                                           static_cast<uint32_t>(at + id.size()), false});
        }
      }
      EXPECT_TRUE((*dedup)->Process(batch, **dedup_state).ok());
      EXPECT_TRUE(window.Process(batch, **window_state).ok());
    }
    WindowDeltaMap deltas;
    EpochHandOver epoch{&deltas, nullptr};
    EXPECT_TRUE((*dedup)->HandOver(**dedup_state, epoch).ok());
    EXPECT_TRUE(window.HandOver(**window_state, epoch).ok());
    if (events != nullptr) *events = TakeDedupPostEvents(objects);
    std::map<std::string, WindowMetrics> by_key;
    for (auto& [key, metrics] : deltas) {
      by_key[Name(watchlist_->brand(key.brand_index).id, key.shape_index, key.dimension, key.start_ms)]
          .Merge(metrics);
    }
    return Encoded(by_key);
  }

  static std::string Name(const std::string& brand, uint32_t shape, uint64_t dimension, int64_t start) {
    return fmt::format("{} {} {} {}", brand, shape, dimension, start);
  }
  static std::map<std::string, std::string> Encoded(const std::map<std::string, WindowMetrics>& by_key) {
    std::map<std::string, std::string> encoded;
    for (const auto& [name, metrics] : by_key) metrics.EncodeTo(encoded[name]);
    return encoded;
  }
  static std::map<std::string, std::string> Sum(const std::vector<PartialWindow>& windows) {
    std::map<std::string, WindowMetrics> by_key;
    for (const PartialWindow& window : windows) {
      by_key[Name(window.brand_id, window.shape_index, window.dimension, window.start_ms)].Merge(
          window.metrics);
    }
    return Encoded(by_key);
  }
  DedupMerger Merger() { return DedupMerger(DedupOptions{}, layout_, settings_.allowed_lateness_ms); }

  std::shared_ptr<const CompiledWatchlist> watchlist_;
  WindowSettings settings_;
  WindowLayout layout_;
  std::atomic<int64_t> watermark_{INT64_MIN};
};

TEST_F(ClusterDedupMerge, CopiesReadByTwoInstancesCountOnceAsInOneProcess) {
  const std::vector<Said> a = {{"p1", "", "telenor is fine", kT0 + kMinute},
                               {"p2", "", "telenor and telia?", kT0 + 5 * kMinute},
                               {"p3", "", "telia?", kT0 + 10 * kMinute},
                               {"p4", "", "nothing here", kT0 + 11 * kMinute}};
  const std::vector<Said> b = {{"p2", "", "telenor and telia?", kT0 + 5 * kMinute},
                               {"p1", "", "telenor is fine", kT0 + kMinute},
                               {"p3", "", "telia?", kT0 + 10 * kMinute},
                               {"p5", "", "telenor again", kT0 + 65 * kMinute}};
  std::vector<Said> all = a;
  all.insert(all.end(), b.begin(), b.end());
  const std::map<std::string, std::string> one_process = Run(all, false, nullptr);
  ASSERT_FALSE(one_process.empty());

  std::vector<PostEvent> from_a;
  std::vector<PostEvent> from_b;
  // Where posts are read nothing of a post that enters the set is in the instance's deltas.
  EXPECT_TRUE(Run(a, true, &from_a).empty());
  EXPECT_TRUE(Run(b, true, &from_b).empty());
  EXPECT_EQ(from_a.size(), 4u);  // p1, p2 for each brand, p3 (p4 mentions nothing)
  EXPECT_EQ(from_b.size(), 5u);
  // Whichever instance's epoch the merger applies first.
  for (bool a_first : {true, false}) {
    SCOPED_TRACE(a_first);
    DedupMerger merger = Merger();
    std::vector<PartialWindow> counted;
    merger.Apply(a_first ? from_a : from_b, INT64_MIN, counted);
    merger.Apply(a_first ? from_b : from_a, INT64_MIN, counted);
    EXPECT_EQ(Sum(counted), one_process);
    EXPECT_EQ(merger.stats().counted, 5u);
    EXPECT_EQ(merger.stats().duplicates, 4u);
    EXPECT_EQ(merger.size(), 5u);  // (post, brand) pairs
  }
}

TEST_F(ClusterDedupMerge, AnEditReplacesTheCountedVersionAtItsTimeAsInOneProcess) {
  const std::vector<Said> a = {{"p3", "", "telia?", kT0 + 10 * kMinute}};
  const std::vector<Said> b = {{"p3e", "p3", "telia rocks", kT0 + 70 * kMinute},
                               {"p3f", "p3", "telia rocks", kT0 + 75 * kMinute}};  // a replay
  std::vector<Said> all = a;
  all.insert(all.end(), b.begin(), b.end());
  const std::map<std::string, std::string> one_process = Run(all, false, nullptr);
  std::vector<PostEvent> from_a;
  std::vector<PostEvent> from_b;
  Run(a, true, &from_a);
  Run(b, true, &from_b);
  DedupMerger merger = Merger();
  std::vector<PartialWindow> counted;
  merger.Apply(from_a, INT64_MIN, counted);
  merger.Apply(from_b, INT64_MIN, counted);
  EXPECT_EQ(Sum(counted), one_process);
  EXPECT_EQ(merger.stats().edits_applied, 1u);
  EXPECT_EQ(merger.stats().duplicates, 1u);
  // Nothing left at the edit's own hour: it counts at the first version's.
  for (const auto& [name, value] : one_process) {
    EXPECT_EQ(name.find(std::to_string(kT0 + kHour)), std::string::npos) << name;
  }

  // What differs from one process: the edit applied before its first version (another
  // instance's epoch first) counts at its own time, and the first version is then a duplicate.
  DedupMerger swapped = Merger();
  std::vector<PartialWindow> swapped_counted;
  swapped.Apply(from_b, INT64_MIN, swapped_counted);
  swapped.Apply(from_a, INT64_MIN, swapped_counted);
  EXPECT_NE(Sum(swapped_counted), one_process);
  EXPECT_EQ(swapped.stats().counted, 1u);
}

TEST_F(ClusterDedupMerge, LateEditsHorizonAndStoredSet) {
  DedupMerger merger = Merger();
  std::vector<PartialWindow> counted;
  merger.Apply({Event("telenor", 1, kT0 + kMinute, 11, false),
                Event("telia", 1, kT0 + kMinute, 11, false)},
               INT64_MIN, counted);
  ASSERT_EQ(counted.size(), 2u);
  // Every window of the counted version closed (the 1h one at kT0 + 1h, the 2h ones by kT0 + 2h):
  // the edit is late.
  counted.clear();
  merger.Apply({Event("telenor", 1, kT0 + 2 * kHour, 12, true)}, kT0 + 2 * kHour, counted);
  EXPECT_TRUE(counted.empty());
  EXPECT_EQ(merger.stats().edits_late, 1u);

  auto directory = MakeTempDirectory("cluster-dedup-store");
  auto store = StateStore::Open(StateOptions{(directory / "state").string()});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  StateStore::Commit commit = (*store)->NewCommit();
  merger.WriteChanges(commit);
  ASSERT_TRUE((*store)->Write(commit).ok());
  DedupMerger loaded = Merger();
  ASSERT_TRUE(loaded.Load(**store).ok());
  EXPECT_EQ(loaded.size(), 2u);
  counted.clear();
  loaded.Apply({Event("telia", 1, kT0 + kMinute, 11, false)}, INT64_MIN, counted);
  EXPECT_TRUE(counted.empty());  // remembered across the restart
  StateStore::Commit drop = (*store)->NewCommit();
  loaded.DropBrands({"telia"}, drop);
  ASSERT_TRUE((*store)->Write(drop).ok());
  EXPECT_EQ(loaded.size(), 1u);
  DedupMerger again = Merger();
  ASSERT_TRUE(again.Load(**store).ok());
  EXPECT_EQ(again.size(), 1u);

  // A brand replayed beside kept ones is judged by its own watermark (WatermarkOf): its edit of
  // a version whose windows the kept brands' watermark has closed still applies.
  DedupMerger replay = Merger();
  counted.clear();
  replay.Apply({Event("telenor", 2, kT0 + kMinute, 21, false), Event("telia", 2, kT0 + kMinute, 21, false)},
               INT64_MIN, counted);
  counted.clear();
  const auto behind = [](const std::string& brand) {
    return brand == "telia" ? kT0 + 2 * kMinute : kT0 + 3 * kHour;
  };
  replay.Apply({Event("telenor", 2, kT0 + 2 * kMinute, 22, true),
                Event("telia", 2, kT0 + 2 * kMinute, 22, true)},
               behind, counted);
  EXPECT_EQ(replay.stats().edits_late, 1u);     // telenor's
  EXPECT_EQ(replay.stats().edits_applied, 1u);  // telia's: retracted and counted again
  ASSERT_EQ(counted.size(), 2u);
  EXPECT_EQ(counted[0].brand_id, "telia");
  EXPECT_EQ(counted[0].metrics.mentions, 0 - uint64_t{1});
  EXPECT_EQ(counted[1].metrics.mentions, 1u);

  // Past the horizon (48 h) the id is forgotten: a copy counts again, as in one process.
  counted.clear();
  again.Apply({Event("telenor", 1, kT0 + 50 * kHour, 11, false)}, kT0 + 49 * kHour, counted);
  EXPECT_EQ(counted.size(), 1u);
  EXPECT_EQ(again.stats().counted, 1u);
}

}  // namespace
}  // namespace brandpulse
