// The watchlist compiled for matching: every entry and query term of every brand as one literal
// of one Hyperscan database, every brand's query flattened into one node array, and the
// per-thread Scanner that matching reuses. How matching works, and what it costs, is described
// in operators/hyperscan_match.h. The class is defined across files, one concept each:
//   compiled_watchlist.cc  building the patterns and queries, brand lookup, accessors
//   watchlist_cache.cc     compiling the database, or loading it from the on-disk cache
//   hyperscan_match.cc     the scan, the boundary/accent acceptance of hits, MatchPost
//   query_evaluation.cc    queries evaluated on a post's hit set, field operators, ExplainQuery
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/post.h"
#include "engine/status.h"
#include "operators/watchlist.h"
#include "operators/watchlist_cache.h"

struct hs_database;
struct hs_scratch;

namespace brandpulse {

struct HitFinderSlot;  // hyperscan_match.cc

enum class TermKind : uint8_t { kTerm, kHandle, kHashtag, kExclusion, kQuery };
// "term", "handle", "hashtag", "exclusion", "query term".
std::string_view TermKindName(TermKind kind);

// One raw hit of a watchlist entry in a text, accepted or not (for explanations).
struct TermHit {
  uint32_t brand_index = 0;
  TermKind kind = TermKind::kTerm;
  std::string_view term;  // as in the watchlist; owned by the CompiledWatchlist
  uint32_t query_node = 0;  // kQuery: the term's node in the brand's query
  uint32_t begin = 0;     // byte offsets in the text
  uint32_t end = 0;
  bool accepted = false;  // the hit stands as a whole word with the accents/case asked for
  std::string_view why_rejected;  // when not accepted: static text
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
  // Uses the cache in spec.cache_directory when it is set (see the overload below).
  static Result<std::shared_ptr<const CompiledWatchlist>> Make(const WatchlistSpec& spec);
  // Same, with a database cache: the serialized database is stored in cache.directory under a
  // name made of a hash of the pattern set, hs_version() and the CPU platform, and loaded from
  // there when it exists and checks out. A missing, corrupt or unwritable cache is not an error:
  // Make() compiles instead (info says what happened). `info` may be null.
  static Result<std::shared_ptr<const CompiledWatchlist>> Make(const WatchlistSpec& spec,
                                                               const WatchlistCacheOptions& cache,
                                                               WatchlistBuildInfo* info);
  // DefaultWatchlistCacheDirectory() (operators/watchlist.h).
  static std::string DefaultCacheDirectory();
  ~CompiledWatchlist();
  CompiledWatchlist(const CompiledWatchlist&) = delete;
  CompiledWatchlist& operator=(const CompiledWatchlist&) = delete;

  size_t brand_count() const { return spec_.brands.size(); }
  // REQUIRES: index < brand_count().
  const BrandSpec& brand(uint32_t index) const { return spec_.brands[index]; }
  std::optional<uint32_t> FindBrand(std::string_view id) const;
  const WatchlistSpec& spec() const { return spec_; }
  const std::vector<CompetitorGroup>& groups() const { return spec_.groups; }
  // True when `handle` (with or without '@', any case) is one of the brand's own handles or
  // profiles. REQUIRES: brand_index < brand_count().
  bool IsOwnHandle(uint32_t brand_index, std::string_view handle) const;
  // The hash of the pattern set the database was compiled from (part of the cache key).
  uint64_t pattern_set_hash() const { return pattern_set_hash_; }
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

    // For differential tests and benchmarks: when true, every text is folded and stripped
    // before the scan (the path texts with accents take) instead of being scanned as it is.
    // Results must not change.
    void set_always_fold_and_strip(bool always) { always_fold_and_strip_ = always; }
    // For differential tests: when true, every query term is judged on every hit of its
    // literal (no lazy terms, see LazyOwner), as before issue 17's round two. Results must
    // not change.
    void set_judge_every_query_term(bool every) { judge_every_query_term_ = every; }

   private:
    friend class CompiledWatchlist;
    struct RawHit {
      uint32_t pattern;
      uint32_t begin;
      uint32_t end;
    };
    Scanner() = default;

