#include "operators/hyperscan_match.h"

#include <hs/hs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <tuple>
#include <unordered_map>

#include "engine/hash.h"
#include "engine/unicode.h"

namespace brandpulse {
namespace {

constexpr uint8_t kMatched = 1;
constexpr uint8_t kExcluded = 2;
constexpr uint8_t kQueryTrue = 4;
constexpr std::string_view kAccentsDiffer = "the accents differ";

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
    std::vector<PatternOwner>& owners = owners_by_pattern[entry->second];
    bool known = owner.kind != TermKind::kQuery &&
                 std::any_of(owners.begin(), owners.end(), [&](const PatternOwner& other) {
                   return other.brand_index == owner.brand_index && other.kind == owner.kind &&
                          other.verify == owner.verify;
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
        add_owner(term, PatternOwner{brand_index, kind, term});
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
    for (uint32_t index = 0; index < query.nodes.size(); ++index) {
      const QueryNode& node = query.nodes[index];
      Node compiled_node{node.op, node.field, node.near_ordered, false, node.near_distance,
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
  // Flatten the owners, pattern by pattern, so the hot loop reads one contiguous array.
  uint64_t hash = HashBytes("brandpulse-patterns-v1");
  for (uint32_t id = 0; id < compiled->patterns_.size(); ++id) {
    Pattern& pattern = compiled->patterns_[id];
    pattern.first_owner = static_cast<uint32_t>(compiled->owners_.size());
    pattern.owner_count = static_cast<uint32_t>(owners_by_pattern[id].size());
    compiled->owners_.insert(compiled->owners_.end(), owners_by_pattern[id].begin(),
                             owners_by_pattern[id].end());
    compiled->pattern_lengths_.push_back(static_cast<uint32_t>(pattern.folded.size()));
    hash = MixBits(hash ^ HashBytes(pattern.folded, id + 1));
  }
  compiled->pattern_set_hash_ = hash;
  WatchlistBuildInfo local_info;
  RETURN_IF_ERROR(compiled->CompileOrLoad(cache, info != nullptr ? *info : local_info));
  return std::shared_ptr<const CompiledWatchlist>(std::move(compiled));
}

namespace {

constexpr char kCacheMagic[8] = {'B', 'P', 'H', 'S', 'D', 'B', '0', '1'};

// The CPU features and tuning Hyperscan compiles for, plus the library version.
std::string PlatformKey() {
  hs_platform_info_t platform{};
  if (hs_populate_platform(&platform) != HS_SUCCESS) return hs_version();
  return fmt::format("{}|{}|{}", hs_version(), platform.tune,
                     static_cast<unsigned long long>(platform.cpu_features));
}

std::optional<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

std::string CompiledWatchlist::DefaultCacheDirectory() { return DefaultWatchlistCacheDirectory(); }

Status CompiledWatchlist::CompileOrLoad(const WatchlistCacheOptions& cache,
                                        WatchlistBuildInfo& info) {
  const auto started = std::chrono::steady_clock::now();
  auto finish = [&] {
    info.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  if (patterns_.empty()) {  // field-only queries: nothing to scan for
    finish();
    return Status::Ok();
  }
  // Cache file: magic, 8-byte key hash, 8-byte payload hash, payload (hs_serialize_database).
  const std::string platform = PlatformKey();
  const uint64_t key = MixBits(pattern_set_hash_ ^ HashBytes(platform));
  if (!cache.directory.empty()) {
    info.cache_file = fmt::format("{}/watchlist-{:016x}.hsdb", cache.directory, key);
    if (std::optional<std::string> bytes = ReadWholeFile(info.cache_file)) {
      bool ok = false;
      constexpr size_t kHeader = sizeof(kCacheMagic) + 16;
      if (bytes->size() > kHeader && std::memcmp(bytes->data(), kCacheMagic, 8) == 0) {
        uint64_t stored_key = 0;
        uint64_t stored_hash = 0;
        std::memcpy(&stored_key, bytes->data() + 8, 8);
        std::memcpy(&stored_hash, bytes->data() + 16, 8);
        std::string_view payload = std::string_view(*bytes).substr(kHeader);
        if (stored_key == key && stored_hash == HashBytes(payload)) {
          hs_database_t* loaded = nullptr;
          if (hs_deserialize_database(payload.data(), payload.size(), &loaded) == HS_SUCCESS) {
            database_ = loaded;
            ok = true;
          }
        }
      }
      if (ok) {
        info.loaded_from_cache = true;
        finish();
        return Status::Ok();
      }
      info.cache_was_corrupt = true;
    }
  }
  std::vector<const char*> expressions;
  std::vector<size_t> lengths;
  std::vector<unsigned> ids;
  for (uint32_t id = 0; id < patterns_.size(); ++id) {
    expressions.push_back(patterns_[id].folded.data());
    lengths.push_back(patterns_[id].folded.size());
    ids.push_back(id);
  }
  // Case-sensitive on folded bytes, and no SINGLEMATCH: the callback keeps every hit because
  // the boundary check may reject an early one and accept a later one.
  std::vector<unsigned> flags(ids.size(), 0);
  hs_compile_error_t* error = nullptr;
  hs_error_t status = hs_compile_lit_multi(expressions.data(), flags.data(), ids.data(),
                                           lengths.data(), static_cast<unsigned>(ids.size()),
                                           HS_MODE_BLOCK, nullptr, &database_, &error);
  if (status != HS_SUCCESS) {
    std::string message = error != nullptr ? error->message : "unknown error";
    int expression = error != nullptr ? error->expression : -1;
    if (error != nullptr) hs_free_compile_error(error);
    if (expression >= 0 && static_cast<size_t>(expression) < patterns_.size()) {
      const PatternOwner& owner = owners_[patterns_[expression].first_owner];
      return Status::InvalidArgument(fmt::format("brand '{}' {} '{}': Hyperscan: {}",
                                                 spec_.brands[owner.brand_index].id,
                                                 TermKindName(owner.kind), owner.term, message));
    }
    return Status::InvalidArgument(fmt::format("compiling the watchlist: Hyperscan: {}", message));
  }
  finish();
  if (!cache.directory.empty()) {
    // Best effort: a cache that cannot be written only costs the next start a compile.
    char* serialized = nullptr;
    size_t serialized_size = 0;
    if (hs_serialize_database(database_, &serialized, &serialized_size) == HS_SUCCESS) {
      std::string_view payload(serialized, serialized_size);
      uint64_t payload_hash = HashBytes(payload);
      std::error_code ignored;
      std::filesystem::create_directories(cache.directory, ignored);
      const std::string temporary = fmt::format("{}.{}.tmp", info.cache_file, ::getpid());
      {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out.write(kCacheMagic, sizeof(kCacheMagic));
        out.write(reinterpret_cast<const char*>(&key), 8);
        out.write(reinterpret_cast<const char*>(&payload_hash), 8);
        out.write(payload.data(), static_cast<std::streamsize>(payload.size()));
        info.cache_written = static_cast<bool>(out);
      }
      std::free(serialized);
      if (info.cache_written) {
        std::filesystem::rename(temporary, info.cache_file, ignored);
        info.cache_written = !ignored;
      }
      if (!info.cache_written) std::filesystem::remove(temporary, ignored);
    }
  }
  return Status::Ok();
}

namespace {

// Caseless comparison of a post field (any case) with a folded query value.
bool FieldEquals(std::string_view field, std::string_view folded_value) {
  if (field.starts_with("@")) field.remove_prefix(1);
  if (field.size() != folded_value.size()) return false;
  for (size_t position = 0; position < field.size();) {
    DecodedCodePoint a = DecodeCodePointAt(field, position);
    DecodedCodePoint b = DecodeCodePointAt(folded_value, position);
    if (a.length != b.length || FoldCodePoint(a.code_point) != FoldCodePoint(b.code_point)) {
      return false;
    }
    position += a.length;
  }
  return true;
}

}  // namespace

namespace {

// url:/site: over the space-separated link list of a post. No allocation.
bool UrlFieldMatches(std::string_view urls, std::string_view folded_value, bool site) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  auto equal_caseless = [&](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (lower(a[i]) != b[i]) return false;
    }
    return true;
  };
  while (!urls.empty()) {
    size_t space = urls.find(' ');
    std::string_view url = urls.substr(0, space);
    urls = space == std::string_view::npos ? std::string_view() : urls.substr(space + 1);
    if (site) {
      size_t scheme = url.find("://");
      std::string_view host = scheme == std::string_view::npos ? url : url.substr(scheme + 3);
      host = host.substr(0, host.find_first_of("/?#:"));
      if (equal_caseless(host, folded_value)) return true;
      if (host.size() > folded_value.size() &&
          host[host.size() - folded_value.size() - 1] == '.' &&
          equal_caseless(host.substr(host.size() - folded_value.size()), folded_value)) {
        return true;
      }
    } else {
      for (size_t start = 0; start + folded_value.size() <= url.size(); ++start) {
        if (equal_caseless(url.substr(start, folded_value.size()), folded_value)) return true;
      }
    }
  }
  return false;
}

}  // namespace

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

CompiledWatchlist::Scanner::~Scanner() {
  if (scratch_ != nullptr) hs_free_scratch(scratch_);
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

Result<std::unique_ptr<CompiledWatchlist::Scanner>> CompiledWatchlist::MakeScanner() const {
  // The constructor is private: a scanner only exists bound to its watchlist.
  std::unique_ptr<Scanner> scanner(new Scanner());
  // hs_alloc_scratch only reads the database, so workers may make scanners concurrently.
  if (database_ != nullptr) {
    hs_error_t error = hs_alloc_scratch(database_, &scanner->scratch_);
    if (error != HS_SUCCESS) {
      return Status::Internal(fmt::format("cannot allocate Hyperscan scratch (error {})", error));
    }
  }
  scanner->owner_ = this;
  scanner->brand_flags_.assign(spec_.brands.size(), 0);
  scanner->first_hits_.assign(spec_.brands.size(), MatchedBrand{});
  scanner->query_flags_.assign(spec_.brands.size(), 0);
  scanner->node_hit_.assign(nodes_.size(), 0);
  scanner->node_values_.assign(nodes_.size(), 0);
  scanner->touched_brands_.reserve(std::min<size_t>(spec_.brands.size(), 64));
  scanner->query_brands_.reserve(std::min<size_t>(spec_.brands.size(), 64));
  scanner->hits_.reserve(64);
  scanner->atom_hits_.reserve(64);
  scanner->folded_.reserve(512);
  scanner->stripped_.reserve(512);
  scanner->offsets_.reserve(513);
  scanner->words_before_.reserve(513);
  return scanner;
}

bool CompiledWatchlist::Scan(std::string_view text, Scanner& scanner) const {
  scanner.hits_.clear();
  scanner.words_ready_ = false;
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
  // Accents to strip live in U+00C0..U+017F (lead bytes C3..C5) and U+0300..U+036F (CC, CD).
  // Most posts have none: then the stripped text is the folded text, offset for offset.
  bool may_strip = false;
  for (char c : text) {
    const auto byte = static_cast<uint8_t>(c);
    may_strip |= static_cast<uint8_t>(byte - 0xC3) <= 2 || static_cast<uint8_t>(byte - 0xCC) <= 1;
  }
  scanner.identity_offsets_ = !may_strip;
  if (may_strip) FoldAndStripAccents(text, scanner.stripped_, scanner.offsets_);
  if (text.empty() || database_ == nullptr) return true;
  const std::string& scanned = may_strip ? scanner.stripped_ : scanner.folded_;
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
  hs_error_t error = hs_scan(database_, scanned.data(), static_cast<unsigned int>(scanned.size()),
                             0, scanner.scratch_, on_match, &context);
  if (error != HS_SUCCESS) {
    if (scanner.status_.ok()) {
      scanner.status_ = Status::Internal(fmt::format("hs_scan failed with error {}", error));
    }
    return false;
  }
  return true;
}

namespace {

// The whole-word rule of IsWholeWordAt(), one side at a time.
bool LeftBoundaryOk(std::string_view text, size_t begin) {
  if (begin == 0) return true;
  uint32_t before = DecodeCodePointBefore(text, begin).code_point;
  return !(IsWordCodePoint(before) && !IsUnspacedScript(before) &&
           !IsUnspacedScript(DecodeCodePointAt(text, begin).code_point));
}

bool RightBoundaryOk(std::string_view text, size_t end) {
  if (end >= text.size()) return true;
  uint32_t after = DecodeCodePointAt(text, end).code_point;
  return !(IsWordCodePoint(after) && !IsUnspacedScript(after) &&
           !IsUnspacedScript(DecodeCodePointBefore(text, end).code_point));
}

}  // namespace

namespace {

// Matches `pattern` ('?' = one letter or digit) against `text` ending at `end` (backwards) and
// returns where it starts, or -1.
int64_t MatchBackward(std::string_view text, size_t end, std::string_view pattern) {
  size_t at = end;
  size_t k = pattern.size();
  while (k > 0) {
    if (pattern[k - 1] == '?') {
      if (at == 0) return -1;
      DecodedCodePoint before = DecodeCodePointBefore(text, at);
      if (!IsWordCodePoint(before.code_point)) return -1;
      at -= before.length;
      --k;
    } else {
      if (at == 0 || text[at - 1] != pattern[k - 1]) return -1;
      --at;
      --k;
    }
  }
  return static_cast<int64_t>(at);
}

// The same forwards from `begin`; returns where the match ends, or -1.
int64_t MatchForward(std::string_view text, size_t begin, std::string_view pattern) {
  size_t at = begin;
  for (size_t k = 0; k < pattern.size(); ++k) {
    if (pattern[k] == '?') {
      if (at >= text.size()) return -1;
      DecodedCodePoint next = DecodeCodePointAt(text, at);
      if (!IsWordCodePoint(next.code_point)) return -1;
      at += next.length;
    } else {
      if (at >= text.size() || text[at] != pattern[k]) return -1;
      ++at;
    }
  }
  return static_cast<int64_t>(at);
}

}  // namespace

bool CompiledWatchlist::Accept(const PatternOwner& owner, const Scanner::RawHit& raw_hit,
                               std::string_view text, const Scanner& scanner, uint32_t& begin,
                               uint32_t& end, std::string_view& why_rejected) const {
  Scanner::RawHit hit = raw_hit;
  if (owner.single_wildcards) {
    // The scan found the term's longest fixed run; the rest, with its '?', must be around it.
    const std::string_view term = verify_texts_[owner.verify];
    const std::string_view stripped =
        scanner.identity_offsets_ ? std::string_view(scanner.folded_) : scanner.stripped_;
    const size_t anchor_end = owner.anchor_offset + (hit.end - hit.begin);
    int64_t start = MatchBackward(stripped, hit.begin, term.substr(0, owner.anchor_offset));
    int64_t finish = start < 0 ? -1 : MatchForward(stripped, hit.end, term.substr(anchor_end));
    if (start < 0 || finish < 0) {
      why_rejected = "the letters around it do not fit the wildcard";
      return false;
    }
    hit.begin = static_cast<uint32_t>(start);
    hit.end = static_cast<uint32_t>(finish);
  }
  // The original span: from the first stripped byte's source to the end of the character the
  // last stripped byte came from (combining marks after it are not part of the hit).
  const bool identity = scanner.identity_offsets_;
  begin = identity ? hit.begin : scanner.offsets_[hit.begin];
  end = identity ? hit.end : scanner.offsets_[hit.end - 1] + 1;
  const uint32_t next_kept = identity ? hit.end : scanner.offsets_[hit.end];
  while (end < next_kept && (static_cast<uint8_t>(text[end]) & 0xC0) == 0x80) ++end;
  const std::string_view folded = scanner.folded_;
  if (owner.match_case == QueryCase::kLoose) {
    // An unaccented term takes the accents written as combining marks after its last letter.
    while (end < next_kept) {
      DecodedCodePoint mark = DecodeCodePointAt(folded, end);
      if (StripAccent(mark.code_point) != 0) break;
      end += mark.length;
    }
  }
  const std::string& verify = verify_texts_[owner.verify];
  switch (owner.match_case) {
    case QueryCase::kLoose:
      break;
    case QueryCase::kAccentExact:
      if (folded.substr(begin, end - begin) != verify) {
        why_rejected = kAccentsDiffer;
        return false;
      }
      break;
    case QueryCase::kExact:
      if (text.substr(begin, end - begin) != verify) {
        why_rejected = "the case or accents differ";
        return false;
      }
      break;
  }
  if (owner.kind == TermKind::kQuery) {
    // A term edge that is not a word character (an emoji, a '#') needs no boundary there.
    uint32_t first = DecodeCodePointAt(folded, begin).code_point;
    uint32_t last = DecodeCodePointBefore(folded, end).code_point;
    if (IsWordCodePoint(first) && !LeftBoundaryOk(folded, begin)) {
      why_rejected = "not a whole word: a letter or digit touches it";
      return false;
    }
    if (owner.prefix) {
      // term*: the word may go on; the hit then ends where the word does.
      while (end < folded.size()) {
        DecodedCodePoint next = DecodeCodePointAt(folded, end);
        if (!IsWordCodePoint(next.code_point) || IsUnspacedScript(next.code_point)) break;
        end += next.length;
      }
      return true;
    }
    if (IsWordCodePoint(last) && !RightBoundaryOk(folded, end)) {
      why_rejected = "not a whole word: a letter or digit touches it";
      return false;
    }
    return true;
  }
  if (!IsWholeWordAt(folded, begin, end)) {
    why_rejected = "not a whole word: a letter or digit touches it";
    return false;
  }
  return true;
}

void CompiledWatchlist::MatchText(std::string_view text, Scanner& scanner,
                                  std::vector<MatchedBrand>& out) const {
  Post post;
  post.text = text;
  MatchPost(post, scanner, out);
}

void CompiledWatchlist::MatchPost(const Post& post, Scanner& scanner,
                                  std::vector<MatchedBrand>& out) const {
  const std::string_view text = post.text;
  if (!Scan(text, scanner)) return;
  if (scanner.hits_.empty() && field_brands_.empty()) return;
  scanner.atom_hits_.clear();
  std::string_view why_rejected;
  for (const Scanner::RawHit& hit : scanner.hits_) {
    const Pattern& pattern = patterns_[hit.pattern];
    for (uint32_t i = 0; i < pattern.owner_count; ++i) {
      const PatternOwner& owner = owners_[pattern.first_owner + i];
      uint32_t begin = 0;
      uint32_t end = 0;
      if (!Accept(owner, hit, text, scanner, begin, end, why_rejected)) continue;
      uint8_t& flags = scanner.brand_flags_[owner.brand_index];
      if (flags == 0) scanner.touched_brands_.push_back(owner.brand_index);
      if (owner.kind == TermKind::kExclusion) {
        flags |= kExcluded;
        continue;
      }
      if (owner.kind == TermKind::kQuery) {
        scanner.atom_hits_.push_back(Scanner::AtomHit{owner.node, begin, end});
        scanner.node_hit_[owner.node] = 1;
        if (scanner.query_flags_[owner.brand_index] == 0) {
          scanner.query_flags_[owner.brand_index] = 1;
          scanner.query_brands_.push_back(owner.brand_index);
        }
        continue;
      }
      // Hyperscan reports by end offset; the first hit is the one that begins first.
      MatchedBrand& first = scanner.first_hits_[owner.brand_index];
      if ((flags & kMatched) == 0 ||
          std::tie(begin, end) < std::tie(first.begin, first.end)) {
        first = MatchedBrand{owner.brand_index, begin, end};
        flags |= kMatched;
      }
    }
  }
  for (uint32_t brand_index : field_brands_) {
    if (scanner.query_flags_[brand_index] == 0) {
      scanner.query_flags_[brand_index] = 1;
      scanner.query_brands_.push_back(brand_index);
    }
  }
  for (uint32_t brand_index : scanner.query_brands_) {
    scanner.query_flags_[brand_index] = 0;
    if (query_root_[brand_index] == kNoQuery) continue;
    if ((scanner.brand_flags_[brand_index] & kExcluded) != 0) continue;
    if (!Evaluate(query_root_[brand_index], post, scanner, false)) continue;
    uint8_t& flags = scanner.brand_flags_[brand_index];
    if (flags == 0) scanner.touched_brands_.push_back(brand_index);
    flags |= kQueryTrue;
    // The mention's first hit: the earliest hit of a term that is not under a NOT.
    MatchedBrand& first = scanner.first_hits_[brand_index];
    for (const Scanner::AtomHit& hit : scanner.atom_hits_) {
      const Node& node = nodes_[hit.node];
      if (node.brand_index != brand_index || node.negated) continue;
      if ((flags & kMatched) == 0 || std::tie(hit.begin, hit.end) < std::tie(first.begin, first.end)) {
        first = MatchedBrand{brand_index, hit.begin, hit.end};
        flags |= kMatched;
      }
    }
    if ((flags & kMatched) == 0) {  // a query true on fields alone
      first = MatchedBrand{brand_index, 0, 0};
      flags |= kMatched;
    }
  }
  scanner.query_brands_.clear();
  for (const Scanner::AtomHit& hit : scanner.atom_hits_) scanner.node_hit_[hit.node] = 0;
  std::sort(scanner.touched_brands_.begin(), scanner.touched_brands_.end());
  for (uint32_t brand_index : scanner.touched_brands_) {
    if ((scanner.brand_flags_[brand_index] & (kMatched | kExcluded)) == kMatched) {
      out.push_back(scanner.first_hits_[brand_index]);
    }
    scanner.brand_flags_[brand_index] = 0;
  }
  scanner.touched_brands_.clear();
}

bool CompiledWatchlist::Near(const Node& node, std::string_view text, Scanner& scanner) const {
  auto on_side = [&](uint32_t term_node, uint32_t first, uint32_t count) {
    for (uint32_t i = first; i < first + count; ++i) {
      if (near_terms_[i] == term_node) return true;
    }
    return false;
  };
  // Most posts that reach a NEAR have a hit on one side only: no need to count words then.
  bool any_left = false;
  bool any_right = false;
  for (const Scanner::AtomHit& hit : scanner.atom_hits_) {
    any_left = any_left || on_side(hit.node, node.first_term, node.left_terms);
    any_right = any_right || on_side(hit.node, node.first_term + node.left_terms, node.right_terms);
  }
  if (!any_left || !any_right) return false;
  if (!scanner.words_ready_) {
    // words_before_[i]: how many words start before byte i. A word is a run of word characters;
    // each character of an unspaced script (Han, kana, Thai, ...) is a word of its own.
    const std::string_view folded = scanner.folded_;
    scanner.words_before_.resize(text.size() + 1);
    uint32_t* words_before = scanner.words_before_.data();
    uint32_t words = 0;
    bool in_word = false;
    for (size_t position = 0; position < folded.size();) {
      const auto byte = static_cast<uint8_t>(folded[position]);
      if (byte < 0x80) {  // ASCII: letters, digits and '_' are word characters
        const bool word = (byte >= 'a' && byte <= 'z') || (byte >= '0' && byte <= '9') ||
                          byte == '_' || (byte >= 'A' && byte <= 'Z');
        words_before[position] = words;
        words += word && !in_word;
        in_word = word;
        ++position;
        continue;
      }
      DecodedCodePoint decoded = DecodeCodePointAt(folded, position);
      const bool word = IsWordCodePoint(decoded.code_point);
      const bool unspaced = word && IsUnspacedScript(decoded.code_point);
      for (uint32_t i = 0; i < decoded.length; ++i) words_before[position + i] = words;
      words += word && (!in_word || unspaced);
      in_word = word && !unspaced;
      position += decoded.length;
    }
    words_before[folded.size()] = words;
    scanner.words_ready_ = true;
  }
  const std::vector<uint32_t>& words = scanner.words_before_;
  for (const Scanner::AtomHit& left : scanner.atom_hits_) {
    if (!on_side(left.node, node.first_term, node.left_terms)) continue;
    for (const Scanner::AtomHit& right : scanner.atom_hits_) {
      if (!on_side(right.node, node.first_term + node.left_terms, node.right_terms)) continue;
      if (left.end <= right.begin) {
        if (words[right.begin] - words[left.end] <= node.distance) return true;
      } else if (!node.ordered && right.end <= left.begin) {
        if (words[left.begin] - words[right.end] <= node.distance) return true;
      }
    }
  }
  return false;
}

bool CompiledWatchlist::Evaluate(uint32_t index, const Post& post, Scanner& scanner,
                                 bool record) const {
  const Node& node = nodes_[index];
  bool value = false;
  switch (node.op) {
    case QueryOp::kTerm:
      value = scanner.node_hit_[index] != 0;
      break;
    case QueryOp::kField:
      switch (node.field) {
        case QueryField::kAuthor:
          value = FieldEquals(post.author_handle, node.value);
          break;
        case QueryField::kReplyTo:
          value = FieldEquals(post.reply_to_handle, node.value);
          break;
        case QueryField::kUrl:
        case QueryField::kSite:
          value = UrlFieldMatches(post.urls, node.value, node.field == QueryField::kSite);
          break;
        case QueryField::kLanguage:
          // "no" matches "no" and "no-NO"; "en-gb" only "en-GB".
          value = FieldEquals(post.language, node.value) ||
                  (post.language.size() > node.value.size() &&
                   post.language[node.value.size()] == '-' &&
                   FieldEquals(post.language.substr(0, node.value.size()), node.value));
          break;
      }
      break;
    case QueryOp::kNot:
      value = !Evaluate(children_[node.first_child], post, scanner, record);
      break;
    case QueryOp::kAnd:
      value = true;
      for (uint32_t i = 0; i < node.child_count; ++i) {
        bool child = Evaluate(children_[node.first_child + i], post, scanner, record);
        value = value && child;
        if (!value && !record) break;
      }
      break;
    case QueryOp::kOr:
      value = false;
      for (uint32_t i = 0; i < node.child_count; ++i) {
        bool child = Evaluate(children_[node.first_child + i], post, scanner, record);
        value = value || child;
        if (value && !record) break;
      }
      break;
    case QueryOp::kNear:
      if (record) {
        Evaluate(children_[node.first_child], post, scanner, record);
        Evaluate(children_[node.first_child + 1], post, scanner, record);
      }
      value = Near(node, post.text, scanner);
      break;
  }
  if (record) scanner.node_values_[index] = value ? 1 : 0;
  return value;
}

std::vector<TermHit> CompiledWatchlist::ExplainText(std::string_view text, Scanner& scanner) const {
  std::vector<TermHit> explained;
  if (!Scan(text, scanner)) return explained;
  scanner.atom_hits_.clear();
  for (const Scanner::RawHit& hit : scanner.hits_) {
    const Pattern& pattern = patterns_[hit.pattern];
    for (uint32_t i = 0; i < pattern.owner_count; ++i) {
      const PatternOwner& owner = owners_[pattern.first_owner + i];
      uint32_t begin = 0;
      uint32_t end = 0;
      std::string_view why_rejected;
      bool accepted = Accept(owner, hit, text, scanner, begin, end, why_rejected);
      // A plain entry is accent-exact: another spelling is not a hit of it at all.
      if (!accepted && owner.kind != TermKind::kQuery && why_rejected == kAccentsDiffer) continue;
      TermHit explained_hit{owner.brand_index, owner.kind, owner.term, 0, begin, end, accepted,
                            why_rejected};
      if (owner.kind == TermKind::kQuery) {
        explained_hit.query_node = owner.node - query_offset_[owner.brand_index];
        if (accepted) scanner.atom_hits_.push_back(Scanner::AtomHit{owner.node, begin, end});
      }
      explained.push_back(explained_hit);
    }
  }
  std::sort(explained.begin(), explained.end(), [](const TermHit& a, const TermHit& b) {
    return std::tie(a.begin, a.end, a.brand_index, a.kind) <
           std::tie(b.begin, b.end, b.brand_index, b.kind);
  });
  return explained;
}

std::vector<bool> CompiledWatchlist::ExplainQuery(uint32_t brand_index, const Post& post,
                                                  Scanner& scanner) const {
  std::vector<bool> values;
  if (query_root_[brand_index] == kNoQuery) return values;
  // Rebuild the hit set of this post (MatchPost clears it when done).
  ExplainText(post.text, scanner);
  for (const Scanner::AtomHit& hit : scanner.atom_hits_) scanner.node_hit_[hit.node] = 1;
  Evaluate(query_root_[brand_index], post, scanner, true);
  const uint32_t offset = query_offset_[brand_index];
  const size_t count = spec_.brands[brand_index].query->nodes.size();
  for (size_t i = 0; i < count; ++i) values.push_back(scanner.node_values_[offset + i] != 0);
  for (const Scanner::AtomHit& hit : scanner.atom_hits_) scanner.node_hit_[hit.node] = 0;
  return values;
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

  Result<std::unique_ptr<TransformState>> MakeState() const override {
    auto state = std::make_unique<MatchState>();
    Result<std::unique_ptr<CompiledWatchlist::Scanner>> scanner = watchlist_->MakeScanner();
    if (scanner.ok()) {
      state->scanner = std::move(scanner).value();
    } else {
      state->scanner_status = scanner.status();
    }
    return std::unique_ptr<TransformState>(std::move(state));
  }

  Status Process(Batch& batch, TransformState& base_state) const override {
    auto& state = static_cast<MatchState&>(base_state);
    if (state.scanner == nullptr) return state.scanner_status;
    for (uint32_t post_index = 0; post_index < batch.posts.size(); ++post_index) {
      state.matched.clear();
      const Post& post = batch.posts[post_index];
      watchlist_->MatchPost(post, *state.scanner, state.matched);
      for (const MatchedBrand& brand : state.matched) {
        const bool own_post = !post.author_handle.empty() &&
                              watchlist_->IsOwnHandle(brand.brand_index, post.author_handle);
        batch.mentions.push_back(
            Mention{post_index, brand.brand_index, brand.begin, brand.end, own_post});
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
