#include "engine/unicode.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <iterator>

namespace brandpulse {
namespace {

struct CodePointRange {
  uint32_t first;
  uint32_t last;
};

// Word characters from U+0080 up: general categories L*, M*, N* of Unicode 14 (Python 3.11's
// unicodedata), minus the marks and digits that belong to emoji (variation selectors
// U+FE00..FE0F and U+E0100..E01EF, combining marks for symbols U+20D0..20FF, everything in
// U+1F000..1FAFF). Unassigned code points between two word characters are folded into the
// range (letters get added there, emoji do not), which keeps the table at 270 ranges:
//
//   emoji = lambda c: (0xFE00 <= c <= 0xFE0F or 0xE0100 <= c <= 0xE01EF or
//                      0x20D0 <= c <= 0x20FF or 0x1F000 <= c <= 0x1FAFF)
//   is_word = lambda c: not emoji(c) and unicodedata.category(chr(c))[0] in 'LMN'
//   ranges, start = [], None
//   for c in range(0x80, 0x110000):
//       if (not is_word(c) and start is not None and not emoji(c) and
//               unicodedata.category(chr(c)) == 'Cn'): continue
//       if is_word(c):
//           if start is None: start = c
//           last = c
//       elif start is not None: ranges.append((start, last)); start = None
// clang-format off
constexpr CodePointRange kWordRanges[] = {
    {0x00AA, 0x00AA}, {0x00B2, 0x00B3}, {0x00B5, 0x00B5}, {0x00B9, 0x00BA}, {0x00BC, 0x00BE},
    {0x00C0, 0x00D6}, {0x00D8, 0x00F6}, {0x00F8, 0x02C1}, {0x02C6, 0x02D1}, {0x02E0, 0x02E4},
    {0x02EC, 0x02EC}, {0x02EE, 0x02EE}, {0x0300, 0x0374}, {0x0376, 0x037D}, {0x037F, 0x037F},
    {0x0386, 0x0386}, {0x0388, 0x03F5}, {0x03F7, 0x0481}, {0x0483, 0x0559}, {0x0560, 0x0588},
    {0x0591, 0x05BD}, {0x05BF, 0x05BF}, {0x05C1, 0x05C2}, {0x05C4, 0x05C5}, {0x05C7, 0x05F2},
    {0x0610, 0x061A}, {0x0620, 0x0669}, {0x066E, 0x06D3}, {0x06D5, 0x06DC}, {0x06DF, 0x06E8},
    {0x06EA, 0x06FC}, {0x06FF, 0x06FF}, {0x0710, 0x07F5}, {0x07FA, 0x07FD}, {0x0800, 0x082D},
    {0x0840, 0x085B}, {0x0860, 0x0887}, {0x0889, 0x088E}, {0x0898, 0x08E1}, {0x08E3, 0x0963},
    {0x0966, 0x096F}, {0x0971, 0x09F1}, {0x09F4, 0x09F9}, {0x09FC, 0x09FC}, {0x09FE, 0x0A75},
    {0x0A81, 0x0AEF}, {0x0AF9, 0x0B6F}, {0x0B71, 0x0BF2}, {0x0C00, 0x0C6F}, {0x0C78, 0x0C7E},
    {0x0C80, 0x0C83}, {0x0C85, 0x0D4E}, {0x0D54, 0x0D78}, {0x0D7A, 0x0DF3}, {0x0E01, 0x0E3A},
    {0x0E40, 0x0E4E}, {0x0E50, 0x0E59}, {0x0E81, 0x0F00}, {0x0F18, 0x0F19}, {0x0F20, 0x0F33},
    {0x0F35, 0x0F35}, {0x0F37, 0x0F37}, {0x0F39, 0x0F39}, {0x0F3E, 0x0F84}, {0x0F86, 0x0FBC},
    {0x0FC6, 0x0FC6}, {0x1000, 0x1049}, {0x1050, 0x109D}, {0x10A0, 0x10FA}, {0x10FC, 0x135F},
    {0x1369, 0x138F}, {0x13A0, 0x13FD}, {0x1401, 0x166C}, {0x166F, 0x167F}, {0x1681, 0x169A},
    {0x16A0, 0x16EA}, {0x16EE, 0x1734}, {0x1740, 0x17D3}, {0x17D7, 0x17D7}, {0x17DC, 0x17F9},
    {0x180B, 0x180D}, {0x180F, 0x193B}, {0x1946, 0x19DA}, {0x1A00, 0x1A1B}, {0x1A20, 0x1A99},
    {0x1AA7, 0x1AA7}, {0x1AB0, 0x1B59}, {0x1B6B, 0x1B73}, {0x1B80, 0x1BF3}, {0x1C00, 0x1C37},
    {0x1C40, 0x1C7D}, {0x1C80, 0x1CBF}, {0x1CD0, 0x1CD2}, {0x1CD4, 0x1FBC}, {0x1FBE, 0x1FBE},
    {0x1FC2, 0x1FCC}, {0x1FD0, 0x1FDB}, {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FFC}, {0x2070, 0x2079},
    {0x207F, 0x2089}, {0x2090, 0x209C}, {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113},
    {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128},
    {0x212A, 0x212D}, {0x212F, 0x2139}, {0x213C, 0x213F}, {0x2145, 0x2149}, {0x214E, 0x214E},
    {0x2150, 0x2189}, {0x2460, 0x249B}, {0x24EA, 0x24FF}, {0x2776, 0x2793}, {0x2C00, 0x2CE4},
    {0x2CEB, 0x2CF3}, {0x2CFD, 0x2CFD}, {0x2D00, 0x2D6F}, {0x2D7F, 0x2DFF}, {0x2E2F, 0x2E2F},
    {0x3005, 0x3007}, {0x3021, 0x302F}, {0x3031, 0x3035}, {0x3038, 0x303C}, {0x3041, 0x309A},
    {0x309D, 0x309F}, {0x30A1, 0x30FA}, {0x30FC, 0x318E}, {0x3192, 0x3195}, {0x31A0, 0x31BF},
    {0x31F0, 0x31FF}, {0x3220, 0x3229}, {0x3248, 0x324F}, {0x3251, 0x325F}, {0x3280, 0x3289},
    {0x32B1, 0x32BF}, {0x3400, 0x4DBF}, {0x4E00, 0xA48C}, {0xA4D0, 0xA4FD}, {0xA500, 0xA60C},
    {0xA610, 0xA672}, {0xA674, 0xA67D}, {0xA67F, 0xA6F1}, {0xA717, 0xA71F}, {0xA722, 0xA788},
    {0xA78B, 0xA827}, {0xA82C, 0xA835}, {0xA840, 0xA873}, {0xA880, 0xA8C5}, {0xA8D0, 0xA8F7},
    {0xA8FB, 0xA8FB}, {0xA8FD, 0xA92D}, {0xA930, 0xA953}, {0xA960, 0xA9C0}, {0xA9CF, 0xA9D9},
    {0xA9E0, 0xAA59}, {0xAA60, 0xAA76}, {0xAA7A, 0xAADD}, {0xAAE0, 0xAAEF}, {0xAAF2, 0xAB5A},
    {0xAB5C, 0xAB69}, {0xAB70, 0xABEA}, {0xABEC, 0xD7FB}, {0xF900, 0xFB28}, {0xFB2A, 0xFBB1},
    {0xFBD3, 0xFD3D}, {0xFD50, 0xFDC7}, {0xFDF0, 0xFDFB}, {0xFE20, 0xFE2F}, {0xFE70, 0xFEFC},
    {0xFF10, 0xFF19}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0xFF66, 0xFFDC}, {0x10000, 0x100FA},
    {0x10107, 0x10133}, {0x10140, 0x10178}, {0x1018A, 0x1018B}, {0x101FD, 0x1039D},
    {0x103A0, 0x103CF}, {0x103D1, 0x10563}, {0x10570, 0x10855}, {0x10858, 0x10876},
    {0x10879, 0x1091B}, {0x10920, 0x10939}, {0x10980, 0x10A48}, {0x10A60, 0x10A7E},
    {0x10A80, 0x10AC7}, {0x10AC9, 0x10AEF}, {0x10B00, 0x10B35}, {0x10B40, 0x10B91},
    {0x10BA9, 0x10EAC}, {0x10EB0, 0x10F54}, {0x10F70, 0x10F85}, {0x10FB0, 0x11046},
    {0x11052, 0x110BA}, {0x110C2, 0x110C2}, {0x110D0, 0x1113F}, {0x11144, 0x11173},
    {0x11176, 0x111C4}, {0x111C9, 0x111CC}, {0x111CE, 0x111DA}, {0x111DC, 0x111DC},
    {0x111E1, 0x11237}, {0x1123E, 0x112A8}, {0x112B0, 0x1144A}, {0x11450, 0x11459},
    {0x1145E, 0x114C5}, {0x114C7, 0x115C0}, {0x115D8, 0x11640}, {0x11644, 0x11659},
    {0x11680, 0x116B8}, {0x116C0, 0x1173B}, {0x11740, 0x1183A}, {0x118A0, 0x11943},
    {0x11950, 0x119E1}, {0x119E3, 0x11A3E}, {0x11A47, 0x11A99}, {0x11A9D, 0x11A9D},
    {0x11AB0, 0x11C40}, {0x11C50, 0x11C6C}, {0x11C72, 0x11EF6}, {0x11FB0, 0x11FD4},
    {0x12000, 0x1246E}, {0x12480, 0x12FF0}, {0x13000, 0x1342E}, {0x14400, 0x16A69},
    {0x16A70, 0x16AF4}, {0x16B00, 0x16B36}, {0x16B40, 0x16B43}, {0x16B50, 0x16E96},
    {0x16F00, 0x16FE1}, {0x16FE3, 0x1BC99}, {0x1BC9D, 0x1BC9E}, {0x1CF00, 0x1CF46},
    {0x1D165, 0x1D169}, {0x1D16D, 0x1D172}, {0x1D17B, 0x1D182}, {0x1D185, 0x1D18B},
    {0x1D1AA, 0x1D1AD}, {0x1D242, 0x1D244}, {0x1D2E0, 0x1D2F3}, {0x1D360, 0x1D6C0},
    {0x1D6C2, 0x1D6DA}, {0x1D6DC, 0x1D6FA}, {0x1D6FC, 0x1D714}, {0x1D716, 0x1D734},
    {0x1D736, 0x1D74E}, {0x1D750, 0x1D76E}, {0x1D770, 0x1D788}, {0x1D78A, 0x1D7A8},
    {0x1D7AA, 0x1D7C2}, {0x1D7C4, 0x1D7FF}, {0x1DA00, 0x1DA36}, {0x1DA3B, 0x1DA6C},
    {0x1DA75, 0x1DA75}, {0x1DA84, 0x1DA84}, {0x1DA9B, 0x1E14E}, {0x1E290, 0x1E2F9},
    {0x1E7E0, 0x1E959}, {0x1EC71, 0x1ECAB}, {0x1ECAD, 0x1ECAF}, {0x1ECB1, 0x1ED2D},
    {0x1ED2F, 0x1EEBB}, {0x1FBF0, 0x3134A},
};
// clang-format on

// Blocks of scripts written without spaces between words (see IsUnspacedScript).
// clang-format off
constexpr CodePointRange kUnspacedRanges[] = {
    {0x0E00, 0x0EFF},    // Thai, Lao
    {0x0F00, 0x0FFF},    // Tibetan (syllables separated by tsheg, words not by spaces)
    {0x1000, 0x109F},    // Myanmar
    {0x1780, 0x17FF},    // Khmer
    {0x1950, 0x19FF},    // Tai Le, New Tai Lue, Khmer symbols
    {0x1A20, 0x1AAF},    // Tai Tham
    {0x1B00, 0x1B7F},    // Balinese
    {0x2E80, 0x2FFF},    // CJK radicals, Kangxi radicals, ideographic description
    {0x3000, 0x312F},    // CJK symbols and punctuation, Hiragana, Katakana, Bopomofo
    {0x3190, 0x31FF},    // Kanbun, Bopomofo extended, CJK strokes, Katakana extensions
    {0x3400, 0x4DBF},    // CJK extension A
    {0x4E00, 0x9FFF},    // CJK unified ideographs
    {0xA000, 0xA4CF},    // Yi
    {0xA980, 0xA9FF},    // Javanese, Myanmar extended-B
    {0xAA60, 0xAADF},    // Myanmar extended-A, Tai Viet
    {0xF900, 0xFAFF},    // CJK compatibility ideographs
    {0xFF66, 0xFF9F},    // halfwidth Katakana
    {0x16FE0, 0x18AFF},  // ideographic symbols, Tangut, Khitan
    {0x1AFF0, 0x1B2FF},  // Kana extended and supplement, Nushu
    {0x20000, 0x3FFFF},  // CJK extensions B and later
};
// clang-format on

// Simple case folding (CaseFolding.txt C+S, i.e. Python's str.casefold() where it yields one
// character) restricted to mappings that keep the UTF-8 length, in the blocks named in
// unicode.h. Each run maps first, first + step, ..., last to code point + delta:
//
//   for c in blocks: f = chr(c).casefold()
//       if len(f) == 1 and f != chr(c) and len(f.encode()) == len(chr(c).encode()): map c -> f
//   then merge neighbours with the same delta at step 1 or 2.
struct FoldRun {
  uint32_t first;
  uint32_t last;
  int32_t delta;
  uint32_t step;
};
// clang-format off
constexpr FoldRun kFoldRuns[] = {
    {0x0041, 0x005A, 32, 1}, {0x00B5, 0x00B5, 775, 1}, {0x00C0, 0x00D6, 32, 1},
    {0x00D8, 0x00DE, 32, 1}, {0x0100, 0x012E, 1, 2}, {0x0132, 0x0136, 1, 2},
    {0x0139, 0x0147, 1, 2}, {0x014A, 0x0176, 1, 2}, {0x0178, 0x0178, -121, 1},
    {0x0179, 0x017D, 1, 2}, {0x0181, 0x0181, 210, 1}, {0x0182, 0x0184, 1, 2},
    {0x0186, 0x0186, 206, 1}, {0x0187, 0x0187, 1, 1}, {0x0189, 0x018A, 205, 1},
    {0x018B, 0x018B, 1, 1}, {0x018E, 0x018E, 79, 1}, {0x018F, 0x018F, 202, 1},
    {0x0190, 0x0190, 203, 1}, {0x0191, 0x0191, 1, 1}, {0x0193, 0x0193, 205, 1},
    {0x0194, 0x0194, 207, 1}, {0x0196, 0x0196, 211, 1}, {0x0197, 0x0197, 209, 1},
    {0x0198, 0x0198, 1, 1}, {0x019C, 0x019C, 211, 1}, {0x019D, 0x019D, 213, 1},
    {0x019F, 0x019F, 214, 1}, {0x01A0, 0x01A4, 1, 2}, {0x01A6, 0x01A6, 218, 1},
    {0x01A7, 0x01A7, 1, 1}, {0x01A9, 0x01A9, 218, 1}, {0x01AC, 0x01AC, 1, 1},
    {0x01AE, 0x01AE, 218, 1}, {0x01AF, 0x01AF, 1, 1}, {0x01B1, 0x01B2, 217, 1},
    {0x01B3, 0x01B5, 1, 2}, {0x01B7, 0x01B7, 219, 1}, {0x01B8, 0x01B8, 1, 1},
    {0x01BC, 0x01BC, 1, 1}, {0x01C4, 0x01C4, 2, 1}, {0x01C5, 0x01C5, 1, 1}, {0x01C7, 0x01C7, 2, 1},
    {0x01C8, 0x01C8, 1, 1}, {0x01CA, 0x01CA, 2, 1}, {0x01CB, 0x01DB, 1, 2}, {0x01DE, 0x01EE, 1, 2},
    {0x01F1, 0x01F1, 2, 1}, {0x01F2, 0x01F4, 1, 2}, {0x01F6, 0x01F6, -97, 1},
    {0x01F7, 0x01F7, -56, 1}, {0x01F8, 0x021E, 1, 2}, {0x0220, 0x0220, -130, 1},
    {0x0222, 0x0232, 1, 2}, {0x023B, 0x023B, 1, 1}, {0x023D, 0x023D, -163, 1},
    {0x0241, 0x0241, 1, 1}, {0x0243, 0x0243, -195, 1}, {0x0244, 0x0244, 69, 1},
    {0x0245, 0x0245, 71, 1}, {0x0246, 0x024E, 1, 2}, {0x0370, 0x0372, 1, 2},
    {0x0376, 0x0376, 1, 1}, {0x037F, 0x037F, 116, 1}, {0x0386, 0x0386, 38, 1},
    {0x0388, 0x038A, 37, 1}, {0x038C, 0x038C, 64, 1}, {0x038E, 0x038F, 63, 1},
    {0x0391, 0x03A1, 32, 1}, {0x03A3, 0x03AB, 32, 1}, {0x03C2, 0x03C2, 1, 1},
    {0x03CF, 0x03CF, 8, 1}, {0x03D0, 0x03D0, -30, 1}, {0x03D1, 0x03D1, -25, 1},
    {0x03D5, 0x03D5, -15, 1}, {0x03D6, 0x03D6, -22, 1}, {0x03D8, 0x03EE, 1, 2},
    {0x03F0, 0x03F0, -54, 1}, {0x03F1, 0x03F1, -48, 1}, {0x03F4, 0x03F4, -60, 1},
    {0x03F5, 0x03F5, -64, 1}, {0x03F7, 0x03F7, 1, 1}, {0x03F9, 0x03F9, -7, 1},
    {0x03FA, 0x03FA, 1, 1}, {0x03FD, 0x03FF, -130, 1}, {0x0400, 0x040F, 80, 1},
    {0x0410, 0x042F, 32, 1}, {0x0460, 0x0480, 1, 2}, {0x048A, 0x04BE, 1, 2},
    {0x04C0, 0x04C0, 15, 1}, {0x04C1, 0x04CD, 1, 2}, {0x04D0, 0x052E, 1, 2},
    {0x0531, 0x0556, 48, 1}, {0x1E00, 0x1E94, 1, 2}, {0x1E9B, 0x1E9B, -58, 1},
    {0x1EA0, 0x1EFE, 1, 2}, {0x1F08, 0x1F0F, -8, 1}, {0x1F18, 0x1F1D, -8, 1},
    {0x1F28, 0x1F2F, -8, 1}, {0x1F38, 0x1F3F, -8, 1}, {0x1F48, 0x1F4D, -8, 1},
    {0x1F59, 0x1F5F, -8, 2}, {0x1F68, 0x1F6F, -8, 1}, {0x1FB8, 0x1FB9, -8, 1},
    {0x1FBA, 0x1FBB, -74, 1}, {0x1FC8, 0x1FCB, -86, 1}, {0x1FD8, 0x1FD9, -8, 1},
    {0x1FDA, 0x1FDB, -100, 1}, {0x1FE8, 0x1FE9, -8, 1}, {0x1FEA, 0x1FEB, -112, 1},
    {0x1FEC, 0x1FEC, -7, 1}, {0x1FF8, 0x1FF9, -128, 1}, {0x1FFA, 0x1FFB, -126, 1},
    {0xFF21, 0xFF3A, 32, 1},
};
// clang-format on

constexpr size_t Utf8Length(uint32_t code_point) {
  return code_point < 0x80 ? 1 : code_point < 0x800 ? 2 : code_point < 0x10000 ? 3 : 4;
}

constexpr bool FoldRunsKeepLengths() {
  for (const FoldRun& run : kFoldRuns) {
    for (uint32_t c = run.first; c <= run.last; c += run.step) {
      if (Utf8Length(c) != Utf8Length(static_cast<uint32_t>(static_cast<int32_t>(c) + run.delta))) {
        return false;
      }
    }
  }
  return true;
}
static_assert(FoldRunsKeepLengths(), "a fold must keep the UTF-8 length, or offsets shift");

constexpr uint32_t FoldByRuns(uint32_t code_point) {
  const FoldRun* run = std::lower_bound(
      std::begin(kFoldRuns), std::end(kFoldRuns), code_point,
      [](const FoldRun& candidate, uint32_t value) { return candidate.last < value; });
  if (run != std::end(kFoldRuns) && run->first <= code_point &&
      (code_point - run->first) % run->step == 0) {
    return static_cast<uint32_t>(static_cast<int32_t>(code_point) + run->delta);
  }
  return code_point;
}

// The fold of every one- and two-byte code point, so folding Latin, Greek and Cyrillic text
// costs one table load per character.
constexpr std::array<uint16_t, 0x800> kFoldBelow800 = [] {
  std::array<uint16_t, 0x800> table{};
  for (uint32_t c = 0; c < table.size(); ++c) table[c] = static_cast<uint16_t>(FoldByRuns(c));
  return table;
}();

bool InRanges(uint32_t code_point, const CodePointRange* begin, const CodePointRange* end) {
  const CodePointRange* range = std::lower_bound(
      begin, end, code_point,
      [](const CodePointRange& candidate, uint32_t value) { return candidate.last < value; });
  return range != end && range->first <= code_point;
}

bool IsContinuation(uint8_t byte) { return (byte & 0xC0) == 0x80; }

// Sixteen bytes as one value (GCC/Clang vector extension: SSE2 on any x86-64, NEON on ARM).
// A comparison gives 0xFF in every byte where it holds and 0 elsewhere.
using ByteVector = uint8_t __attribute__((vector_size(16)));
constexpr size_t kVectorBytes = sizeof(ByteVector);

struct FoldedBytes {
  ByteVector bytes;
  ByteVector others;  // nonzero where a fold this pass does not do may be needed
};

// Folds sixteen bytes without a branch on the text: ASCII capitals, and Latin-1 capitals À..Þ
// (C3 80..9E, not × at C3 97: the fold adds 0x20 to the second byte), which covers Norwegian,
// Spanish and English. `previous` holds the byte before each of them. Also marks bytes that
// start (or, for EF BC, continue) a sequence with another fold: leads C4..DF (Latin Extended,
// Greek, Cyrillic, Armenian), C2 B5 (µ), E1 (Latin Extended Additional, Greek Extended) and EF BC
// (fullwidth Latin capitals).
FoldedBytes FoldAsciiAndLatin1(ByteVector bytes, ByteVector previous) {
  auto where = [](auto condition) { return std::bit_cast<ByteVector>(condition); };
  ByteVector ascii_capitals = where(bytes >= 'A') & where(bytes <= 'Z');
  ByteVector latin1_capitals =
      where(previous == 0xC3) & where(bytes >= 0x80) & where(bytes <= 0x9E) & where(bytes != 0x97);
  FoldedBytes result;
  result.bytes = bytes | ((ascii_capitals | latin1_capitals) & 0x20);
  result.others = (where(bytes >= 0xC4) & where(bytes <= 0xDF)) | where(bytes == 0xE1) |
                  (where(previous == 0xC2) & where(bytes == 0xB5)) |
                  (where(previous == 0xEF) & where(bytes == 0xBC));
  return result;
}

constexpr uint64_t kHighBits = 0x8080808080808080ULL;

// Bit k set when byte k of the eight in `word` is >= 0x80: the multiplication moves the high
// bit of byte k to bit 56 + k without carries.
static_assert(std::endian::native == std::endian::little,
              "the SWAR code expects the first of eight bytes memcpy'd into the lowest bits");
uint64_t HighByteMask(uint64_t word) {
  return (((word & kHighBits) >> 7) * 0x0102040810204080ULL) >> 56;
}

// Folds every two- and three-byte sequence of in[0, size) into out. Slower than the SWAR pass:
// a branch per byte >= 0x80. Each such byte is treated as a possible lead; continuation bytes
// and leads without a fold write back what is there, so no sequence needs skipping over.
// out[size] is the string's terminator, and writing '\0' there again is allowed.
void FoldMultiByteSequences(const uint8_t* in, uint8_t* out, size_t size) {
  for (size_t block = 0; block < size; block += 64) {
    const size_t block_size = std::min<size_t>(64, size - block);
    uint64_t high_bytes = 0;
    size_t offset = 0;
    for (; block_size - offset >= 8; offset += 8) {
      uint64_t word;
      std::memcpy(&word, in + block + offset, 8);
      high_bytes |= HighByteMask(word) << offset;
    }
    for (; offset < block_size; ++offset) high_bytes |= uint64_t{in[block + offset]} >> 7 << offset;
    for (; high_bytes != 0; high_bytes &= high_bytes - 1) {
      const size_t position = block + std::countr_zero(high_bytes);
      const uint8_t lead = in[position];
      const uint8_t next = size - position > 1 ? in[position + 1] : 0;
      const bool two_byte =
          static_cast<uint8_t>(lead - 0xC2) <= 0xDF - 0xC2 && IsContinuation(next);
      const uint32_t lower = kFoldBelow800[((lead & 0x1F) << 6) | (next & 0x3F)];
      out[position] = two_byte ? static_cast<uint8_t>(0xC0 | (lower >> 6)) : out[position];
      out[position + 1] =
          two_byte ? static_cast<uint8_t>(0x80 | (lower & 0x3F)) : out[position + 1];
      if ((lead == 0xE1 || (lead == 0xEF && next == 0xBC)) && size - position > 2 &&
          IsContinuation(next) && IsContinuation(in[position + 2])) {
        uint32_t folded =
            FoldCodePoint(((lead & 0x0F) << 12) | ((next & 0x3F) << 6) | (in[position + 2] & 0x3F));
        out[position] = static_cast<uint8_t>(0xE0 | (folded >> 12));
        out[position + 1] = static_cast<uint8_t>(0x80 | ((folded >> 6) & 0x3F));
        out[position + 2] = static_cast<uint8_t>(0x80 | (folded & 0x3F));
      }
    }
  }
}

}  // namespace

