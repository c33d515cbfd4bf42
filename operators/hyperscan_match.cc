#include "operators/hyperscan_match.h"

#include <hs/hs.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <limits>
#include <span>
#include <tuple>

#include "engine/unicode.h"

namespace brandpulse {
namespace {

constexpr uint8_t kMatched = 1;
constexpr uint8_t kExcluded = 2;
constexpr uint8_t kQueryTrue = 4;
constexpr std::string_view kAccentsDiffer = "the accents differ";

// Whether `text` has a character that FoldAndStripAccents changes beyond its case: a letter of
// U+00C0..U+017F with an accent (lead bytes C3..C5) or a combining mark (CC, CD). Sixteen bytes
// at a time; only candidate lead bytes are decoded.
bool IsStrippableAt(std::string_view text, size_t position) {
  const DecodedCodePoint decoded = DecodeCodePointAt(text, position);
  const uint32_t folded = FoldCodePoint(decoded.code_point);
  return StripAccent(folded) != folded;
}

bool IsCandidateLead(uint8_t byte) {
  return static_cast<uint8_t>(byte - 0xC3) <= 2 || static_cast<uint8_t>(byte - 0xCC) <= 1;
}

bool IsAscii(std::string_view text) {
  uint8_t any = 0;
  for (char c : text) any |= static_cast<uint8_t>(c);
  return any < 0x80;
}

bool HasStrippableCharacter(std::string_view text) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  const size_t size = text.size();
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i c3 = _mm_set1_epi8(static_cast<char>(0xC3));
  const __m128i c4 = _mm_set1_epi8(static_cast<char>(0xC4));
  const __m128i c5 = _mm_set1_epi8(static_cast<char>(0xC5));
  const __m128i cc = _mm_set1_epi8(static_cast<char>(0xCC));
  const __m128i cd = _mm_set1_epi8(static_cast<char>(0xCD));
  for (; i + 16 <= size; i += 16) {
    const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + i));
    if (_mm_movemask_epi8(chunk) == 0) continue;  // ASCII
    const __m128i leads =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(chunk, c3), _mm_cmpeq_epi8(chunk, c4)),
                     _mm_or_si128(_mm_cmpeq_epi8(chunk, c5),
                                  _mm_or_si128(_mm_cmpeq_epi8(chunk, cc),
                                               _mm_cmpeq_epi8(chunk, cd))));
    for (unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(leads)); mask != 0;
         mask &= mask - 1) {
      if (IsStrippableAt(text, i + static_cast<size_t>(__builtin_ctz(mask)))) return true;
    }
  }
#endif
  for (; i < size; ++i) {
    if (IsCandidateLead(bytes[i]) && IsStrippableAt(text, i)) return true;
  }
  return false;
}

// FoldAndStripAccents() without the fold, for the caseless database: every character that
// loses an accent when folded and stripped is written as its base letter (ASCII; a combining
// mark is dropped), every other byte is copied. Byte for byte the result is FoldAndStripAccents'
// up to case, with the same `offsets` (stripped byte -> text byte, plus a final text.size()).
void StripAccentsForScan(std::string_view text, std::string& stripped,
                         std::vector<uint32_t>& offsets) {
  stripped.resize(text.size());
  offsets.resize(text.size() + 1);
  const auto* in = reinterpret_cast<const uint8_t*>(text.data());
  auto* out = reinterpret_cast<uint8_t*>(stripped.data());
  uint32_t* out_offsets = offsets.data();
  const size_t size = text.size();
  size_t written = 0;
  size_t position = 0;
  while (position < size) {
#if defined(__SSE2__)
    // Sixteen ASCII bytes at a time: copied, with their offsets.
    while (position + 16 <= size) {
      const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + position));
      if (_mm_movemask_epi8(chunk) != 0) break;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + written), chunk);
      const __m128i base = _mm_set1_epi32(static_cast<int>(position));
      auto* target = reinterpret_cast<__m128i*>(out_offsets + written);
      _mm_storeu_si128(target, _mm_add_epi32(base, _mm_setr_epi32(0, 1, 2, 3)));
      _mm_storeu_si128(target + 1, _mm_add_epi32(base, _mm_setr_epi32(4, 5, 6, 7)));
      _mm_storeu_si128(target + 2, _mm_add_epi32(base, _mm_setr_epi32(8, 9, 10, 11)));
      _mm_storeu_si128(target + 3, _mm_add_epi32(base, _mm_setr_epi32(12, 13, 14, 15)));
      position += 16;
      written += 16;
    }
    if (position >= size) break;
