#include "operators/compiled_watchlist.h"

#include <hs/hs.h>

#include <algorithm>
#include <unordered_map>

#include "engine/hash.h"
#include "engine/unicode.h"
#include "operators/compiled_watchlist_internal.h"

namespace brandpulse {

using watchlist_internal::FieldEquals;

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
    case TermKind::kQuery:
      return "query term";
  }
  return "term";
}

Result<std::shared_ptr<const CompiledWatchlist>> CompiledWatchlist::Make(
    const WatchlistSpec& spec) {
  return Make(spec, WatchlistCacheOptions{spec.cache_directory}, nullptr);
}

Result<std::shared_ptr<const CompiledWatchlist>> CompiledWatchlist::Make(
    const WatchlistSpec& spec, const WatchlistCacheOptions& cache, WatchlistBuildInfo* info) {
  if (spec.brands.empty()) return Status::InvalidArgument("the watchlist has no brands");
  // The constructor is private: only Make() builds one, and only fully compiled.
  std::shared_ptr<CompiledWatchlist> compiled(new CompiledWatchlist());
  compiled->spec_ = spec;  // from here on spec_ is never modified: owners_ point into it

  // One pattern per distinct scanned literal (folded, accents stripped); its owners are every
  // (brand, kind[, query node]) listing it, each with how to check accents and case.
  std::unordered_map<std::string, uint32_t> pattern_ids;
  std::vector<std::vector<PatternOwner>> owners_by_pattern;
  std::unordered_map<std::string, uint32_t> verify_ids;
  std::string folded;
  std::string stripped;
  std::vector<uint32_t> offsets;
  uint32_t added_pattern = 0;  // the pattern add_owner() gave its owner to
  std::vector<uint32_t> node_pattern;  // by global query node (kTerm): its pattern
  auto add_owner = [&](std::string_view term, PatternOwner owner) {
    FoldAndStripAccents(term, stripped, offsets);
    FoldCase(term, folded);
    if (owner.single_wildcards) {
      // Scan for the longest run without '?'; verify the whole term around it afterwards.
      folded = stripped;
      size_t best_begin = 0;
      size_t best_length = 0;
      for (size_t begin = 0; begin <= folded.size();) {
        size_t end = folded.find('?', begin);
        if (end == std::string::npos) end = folded.size();
        if (end - begin > best_length) {
          best_begin = begin;
          best_length = end - begin;
        }
        begin = end + 1;
      }
      owner.anchor_offset = static_cast<uint32_t>(best_begin);
      stripped = folded.substr(best_begin, best_length);
    }
    const std::string& verify = owner.match_case == QueryCase::kExact ? std::string(term) : folded;
    auto [verify_entry, verify_inserted] =
        verify_ids.try_emplace(verify, static_cast<uint32_t>(compiled->verify_texts_.size()));
    if (verify_inserted) compiled->verify_texts_.push_back(verify);
    owner.verify = verify_entry->second;
    auto [entry, inserted] =
        pattern_ids.try_emplace(stripped, static_cast<uint32_t>(owners_by_pattern.size()));
    if (inserted) {
      owners_by_pattern.emplace_back();
      compiled->patterns_.push_back(Pattern{stripped, 0, 0});
    }
    added_pattern = entry->second;
    std::vector<PatternOwner>& owners = owners_by_pattern[entry->second];
    bool known = owner.kind != TermKind::kQuery &&
                 std::any_of(owners.begin(), owners.end(), [&](const PatternOwner& other) {
                   return other.brand_index == owner.brand_index && other.kind == owner.kind &&
                          other.verify == owner.verify && other.match_case == owner.match_case;
                 });
    if (!known) owners.push_back(owner);
  };
  compiled->query_root_.assign(compiled->spec_.brands.size(), kNoQuery);
  compiled->query_offset_.assign(compiled->spec_.brands.size(), 0);
  compiled->own_handles_.resize(compiled->spec_.brands.size());
  for (uint32_t brand_index = 0; brand_index < compiled->spec_.brands.size(); ++brand_index) {
    compiled->brand_index_by_id_.emplace(compiled->spec_.brands[brand_index].id, brand_index);
  }
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
        // One accent rule for every entry, as for query terms (docs/queries.md): a term without
        // accents also finds accented text, one with accents finds that spelling, and {Exact}
        // finds the bytes written.
        PatternOwner owner{brand_index, kind, term};
        std::string_view literal = term;
        if (literal.size() > 2 && literal.front() == '{' && literal.back() == '}') {
          literal = literal.substr(1, literal.size() - 2);
          owner.match_case = QueryCase::kExact;
        } else {
          owner.match_case = HasStrippableAccent(literal) ? QueryCase::kAccentExact
                                                          : QueryCase::kLoose;
        }
        add_owner(literal, owner);
      }
    }
    for (const std::string& handle : brand.handles) {
      FoldCase(std::string_view(handle).substr(handle.starts_with("@") ? 1 : 0), folded);
      compiled->own_handles_[brand_index].push_back(folded);
    }
    if (!brand.query) continue;
    const Query& query = *brand.query;
    const uint32_t offset = static_cast<uint32_t>(compiled->nodes_.size());
    compiled->query_offset_[brand_index] = offset;
    compiled->query_root_[brand_index] = offset + query.root;
    bool reads_fields = false;
    node_pattern.resize(offset + query.nodes.size(), 0);
    for (uint32_t index = 0; index < query.nodes.size(); ++index) {
      const QueryNode& node = query.nodes[index];
      Node compiled_node{node.op, node.field, node.registered_field, node.near_ordered, false,
                         node.near_distance,
                         static_cast<uint32_t>(compiled->children_.size()),
                         static_cast<uint32_t>(node.children.size()), 0, 0, 0, brand_index,
                         node.text};
      for (uint32_t child : node.children) compiled->children_.push_back(offset + child);
      reads_fields = reads_fields || node.op == QueryOp::kField;
      if (node.op == QueryOp::kTerm) {
        if (node.text.empty()) {
          return Status::InvalidArgument(fmt::format("brand '{}' has an empty query term", brand.id));
        }
        PatternOwner owner{brand_index, TermKind::kQuery, node.text};
        owner.match_case = node.match_case;
        owner.prefix = node.prefix;
        owner.single_wildcards = node.single_wildcards;
        owner.node = offset + index;
        add_owner(node.text, owner);
        node_pattern[offset + index] = added_pattern;
      }
      compiled->nodes_.push_back(std::move(compiled_node));
    }
    // Term nodes on each side of every NEAR, and which nodes sit under a NOT.
    std::vector<uint32_t> stack;
    auto collect_terms = [&](uint32_t root) {
      stack.assign(1, root);
      while (!stack.empty()) {
        uint32_t node = stack.back();
        stack.pop_back();
        const Node& current = compiled->nodes_[node];
        if (current.op == QueryOp::kTerm) compiled->near_terms_.push_back(node);
        for (uint32_t i = 0; i < current.child_count; ++i) {
          stack.push_back(compiled->children_[current.first_child + i]);
        }
      }
    };
    for (uint32_t index = offset; index < compiled->nodes_.size(); ++index) {
      Node& node = compiled->nodes_[index];
      if (node.op == QueryOp::kNear) {
        node.first_term = static_cast<uint32_t>(compiled->near_terms_.size());
        collect_terms(compiled->children_[node.first_child]);
        node.left_terms = static_cast<uint32_t>(compiled->near_terms_.size()) - node.first_term;
        collect_terms(compiled->children_[node.first_child + 1]);
        node.right_terms = static_cast<uint32_t>(compiled->near_terms_.size()) - node.first_term -
                           node.left_terms;
      }
      if (node.op == QueryOp::kNot) {
        stack.assign(1, compiled->children_[node.first_child]);
        while (!stack.empty()) {
          uint32_t below = stack.back();
          stack.pop_back();
          compiled->nodes_[below].negated = true;
          for (uint32_t i = 0; i < compiled->nodes_[below].child_count; ++i) {
            stack.push_back(compiled->children_[compiled->nodes_[below].first_child + i]);
          }
        }
      }
    }
    if (reads_fields) compiled->field_brands_.push_back(brand_index);
  }
  if (owners_by_pattern.empty() && compiled->field_brands_.empty()) {
    return Status::InvalidArgument("the watchlist has no terms, handles or hashtags");
  }
  // Trigger terms (LazyOwner): for a query that needs a hit to be true, a set of its term
  // nodes of which at least one is hit whenever it is true. Its other terms are lazy: judged
  // only for a post where a trigger term was accepted, so a post with "price" alone does not
  // judge and evaluate the thousands of queries that list "price" as context. A query that
  // reads fields, or may be true without any hit (NOT alone), keeps every term eager.
  std::vector<uint8_t> lazy_node(compiled->nodes_.size(), 0);
  {
    std::vector<uint8_t> reads_fields(compiled->spec_.brands.size(), 0);
    for (uint32_t brand_index : compiled->field_brands_) reads_fields[brand_index] = 1;
    // What judging a set of terms on each of their hits costs: the owners of their patterns.
    auto cost = [&](const std::vector<uint32_t>& terms) {
      size_t owners = 0;
      for (uint32_t node : terms) owners += owners_by_pattern[node_pattern[node]].size();
      return owners;
    };
    // Appends node's triggers to `out`; false when node may be true without any hit.
    auto triggers = [&](auto& self, uint32_t index, std::vector<uint32_t>& out) -> bool {
      const Node& node = compiled->nodes_[index];
      switch (node.op) {
        case QueryOp::kTerm:
          out.push_back(index);
          return true;
        case QueryOp::kField:
        case QueryOp::kNot:
          return false;
        case QueryOp::kOr:  // true only when a child is: every child's triggers
          for (uint32_t i = 0; i < node.child_count; ++i) {
            if (!self(self, compiled->children_[node.first_child + i], out)) return false;
          }
          return true;
        case QueryOp::kAnd: {  // true only when every child is: the cheapest child's triggers
          std::vector<uint32_t> best;
          std::vector<uint32_t> candidate;
          size_t best_cost = SIZE_MAX;
          for (uint32_t i = 0; i < node.child_count; ++i) {
            candidate.clear();
            if (!self(self, compiled->children_[node.first_child + i], candidate)) continue;
            const size_t candidate_cost = cost(candidate);
            if (candidate_cost < best_cost) {
              best_cost = candidate_cost;
              best.swap(candidate);
            }
          }
          if (best_cost == SIZE_MAX) return false;
          out.insert(out.end(), best.begin(), best.end());
          return true;
        }
        case QueryOp::kNear: {  // true only with a hit on each side: the cheaper side's terms
          const auto first = compiled->near_terms_.begin() + node.first_term;
          std::vector<uint32_t> left(first, first + node.left_terms);
          std::vector<uint32_t> right(first + node.left_terms,
                                      first + node.left_terms + node.right_terms);
          const std::vector<uint32_t>& side = cost(left) <= cost(right) ? left : right;
          out.insert(out.end(), side.begin(), side.end());
          return true;
        }
      }
      return false;
    };
    std::vector<uint32_t> trigger_nodes;
    for (uint32_t brand_index = 0; brand_index < compiled->spec_.brands.size(); ++brand_index) {
      if (compiled->query_root_[brand_index] == kNoQuery || reads_fields[brand_index]) continue;
      trigger_nodes.clear();
      if (!triggers(triggers, compiled->query_root_[brand_index], trigger_nodes)) continue;
      const uint32_t first = compiled->query_offset_[brand_index];
      const uint32_t last = first + static_cast<uint32_t>(
                                        compiled->spec_.brands[brand_index].query->nodes.size());
      for (uint32_t node = first; node < last; ++node) {
        lazy_node[node] = compiled->nodes_[node].op == QueryOp::kTerm ? 1 : 0;
      }
      for (uint32_t node : trigger_nodes) lazy_node[node] = 0;
    }
  }
  auto is_lazy = [&](const PatternOwner& owner) {
    return owner.kind == TermKind::kQuery && lazy_node[owner.node] != 0;
  };
  compiled->lazy_first_.assign(compiled->spec_.brands.size() + 1, 0);
  for (const std::vector<PatternOwner>& owners : owners_by_pattern) {
    for (const PatternOwner& owner : owners) {
      if (is_lazy(owner)) ++compiled->lazy_first_[owner.brand_index + 1];
    }
  }
  for (size_t i = 1; i < compiled->lazy_first_.size(); ++i) {
    compiled->lazy_first_[i] += compiled->lazy_first_[i - 1];
  }
  compiled->lazy_owners_.resize(compiled->lazy_first_.back());
  std::vector<uint32_t> lazy_cursor(compiled->lazy_first_.begin(), compiled->lazy_first_.end() - 1);
  // Flatten the owners, pattern by pattern, so the hot loop reads one contiguous array.
  for (uint32_t id = 0; id < compiled->patterns_.size(); ++id) {
    Pattern& pattern = compiled->patterns_[id];
    pattern.first_owner = static_cast<uint32_t>(compiled->owners_.size());
    pattern.owner_count = static_cast<uint32_t>(owners_by_pattern[id].size());
    compiled->owners_.insert(compiled->owners_.end(), owners_by_pattern[id].begin(),
                             owners_by_pattern[id].end());
    pattern.first_eager = static_cast<uint32_t>(compiled->eager_owners_.size());
    for (const PatternOwner& owner : owners_by_pattern[id]) {
      if (is_lazy(owner)) {
        compiled->lazy_owners_[lazy_cursor[owner.brand_index]++] = LazyOwner{id, owner};
      } else {
        compiled->eager_owners_.push_back(owner);
      }
    }
    pattern.eager_count = static_cast<uint32_t>(compiled->eager_owners_.size()) - pattern.first_eager;
    compiled->pattern_lengths_.push_back(static_cast<uint32_t>(pattern.folded.size()));
  }
  // The database's literals: each pattern, plus the case variants of its non-ASCII letters
  // (ASCII case is the database's HS_FLAG_CASELESS), so text without accents to strip is
  // scanned raw. A watchlist with a pattern of too many variants scans folded text only.
  compiled->raw_scan_ok_ = true;
  for (uint32_t id = 0; id < compiled->patterns_.size() && compiled->raw_scan_ok_; ++id) {
    compiled->raw_scan_ok_ = AppendCaseVariants(compiled->patterns_[id].folded, id,
                                                compiled->scan_literals_);
  }
  if (!compiled->raw_scan_ok_) {
    compiled->scan_literals_.clear();
    for (uint32_t id = 0; id < compiled->patterns_.size(); ++id) {
      compiled->scan_literals_.push_back(ScanLiteral{compiled->patterns_[id].folded, id});
    }
  }
  uint64_t hash = HashBytes("brandpulse-patterns-v2-caseless");
  for (uint32_t index = 0; index < compiled->scan_literals_.size(); ++index) {
    const ScanLiteral& literal = compiled->scan_literals_[index];
    hash = MixBits(hash ^ HashBytes(literal.bytes, literal.pattern + 1));
  }
  compiled->pattern_set_hash_ = hash;
  WatchlistBuildInfo local_info;
  RETURN_IF_ERROR(compiled->CompileOrLoad(cache, info != nullptr ? *info : local_info));
  return std::shared_ptr<const CompiledWatchlist>(std::move(compiled));
}