DecodedCodePoint DecodeCodePointAt(std::string_view text, size_t position) {
  const auto byte = [&](size_t index) { return static_cast<uint8_t>(text[index]); };
  uint8_t lead = byte(position);
  if (lead < 0x80) return DecodedCodePoint{lead, 1};
  const DecodedCodePoint invalid{kReplacementCharacter, 1};
  uint32_t continuation_bytes = 0;
  uint32_t code_point = 0;
  uint32_t minimum = 0;
  if ((lead & 0xE0) == 0xC0) {
    continuation_bytes = 1, code_point = lead & 0x1F, minimum = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    continuation_bytes = 2, code_point = lead & 0x0F, minimum = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    continuation_bytes = 3, code_point = lead & 0x07, minimum = 0x10000;
  } else {
    return invalid;  // a continuation byte or 0xF8..0xFF
  }
  if (text.size() - position <= continuation_bytes) return invalid;
  for (uint32_t i = 1; i <= continuation_bytes; ++i) {
    uint8_t continuation = byte(position + i);
    if (!IsContinuation(continuation)) return invalid;
    code_point = (code_point << 6) | (continuation & 0x3F);
  }
  if (code_point < minimum || code_point > 0x10FFFF ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return invalid;
  }
  return DecodedCodePoint{code_point, continuation_bytes + 1};
}

