#include "engine/unicode.h"

namespace brandpulse {
namespace {

struct Range {
  uint32_t first, last;
};

bool InRanges(uint32_t code_point, const Range* ranges, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (code_point >= ranges[i].first && code_point <= ranges[i].last) return true;
  }
  return false;
}

// Non-word blocks above U+00FF: punctuation, symbols, emoji, joiners, private use.
constexpr Range kNonWordRanges[] = {
    {0x037E, 0x037E}, {0x0387, 0x0387}, {0x055A, 0x055F}, {0x0589, 0x058A},
    {0x05BE, 0x05BE}, {0x05C0, 0x05C0}, {0x05C3, 0x05C3}, {0x05C6, 0x05C6}, {0x05F3, 0x05F4},
    {0x0600, 0x060F}, {0x061B, 0x061F}, {0x066A, 0x066D}, {0x06D4, 0x06D4},
    {0x0964, 0x0965}, {0x0E3F, 0x0E3F}, {0x0E4F, 0x0E4F}, {0x0E5A, 0x0E5B},
    {0x1680, 0x1680}, {0x180E, 0x180E},
    {0x2000, 0x2BFF},  // general punctuation, super/subscripts, currency, arrows, symbols, dingbats
    {0x2E00, 0x2E7F},  // supplemental punctuation
    {0x3000, 0x3004}, {0x3006, 0x303F},  // CJK punctuation (U+3005 々 is a letter)
    {0x30FB, 0x30FB},  // katakana middle dot
    {0xD800, 0xF8FF},  // surrogates, private use
    {0xFD3E, 0xFD3F}, {0xFE00, 0xFE0F},  // variation selectors (emoji presentation)
    {0xFE10, 0xFE1F}, {0xFE30, 0xFE6F},  // vertical and small forms
    {0xFEFF, 0xFEFF},
    {0xFF00, 0xFF0F}, {0xFF1A, 0xFF20}, {0xFF3B, 0xFF3E}, {0xFF40, 0xFF40},
    {0xFF5B, 0xFF65}, {0xFFE0, 0xFFFF},
    {0x1F000, 0x1FAFF},  // emoji, pictographs, playing cards, mahjong
    {0xE0000, 0xE007F},  // tags (flag sequences)
    {0xF0000, 0x10FFFF},
};

constexpr Range kUnspacedRanges[] = {
    {0x0E00, 0x0EFF},    // Thai, Lao
    {0x1000, 0x109F},    // Myanmar
    {0x1780, 0x17FF},    // Khmer
    {0x2E80, 0x2FDF},    // CJK radicals
    {0x3005, 0x3005},    // 々
    {0x3040, 0x30FF},    // Hiragana, Katakana
    {0x31F0, 0x31FF},    // Katakana extensions
    {0x3400, 0x4DBF},    // CJK extension A
    {0x4E00, 0x9FFF},    // CJK unified ideographs
    {0xF900, 0xFAFF},    // CJK compatibility ideographs
    {0xFF66, 0xFF9F},    // halfwidth katakana
    {0x20000, 0x3FFFF},  // CJK extensions B and beyond
};

}  // namespace

uint32_t DecodeCodePointAt(std::string_view text, size_t position, size_t* length) {
  const auto byte = [&](size_t index) { return static_cast<uint8_t>(text[index]); };
  uint8_t lead = byte(position);
  *length = 1;
  if (lead < 0x80) return lead;
  size_t needed;
  uint32_t code_point;
  uint32_t minimum;
  if ((lead & 0xE0) == 0xC0) {
    needed = 1, code_point = lead & 0x1F, minimum = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    needed = 2, code_point = lead & 0x0F, minimum = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    needed = 3, code_point = lead & 0x07, minimum = 0x10000;
  } else {
    return kReplacementCharacter;
  }
  if (position + needed >= text.size()) return kReplacementCharacter;
  for (size_t i = 1; i <= needed; ++i) {
    uint8_t continuation = byte(position + i);
    if ((continuation & 0xC0) != 0x80) return kReplacementCharacter;
    code_point = (code_point << 6) | (continuation & 0x3F);
  }
  if (code_point < minimum || code_point > 0x10FFFF ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return kReplacementCharacter;
  }
  *length = needed + 1;
  return code_point;
}

