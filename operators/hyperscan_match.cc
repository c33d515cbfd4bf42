#include "operators/hyperscan_match.h"

#include <hs/hs.h>

#include <algorithm>
#include <limits>
#include <tuple>
#include <unordered_map>

#include "engine/unicode.h"

namespace brandpulse {
namespace {

constexpr uint8_t kMatched = 1;
constexpr uint8_t kExcluded = 2;

}  // namespace

std::string_view TermKindName(TermKind kind) {
  switch (kind) {
    case TermKind::kTerm:
      return "term";
    case TermKind::kHandle:
      return "handle";
    case TermKind::kHashtag:
      return "hashtag";
    case TermKind::kExclusion:
      return "exclusion";
  }
  return "term";
}

Result<std::shared_ptr<const CompiledWatchlist>> CompiledWatchlist::Make(
    const WatchlistSpec& spec) {
  if (spec.brands.empty()) return Status::InvalidArgument("the watchlist has no brands");
  // The constructor is private: only Make() builds one, and only fully compiled.
  std::shared_ptr<CompiledWatchlist> compiled(new CompiledWatchlist());
  compiled->spec_ = spec;  // from here on spec_ is never modified: owners_ point into it

  // One pattern per distinct folded literal; its owners are every (brand, kind) listing it.
  std::unordered_map<std::string, uint32_t> pattern_ids;
  std::vector<std::vector<PatternOwner>> owners_by_pattern;
  std::string folded;
  for (uint32_t brand_index = 0; brand_index < compiled->spec_.brands.size(); ++brand_index) {
    const BrandSpec& brand = compiled->spec_.brands[brand_index];
    const std::pair<const std::vector<std::string>*, TermKind> lists[] = {
        {&brand.terms, TermKind::kTerm},
        {&brand.handles, TermKind::kHandle},
        {&brand.hashtags, TermKind::kHashtag},
        {&brand.exclusions, TermKind::kExclusion}};
    for (const auto& [terms, kind] : lists) {
      for (const std::string& term : *terms) {
        if (term.empty()) {
          return Status::InvalidArgument(
              fmt::format("brand '{}' has an empty {}", brand.id, TermKindName(kind)));
        }
        FoldCase(term, folded);
        auto [entry, inserted] =
            pattern_ids.try_emplace(folded, static_cast<uint32_t>(owners_by_pattern.size()));
        if (inserted) {
          owners_by_pattern.emplace_back();
          compiled->patterns_.push_back(Pattern{folded, 0, 0});
        }
        std::vector<PatternOwner>& owners = owners_by_pattern[entry->second];
        bool known = std::any_of(owners.begin(), owners.end(), [&](const PatternOwner& owner) {
          return owner.brand_index == brand_index && owner.kind == kind;
        });
        if (!known) owners.push_back(PatternOwner{brand_index, kind, term});
      }
    }
  }
  if (owners_by_pattern.empty()) {
    return Status::InvalidArgument("the watchlist has no terms, handles or hashtags");
  }
  // Flatten the owners, pattern by pattern, so the hot loop reads one contiguous array.
  for (uint32_t id = 0; id < compiled->patterns_.size(); ++id) {
    Pattern& pattern = compiled->patterns_[id];
    pattern.first_owner = static_cast<uint32_t>(compiled->owners_.size());
    pattern.owner_count = static_cast<uint32_t>(owners_by_pattern[id].size());
    compiled->owners_.insert(compiled->owners_.end(), owners_by_pattern[id].begin(),
                             owners_by_pattern[id].end());
    compiled->pattern_lengths_.push_back(static_cast<uint32_t>(pattern.folded.size()));
  }

  std::vector<const char*> expressions;
  std::vector<size_t> lengths;
  std::vector<unsigned> ids;
  for (uint32_t id = 0; id < compiled->patterns_.size(); ++id) {
    expressions.push_back(compiled->patterns_[id].folded.data());
    lengths.push_back(compiled->patterns_[id].folded.size());
    ids.push_back(id);
  }
  // Case-sensitive on folded bytes, and no SINGLEMATCH: the callback keeps every hit because
  // the boundary check may reject an early one and accept a later one.
  std::vector<unsigned> flags(ids.size(), 0);
  hs_compile_error_t* error = nullptr;
  hs_error_t status = hs_compile_lit_multi(expressions.data(), flags.data(), ids.data(),
                                           lengths.data(), static_cast<unsigned>(ids.size()),
                                           HS_MODE_BLOCK, nullptr, &compiled->database_, &error);
  if (status != HS_SUCCESS) {
    std::string message = error != nullptr ? error->message : "unknown error";
    int expression = error != nullptr ? error->expression : -1;
    if (error != nullptr) hs_free_compile_error(error);
    if (expression >= 0 && static_cast<size_t>(expression) < compiled->patterns_.size()) {
      const PatternOwner& owner = compiled->owners_[compiled->patterns_[expression].first_owner];
      return Status::InvalidArgument(fmt::format("brand '{}' {} '{}': Hyperscan: {}",
                                                 spec.brands[owner.brand_index].id,
                                                 TermKindName(owner.kind), owner.term, message));
    }
    return Status::InvalidArgument(fmt::format("compiling the watchlist: Hyperscan: {}", message));
  }
  return std::shared_ptr<const CompiledWatchlist>(std::move(compiled));
}

CompiledWatchlist::~CompiledWatchlist() {
  if (database_ != nullptr) hs_free_database(database_);
}

CompiledWatchlist::Scanner::~Scanner() {
  if (scratch_ != nullptr) hs_free_scratch(scratch_);
}

std::optional<uint32_t> CompiledWatchlist::FindBrand(std::string_view id) const {
  for (uint32_t index = 0; index < spec_.brands.size(); ++index) {
    if (spec_.brands[index].id == id) return index;
  }
  return std::nullopt;
}

size_t CompiledWatchlist::database_bytes() const {
  size_t size = 0;
  if (hs_database_size(database_, &size) != HS_SUCCESS) return 0;
  return size;
}

size_t CompiledWatchlist::scratch_bytes() const {
  hs_scratch_t* scratch = nullptr;
  size_t size = 0;
  if (hs_alloc_scratch(database_, &scratch) == HS_SUCCESS) {
    if (hs_scratch_size(scratch, &size) != HS_SUCCESS) size = 0;
    hs_free_scratch(scratch);
  }
  return size;
}

Result<std::unique_ptr<CompiledWatchlist::Scanner>> CompiledWatchlist::MakeScanner() const {
  // The constructor is private: a scanner only exists bound to its watchlist.
  std::unique_ptr<Scanner> scanner(new Scanner());
  // hs_alloc_scratch only reads the database, so workers may make scanners concurrently.
  hs_error_t error = hs_alloc_scratch(database_, &scanner->scratch_);
  if (error != HS_SUCCESS) {
    return Status::Internal(fmt::format("cannot allocate Hyperscan scratch (error {})", error));
  }
  scanner->owner_ = this;
  scanner->brand_flags_.assign(spec_.brands.size(), 0);
  scanner->first_hits_.assign(spec_.brands.size(), MatchedBrand{});
  scanner->touched_brands_.reserve(std::min<size_t>(spec_.brands.size(), 64));
  scanner->hits_.reserve(64);
  scanner->folded_.reserve(512);
  return scanner;
}

bool CompiledWatchlist::Scan(std::string_view text, Scanner& scanner) const {
  scanner.hits_.clear();
  if (scanner.owner_ != this) {
    if (scanner.status_.ok()) {
      scanner.status_ =
          Status::Internal("a scanner was used with a watchlist that did not make it");
    }
    return false;
  }
  if (text.size() >= std::numeric_limits<uint32_t>::max()) {
    if (scanner.status_.ok()) {
      scanner.status_ =
          Status::Internal(fmt::format("a text of {} bytes is too long to scan", text.size()));
    }
    return false;
  }
  FoldCase(text, scanner.folded_);
  if (text.empty()) return true;
  struct Context {
    const uint32_t* pattern_lengths;
    std::vector<Scanner::RawHit>* hits;
  } context{pattern_lengths_.data(), &scanner.hits_};
  // Every pattern is a literal, so the hit starts exactly its length before its end. The
  // boundary check runs after the scan, on the whole hit list, to keep the callback tiny.
  auto on_match = [](unsigned int id, unsigned long long /*from*/, unsigned long long to,
                     unsigned int /*flags*/, void* raw_context) -> int {
    auto* scan = static_cast<Context*>(raw_context);
    uint32_t end = static_cast<uint32_t>(to);
    scan->hits->push_back(Scanner::RawHit{id, end - scan->pattern_lengths[id], end});
    return 0;  // keep scanning
  };
  hs_error_t error =
      hs_scan(database_, scanner.folded_.data(), static_cast<unsigned int>(scanner.folded_.size()),
              0, scanner.scratch_, on_match, &context);
  if (error != HS_SUCCESS) {
    if (scanner.status_.ok()) {
      scanner.status_ = Status::Internal(fmt::format("hs_scan failed with error {}", error));
    }
    return false;
  }
  return true;
}

void CompiledWatchlist::MatchText(std::string_view text, Scanner& scanner,
                                  std::vector<MatchedBrand>& out) const {
  if (!Scan(text, scanner) || scanner.hits_.empty()) return;
  // Boundaries are judged on the folded text: folding keeps offsets, word characters and
  // scripts, so the answer is the one the original text would give.
  const std::string_view folded = scanner.folded_;
  for (const Scanner::RawHit& hit : scanner.hits_) {
    if (!IsWholeWordAt(folded, hit.begin, hit.end)) continue;
    const Pattern& pattern = patterns_[hit.pattern];
    for (uint32_t i = 0; i < pattern.owner_count; ++i) {
      const PatternOwner& owner = owners_[pattern.first_owner + i];
      uint8_t& flags = scanner.brand_flags_[owner.brand_index];
      if (flags == 0) scanner.touched_brands_.push_back(owner.brand_index);
      if (owner.kind == TermKind::kExclusion) {
        flags |= kExcluded;
        continue;
      }
      // Hyperscan reports by end offset; the first hit is the one that begins first.
      MatchedBrand& first = scanner.first_hits_[owner.brand_index];
      if ((flags & kMatched) == 0 ||
          std::tie(hit.begin, hit.end) < std::tie(first.begin, first.end)) {
        first = MatchedBrand{owner.brand_index, hit.begin, hit.end};
        flags |= kMatched;
      }
    }
  }
  std::sort(scanner.touched_brands_.begin(), scanner.touched_brands_.end());
  for (uint32_t brand_index : scanner.touched_brands_) {
    if (scanner.brand_flags_[brand_index] == kMatched)
      out.push_back(scanner.first_hits_[brand_index]);
    scanner.brand_flags_[brand_index] = 0;
  }
  scanner.touched_brands_.clear();
}

std::vector<TermHit> CompiledWatchlist::ExplainText(std::string_view text, Scanner& scanner) const {
  std::vector<TermHit> explained;
  if (!Scan(text, scanner)) return explained;
  const std::string_view folded = scanner.folded_;
  for (const Scanner::RawHit& hit : scanner.hits_) {
    const Pattern& pattern = patterns_[hit.pattern];
    bool accepted = IsWholeWordAt(folded, hit.begin, hit.end);
    for (uint32_t i = 0; i < pattern.owner_count; ++i) {
      const PatternOwner& owner = owners_[pattern.first_owner + i];
      explained.push_back(
          TermHit{owner.brand_index, owner.kind, owner.term, hit.begin, hit.end, accepted});
    }
  }
  std::sort(explained.begin(), explained.end(), [](const TermHit& a, const TermHit& b) {
    return std::tie(a.begin, a.end, a.brand_index, a.kind) <
           std::tie(b.begin, b.end, b.brand_index, b.kind);
  });
  return explained;
}

namespace {

class MatchState final : public TransformState {
 public:
  std::unique_ptr<CompiledWatchlist::Scanner> scanner;  // null when it could not be made
  Status scanner_status;                                // why it could not
  std::vector<MatchedBrand> matched;                    // per post, reused
};

class HyperscanMatch final : public Transform {
 public:
  explicit HyperscanMatch(std::shared_ptr<const CompiledWatchlist> watchlist)
      : watchlist_(std::move(watchlist)) {}

