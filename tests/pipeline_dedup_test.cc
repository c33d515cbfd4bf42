// Post-id de-duplication (issue 14, operators/dedup.h) on real files and a real RocksDB: the
// Mastodon sample's replayed statuses count once, replays after a restart count once, edits
// replace the counted version while its window is open and go late after, the bounded set
// evicts its oldest ids, and the `dedup:` section's mistakes are reported at file:line:column.
#include "operators/dedup.h"

#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/state_store.h"
#include "operators/compiled_watchlist.h"
#include "operators/json_decode.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"
#include "tests/test_support.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;
using brandpulse_test::MakeTempDirectory;
using brandpulse_test::ReadFile;
using brandpulse_test::WriteFile;

const fs::path kFixtures = fs::path(BRANDPULSE_SOURCE_DIR) / "tests" / "fixtures";

// "brand dimension start" → mentions, over every window in the store.
std::map<std::string, uint64_t> Mentions(const fs::path& state) {
  std::map<std::string, uint64_t> mentions;
  auto store = StateStore::Open(StateOptions{state.string()});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return mentions;
  Status status = (*store)->ScanAllWindows([&](const WindowKey& key, const WindowMetrics& metrics) {
    mentions[fmt::format("{} {} {} {}", key.brand_id, key.dimension.empty() ? "-" : key.dimension,
                         key.size_ms, key.start_ms)] = metrics.mentions;
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  return mentions;
}


struct Fixture {
  fs::path work;
  fs::path input;
  std::string pipeline;
};

// A pipeline over `input` (Mastodon statuses) with the brands `testers` (test) and `virgin`
// (処女), telenor and telia; `transforms` as given.
Fixture MakePipeline(const std::string& name, const std::string& transforms, int workers,
                     const std::string& extra = "") {
  Fixture fixture;
  fixture.work = MakeTempDirectory("dedup-" + name);
  fixture.input = fixture.work / "statuses.jsonl";
  WriteFile(fixture.work / "watchlist.yaml",
            "brands:\n"
            "  - {id: testers, terms: [test]}\n"
            "  - {id: virgin, terms: [\"処女\"]}\n"
            "  - {id: telenor, terms: [telenor]}\n"
            "  - {id: telia, terms: [telia]}\n");
  fixture.pipeline = (fixture.work / "pipeline.yaml").string();
  WriteFile(fixture.pipeline,
            fmt::format("name: dedup-{}\n"
                        "source: {{type: file, path: statuses.jsonl}}\n"
                        "decode: {{format: mastodon}}\n"
                        "watchlist: watchlist.yaml\n"
                        "transforms: [{}]\n"
                        "workers: {}\n"
                        "batch_records: 1\n"
                        "state: {{directory: state, commit_every_records: 2}}\n"
                        "time: {{max_out_of_orderness: 0s, allowed_lateness: 0s}}\n"
                        "windows:\n"
                        "  - {{name: 1h, size: 1h, dimensions: [lang, author]}}\n"
                        "  - {{name: 2h, type: hopping, size: 2h, slide: 1h}}\n"
                        "sinks:\n"
                        "  late: {{type: file, path: out/late.jsonl}}\n"
                        "  dead_letter: {{type: file, path: out/dead.jsonl}}\n"
                        "{}",
                        name, transforms, workers, extra));
  return fixture;
}

Result<RunSummary> RunDedupPipeline(const Fixture& fixture, bool fresh) {
  Diagnostics diagnostics;
  std::optional<PipelineSpec> spec = LoadPipelineSpec(fixture.pipeline, diagnostics);
  EXPECT_TRUE(spec.has_value()) << diagnostics.ToString();
  if (!spec) return Status::InvalidArgument(diagnostics.ToString());
  RunOptions options;
  options.fresh = fresh;
  options.watch_watchlist_file = false;
  return RunPipeline(*spec, options);
}

std::string SampleLines() { return ReadFile(kFixtures / "mastodon" / "streaming_update_examples.jsonl"); }

// A Mastodon status (the streaming `update` payload); an edit carries `edited_at`.
std::string Status(const std::string& id, const std::string& created_at, const std::string& text,
                   const std::string& edited_at = "") {
  return fmt::format(
      R"({{"id":"{}","created_at":"{}","in_reply_to_id":null,"language":"en",)"
      R"("edited_at":{},"content":"<p>{}</p>","account":{{"id":"a{}","acct":"user{}",)"
      R"("followers_count":10}}}})",
      id, created_at, edited_at.empty() ? "null" : "\"" + edited_at + "\"", text, id, id);
}

TEST(DedupTest, MastodonSampleCountsEachStatusOnceForAnyNumberOfWorkers) {
  // 7 events for 4 statuses: "test" twice ("<p>test</p>" and "#test" twice), 処女 twice.
  std::map<std::string, uint64_t> first;
  for (int workers : {1, 2, 4}) {
    SCOPED_TRACE(workers);
    Fixture fixture = MakePipeline(fmt::format("sample-{}", workers), "decode, match, dedup, window", workers);
    WriteFile(fixture.input, SampleLines());
    Result<RunSummary> summary = RunDedupPipeline(fixture, true);
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    EXPECT_EQ(summary->posts, 7u);
    EXPECT_EQ(summary->mentions, 3u);  // was 5: each replayed status counted again
    EXPECT_EQ(summary->duplicates_dropped, 2u);
    std::map<std::string, uint64_t> mentions = Mentions(fixture.work / "state");
    EXPECT_EQ(mentions["testers - 3600000 1661900400000"], 2u);
    EXPECT_EQ(mentions["virgin - 3600000 1661900400000"], 1u);
    EXPECT_EQ(mentions["virgin lang:und 3600000 1661900400000"] + mentions["virgin lang:en 3600000 1661900400000"] +
                  mentions["virgin lang:ja 3600000 1661900400000"],
              1u);
    if (workers == 1) {
      first = mentions;
    } else {
      EXPECT_EQ(mentions, first);
    }
  }
  // Without the dedup transform (today's behaviour) the replays count twice.
  Fixture plain = MakePipeline("sample-plain", "decode, match, window", 1);
  WriteFile(plain.input, SampleLines());
  ASSERT_TRUE(RunDedupPipeline(plain, true).ok());
  EXPECT_EQ(Mentions(plain.work / "state")["testers - 3600000 1661900400000"], 3u);
}

TEST(DedupTest, ReplaysAfterARestartAreCountedOnce) {
  std::vector<std::string> lines = brandpulse_test::Lines(SampleLines());
  ASSERT_EQ(lines.size(), 7u);
  // The firehose delivers three statuses, reconnects, and replays from the start.
  std::string input = lines[0] + "\n" + lines[1] + "\n" + lines[2] + "\n";
  for (const std::string& line : lines) input += line + "\n";
  for (uint64_t stop_after : {uint64_t{0}, uint64_t{3}, uint64_t{5}}) {
    SCOPED_TRACE(stop_after);
    Fixture fixture = MakePipeline(fmt::format("restart-{}", stop_after), "decode, match, dedup, window", 2);
    WriteFile(fixture.input, input);
    uint64_t records = 0, mentions = 0, duplicates = 0;
    for (int run = 0; run < 2; ++run) {
      Diagnostics diagnostics;
      std::optional<PipelineSpec> spec = LoadPipelineSpec(fixture.pipeline, diagnostics);
      ASSERT_TRUE(spec.has_value()) << diagnostics.ToString();
      RunOptions options;
      options.fresh = run == 0;
      options.watch_watchlist_file = false;
      options.stop_after_records = run == 0 ? stop_after : 0;  // a stop, then a restart
      Result<RunSummary> summary = RunPipeline(*spec, options);
      ASSERT_TRUE(summary.ok()) << summary.status().ToString();
      EXPECT_EQ(summary->resumed, run == 1 && stop_after > 0);
      records += summary->records;
      mentions += summary->mentions;
      duplicates += summary->duplicates_dropped;
      if (stop_after == 0) break;
    }
    EXPECT_EQ(records, 10u);
    EXPECT_EQ(mentions, 3u);
    EXPECT_EQ(duplicates, 4u);
    std::map<std::string, uint64_t> windows = Mentions(fixture.work / "state");
    EXPECT_EQ(windows["testers - 3600000 1661900400000"], 2u);
    EXPECT_EQ(windows["virgin - 3600000 1661900400000"], 1u);
  }
}

TEST(DedupTest, EditsReplaceTheCountedVersionWhileItsWindowIsOpenAndGoLateAfter) {
  const std::string hour = "2026-05-25T10";  // the window [10:00, 11:00)
  std::vector<std::string> statuses = {
      Status("1", hour + ":05:00Z", "I love telenor?"),
      // An edit: the brand changes from telenor to telia, the question mark goes.
      Status("1", hour + ":05:00Z", "I love telia", hour + ":06:00Z"),
      // The same edit replayed: a duplicate, not a second mention.
      Status("1", hour + ":05:00Z", "I love telia", hour + ":06:00Z"),
      Status("2", hour + ":10:00Z", "telenor again"),
      // Much later: the watermark passes 11:00 and 12:00, the 10:00 windows close.
      Status("3", "2026-05-25T13:00:00Z", "telia later"),
      Status("4", "2026-05-25T13:00:01Z", "nothing"),
      Status("5", "2026-05-25T13:00:02Z", "nothing"),
      // An edit of status 2 after its windows closed: late, and nothing changes.
      Status("2", hour + ":10:00Z", "telia instead", "2026-05-25T13:00:03Z"),
  };
  std::string input;
  for (const std::string& status : statuses) input += status + "\n";
  for (int workers : {1, 3}) {
    SCOPED_TRACE(workers);
    Fixture fixture = MakePipeline(fmt::format("edits-{}", workers), "decode, match, dedup, window", workers);
    WriteFile(fixture.input, input);
    Result<RunSummary> summary = RunDedupPipeline(fixture, true);
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    EXPECT_EQ(summary->edits_applied, 1u);
    EXPECT_EQ(summary->edits_late, 1u);
    EXPECT_EQ(summary->duplicates_dropped, 1u);
    EXPECT_EQ(summary->late_posts, 1u);
    std::map<std::string, uint64_t> mentions = Mentions(fixture.work / "state");
    const int64_t ten = 1779703200000;  // 2026-05-25T10:00:00Z
    EXPECT_EQ(mentions[fmt::format("telenor - 3600000 {}", ten)], 1u);      // status 2 only
    EXPECT_EQ(mentions[fmt::format("telenor lang:en 3600000 {}", ten)], 1u);
    EXPECT_EQ(mentions[fmt::format("telia - 3600000 {}", ten)], 1u);        // the edit of status 1
    EXPECT_EQ(mentions[fmt::format("telia lang:en 3600000 {}", ten)], 1u);
    // Hopping 2h windows starting 09:00 and 10:00 hold 10:05 too.
    EXPECT_EQ(mentions[fmt::format("telenor - 7200000 {}", ten - 3600000)], 1u);
    EXPECT_EQ(mentions[fmt::format("telia - 7200000 {}", ten - 3600000)], 1u);
    // The question went with the earlier version.
    auto store = StateStore::Open(StateOptions{(fixture.work / "state").string(), 0, true});
    ASSERT_TRUE(store.ok());
    auto telenor = (*store)->ReadWindow(WindowKey{"telenor", 3600000, ten, "", 0});
    ASSERT_TRUE(telenor.ok() && telenor->has_value());
    EXPECT_EQ((*telenor)->questions, 0u);
    EXPECT_EQ((*telenor)->reach, 10u);
    // The late edit is in the late output, with its own bytes.
    std::string late = ReadFile(fixture.work / "out" / "late.jsonl");
    EXPECT_NE(late.find("telia instead"), std::string::npos) << late;
  }
}

TEST(DedupTest, DecodersMarkEdits) {
  // Mastodon: `edited_at` set.
  {
    DecodeSpec spec;
    spec.format = DecodeFormat::kMastodon;
    auto decode = MakeJsonDecode(spec);
    ASSERT_TRUE(decode.ok());
    Batch batch;
    std::string original = Status("7", "2026-05-25T10:00:00Z", "a");
    std::string edit = Status("7", "2026-05-25T10:00:00Z", "b", "2026-05-25T10:01:00Z");
    batch.AddRecord(original, 1);
    batch.AddRecord(edit, 2);
    batch.PadInput();
    auto state = (*decode)->MakeState().value();
    ASSERT_TRUE((*decode)->Process(batch, *state).ok());
    ASSERT_EQ(batch.posts.size(), 2u);
    EXPECT_EQ(batch.posts[0].edit_of, "");
    EXPECT_EQ(batch.posts[1].edit_of, "7");
  }
  // X v2: edit_history_tweet_ids, the original first (the recorded edited.jsonl page).
  {
    DecodeSpec spec;
    spec.format = DecodeFormat::kTwitterV2;
    auto decode = MakeJsonDecode(spec);
    ASSERT_TRUE(decode.ok());
    Batch batch;
    std::string page = brandpulse_test::Lines(ReadFile(kFixtures / "twitter-v2" / "edited.jsonl"))[0];
    batch.AddRecord(page, 1);
    std::string original =
        R"({"data":[{"id":"100","text":"t","created_at":"2022-10-03T17:57:11.000Z",)"
        R"("edit_history_tweet_ids":["100"]}]})";
    batch.AddRecord(original, 2);
    batch.PadInput();
    auto state = (*decode)->MakeState().value();
    ASSERT_TRUE((*decode)->Process(batch, *state).ok());
    ASSERT_EQ(batch.posts.size(), 2u);
    EXPECT_EQ(batch.posts[0].id, "1576994789110992896");
    EXPECT_EQ(batch.posts[0].edit_of, "1576994746135764992");
    EXPECT_EQ(batch.posts[1].edit_of, "");  // an original names itself
  }
  // Bluesky Jetstream: a commit with operation `update` of a post.
  {
    DecodeSpec spec;
    spec.format = DecodeFormat::kJetstream;
    auto decode = MakeJsonDecode(spec);
    ASSERT_TRUE(decode.ok());
    Batch batch;
    for (const char* operation : {"create", "update"}) {
      batch.AddRecord(fmt::format(
                          R"({{"did":"did:plc:x","time_us":1779719010000000,"kind":"commit",)"
                          R"("commit":{{"rev":"r","operation":"{}","collection":"app.bsky.feed.post",)"
                          R"("rkey":"3abc","record":{{"$type":"app.bsky.feed.post",)"
                          R"("createdAt":"2026-05-25T14:24:00.000Z","text":"hei"}}}}}})",
                          operation),
                      batch.size() + 1);
    }
    batch.PadInput();
    auto state = (*decode)->MakeState().value();
    ASSERT_TRUE((*decode)->Process(batch, *state).ok());
    ASSERT_EQ(batch.posts.size(), 2u);
    EXPECT_EQ(batch.posts[0].edit_of, "");
    EXPECT_EQ(batch.posts[1].edit_of, "at://did:plc:x/app.bsky.feed.post/3abc");
  }
}

TEST(DedupTableTest, EraseKeepsEveryOtherEntryFindable) {
  DedupTable table(1024 * sizeof(DedupTable::Entry));
  ASSERT_EQ(table.capacity(), 1024u);
  std::mt19937_64 random(14);
  std::unordered_map<uint64_t, int64_t> reference;
  for (int round = 0; round < 40; ++round) {
    while (table.size() < table.limit()) {
      // Few distinct home slots: long probe runs that wrap around the end.
      uint64_t hash = (random() % 64) | (random() << 10) | 1;
      hash = (hash & ~uint64_t{1023}) | ((1024 - 8 + (hash % 16)) & 1023);
      if (table.Find(hash)) continue;
      const int64_t time = static_cast<int64_t>(random() % 1000);
      table.Insert(hash, time);
      reference[hash] = time;
    }
    const int64_t cut = static_cast<int64_t>(random() % 1000);
    size_t removed = table.EraseIf([&](const DedupTable::Entry& entry) { return entry.event_ms < cut; },
                                   [&](const DedupTable::Entry& entry) { reference.erase(entry.hash); });
    EXPECT_EQ(table.size(), reference.size());
    (void)removed;
    for (const auto& [hash, time] : reference) {
      std::optional<size_t> slot = table.Find(hash);
      ASSERT_TRUE(slot.has_value()) << hash;
      EXPECT_EQ(table.at(*slot).event_ms, time);
      EXPECT_GE(time, cut);
    }
  }
}

TEST(DedupTableTest, EvictionRankDependsOnlyOnTheEntries) {
  DedupTable forward(64 * sizeof(DedupTable::Entry));
  DedupTable backward(64 * sizeof(DedupTable::Entry));
  for (int i = 0; i < 32; ++i) forward.Insert(1000 + i * 7919, 100 + i / 2);
  for (int i = 31; i >= 0; --i) backward.Insert(1000 + i * 7919, 100 + i / 2);
  for (size_t count : {1u, 2u, 3u, 4u, 17u, 32u}) {
    EXPECT_EQ(forward.EventTimeRank(count), backward.EventTimeRank(count)) << count;
    EXPECT_EQ(forward.EventTimeRank(count), 100 + static_cast<int64_t>((count - 1) / 2));
  }
}

// The bound, through the transform: a set of 16 slots holds 8 ids; the 9th evicts the oldest
// eighth (one id), counted in the batch; an evicted id counts again when replayed.
TEST(DedupTest, AFullSetEvictsItsOldestIdsAndCountsThem) {
  WatchlistSpec watchlist;
  BrandSpec brand;
  brand.id = "telenor";
  brand.name = "Telenor";
  brand.terms = {"telenor"};
  watchlist.brands.push_back(brand);
  auto compiled = CompiledWatchlist::Make(watchlist);
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  WindowSpec window;
  window.name = "1h";
  window.size_ms = 3600000;
  WindowLayout layout = MakeWindowLayout({window});
  WindowSettings settings;
  settings.windows = {window};
  std::atomic<int64_t> watermark{INT64_MIN};
  std::map<std::string, std::shared_ptr<void>, std::less<>> objects;
  TransformBuildContext context;
  context.watchlist = *compiled;
  context.windows = &settings;
  context.layout = &layout;
  context.watermark = &watermark;
  context.run_objects = &objects;
  DedupOptions options;
  options.memory_bytes = 16 * sizeof(DedupTable::Entry);
  auto dedup = MakeDedup(options, context);
  ASSERT_TRUE(dedup.ok()) << dedup.status().ToString();
  auto state = (*dedup)->MakeState().value();
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(fmt::format("post-{}", i));
  auto process = [&](const std::vector<int>& which) {
    Batch batch;
    for (int i : which) {
      Post post;
      post.id = ids[i];
      post.text = "telenor";
      post.platform = Platform::kMastodon;
      post.event_time_ms = 1000 * (i + 1);
      batch.posts.push_back(post);
      batch.mentions.push_back(Mention{static_cast<uint32_t>(batch.posts.size() - 1), 0, 0, 7});
    }
    EXPECT_TRUE((*dedup)->Process(batch, *state).ok());
    return std::pair<size_t, uint32_t>(batch.mentions.size(), batch.dedup_evicted);
  };
  EXPECT_EQ(process({0, 1, 2, 3, 4, 5, 6, 7}), (std::pair<size_t, uint32_t>(8, 0)));
  EXPECT_EQ(process({0, 7}), (std::pair<size_t, uint32_t>(0, 0)));  // duplicates
  EXPECT_EQ(process({8}), (std::pair<size_t, uint32_t>(1, 1)));     // post-0 evicted
  EXPECT_EQ(process({1, 8}), (std::pair<size_t, uint32_t>(0, 0)));
  EXPECT_EQ(process({0}), (std::pair<size_t, uint32_t>(1, 1)));     // forgotten: counts again
}

void ExpectError(const std::string& name, const std::string& section, const std::string& expected) {
  Fixture fixture = MakePipeline(name, "decode, match, dedup, window", 1, section);
  Diagnostics diagnostics;
  std::optional<PipelineSpec> spec = LoadPipelineSpec(fixture.pipeline, diagnostics);
  EXPECT_FALSE(spec.has_value()) << section;
  EXPECT_NE(diagnostics.ToString().find(expected), std::string::npos) << diagnostics.ToString();
}

TEST(DedupTest, ConfigurationMistakesAreReportedWhereTheyAre) {
  // The pipeline's dedup: section starts at line 16 (MakePipeline's layout).
  ExpectError("horizon", "dedup: {horizon: 30m}\n",
              "pipeline.yaml:16:18: error: horizon 1800000ms is shorter than window '2h'");
  ExpectError("memory", "dedup: {memory_mb: 0}\n", "pipeline.yaml:16:20:");
  ExpectError("unknown", "dedup: {horizn: 2d}\n", "did you mean 'horizon'");
  // memory_mb is rounded down to a power of two: 300 holds 256 MiB.
  ExpectError("budget", "dedup: {memory_mb: 300}\n",
              "transforms hold 256 MiB (dedup.memory_mb), more than half of state.memory_budget_mb");
  // Before match it has nothing to de-duplicate.
  Fixture early = MakePipeline("order", "decode, dedup, match, window", 1);
  Diagnostics diagnostics;
  EXPECT_FALSE(LoadPipelineSpec(early.pipeline, diagnostics).has_value());
  EXPECT_NE(diagnostics.ToString().find("transform 'dedup' needs 'match' before it"), std::string::npos)
      << diagnostics.ToString();
}

}  // namespace
}  // namespace brandpulse

