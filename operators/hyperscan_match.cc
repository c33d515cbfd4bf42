#include "operators/hyperscan_match.h"

#include <hs/hs.h>

#include <algorithm>
#include <map>

#include "engine/unicode.h"

namespace brandpulse {

std::string_view TermKindName(TermKind kind) {
  switch (kind) {
    case TermKind::kTerm: return "term";
    case TermKind::kHandle: return "handle";
    case TermKind::kHashtag: return "hashtag";
    case TermKind::kExclusion: return "exclusion";
  }
  return "term";
}

Result<std::shared_ptr<const CompiledWatchlist>> CompiledWatchlist::Make(const WatchlistSpec& spec) {
  if (spec.brands.empty()) return Status::InvalidArgument("the watchlist has no brands");
  std::shared_ptr<CompiledWatchlist> compiled(new CompiledWatchlist());
  compiled->spec_ = spec;
  // Identical folded literals become one pattern with several owners.
  std::map<std::string, uint32_t> pattern_ids;
  std::string folded;
  for (uint32_t brand_index = 0; brand_index < compiled->spec_.brands.size(); ++brand_index) {
    const BrandSpec& brand = compiled->spec_.brands[brand_index];
    auto add = [&](const std::vector<std::string>& terms, TermKind kind) {
      for (const std::string& term : terms) {
        FoldCase(term, folded);
        auto [entry, inserted] =
            pattern_ids.try_emplace(folded, static_cast<uint32_t>(compiled->patterns_.size()));
        if (inserted) compiled->patterns_.push_back(Pattern{folded, {}, false});
        Pattern& pattern = compiled->patterns_[entry->second];
        pattern.owners.push_back(PatternOwner{brand_index, kind, term});
        if (kind == TermKind::kHandle || kind == TermKind::kHashtag) pattern.needs_free_start = true;
      }
    };
    add(brand.terms, TermKind::kTerm);
    add(brand.handles, TermKind::kHandle);
    add(brand.hashtags, TermKind::kHashtag);
    add(brand.exclusions, TermKind::kExclusion);
  }
  std::vector<const char*> expressions;
  std::vector<size_t> lengths;
  std::vector<unsigned> flags;
  std::vector<unsigned> ids;
  for (uint32_t id = 0; id < compiled->patterns_.size(); ++id) {
    expressions.push_back(compiled->patterns_[id].folded.data());
    lengths.push_back(compiled->patterns_[id].folded.size());
    flags.push_back(0);  // case-sensitive on folded bytes; no SINGLEMATCH (a rejected first hit
                         // must not hide a later valid one)
    ids.push_back(id);
  }
  hs_compile_error_t* error = nullptr;
  hs_error_t status = hs_compile_lit_multi(expressions.data(), flags.data(), ids.data(),
                                           lengths.data(), static_cast<unsigned>(ids.size()),
                                           HS_MODE_BLOCK, nullptr, &compiled->database_, &error);
  if (status != HS_SUCCESS) {
    std::string message = error != nullptr ? error->message : "unknown error";
    int expression = error != nullptr ? error->expression : -1;
    if (error != nullptr) hs_free_compile_error(error);
    if (expression >= 0 && static_cast<size_t>(expression) < compiled->patterns_.size()) {
      const PatternOwner& owner = compiled->patterns_[expression].owners.front();
      return Status::InvalidArgument(fmt::format("brand '{}' {} '{}': {}",
                                                 spec.brands[owner.brand_index].id,
                                                 TermKindName(owner.kind), owner.term, message));
    }
    return Status::InvalidArgument(fmt::format("compiling the watchlist: {}", message));
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

Result<std::unique_ptr<CompiledWatchlist::Scanner>> CompiledWatchlist::MakeScanner() const {
  std::unique_ptr<Scanner> scanner(new Scanner());
  if (hs_alloc_scratch(database_, &scanner->scratch_) != HS_SUCCESS) {
    return Status::Internal("cannot allocate Hyperscan scratch");
  }
  scanner->brand_state_.assign(spec_.brands.size(), 0);
  scanner->first_hits_.assign(spec_.brands.size(), MatchedBrand{});
  scanner->hits_.reserve(64);
  return scanner;
}

void CompiledWatchlist::Scan(std::string_view text, Scanner& scanner) const {
  FoldCase(text, scanner.folded_);
  scanner.hits_.clear();
  // The callback records (pattern, end); start = end - length, as every pattern is a literal.
  struct Context {
    const CompiledWatchlist* self;
    Scanner* scanner;
  } context{this, &scanner};
  hs_scan(
      database_, scanner.folded_.data(), static_cast<unsigned>(scanner.folded_.size()), 0,
      scanner.scratch_,
      [](unsigned int id, unsigned long long, unsigned long long to, unsigned int,
         void* raw) -> int {
        auto* ctx = static_cast<Context*>(raw);
        uint32_t end = static_cast<uint32_t>(to);
        uint32_t begin = end - static_cast<uint32_t>(ctx->self->patterns_[id].folded.size());
        ctx->scanner->hits_.push_back(Scanner::RawHit{id, begin, end});
        return 0;
      },
      &context);
}

bool CompiledWatchlist::Accepts(const Pattern& pattern, std::string_view text, uint32_t begin,
                                uint32_t end) const {
  if (!IsWholeWordAt(text, begin, end)) return false;
  if (pattern.needs_free_start && begin > 0) {
    // "x@brand" is an e-mail address or a run-on word, not a mention.
    uint32_t before = DecodeCodePointBefore(text, begin);
    if (IsWordCodePoint(before) || before == '@' || before == '#') return false;
  }
  return true;
}

void CompiledWatchlist::MatchText(std::string_view text, Scanner& scanner,
                                  std::vector<MatchedBrand>& out) const {
  Scan(text, scanner);
  if (scanner.hits_.empty()) return;
  for (const Scanner::RawHit& hit : scanner.hits_) {
    const Pattern& pattern = patterns_[hit.pattern];
    if (!Accepts(pattern, scanner.folded_, hit.begin, hit.end)) continue;
    for (const PatternOwner& owner : pattern.owners) {
      uint8_t& state = scanner.brand_state_[owner.brand_index];
      if (state == 0) scanner.touched_.push_back(owner.brand_index);
      if (owner.kind == TermKind::kExclusion) {
        state |= 2;
      } else if ((state & 1) == 0 || hit.begin < scanner.first_hits_[owner.brand_index].begin) {
        state |= 1;
        scanner.first_hits_[owner.brand_index] = MatchedBrand{owner.brand_index, hit.begin, hit.end};
      }
    }
  }
  std::sort(scanner.touched_.begin(), scanner.touched_.end());
  for (uint32_t brand_index : scanner.touched_) {
    if (scanner.brand_state_[brand_index] == 1) out.push_back(scanner.first_hits_[brand_index]);
    scanner.brand_state_[brand_index] = 0;
  }
  scanner.touched_.clear();
}

std::vector<TermHit> CompiledWatchlist::ExplainText(std::string_view text, Scanner& scanner) const {
  Scan(text, scanner);
  std::vector<TermHit> explained;
  for (const Scanner::RawHit& hit : scanner.hits_) {
    const Pattern& pattern = patterns_[hit.pattern];
    bool accepted = Accepts(pattern, scanner.folded_, hit.begin, hit.end);
    for (const PatternOwner& owner : pattern.owners) {
      explained.push_back(TermHit{owner.brand_index, owner.kind, owner.term, hit.begin, hit.end,
                                  accepted});
    }
  }
  std::sort(explained.begin(), explained.end(), [](const TermHit& a, const TermHit& b) {
    return std::tie(a.begin, a.end, a.brand_index) < std::tie(b.begin, b.end, b.brand_index);
  });
  return explained;
}

namespace {

class MatchState final : public TransformState {
 public:
  std::unique_ptr<CompiledWatchlist::Scanner> scanner;
  std::vector<MatchedBrand> matched;
};

class HyperscanMatch final : public Transform {
 public:
  // Workers share the immutable database; hot reload will swap this pointer between batches.
  explicit HyperscanMatch(std::shared_ptr<const CompiledWatchlist> watchlist)
      : watchlist_(std::move(watchlist)) {}

  std::string_view name() const override { return "match"; }

  std::unique_ptr<TransformState> MakeState() const override {
    auto state = std::make_unique<MatchState>();
    Result<std::unique_ptr<CompiledWatchlist::Scanner>> scanner = watchlist_->MakeScanner();
    if (scanner.ok()) state->scanner = std::move(scanner).value();
    return state;
  }

  Status Process(Batch& batch, TransformState& state_base) const override {
    auto& state = static_cast<MatchState&>(state_base);
    if (state.scanner == nullptr) return Status::Internal("no Hyperscan scratch for this worker");
    for (uint32_t post_index = 0; post_index < batch.posts.size(); ++post_index) {
      state.matched.clear();
      watchlist_->MatchText(batch.posts[post_index].text, *state.scanner, state.matched);
      for (const MatchedBrand& brand : state.matched) {
        batch.mentions.push_back(Mention{post_index, brand.brand_index, brand.begin, brand.end});
      }
    }
    return Status::Ok();
  }

 private:
  std::shared_ptr<const CompiledWatchlist> watchlist_;
};

}  // namespace

Result<std::unique_ptr<Transform>> MakeHyperscanMatch(
    std::shared_ptr<const CompiledWatchlist> watchlist) {
  if (watchlist == nullptr) return Status::InvalidArgument("no watchlist");
  return std::unique_ptr<Transform>(std::make_unique<HyperscanMatch>(std::move(watchlist)));
}

}  // namespace brandpulse