    struct AtomHit {
      uint32_t node;  // a kTerm node of queries_nodes_
      uint32_t begin;  // byte offsets in the original text
      uint32_t end;
    };
    const CompiledWatchlist* owner_ = nullptr;
    hs_scratch* scratch_ = nullptr;
    bool always_fold_and_strip_ = false;
    bool judge_every_query_term_ = false;
    const HitFinderSlot* finder_ = nullptr;  // MatchTextWithFinder: replaces hs_scan
    std::string composed_;  // the text in NFC when it had something to compose
    std::vector<uint32_t> composed_offsets_;  // composed byte -> text byte
    // The text with its accents stripped (not folded: the database is caseless); scanned
    // instead of the text when they differ.
    std::string stripped_;
    std::vector<uint32_t> offsets_;  // stripped byte -> text byte
    // Nothing to strip: the text itself was scanned (caselessly), offsets are equal.
    bool identity_offsets_ = true;
    std::vector<RawHit> hits_;  // in stripped offsets (text offsets when identity_offsets_)
    std::vector<AtomHit> atom_hits_;
    std::vector<uint8_t> node_hit_;  // by query node: a term node was found
    std::vector<uint32_t> words_before_;  // by text byte: words starting before it (for NEAR)
    bool words_ready_ = false;
    std::vector<uint8_t> query_flags_;  // by brand: its query has a hit to evaluate
    std::vector<uint32_t> query_brands_;  // brands with query_flags_ set
    std::vector<uint8_t> node_values_;  // by node, for explanations
    std::vector<uint8_t> brand_flags_;      // by brand: kMatched | kExcluded
    std::vector<MatchedBrand> first_hits_;  // by brand; valid when kMatched is set
    std::vector<uint32_t> touched_brands_;  // brands whose flags are set, to reset them
    Status status_;
  };
  Result<std::unique_ptr<Scanner>> MakeScanner() const;

  // Appends to `out` every brand mentioned in `text`, each once, in brand index order, with its
  // first accepted hit. A brand with an accepted exclusion hit anywhere in `text` is left out.
  // Text with combining marks is matched in its canonical composition (NFC); offsets are always
  // in `text`.
  // `out` is not cleared. No allocation once `scanner` and `out` are warm.
  // REQUIRES: `scanner` was made by this watchlist's MakeScanner(); text.size() < 4 GiB.
  void MatchText(std::string_view text, Scanner& scanner, std::vector<MatchedBrand>& out) const;
  // Same for a whole post: queries may also look at its author, language and reply-to handle.
  void MatchPost(const Post& post, Scanner& scanner, std::vector<MatchedBrand>& out) const;

  // For baselines (bench/) that find the literals with another engine and must keep exactly
  // this matcher's rules. pattern_literal(id): pattern id's literal (folded, accents stripped).
  // MatchTextWithFinder: MatchText with `find` in place of Hyperscan. `find(scanned, raw,
  // hits)` appends to `hits` every occurrence {pattern id, begin, end} of every literal in
  // `scanned` in any case (as FoldCase() folds), which is the text itself when `raw` is true,
  // or else the text with its accents stripped (FoldAndStripAccents() up to case). Allocates.
  struct FoundHit {
    uint32_t pattern;
    uint32_t begin;
    uint32_t end;
  };
  using HitFinder =
      std::function<void(std::string_view scanned, bool raw, std::vector<FoundHit>& hits)>;
  std::string_view pattern_literal(uint32_t id) const { return patterns_[id].folded; }
  void MatchTextWithFinder(std::string_view text, Scanner& scanner, const HitFinder& find,
                           std::vector<MatchedBrand>& out) const;

  // The value of every node of the brand's query for `post` (indices as in its Query::nodes),
  // after a MatchPost/ExplainText of the same post with the same scanner. Empty when the brand
  // has no query. Allocates.
  std::vector<bool> ExplainQuery(uint32_t brand_index, const Post& post, Scanner& scanner) const;

  // Every raw hit in `text`, accepted or rejected, one per (brand, kind) owning the literal,
  // sorted by begin, end, brand and kind (for `brandpulse match`). Allocates.
  // REQUIRES: as for MatchText().
  std::vector<TermHit> ExplainText(std::string_view text, Scanner& scanner) const;