#endif
    const uint8_t byte = in[position];
    if (byte < 0x80 || !IsCandidateLead(byte)) {
      out[written] = byte;
      out_offsets[written++] = static_cast<uint32_t>(position++);
      continue;
    }
    const DecodedCodePoint decoded = DecodeCodePointAt(text, position);
    const uint32_t folded = FoldCodePoint(decoded.code_point);
    const uint32_t base = StripAccent(folded);
    if (base == folded) {  // kept (a letter of its own, or an invalid byte): copied
      for (uint32_t i = 0; i < decoded.length; ++i) {
        out[written] = in[position + i];
        out_offsets[written++] = static_cast<uint32_t>(position + i);
      }
    } else if (base != 0) {  // an accented letter: its base letter (ASCII)
      out[written] = static_cast<uint8_t>(base);
      out_offsets[written++] = static_cast<uint32_t>(position);
    }  // else a combining mark: dropped
    position += decoded.length;
  }
  out_offsets[written] = static_cast<uint32_t>(size);
  stripped.resize(written);
  offsets.resize(written + 1);
}

// Whether a character of the text is a character of a folded pattern in another case (same
// length and the same code point once folded; an invalid byte only equals itself).
bool SameFolded(DecodedCodePoint text_char, DecodedCodePoint pattern_char) {
  return text_char.length == pattern_char.length &&
         FoldCodePoint(text_char.code_point) == pattern_char.code_point;
}

// Whether `text` folds to `folded` (FoldCase(text) == folded), without a copy.
bool FoldsTo(std::string_view text, std::string_view folded) {
  if (text.size() != folded.size()) return false;
  for (size_t position = 0; position < text.size();) {
    const uint8_t byte = static_cast<uint8_t>(text[position]);
    if (byte < 0x80) {
      const uint8_t lower = byte >= 'A' && byte <= 'Z' ? byte + 32 : byte;
      if (lower != static_cast<uint8_t>(folded[position])) return false;
      ++position;
      continue;
    }
    const DecodedCodePoint a = DecodeCodePointAt(text, position);
    if (a.code_point == kReplacementCharacter && a.length == 1) {  // invalid: copied by FoldCase
      if (text[position] != folded[position]) return false;
      ++position;
      continue;
    }
    const DecodedCodePoint b = DecodeCodePointAt(folded, position);
    if (!SameFolded(a, b)) return false;
    position += a.length;
  }
  return true;
}

}  // namespace

struct HitFinderSlot {
  const CompiledWatchlist::HitFinder& find;
  std::vector<CompiledWatchlist::FoundHit>& found;
};