namespace {

// Every code point, by its fold, that folds to it with the same UTF-8 length (FoldCodePoint
// changes nothing outside these ranges; engine/unicode.cc).
const std::unordered_map<uint32_t, std::vector<uint32_t>>& OtherCases() {
  static const auto* other_cases = [] {
    auto* map = new std::unordered_map<uint32_t, std::vector<uint32_t>>();
    auto add_range = [&](uint32_t first, uint32_t last) {
      for (uint32_t code_point = first; code_point <= last; ++code_point) {
        const uint32_t folded = FoldCodePoint(code_point);
        if (folded != code_point) (*map)[folded].push_back(code_point);
      }
    };
    add_range(0x80, 0x7FF);
    add_range(0x1E00, 0x1FFF);
    add_range(0xFF21, 0xFF5A);
    return map;
  }();
  return *other_cases;
}

constexpr size_t kMaxCaseVariants = 256;

}  // namespace

bool CompiledWatchlist::AppendCaseVariants(const std::string& folded, uint32_t pattern,
                                           std::vector<ScanLiteral>& out) {
  if (std::all_of(folded.begin(), folded.end(),
                  [](char c) { return static_cast<uint8_t>(c) < 0x80; })) {
    out.push_back(ScanLiteral{folded, pattern});
    return true;
  }
  // Per character of `folded`: its spellings (itself first, then its other cases).
  std::vector<std::vector<std::string>> choices;
  size_t variants = 1;
  for (size_t position = 0; position < folded.size();) {
    const DecodedCodePoint decoded = DecodeCodePointAt(folded, position);
    std::vector<std::string>& spellings = choices.emplace_back();
    spellings.push_back(folded.substr(position, decoded.length));
    if (decoded.length > 1 && decoded.code_point != kReplacementCharacter) {
      const auto& other_cases = OtherCases();
      auto found = other_cases.find(decoded.code_point);
      if (found != other_cases.end()) {
        for (uint32_t other : found->second) {
          std::string spelling;
          AppendUtf8(other, spelling);
          if (spelling.size() == decoded.length) spellings.push_back(spelling);
        }
      }
    }
    variants *= spellings.size();
    if (variants > kMaxCaseVariants) return false;
    position += decoded.length;
  }
  for (size_t n = 0; n < variants; ++n) {
    std::string literal;
    literal.reserve(folded.size());
    size_t rest = n;
    for (size_t i = 0; i < choices.size(); ++i) {
      literal += choices[i][rest % choices[i].size()];
      rest /= choices[i].size();
    }
    out.push_back(ScanLiteral{std::move(literal), pattern});
  }
  return true;
}