uint32_t DecodeCodePointBefore(std::string_view text, size_t position) {
  size_t start = position - 1;
  // Step back over at most three continuation bytes to the lead byte.
  while (start > 0 && position - start < 4 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) {
    --start;
  }
  size_t length = 0;
  uint32_t code_point = DecodeCodePointAt(text, start, &length);
  if (start + length != position) return kReplacementCharacter;
  return code_point;
}

bool IsWordCodePoint(uint32_t code_point) {
  if (code_point < 0x80) {
    return (code_point >= '0' && code_point <= '9') || (code_point >= 'a' && code_point <= 'z') ||
           (code_point >= 'A' && code_point <= 'Z') || code_point == '_';
  }
  if (code_point <= 0xFF) {
    return code_point == 0xAA || code_point == 0xB5 || code_point == 0xBA ||
           (code_point >= 0xC0 && code_point != 0xD7 && code_point != 0xF7);
  }
  if (code_point == kReplacementCharacter) return false;
  return !InRanges(code_point, kNonWordRanges, std::size(kNonWordRanges));
}

bool IsUnspacedScript(uint32_t code_point) {
  return code_point >= 0x0E00 &&
         InRanges(code_point, kUnspacedRanges, std::size(kUnspacedRanges));
}

namespace {

// Lowercase of a 2-byte code point (U+0080..U+07FF), or itself.
uint32_t LowerTwoByte(uint32_t c) {
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 0x20;
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return c;
    if (c == 0x178) return 0xFF;
    bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_upper) return (c & 1) ? c + 1 : c;
    return (c & 1) ? c : c + 1;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 0x20;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 0x25;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 0x3F;
  if (c >= 0x410 && c <= 0x42F) return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  if (c >= 0x460 && c <= 0x4FF && (c & 1) == 0 && !(c >= 0x482 && c <= 0x489) && c != 0x4C0) {
    return c + 1;  // Cyrillic extended pairs: even upper, odd lower
  }
  return c;
}

uint32_t LowerThreeByte(uint32_t c) {
  if (c >= 0x1E00 && c <= 0x1EFF && (c & 1) == 0 && !(c >= 0x1E96 && c <= 0x1E9F)) return c + 1;
  if (c >= 0xFF21 && c <= 0xFF3A) return c + 0x20;
  return c;
}

}  // namespace

void FoldCase(std::string_view text, std::string& out) {
  out.resize(text.size());
  char* target = out.data();
  size_t position = 0;
  while (position < text.size()) {
    uint8_t lead = static_cast<uint8_t>(text[position]);
    if (lead < 0x80) {
      target[position] = static_cast<char>(lead >= 'A' && lead <= 'Z' ? lead + 32 : lead);
      ++position;
      continue;
    }
    size_t length = 0;
    uint32_t code_point = DecodeCodePointAt(text, position, &length);
    uint32_t lower = code_point;
    if (length == 2) lower = LowerTwoByte(code_point);
    else if (length == 3) lower = LowerThreeByte(code_point);
    if (lower != code_point) {
      if (length == 2) {
        target[position] = static_cast<char>(0xC0 | (lower >> 6));
        target[position + 1] = static_cast<char>(0x80 | (lower & 0x3F));
      } else {
        target[position] = static_cast<char>(0xE0 | (lower >> 12));
        target[position + 1] = static_cast<char>(0x80 | ((lower >> 6) & 0x3F));
        target[position + 2] = static_cast<char>(0x80 | (lower & 0x3F));
      }
    } else {
      for (size_t i = 0; i < length; ++i) target[position + i] = text[position + i];
    }
    position += length;
  }
}

bool IsWholeWordAt(std::string_view text, size_t begin, size_t end) {
  if (begin >= end || end > text.size()) return false;
  size_t length = 0;
  if (begin > 0) {
    uint32_t before = DecodeCodePointBefore(text, begin);
    uint32_t first = DecodeCodePointAt(text, begin, &length);
    if (IsWordCodePoint(before) && IsWordCodePoint(first) && !IsUnspacedScript(before) &&
        !IsUnspacedScript(first)) {
      return false;
    }
  }
  if (end < text.size()) {
    uint32_t after = DecodeCodePointAt(text, end, &length);
    uint32_t last = DecodeCodePointBefore(text, end);
    // A combining mark after the hit changes its last letter: not a whole word.
    if (after >= 0x0300 && after <= 0x036F) return false;
    if (IsWordCodePoint(after) && IsWordCodePoint(last) && !IsUnspacedScript(after) &&
        !IsUnspacedScript(last)) {
      return false;
    }
  }
  return true;
}

}  // namespace brandpulse