CompiledWatchlist::Scanner::~Scanner() {
  if (scratch_ != nullptr) hs_free_scratch(scratch_);
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
  // Most posts have no accent to strip: the text itself is scanned (the database is caseless
  // and holds the other cases of non-ASCII letters). Otherwise the folded, stripped text is.
  // Without the case variants of every pattern (raw_scan_ok_ false), only ASCII text is
  // scanned as it is; other text is also folded.
  const bool strip = scanner.always_fold_and_strip_ ||
                     (raw_scan_ok_ ? HasStrippableCharacter(text) : !IsAscii(text));
  scanner.identity_offsets_ = !strip;
  if (strip && raw_scan_ok_) StripAccentsForScan(text, scanner.stripped_, scanner.offsets_);
  if (strip && !raw_scan_ok_) FoldAndStripAccents(text, scanner.stripped_, scanner.offsets_);
  if (scanner.finder_ != nullptr) {
    std::vector<FoundHit>& found = scanner.finder_->found;
    found.clear();
    scanner.finder_->find(strip ? std::string_view(scanner.stripped_) : text, !strip, found);
    std::sort(found.begin(), found.end(), [](const FoundHit& a, const FoundHit& b) {
      return std::tie(a.end, a.pattern) < std::tie(b.end, b.pattern);
    });
    for (const FoundHit& hit : found) {
      scanner.hits_.push_back(Scanner::RawHit{hit.pattern, hit.begin, hit.end});
    }
    return true;
  }
  if (text.empty() || database_ == nullptr) {
    return true;
  }
  const std::string_view scanned = strip ? std::string_view(scanner.stripped_) : text;
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

// Matches `pattern` (folded; '?' = one letter or digit) against `text` in any case, ending at
// `end` (backwards), and returns where it starts, or -1.
int64_t MatchBackward(std::string_view text, size_t end, std::string_view pattern) {
  size_t at = end;
  size_t k = pattern.size();
  while (k > 0) {
    if (at == 0) return -1;
    const DecodedCodePoint before = DecodeCodePointBefore(text, at);
    if (pattern[k - 1] == '?') {
      if (!IsWordCodePoint(before.code_point)) return -1;
      --k;
    } else {
      const DecodedCodePoint want = DecodeCodePointBefore(pattern, k);
      if (!SameFolded(before, want)) return -1;
      k -= want.length;
    }
    at -= before.length;
  }
  return static_cast<int64_t>(at);
}

// The same forwards from `begin`; returns where the match ends, or -1.
int64_t MatchForward(std::string_view text, size_t begin, std::string_view pattern) {
  size_t at = begin;
  for (size_t k = 0; k < pattern.size();) {
    if (at >= text.size()) return -1;
    const DecodedCodePoint next = DecodeCodePointAt(text, at);
    if (pattern[k] == '?') {
      if (!IsWordCodePoint(next.code_point)) return -1;
      ++k;
    } else {
      const DecodedCodePoint want = DecodeCodePointAt(pattern, k);
      if (!SameFolded(next, want)) return -1;
      k += want.length;
    }
    at += next.length;
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
        scanner.identity_offsets_ ? text : std::string_view(scanner.stripped_);
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
  // Case does not change whether a character is a word character or a mark (engine_unicode_test
  // checks every code point), so the text itself is judged.
  const std::string_view folded = text;
  if (owner.match_case == QueryCase::kLoose) {
    // An unaccented term takes the accents written as combining marks after its last letter.
    while (end < next_kept) {
      DecodedCodePoint mark = DecodeCodePointAt(text, end);
      if (StripAccent(FoldCodePoint(mark.code_point)) != 0) break;
      end += mark.length;
    }
  }
  const std::string& verify = verify_texts_[owner.verify];
  switch (owner.match_case) {
    case QueryCase::kLoose:
      break;
    case QueryCase::kAccentExact:
      if (!FoldsTo(text.substr(begin, end - begin), verify)) {
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
  // One whole-word rule for every entry: a term edge that is not a word character (an emoji, a
  // closing '!') needs no boundary on that side, except a leading '#', '@' or '$': "x@telenor"
  // (an e-mail address) and "snø#ice" are not the handle or hashtag.
  uint32_t first = DecodeCodePointAt(folded, begin).code_point;
  uint32_t last = DecodeCodePointBefore(folded, end).code_point;
  const bool sigil = first == '#' || first == '@' || first == '$';
  if ((sigil || IsWordCodePoint(first)) && !LeftBoundaryOk(folded, begin)) {
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

void CompiledWatchlist::MatchText(std::string_view text, Scanner& scanner,
                                  std::vector<MatchedBrand>& out) const {
  Post post;
  post.text = text;
  MatchPost(post, scanner, out);
}

void CompiledWatchlist::MatchTextWithFinder(std::string_view text, Scanner& scanner,
                                            const HitFinder& find,
                                            std::vector<MatchedBrand>& out) const {
  std::vector<FoundHit> found;
  HitFinderSlot slot{find, found};
  scanner.finder_ = &slot;
  MatchText(text, scanner, out);
  scanner.finder_ = nullptr;
}

void CompiledWatchlist::MatchPost(const Post& post, Scanner& scanner,
                                  std::vector<MatchedBrand>& out) const {
  // Decomposed accents ("o" U+0301) are matched as the composed letter: the post is matched in
  // NFC and the offsets mapped back. Most posts have nothing to compose and skip the copy.
  if (!MayNeedComposition(post.text) ||
      !ComposeCanonical(post.text, scanner.composed_, scanner.composed_offsets_)) {
    MatchComposed(post, scanner, out);
    return;
  }
  Post composed = post;
  composed.text = scanner.composed_;
  const size_t first = out.size();
  MatchComposed(composed, scanner, out);
  for (size_t i = first; i < out.size(); ++i) {
    out[i].begin = scanner.composed_offsets_[out[i].begin];
    out[i].end = scanner.composed_offsets_[out[i].end];
  }
}

void CompiledWatchlist::MatchComposed(const Post& post, Scanner& scanner,
                                      std::vector<MatchedBrand>& out) const {
  const std::string_view text = post.text;
  if (!Scan(text, scanner)) return;
  if (scanner.hits_.empty() && field_brands_.empty()) return;
  scanner.atom_hits_.clear();
  std::string_view why_rejected;
  const bool every = scanner.judge_every_query_term_;
  for (const Scanner::RawHit& hit : scanner.hits_) {
    const Pattern& pattern = patterns_[hit.pattern];
    const PatternOwner* owners = every ? &owners_[pattern.first_owner]
                                       : eager_owners_.data() + pattern.first_eager;
    const uint32_t owner_count = every ? pattern.owner_count : pattern.eager_count;
    for (uint32_t i = 0; i < owner_count; ++i) {
      const PatternOwner& owner = owners[i];
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
  // The lazy terms of the queries a trigger term was found for (LazyOwner), so each of those
  // queries sees every hit of its own terms, as if all of them had been judged above.
  for (uint32_t brand_index : every ? std::span<const uint32_t>() : std::span<const uint32_t>(scanner.query_brands_)) {
    for (uint32_t i = lazy_first_[brand_index]; i < lazy_first_[brand_index + 1]; ++i) {
      const LazyOwner& lazy = lazy_owners_[i];
      for (const Scanner::RawHit& hit : scanner.hits_) {
        if (hit.pattern != lazy.pattern) continue;
        uint32_t begin = 0;
        uint32_t end = 0;
        if (!Accept(lazy.owner, hit, text, scanner, begin, end, why_rejected)) continue;
        scanner.atom_hits_.push_back(Scanner::AtomHit{lazy.owner.node, begin, end});
        scanner.node_hit_[lazy.owner.node] = 1;
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

std::vector<TermHit> CompiledWatchlist::ExplainText(std::string_view text, Scanner& scanner) const {
  if (!MayNeedComposition(text) ||
      !ComposeCanonical(text, scanner.composed_, scanner.composed_offsets_)) {
    return ExplainComposed(text, scanner);
  }
  std::vector<TermHit> explained = ExplainComposed(scanner.composed_, scanner);
  for (TermHit& hit : explained) {
    hit.begin = scanner.composed_offsets_[hit.begin];
    hit.end = scanner.composed_offsets_[hit.end];
  }
  for (Scanner::AtomHit& hit : scanner.atom_hits_) {
    hit.begin = scanner.composed_offsets_[hit.begin];
    hit.end = scanner.composed_offsets_[hit.end];
  }
  return explained;
}

std::vector<TermHit> CompiledWatchlist::ExplainComposed(std::string_view text,
                                                        Scanner& scanner) const {
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

namespace {

class MatchState final : public TransformState {
 public:
  std::unique_ptr<CompiledWatchlist::Scanner> scanner;
  std::vector<MatchedBrand> matched;                    // per post, reused
};

class HyperscanMatch final : public Transform {
 public:
  explicit HyperscanMatch(std::shared_ptr<const CompiledWatchlist> watchlist)
      : watchlist_(std::move(watchlist)) {}

  std::string_view name() const override { return "match"; }

  Result<std::unique_ptr<TransformState>> MakeState() const override {
    // A worker without a Hyperscan scratch cannot match: the pipeline does not start.
    auto state = std::make_unique<MatchState>();
    ASSIGN_OR_RETURN(state->scanner, watchlist_->MakeScanner());
    return std::unique_ptr<TransformState>(std::move(state));
  }

  Status Process(Batch& batch, TransformState& base_state) const override {
    auto& state = static_cast<MatchState&>(base_state);
    for (uint32_t post_index = 0; post_index < batch.posts.size(); ++post_index) {
      state.matched.clear();
      const Post& post = batch.posts[post_index];
      watchlist_->MatchPost(post, *state.scanner, state.matched);
      for (const MatchedBrand& brand : state.matched) {
        // Profiles may be written as handles or, for Bluesky, as DIDs (the post's author_id).
        const bool own_post =
            (!post.author_handle.empty() &&
             watchlist_->IsOwnHandle(brand.brand_index, post.author_handle)) ||
            (post.author_id.starts_with("did:") &&
             watchlist_->IsOwnHandle(brand.brand_index, post.author_id));
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