bool CompiledWatchlist::IsOwnHandle(uint32_t brand_index, std::string_view handle) const {
  // No allocation: called for every matched post on the hot path.
  if (handle.starts_with("@")) handle.remove_prefix(1);
  if (handle.empty()) return false;
  for (const std::string& own : own_handles_[brand_index]) {
    if (FieldEquals(handle, own)) return true;
  }
  return false;
}

CompiledWatchlist::~CompiledWatchlist() {
  if (database_ != nullptr) hs_free_database(database_);
}

std::optional<uint32_t> CompiledWatchlist::FindBrand(std::string_view id) const {
  auto found = brand_index_by_id_.find(id);
  if (found == brand_index_by_id_.end()) return std::nullopt;
  return found->second;
}

size_t CompiledWatchlist::database_bytes() const {
  size_t size = 0;
  if (database_ == nullptr) return 0;
  if (hs_database_size(database_, &size) != HS_SUCCESS) return 0;
  return size;
}

size_t CompiledWatchlist::scratch_bytes() const {
  if (database_ == nullptr) return 0;
  hs_scratch_t* scratch = nullptr;
  size_t size = 0;
  if (hs_alloc_scratch(database_, &scratch) == HS_SUCCESS) {
    if (hs_scratch_size(scratch, &size) != HS_SUCCESS) size = 0;
    hs_free_scratch(scratch);
  }
  return size;
}

}  // namespace brandpulse
