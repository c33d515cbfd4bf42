// Fuzzes the watchlist loader (operators/watchlist.h) with the input as a watchlist file, then
// compiles what it accepts (Hyperscan, no cache) and matches texts made of the watchlist's own
// entries plus a fixed multilingual text, as the match operator would.
//
// Checked besides "no crash, no sanitizer report": a rejected watchlist comes with diagnostics,
// an accepted one with none; accepted brands have an id and unique ids; every group member is a
// brand; match hits lie inside the text and name a brand of the watchlist.
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fuzz/fuzz_support.h"
#include "operators/compiled_watchlist.h"
#include "operators/watchlist.h"

namespace brandpulse {
namespace {

void MatchAll(const CompiledWatchlist& watchlist, const std::vector<std::string>& texts) {
  auto scanner = watchlist.MakeScanner();
  FUZZ_CHECK(scanner.ok(), scanner.status().ToString());
  std::vector<MatchedBrand> matched;
  for (const std::string& text : texts) {
    Post post;
    post.text = text;
    post.author_handle = "telenor_norge";
    post.language = "no";
    matched.clear();
    watchlist.MatchPost(post, **scanner, matched);
    FUZZ_CHECK((*scanner)->status().ok(), (*scanner)->status().ToString());
    for (const MatchedBrand& brand : matched) {
      FUZZ_CHECK(brand.brand_index < watchlist.brand_count(), "a match of no brand");
      FUZZ_CHECK(brand.begin <= brand.end && brand.end <= text.size(),
                 fmt::format("hit [{}, {}) outside a text of {} bytes", brand.begin, brand.end,
                             text.size()));
    }
  }
}

}  // namespace
}  // namespace brandpulse

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace brandpulse;
  std::string_view yaml = brandpulse_fuzz::AsText(data, size);
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> spec = ParseWatchlist(yaml, "fuzz.yaml", diagnostics);
  if (!spec) {
    FUZZ_CHECK(!diagnostics.empty(), "a watchlist rejected without a diagnostic");
    return 0;
  }
  FUZZ_CHECK(diagnostics.empty(), diagnostics.ToString());
  std::set<std::string> ids;
  std::vector<std::string> texts = {
      "Bytter til Telenor i dag! #telenor @telenor_norge ¿Movistar+? ソニーの新製品 🙂 ice cream"};
  for (const BrandSpec& brand : spec->brands) {
    FUZZ_CHECK(!brand.id.empty(), "a brand without an id");
    FUZZ_CHECK(ids.insert(brand.id).second, fmt::format("duplicate brand id {}", brand.id));
    std::string all;
    for (const auto* entries : {&brand.terms, &brand.handles, &brand.hashtags, &brand.exclusions}) {
      for (const std::string& entry : *entries) {
        texts.push_back(entry);
        all += entry + " x ";
      }
    }
    texts.push_back(all);
  }
  for (const CompetitorGroup& group : spec->groups) {
    for (const std::string& member : group.brand_ids) {
      FUZZ_CHECK(ids.count(member) == 1, fmt::format("group {} names no brand {}", group.name, member));
    }
  }
  auto compiled = CompiledWatchlist::Make(*spec);
  if (!compiled.ok()) return 0;  // Hyperscan refusing a pattern is an error, not a crash
  MatchAll(**compiled, texts);
  return 0;
}