DecodedCodePoint DecodeCodePointBefore(std::string_view text, size_t position) {
  size_t start = position - 1;
  // Back over at most three continuation bytes to what should be the lead byte.
  while (start > 0 && position - start < 4 && IsContinuation(static_cast<uint8_t>(text[start]))) {
    --start;
  }
  DecodedCodePoint decoded = DecodeCodePointAt(text, start);
  if (start + decoded.length != position) return DecodedCodePoint{kReplacementCharacter, 1};
  return decoded;
}

bool IsWordCodePoint(uint32_t code_point) {
  if (code_point < 0x80) {
    return (code_point >= 'a' && code_point <= 'z') || (code_point >= 'A' && code_point <= 'Z') ||
           (code_point >= '0' && code_point <= '9') || code_point == '_';
  }
  return InRanges(code_point, std::begin(kWordRanges), std::end(kWordRanges));
}

bool IsUnspacedScript(uint32_t code_point) {
  return code_point >= 0x0E00 &&
         InRanges(code_point, std::begin(kUnspacedRanges), std::end(kUnspacedRanges));
}

uint32_t FoldCodePoint(uint32_t code_point) {
  if (code_point < kFoldBelow800.size()) return kFoldBelow800[code_point];
  if ((code_point >= 0x1E00 && code_point <= 0x1FFF) ||
      (code_point >= 0xFF21 && code_point <= 0xFF3A)) {
    return FoldByRuns(code_point);
  }
  return code_point;
}