  std::string_view name() const override { return "match"; }

  std::unique_ptr<TransformState> MakeState() const override {
    auto state = std::make_unique<MatchState>();
    Result<std::unique_ptr<CompiledWatchlist::Scanner>> scanner = watchlist_->MakeScanner();
    if (scanner.ok()) {
      state->scanner = std::move(scanner).value();
    } else {
      state->scanner_status = scanner.status();
    }
    return state;
  }

  Status Process(Batch& batch, TransformState& base_state) const override {
    auto& state = static_cast<MatchState&>(base_state);
    if (state.scanner == nullptr) return state.scanner_status;
    for (uint32_t post_index = 0; post_index < batch.posts.size(); ++post_index) {
      state.matched.clear();
      watchlist_->MatchText(batch.posts[post_index].text, *state.scanner, state.matched);
      for (const MatchedBrand& brand : state.matched) {
        batch.mentions.push_back(Mention{post_index, brand.brand_index, brand.begin, brand.end});
      }
    }
    return state.scanner->status();
  }

 private:
  // Shared with every other worker's copy of the plan and with the runner: the compiled
  // database is immutable, and hot reload will swap the pointer between batches.
  std::shared_ptr<const CompiledWatchlist> watchlist_;
};

}  // namespace

Result<std::unique_ptr<Transform>> MakeHyperscanMatch(
    std::shared_ptr<const CompiledWatchlist> watchlist) {
  if (watchlist == nullptr) return Status::InvalidArgument("the match operator needs a watchlist");
  return std::unique_ptr<Transform>(std::make_unique<HyperscanMatch>(std::move(watchlist)));
}

}  // namespace brandpulse