namespace brandpulse {
namespace {

// Issue 14, item 2: the Jetstream DID → handle map is committed with the epoch, so a post after a
// restart still knows its author's handle (here: the brand's own, so it is an own post).
TEST(DidHandlesTest, HandlesLearntBeforeARestartAreKnownAfterIt) {
  fs::path work = MakeTempDirectory("did-handles");
  WriteFile(work / "watchlist.yaml", "brands:\n  - {id: telenor, terms: [telenor], handles: [\"@telenor.no\"]}\n");
  const std::string pipeline = (work / "pipeline.yaml").string();
  WriteFile(pipeline,
            "name: did-handles\n"
            "source: {type: file, path: events.jsonl}\n"
            "decode: {format: jetstream}\n"
            "watchlist: watchlist.yaml\n"
            "workers: 1\n"
            "state: {directory: state, commit_every_records: 1}\n"
            "windows:\n  - {name: 1h, size: 1h, dimensions: [author]}\n"
            "sinks:\n  dead_letter: {type: file, path: out/dead.jsonl}\n");
  const std::string identity =
      R"({"did":"did:plc:brand","time_us":1779719009000000,"kind":"identity",)"
      R"("identity":{"did":"did:plc:brand","handle":"telenor.no","seq":1,"time":"2026-05-25T14:23:29.950Z"}})";
  const std::string post =
      R"({"did":"did:plc:brand","time_us":1779719010000000,"kind":"commit","commit":{"rev":"r",)"
      R"("operation":"create","collection":"app.bsky.feed.post","rkey":"3abc","record":{)"
      R"("$type":"app.bsky.feed.post","createdAt":"2026-05-25T14:24:00.000Z","text":"Telenor svarer"}}})";
  auto run = [&](bool fresh) {
    Diagnostics diagnostics;
    std::optional<PipelineSpec> spec = LoadPipelineSpec(pipeline, diagnostics);
    EXPECT_TRUE(spec.has_value()) << diagnostics.ToString();
    RunOptions options;
    options.fresh = fresh;
    options.watch_watchlist_file = false;
    return RunPipeline(*spec, options);
  };
  WriteFile(work / "events.jsonl", identity + "\n");
  Result<RunSummary> first = run(true);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  WriteFile(work / "events.jsonl", identity + "\n" + post + "\n");
  Result<RunSummary> second = run(false);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->resumed);
  EXPECT_EQ(second->records, 1u);
  EXPECT_EQ(second->own_posts, 1u);  // the handle came back from the state
  EXPECT_EQ(second->mentions, 0u);
}

}  // namespace
}  // namespace brandpulse
