// Just enough Unicode for whole-word matching without ICU: UTF-8 decoding that never fails, a
// word-character class and an unspaced-script class, and a case fold that keeps every
// character's UTF-8 byte length, so byte offsets in folded text are byte offsets in the original.
//
// All functions are pure and thread-safe. None allocates, except FoldCase when `folded` has to
// grow.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace brandpulse {

inline constexpr uint32_t kReplacementCharacter = 0xFFFD;

struct DecodedCodePoint {
  uint32_t code_point = kReplacementCharacter;
  uint32_t length = 0;  // bytes taken from the text
};

// The code point that starts at text[position]. Invalid, overlong, surrogate or truncated
// sequences decode as U+FFFD of length 1, so a caller stepping by `length` always advances and
// resynchronizes at the next byte. REQUIRES: position < text.size().
DecodedCodePoint DecodeCodePointAt(std::string_view text, size_t position);
// The code point that ends just before `position`; `length` is how far back it starts. A byte
// that is not the end of a valid sequence decodes as U+FFFD of length 1.
// REQUIRES: 0 < position <= text.size().
DecodedCodePoint DecodeCodePointBefore(std::string_view text, size_t position);

// Word characters as Unicode word segmentation (UAX #29) sees them: letters (Word_Break ALetter,
// Hebrew_Letter, Katakana; Latin with æøåñ and accents, Greek, Cyrillic, Arabic, Indic, Hangul,
// ...), digits (Numeric), combining marks such as U+0301 (Extend), '_' and other connectors
// (ExtendNumLet), and the letters and digits of the unspaced scripts (CJK, Thai, ...). Not
// superscripts or subscripts (²), fractions (½), circled numbers, punctuation, symbols, emoji
// (nor their variation selectors, skin tones and keycap marks), joiners, spaces, controls or
// U+FFFD.
bool IsWordCodePoint(uint32_t code_point);

// Scripts written without spaces between words (Han, Hiragana, Katakana, Bopomofo, Yi, Thai,
// Lao, Khmer, Myanmar, Tibetan, Tai scripts, Javanese, Balinese, Tangut, and the CJK punctuation
// block): next to these a term may touch letters. Hangul uses spaces and is not included.
bool IsUnspacedScript(uint32_t code_point);

// The simple case fold (Unicode CaseFolding C+S) of `code_point` when it has the same UTF-8
// length, else `code_point` itself. Covers ASCII, Latin-1, Latin Extended-A and -B, Latin
// Extended Additional, Greek (with final sigma folded to σ) and Greek Extended, Cyrillic and its
// supplement, Armenian and fullwidth Latin. Folding is idempotent.
uint32_t FoldCodePoint(uint32_t code_point);

// `text` made safe to repeat in a message: invalid UTF-8 bytes become U+FFFD, and text longer
// than `max_bytes` is cut there and marked "… (N bytes)" with its whole length. Allocates; not
// for hot paths.
std::string EchoableText(std::string_view text, size_t max_bytes);

// Writes the fold of `text` into `folded`, resized to exactly text.size() (no allocation once
// its capacity suffices, so callers keep one buffer per thread). Every code point is replaced by
// FoldCodePoint() of itself; invalid bytes are copied unchanged. Byte i of `folded` therefore
// belongs to the same character as byte i of `text`.
void FoldCase(std::string_view text, std::string& folded);

// The base letter of an accented Latin letter after case folding (é→e, ñ→n, å→a, ö→o, ç→c;
// Latin-1 Supplement and Latin Extended-A), 0 for a combining mark of U+0300..U+036F (dropped),
// and `code_point` itself otherwise. Letters that are not a base plus a diacritic (æ, ø, ð, þ,
// ß, œ) are kept: they are letters of their own. Only meaningful on folded code points.
uint32_t StripAccent(uint32_t code_point);

// True when StripAccent(FoldCodePoint(c)) differs from FoldCodePoint(c) for some character of
// `text` (it has an accent that matching strips: "telefónica", "Åre"; not "blåbær"'s æ).
bool HasStrippableAccent(std::string_view text);

// Writes FoldCase(text) with StripAccent() applied into `stripped`, and into `offsets` for each
// byte of `stripped` the offset in `text` of the byte it came from, plus one final entry
// text.size() (so offsets has stripped.size() + 1 entries and [offsets[b], offsets[e]) is the
// original span of stripped bytes [b, e)). Invalid bytes are copied. No allocation once the
// buffers' capacities suffice.
void FoldAndStripAccents(std::string_view text, std::string& stripped,
                         std::vector<uint32_t>& offsets);

// Canonical composition (NFC) only where it is needed, cheaply. MayNeedComposition is a byte test
// over `text`: false means no character of it composes with the one before it (ASCII, Latin-1,
// most Latin text), so it is already composed. ComposeCanonical writes `text` with every
// character joined to the one before it where Unicode has a primary composite for the pair
// ("Telefo" U+0301 "nica" -> "Telefónica"; e U+0302 U+0301 -> ế), and into `offsets`, for each
// byte of `composed`, the offset in `text` of the character it came from, plus a final
// text.size() (so [offsets[b], offsets[e]) is the original span of composed bytes [b, e)).
// Returns whether anything was composed. Marks are taken in the order written (no canonical
// reordering) and a mark that does not compose blocks the ones after it; Hangul jamo are not
// joined. No allocation once the buffers' capacities suffice.
bool MayNeedComposition(std::string_view text);
bool ComposeCanonical(std::string_view text, std::string& composed,
                      std::vector<uint32_t>& offsets);

// Appends the UTF-8 encoding of `code_point` to `out`.
void AppendUtf8(uint32_t code_point, std::string& out);

// True when [begin, end) in `text` stands as a whole word: the code point before `begin` and
// the one at `end` are not word characters, unless that neighbour or the hit's own code point
// on that side belongs to an unspaced script (so "ソニーの" holds "ソニー" and "新型iPhone"
// holds "iPhone"). Text start and end count as boundaries. A hit is judged the same in folded
// and original text. REQUIRES: begin < end <= text.size().
bool IsWholeWordAt(std::string_view text, size_t begin, size_t end);

}  // namespace brandpulse