void FoldCase(std::string_view text, std::string& folded) {
  folded.resize(text.size());
  const auto* in = reinterpret_cast<const uint8_t*>(text.data());
  auto* out = reinterpret_cast<uint8_t*>(folded.data());
  const size_t size = text.size();
  // Pass 1, sixteen bytes at a time: ASCII and Latin-1, and a note of whether anything else may
  // need folding. The first and the last chunk go through a zero-padded copy, which also gives
  // the first chunk a "previous byte" of 0.
  ByteVector others{};
  uint8_t padded[kVectorBytes + 1] = {};
  auto fold_chunk = [&](const uint8_t* previous_bytes, const uint8_t* bytes, uint8_t* target) {
    ByteVector previous;
    ByteVector current;
    std::memcpy(&previous, previous_bytes, kVectorBytes);
    std::memcpy(&current, bytes, kVectorBytes);
    FoldedBytes result = FoldAsciiAndLatin1(current, previous);
    others |= result.others;
    std::memcpy(target, &result.bytes, kVectorBytes);
  };
  size_t i = 0;
  if (size >= kVectorBytes) {
    std::memcpy(padded + 1, in, kVectorBytes);
    fold_chunk(padded, padded + 1, out);
    for (i = kVectorBytes; size - i >= kVectorBytes; i += kVectorBytes) {
      fold_chunk(in + i - 1, in + i, out + i);
    }
  }
  if (i < size) {
    uint8_t tail[kVectorBytes + 1] = {};
    tail[0] = i > 0 ? in[i - 1] : 0;
    std::memcpy(tail + 1, in + i, size - i);
    uint8_t folded_tail[kVectorBytes];
    fold_chunk(tail, tail + 1, folded_tail);
    std::memcpy(out + i, folded_tail, size - i);
  }
  // Pass 2, only for text with Greek, Cyrillic, Latin Extended and the like: it folds every
  // multi-byte sequence again (Latin-1 to the same result), one byte >= 0x80 at a time.
  uint64_t any_others[2];
  std::memcpy(any_others, &others, sizeof(any_others));
  if ((any_others[0] | any_others[1]) != 0) FoldMultiByteSequences(in, out, size);
}