 private:
  struct PatternOwner {
    uint32_t brand_index;
    TermKind kind;
    std::string_view term;  // into spec_
    QueryCase match_case = QueryCase::kAccentExact;
    bool prefix = false;      // the word may continue after the hit
    bool single_wildcards = false;  // verify_texts_[verify] is the stripped term with '?'
    uint32_t anchor_offset = 0;     // where the scanned literal starts in that term
    uint32_t node = 0;        // kQuery: global query node
    uint32_t verify = 0;      // index into verify_texts_: folded term, or the term for kExact
  };
  static constexpr uint32_t kNoQuery = UINT32_MAX;
  struct Node {  // a query node; children are global node indices
    QueryOp op;
    QueryField field;
    uint32_t registered_field;  // kField of QueryField::kRegistered
    bool ordered;
    bool negated;  // under a NOT
    uint32_t distance;
    uint32_t first_child;  // children_[first_child, first_child + child_count)
    uint32_t child_count;
    uint32_t first_term;  // kNear: term nodes of each side in near_terms_
    uint32_t left_terms;
    uint32_t right_terms;
    uint32_t brand_index;
    std::string value;  // kField: the value
  };
  struct Pattern {
    std::string folded;
    uint32_t first_owner;  // owners_[first_owner, first_owner + owner_count)
    uint32_t owner_count;
    // The owners MatchPost judges on every hit: eager_owners_[first_eager, + eager_count).
    uint32_t first_eager = 0;
    uint32_t eager_count = 0;
  };
  // A query term judged only once its brand's query has a hit on one of its trigger terms
  // (a term the query cannot be true without: in "X" AND (price OR buy), "X"). Shared context
  // words ("price", "app", "new") are owned by thousands of queries; judging each of those
  // owners and evaluating each query on every such hit was most of the realistic watchlist's
  // matching cost.
  struct LazyOwner {
    uint32_t pattern;
    PatternOwner owner;
  };
  // One literal of the database: a pattern's folded, stripped text or one of its case variants
  // (same byte length, so pattern_lengths_ holds for every literal of the pattern).
  struct ScanLiteral {
    std::string bytes;
    uint32_t pattern;
  };

  CompiledWatchlist() = default;
  // Appends `folded` and every spelling of it with its non-ASCII letters in another case, as
  // literals of `pattern`; false (nothing appended) when there would be more than 256.
  static bool AppendCaseVariants(const std::string& folded, uint32_t pattern,
                                 std::vector<ScanLiteral>& out);
  // Folds `text` into the scanner and fills scanner.hits_ (in Hyperscan's order: by end).
  // False when the scan failed (scanner.status_ says why).
  bool Scan(std::string_view text, Scanner& scanner) const;
  // Whether a raw hit stands for `owner`; sets the hit's span in the text.
  bool Accept(const PatternOwner& owner, const Scanner::RawHit& hit, std::string_view text,
              const Scanner& scanner, uint32_t& begin, uint32_t& end,
              std::string_view& why_rejected) const;
  bool Evaluate(uint32_t node, const Post& post, Scanner& scanner, bool record) const;
  bool Near(const Node& node, std::string_view text, Scanner& scanner) const;
  // MatchPost on a post whose text is in NFC (or has nothing to compose).
  void MatchComposed(const Post& post, Scanner& scanner, std::vector<MatchedBrand>& out) const;
  std::vector<TermHit> ExplainComposed(std::string_view text, Scanner& scanner) const;
  Status CompileOrLoad(const WatchlistCacheOptions& cache, WatchlistBuildInfo& info);

  WatchlistSpec spec_;  // never modified after Make(): owners_ hold views into it
  std::vector<Pattern> patterns_;
  std::vector<uint32_t> pattern_lengths_;  // by pattern id, read in the match callback
  // What the database is compiled from (HS_FLAG_CASELESS, ids = pattern ids): every pattern,
  // and, for a pattern with non-ASCII letters, each spelling of them in other cases (Æ for æ,
  // Σ and ς for σ). So a text with nothing to strip is scanned as it is, without folding.
  std::vector<ScanLiteral> scan_literals_;
  // False when some pattern has too many case variants to list (over 256: a long Greek or
  // Cyrillic word): every text that is not ASCII is then folded and stripped before the scan
  // (the database holds only the folded literals).
  bool raw_scan_ok_ = true;
  std::vector<PatternOwner> owners_;
  // owners_ without the lazy query terms, pattern by pattern (Pattern::first_eager).
  std::vector<PatternOwner> eager_owners_;
  // Lazy query terms by brand: lazy_owners_[lazy_first_[b], lazy_first_[b + 1]).
  std::vector<LazyOwner> lazy_owners_;
  std::vector<uint32_t> lazy_first_;
  std::vector<std::string> verify_texts_;
  std::vector<Node> nodes_;             // every brand's query, one after the other
  std::vector<uint32_t> children_;
  std::vector<uint32_t> near_terms_;
  std::vector<uint32_t> query_root_;    // by brand: global root node, or kNoQuery
  std::vector<uint32_t> query_offset_;  // by brand: global index of its query's node 0
  std::vector<uint32_t> field_brands_;  // brands whose query reads fields: evaluated every post
  std::vector<std::vector<std::string>> own_handles_;  // by brand: folded, without '@'
  // Restarts and reloads look up every stored window's brand: a hash lookup, not a scan.
  std::unordered_map<std::string_view, uint32_t> brand_index_by_id_;  // views into spec_
  uint64_t pattern_set_hash_ = 0;
  hs_database* database_ = nullptr;
};

}  // namespace brandpulse
