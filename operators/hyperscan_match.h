// The `match` operator. Every term, handle, hashtag and exclusion of every brand is compiled into
// ONE Hyperscan literal database over case-folded bytes. A post's text is folded once into a
// reused buffer (engine/unicode.h: length-preserving, so offsets stay valid) and scanned once;
// each hit's word boundaries are then checked with the Unicode rule of IsWholeWordAt().
//
// Why not \b in the patterns: Hyperscan rejects \b together with UCP, and ASCII \b treats "å",
// "ñ" and "ó" as non-word bytes; measured on 10k patterns, \b also doubles scan cost and costs
// ~80x compile time. Why no HS_FLAG_SINGLEMATCH: a first hit that the boundary check rejects
// ("Telenorsk") must not hide a valid later one ("... Telenor").
//
// Measured on the demo watchlist (14 brands, 220 patterns; 2-core VM, generated en/no/es posts
// of ~123 bytes): compile ~5 ms, database ~97 KB, scratch ~2.3 KB, MatchText ~160-240 ns per
// post of which the fold is ~60 ns.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "engine/transform.h"
#include "operators/watchlist.h"

struct hs_database;
struct hs_scratch;

namespace brandpulse {

enum class TermKind : uint8_t { kTerm, kHandle, kHashtag, kExclusion };
// "term", "handle", "hashtag", "exclusion".
std::string_view TermKindName(TermKind kind);

// One raw hit of a watchlist entry in a text, accepted or not (for explanations).
struct TermHit {
  uint32_t brand_index = 0;
  TermKind kind = TermKind::kTerm;
  std::string_view term;  // as in the watchlist; owned by the CompiledWatchlist
  uint32_t begin = 0;     // byte offsets in the text
  uint32_t end = 0;
  bool accepted = false;  // the hit stands as a whole word
};

// A brand mentioned in a text, with its first accepted hit (smallest begin, then smallest end)
// among its terms, handles and hashtags.
struct MatchedBrand {
  uint32_t brand_index = 0;
  uint32_t begin = 0;  // byte offsets in the text
  uint32_t end = 0;
};

// The watchlist compiled for matching. Immutable after Make(): every const method may be called
// from many threads at once, each thread with its own Scanner.
class CompiledWatchlist {
 public:
  // Folds and de-duplicates every entry (one pattern per distinct folded literal, owned by a
  // list of (brand, kind)) and compiles the database. InvalidArgument when the spec has no
  // brands, an empty entry, or an entry Hyperscan refuses. Takes a copy of `spec`.
  // Returned as shared_ptr because every worker's match operator holds the same database, and a
  // hot reload will swap in a new one while batches in flight finish on the old.
  static Result<std::shared_ptr<const CompiledWatchlist>> Make(const WatchlistSpec& spec);
  ~CompiledWatchlist();
  CompiledWatchlist(const CompiledWatchlist&) = delete;
  CompiledWatchlist& operator=(const CompiledWatchlist&) = delete;

  size_t brand_count() const { return spec_.brands.size(); }
  // REQUIRES: index < brand_count().
  const BrandSpec& brand(uint32_t index) const { return spec_.brands[index]; }
  std::optional<uint32_t> FindBrand(std::string_view id) const;
  const WatchlistSpec& spec() const { return spec_; }
  // Distinct folded literals in the database (entries shared by brands count once).
  size_t pattern_count() const { return patterns_.size(); }
  size_t database_bytes() const;
  size_t scratch_bytes() const;  // allocates a scratch to measure it: not for the hot path

  // Per-thread matching state: the Hyperscan scratch, the fold buffer, the raw hit list and
  // per-brand flags. It grows to the largest text seen and is reused, so matching allocates
  // nothing once warm. Not thread-safe: one per thread. Belongs to the watchlist that made it
  // and must not outlive it.
  class Scanner {
   public:
    ~Scanner();
    Scanner(const Scanner&) = delete;
    Scanner& operator=(const Scanner&) = delete;

    // Ok, or the first failure of a scan (a bug: a scanner used with another watchlist, or a
    // Hyperscan error). Matches found by a failed scan are incomplete.
    const Status& status() const { return status_; }

   private:
    friend class CompiledWatchlist;
    struct RawHit {
      uint32_t pattern;
      uint32_t begin;
      uint32_t end;
    };
    Scanner() = default;

    const CompiledWatchlist* owner_ = nullptr;
    hs_scratch* scratch_ = nullptr;
    std::string folded_;
    std::vector<RawHit> hits_;
    std::vector<uint8_t> brand_flags_;      // by brand: kMatched | kExcluded
    std::vector<MatchedBrand> first_hits_;  // by brand; valid when kMatched is set
    std::vector<uint32_t> touched_brands_;  // brands whose flags are set, to reset them
    Status status_;
  };
  Result<std::unique_ptr<Scanner>> MakeScanner() const;

  // Appends to `out` every brand mentioned in `text`, each once, in brand index order, with its
  // first accepted hit. A brand with an accepted exclusion hit anywhere in `text` is left out.
  // `out` is not cleared. No allocation once `scanner` and `out` are warm.
  // REQUIRES: `scanner` was made by this watchlist's MakeScanner(); text.size() < 4 GiB.
  void MatchText(std::string_view text, Scanner& scanner, std::vector<MatchedBrand>& out) const;

  // Every raw hit in `text`, accepted or rejected, one per (brand, kind) owning the literal,
  // sorted by begin, end, brand and kind (for `brandpulse match`). Allocates.
  // REQUIRES: as for MatchText().
  std::vector<TermHit> ExplainText(std::string_view text, Scanner& scanner) const;

 private:
  struct PatternOwner {
    uint32_t brand_index;
    TermKind kind;
    std::string_view term;  // into spec_
  };
  struct Pattern {
    std::string folded;
    uint32_t first_owner;  // owners_[first_owner, first_owner + owner_count)
    uint32_t owner_count;
  };

  CompiledWatchlist() = default;
  // Folds `text` into the scanner and fills scanner.hits_ (in Hyperscan's order: by end).
  // False when the scan failed (scanner.status_ says why).
  bool Scan(std::string_view text, Scanner& scanner) const;

  WatchlistSpec spec_;  // never modified after Make(): owners_ hold views into it
  std::vector<Pattern> patterns_;
  std::vector<uint32_t> pattern_lengths_;  // by pattern id, read in the match callback
  std::vector<PatternOwner> owners_;
  hs_database* database_ = nullptr;
};

// The `match` Transform (name() "match"). For each post of batch.posts, in post order, appends
// one Mention{post_index, brand_index, first_hit_begin, first_hit_end} per brand found in the
// post's text (brands of one post in brand index order) to batch.mentions. Each worker's state
// holds its own Scanner. Returns Internal from Process() when a scan fails (a bug).
Result<std::unique_ptr<Transform>> MakeHyperscanMatch(
    std::shared_ptr<const CompiledWatchlist> watchlist);

}  // namespace brandpulse