bool IsWholeWordAt(std::string_view text, size_t begin, size_t end) {
  if (begin > 0) {
    uint32_t before = DecodeCodePointBefore(text, begin).code_point;
    if (IsWordCodePoint(before) && !IsUnspacedScript(before) &&
        !IsUnspacedScript(DecodeCodePointAt(text, begin).code_point)) {
      return false;
    }
  }
  if (end < text.size()) {
    uint32_t after = DecodeCodePointAt(text, end).code_point;
    if (IsWordCodePoint(after) && !IsUnspacedScript(after) &&
        !IsUnspacedScript(DecodeCodePointBefore(text, end).code_point)) {
      return false;
    }
  }
  return true;
}

}  // namespace brandpulse

namespace brandpulse {
namespace {

// Base letters (lowercase ASCII) of U+00C0..U+00FF and U+0100..U+017F, from Unicode's canonical
// decompositions; 0 keeps the letter (æ, ø, ð, þ, ß, ı, ł, œ have no decomposition).
constexpr char kLatin1Bases[64] = {
    'a', 'a', 'a', 'a', 'a', 'a', 0, 'c', 'e', 'e', 'e', 'e', 'i', 'i', 'i', 'i',
    0, 'n', 'o', 'o', 'o', 'o', 'o', 0, 0, 'u', 'u', 'u', 'u', 'y', 0, 0,
    'a', 'a', 'a', 'a', 'a', 'a', 0, 'c', 'e', 'e', 'e', 'e', 'i', 'i', 'i', 'i',
    0, 'n', 'o', 'o', 'o', 'o', 'o', 0, 0, 'u', 'u', 'u', 'u', 'y', 0, 'y',
};
constexpr char kLatinExtendedABases[128] = {
    'a', 'a', 'a', 'a', 'a', 'a', 'c', 'c', 'c', 'c', 'c', 'c', 'c', 'c', 'd', 'd',
    0, 0, 'e', 'e', 'e', 'e', 'e', 'e', 'e', 'e', 'e', 'e', 'g', 'g', 'g', 'g',
    'g', 'g', 'g', 'g', 'h', 'h', 0, 0, 'i', 'i', 'i', 'i', 'i', 'i', 'i', 'i',
    'i', 0, 0, 0, 'j', 'j', 'k', 'k', 0, 'l', 'l', 'l', 'l', 'l', 'l', 0,
    0, 0, 0, 'n', 'n', 'n', 'n', 'n', 'n', 0, 0, 0, 'o', 'o', 'o', 'o',
    'o', 'o', 0, 0, 'r', 'r', 'r', 'r', 'r', 'r', 's', 's', 's', 's', 's', 's',
    's', 's', 't', 't', 't', 't', 0, 0, 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    'u', 'u', 'u', 'u', 'w', 'w', 'y', 'y', 'y', 'z', 'z', 'z', 'z', 'z', 'z', 0,
};

}  // namespace

uint32_t StripAccent(uint32_t code_point) {
  if (code_point < 0xC0) return code_point;
  if (code_point >= 0x0300 && code_point <= 0x036F) return 0;
  if (code_point <= 0xFF) {
    char base = kLatin1Bases[code_point - 0xC0];
    return base != 0 ? static_cast<uint32_t>(base) : code_point;
  }
  if (code_point >= 0x0100 && code_point <= 0x017F) {
    char base = kLatinExtendedABases[code_point - 0x0100];
    return base != 0 ? static_cast<uint32_t>(base) : code_point;
  }
  return code_point;
}

void AppendUtf8(uint32_t code_point, std::string& out) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

void FoldAndStripAccents(std::string_view text, std::string& stripped,
                         std::vector<uint32_t>& offsets) {
  // Stripping never lengthens a character (a base letter is ASCII, anything else is kept), so
  // the buffers are sized for the text once and trimmed at the end.
  stripped.resize(text.size());
  offsets.resize(text.size() + 1);
  char* out = stripped.data();
  uint32_t* out_offsets = offsets.data();
  size_t written = 0;
  for (size_t position = 0; position < text.size();) {
    const auto byte = static_cast<uint8_t>(text[position]);
    if (byte < 0x80) {
      // A run of ASCII: simple loops the compiler vectorizes.
      size_t run_end = position + 1;
      while (run_end < text.size() && static_cast<uint8_t>(text[run_end]) < 0x80) ++run_end;
      const size_t run = run_end - position;
      for (size_t i = 0; i < run; ++i) {
        const char c = text[position + i];
        out[written + i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
      }
      for (size_t i = 0; i < run; ++i) {
        out_offsets[written + i] = static_cast<uint32_t>(position + i);
      }
      written += run;
      position = run_end;
      continue;
    }
    DecodedCodePoint decoded = DecodeCodePointAt(text, position);
    if (decoded.code_point == kReplacementCharacter && decoded.length == 1) {
      out[written] = static_cast<char>(byte);
      out_offsets[written++] = static_cast<uint32_t>(position++);
      continue;
    }
    const uint32_t folded = FoldCodePoint(decoded.code_point);
    const uint32_t base = StripAccent(folded);
    if (base == 0) {  // a combining mark: dropped
      position += decoded.length;
      continue;
    }
    if (base < 0x80 && base != folded) {
      out[written] = static_cast<char>(base);
      out_offsets[written++] = static_cast<uint32_t>(position);
    } else {
      // Same code point length as the original (FoldCodePoint keeps it): write its UTF-8.
      char encoded[4];
      uint32_t length = 0;
      if (base < 0x800) {
        encoded[0] = static_cast<char>(0xC0 | (base >> 6));
        encoded[1] = static_cast<char>(0x80 | (base & 0x3F));
        length = 2;
      } else if (base < 0x10000) {
        encoded[0] = static_cast<char>(0xE0 | (base >> 12));
        encoded[1] = static_cast<char>(0x80 | ((base >> 6) & 0x3F));
        encoded[2] = static_cast<char>(0x80 | (base & 0x3F));
        length = 3;
      } else {
        encoded[0] = static_cast<char>(0xF0 | (base >> 18));
        encoded[1] = static_cast<char>(0x80 | ((base >> 12) & 0x3F));
        encoded[2] = static_cast<char>(0x80 | ((base >> 6) & 0x3F));
        encoded[3] = static_cast<char>(0x80 | (base & 0x3F));
        length = 4;
      }
      for (uint32_t i = 0; i < length; ++i) {
        out[written] = encoded[i];
        out_offsets[written++] = static_cast<uint32_t>(position + i);
      }
    }
    position += decoded.length;
  }
  stripped.resize(written);
  out_offsets[written] = static_cast<uint32_t>(text.size());
  offsets.resize(written + 1);
}

}  // namespace brandpulse
