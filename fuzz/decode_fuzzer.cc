// Fuzzes one decode preset (BRANDPULSE_FUZZ_FORMAT, set per target in fuzz/CMakeLists.txt) the
// way a source feeds it: the input's lines as one batch of records, and the elements of the
// input as a JSON array document ("/statuses" for twitter-v1, the document itself otherwise).
// Every decoded post is then matched against a small watchlist, as the match operator would.
//
// Checked besides "no crash, no sanitizer report": Process() never fails on bad input; every
// record is accounted for (posts, a dead letter with a reason, or skipped; only a twitter-v2 page
// may give several dead letters, beside posts); posts
// point at their record and hold valid UTF-8; match hits lie inside the post's text.
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "engine/json_writer.h"
#include "fuzz/fuzz_support.h"
#include "operators/compiled_watchlist.h"
#include "operators/json_array_records.h"
#include "operators/json_decode.h"
#include "operators/watchlist.h"

namespace brandpulse {
namespace {

constexpr std::string_view kWatchlist = R"(
brands:
  - id: telenor
    terms: [telenor, "telenor norge"]
    handles: ["@telenor_norge"]
    hashtags: [telenor]
    exclude: [telenor arena]
  - id: sony
    terms: [ソニー, "sony"]
    query: (xperia OR playstation) AND NOT lang:ja
  - id: movistar
    terms: [movistar, telefónica]
    query: movistar NEAR/3 fibra OR author:movistar_es
)";

struct Harness {
  std::unique_ptr<Transform> decode;
  std::unique_ptr<TransformState> state;
  std::shared_ptr<const CompiledWatchlist> watchlist;
  std::unique_ptr<CompiledWatchlist::Scanner> scanner;
  Batch batch;
  std::vector<MatchedBrand> matched;
};

Harness& TheHarness() {
  static Harness* harness = [] {
    auto* made = new Harness;
    DecodeSpec spec;
    spec.format = DecodeFormat::BRANDPULSE_FUZZ_FORMAT;
    if (spec.format == DecodeFormat::kJson) {
      spec.field_pointers = {{"id", "/id"},
                             {"text", "/text"},
                             {"event_time", "/t"},
                             {"author_id", "/user/id"},
                             {"author_handle", "/user/name"},
                             {"author_followers", "/user/followers"},
                             {"language", "/lang"},
                             {"reply_to_post_id", "/reply/id"},
                             {"reply_to_author_id", "/reply/author"},
                             {"reply_to_handle", "/reply/~1handle"}};
    }
    made->decode = MakeJsonDecode(spec).value();
    made->state = made->decode->MakeState().value();
    Diagnostics diagnostics;
    std::optional<WatchlistSpec> watchlist = ParseWatchlist(kWatchlist, "fuzz.yaml", diagnostics);
    FUZZ_CHECK(watchlist.has_value(), diagnostics.ToString());
    made->watchlist = CompiledWatchlist::Make(*watchlist).value();
    made->scanner = made->watchlist->MakeScanner().value();
    return made;
  }();
  return *harness;
}

void DecodeAndMatch(Harness& harness) {
  Batch& batch = harness.batch;
  batch.PadInput();
  Status status = harness.decode->Process(batch, *harness.state);
  FUZZ_CHECK(status.ok(), status.ToString());

  // A twitter-v2 page is one record of several tweets judged one by one (operators/json_decode.cc):
  // a bad tweet is a dead letter of its own beside the page's other posts. Every other record
  // gives posts or one dead letter, never both.
  constexpr bool kPages = DecodeFormat::BRANDPULSE_FUZZ_FORMAT == DecodeFormat::kTwitterV2;
  std::vector<int> yielded(batch.records.size(), 0);  // 1: posts, 2: dead letter
  for (const DeadLetter& dead : batch.dead_letters) {
    FUZZ_CHECK(dead.record_index < batch.records.size(), "dead letter of no record");
    FUZZ_CHECK(!dead.reason.empty(), "dead letter without a reason");
    FUZZ_CHECK(kPages || yielded[dead.record_index] == 0, "two dead letters for one record");
    yielded[dead.record_index] = 2;
  }
  for (const Post& post : batch.posts) {
    FUZZ_CHECK(post.record_index < batch.records.size(), "post of no record");
    FUZZ_CHECK(kPages || yielded[post.record_index] != 2,
               "a record gave both a post and a dead letter");
    yielded[post.record_index] = 1;
    for (std::string_view field : {post.text, post.id, post.author_id, post.author_handle,
                                   post.language, post.reply_to_handle, post.urls}) {
      FUZZ_CHECK(IsValidUtf8(field), fmt::format("post field not valid UTF-8: {:?}",
                                                 std::string(field.substr(0, 200))));
    }
    harness.matched.clear();
    harness.watchlist->MatchPost(post, *harness.scanner, harness.matched);
    FUZZ_CHECK(harness.scanner->status().ok(), harness.scanner->status().ToString());
    for (const MatchedBrand& brand : harness.matched) {
      FUZZ_CHECK(brand.begin <= brand.end && brand.end <= post.text.size(),
                 fmt::format("hit [{}, {}) outside a text of {} bytes", brand.begin, brand.end,
                             post.text.size()));
    }
  }
  size_t accounted = batch.skipped_records;
  for (int kind : yielded) accounted += kind != 0;
  FUZZ_CHECK(accounted == batch.records.size(),
             fmt::format("{} records, {} accounted for", batch.records.size(), accounted));
}

}  // namespace
}  // namespace brandpulse

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace brandpulse;
  Harness& harness = TheHarness();
  std::string_view input = brandpulse_fuzz::AsText(data, size);

  // As JSON lines: one record per line, a CR before the newline kept (the source keeps it too).
  harness.batch.Reset();
  uint64_t position = 0;
  while (position < input.size()) {
    size_t end = input.find('\n', position);
    if (end == std::string_view::npos) end = input.size();
    harness.batch.AddRecord(input.substr(position, end - position), end + 1);
    position = end + 1;
  }
  DecodeAndMatch(harness);

  // As one JSON document holding an array of records.
  harness.batch.Reset();
  std::string_view array_pointer =
      DecodeFormat::BRANDPULSE_FUZZ_FORMAT == DecodeFormat::kTwitterV1 ? "/statuses" : "";
  uint64_t element = 0;
  Status status = ForEachArrayElement(input, array_pointer, [&](std::string_view record) {
    FUZZ_CHECK(record.size() <= input.size(), "an array element longer than its document");
    harness.batch.AddRecord(record, ++element);
  });
  if (status.ok()) DecodeAndMatch(harness);
  return 0;
}
