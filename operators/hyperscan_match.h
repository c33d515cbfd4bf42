// The `match` operator: every term, handle, hashtag and exclusion of every brand compiled into
// ONE Hyperscan literal database. A post's text is folded once (lowercase, length-preserving)
// into a reused buffer and scanned once; each hit's word boundaries are then checked with a
// Unicode-aware rule (engine/unicode.h), because Hyperscan rejects \b with UCP and ASCII \b
// treats "å" as a non-word byte.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/transform.h"
#include "operators/watchlist.h"

struct hs_database;
struct hs_scratch;

namespace brandpulse {

enum class TermKind : uint8_t { kTerm, kHandle, kHashtag, kExclusion };
std::string_view TermKindName(TermKind kind);

// One raw hit of a pattern, accepted or not, for explanations.
struct TermHit {
  uint32_t brand_index = 0;
  TermKind kind = TermKind::kTerm;
  std::string_view term;  // as in the watchlist (owned by the CompiledWatchlist)
  uint32_t begin = 0;     // byte offsets in the text
  uint32_t end = 0;
  bool accepted = false;  // stands as a whole word
};

// A brand found in a text, with its first accepted hit.
struct MatchedBrand {
  uint32_t brand_index = 0;
  uint32_t begin = 0;
  uint32_t end = 0;
};

// Immutable after Make(); const methods are thread-safe given one Scanner per thread.
class CompiledWatchlist {
 public:
  static Result<std::shared_ptr<const CompiledWatchlist>> Make(const WatchlistSpec& spec);
  ~CompiledWatchlist();

  size_t brand_count() const { return spec_.brands.size(); }
  const BrandSpec& brand(uint32_t index) const { return spec_.brands[index]; }
  std::optional<uint32_t> FindBrand(std::string_view id) const;
  size_t pattern_count() const { return patterns_.size(); }
  size_t database_bytes() const;

  // Per-thread scan state: Hyperscan scratch, fold buffer, hit and brand flags. Reused for
  // every text, so matching allocates nothing once warm.
  class Scanner {
   public:
    ~Scanner();

   private:
    friend class CompiledWatchlist;
    Scanner() = default;
    hs_scratch* scratch_ = nullptr;
    std::string folded_;
    struct RawHit {
      uint32_t pattern;
      uint32_t begin;
      uint32_t end;
    };
    std::vector<RawHit> hits_;
    std::vector<uint8_t> brand_state_;  // bit 0: matched, bit 1: excluded
    std::vector<MatchedBrand> first_hits_;  // by brand index
    std::vector<uint32_t> touched_;
  };
  Result<std::unique_ptr<Scanner>> MakeScanner() const;

  // Appends to `out` every brand mentioned in `text` (each once, in brand order) with its first
  // accepted hit; a brand with an accepted exclusion hit is left out.
  void MatchText(std::string_view text, Scanner& scanner, std::vector<MatchedBrand>& out) const;
  // Every raw hit, accepted or rejected, sorted by position (for `brandpulse match`).
  std::vector<TermHit> ExplainText(std::string_view text, Scanner& scanner) const;

 private:
  struct PatternOwner {
    uint32_t brand_index;
    TermKind kind;
    std::string_view term;
  };
  struct Pattern {
    std::string folded;
    std::vector<PatternOwner> owners;
    bool needs_free_start = false;  // handles and hashtags: no word character before '@' / '#'
  };
  CompiledWatchlist() = default;
  void Scan(std::string_view text, Scanner& scanner) const;
  bool Accepts(const Pattern& pattern, std::string_view text, uint32_t begin, uint32_t end) const;

  WatchlistSpec spec_;
  std::vector<Pattern> patterns_;
  hs_database* database_ = nullptr;
};

// name() is "match". For each post, pushes one Mention per brand found, in post order.
Result<std::unique_ptr<Transform>> MakeHyperscanMatch(
    std::shared_ptr<const CompiledWatchlist> watchlist);

}  // namespace brandpulse
