// Just enough Unicode for whole-word matching without ICU: UTF-8 decoding that never fails,
// a word-character class covering the scripts we see, and a lowercase fold that keeps every
// character's byte length (so offsets in folded text are offsets in the original).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace brandpulse {

inline constexpr uint32_t kReplacementCharacter = 0xFFFD;

// The code point starting at text[position] and its byte length (>= 1). Invalid or truncated
// sequences decode as U+FFFD of length 1. REQUIRES: position < text.size().
uint32_t DecodeCodePointAt(std::string_view text, size_t position, size_t* length);
// The code point that ends just before `position` (U+FFFD if invalid). REQUIRES: position > 0.
uint32_t DecodeCodePointBefore(std::string_view text, size_t position);

// Letters and digits of every script, combining marks, and '_'. Not punctuation, symbols,
// emoji, variation selectors, joiners or spaces.
bool IsWordCodePoint(uint32_t code_point);
// Scripts written without spaces between words (Han, Hiragana, Katakana, Thai, Lao, Khmer,
// Myanmar): a term may touch neighbouring letters there.
bool IsUnspacedScript(uint32_t code_point);

// Writes `text` lowercased into `out` (resized to text.size()): ASCII, Latin-1, Latin
// Extended-A and Additional, Greek, Cyrillic and fullwidth Latin; characters whose lowercase
// has another UTF-8 length (e.g. U+0130) and invalid bytes are copied unchanged.
void FoldCase(std::string_view text, std::string& out);

// True when a hit [begin, end) in `text` stands as a whole word: on each side, the neighbouring
// code point and the hit's own edge code point are not both word characters, unless one of
// them is in an unspaced script.
bool IsWholeWordAt(std::string_view text, size_t begin, size_t end);

}  // namespace brandpulse
