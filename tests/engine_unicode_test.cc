// UTF-8 decoding on good and bad bytes, the word and unspaced-script classes, the
// length-preserving case fold, and the whole-word rule the matcher relies on.
#include <gtest/gtest.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/unorm2.h>

#include <string>
#include <vector>

#include "engine/unicode.h"

namespace brandpulse {
namespace {

std::string Utf8(uint32_t code_point) {
  std::string out;
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
  return out;
}

std::string Folded(std::string_view text) {
  std::string folded;
  FoldCase(text, folded);
  return folded;
}

TEST(UnicodeDecodeTest, DecodesEveryLength) {
  EXPECT_EQ(DecodeCodePointAt("a", 0).code_point, uint32_t{'a'});
  DecodedCodePoint ring = DecodeCodePointAt("xå", 1);
  EXPECT_EQ(ring.code_point, 0xE5u);
  EXPECT_EQ(ring.length, 2u);
  DecodedCodePoint katakana = DecodeCodePointAt("ソ", 0);
  EXPECT_EQ(katakana.code_point, 0x30BDu);
  EXPECT_EQ(katakana.length, 3u);
  DecodedCodePoint smiley = DecodeCodePointAt("🙂!", 0);
  EXPECT_EQ(smiley.code_point, 0x1F642u);
  EXPECT_EQ(smiley.length, 4u);
  DecodedCodePoint before = DecodeCodePointBefore("Telenor🙂", 11);
  EXPECT_EQ(before.code_point, 0x1F642u);
  EXPECT_EQ(before.length, 4u);
  EXPECT_EQ(DecodeCodePointBefore("xå", 3).code_point, 0xE5u);
  EXPECT_EQ(DecodeCodePointBefore("xå", 1).code_point, uint32_t{'x'});
}

TEST(UnicodeDecodeTest, EveryCodePointRoundTrips) {
  for (uint32_t code_point = 0; code_point <= 0x10FFFF; code_point += 7) {
    if (code_point >= 0xD800 && code_point <= 0xDFFF) continue;
    std::string bytes = "a";
    bytes += Utf8(code_point);
    bytes += 'b';
    DecodedCodePoint at = DecodeCodePointAt(bytes, 1);
    ASSERT_EQ(at.code_point, code_point);
    ASSERT_EQ(at.length, bytes.size() - 2);
    DecodedCodePoint before = DecodeCodePointBefore(bytes, bytes.size() - 1);
    ASSERT_EQ(before.code_point, code_point);
    ASSERT_EQ(before.length, bytes.size() - 2);
  }
}

TEST(UnicodeDecodeTest, InvalidBytesAreOneReplacementCharacterEach) {
  struct Case {
    std::string_view bytes;
    const char* why;
  };
  for (const Case& bad :
       {Case{"\xff", "never valid"}, Case{"\x80", "lone continuation"},
        Case{"\xc3", "truncated at the end"}, Case{"\xc3x", "truncated"},
        Case{"\xe2\x82", "truncated three-byte"}, Case{"\xc0\xaf", "overlong slash"},
        Case{"\xe0\x80\x80", "overlong"}, Case{"\xed\xa0\x80", "surrogate"},
        Case{"\xf4\x90\x80\x80", "above U+10FFFF"},
        Case{"\xf8\x88\x80\x80\x80", "five-byte form"}}) {
    DecodedCodePoint decoded = DecodeCodePointAt(bad.bytes, 0);
    EXPECT_EQ(decoded.code_point, kReplacementCharacter) << bad.why;
    EXPECT_EQ(decoded.length, 1u) << bad.why;
  }
  // Backwards: a continuation byte that does not end a valid sequence stands alone.
  for (std::string_view bytes : {"\xa5", "x\xa5", "\xc3\xa5\xa5", "\xe2\x82", "\x80\x80\x80\x80"}) {
    DecodedCodePoint decoded = DecodeCodePointBefore(bytes, bytes.size());
    EXPECT_EQ(decoded.code_point, kReplacementCharacter) << bytes.size();
    EXPECT_EQ(decoded.length, 1u);
  }
  // Stepping forward by `length` visits every byte of garbage exactly once.
  std::string garbage = "\xff\xc3\xe2\x82x\xf0\x9f\x99\x82\x80";
  size_t steps = 0;
  for (size_t position = 0; position < garbage.size(); ++steps) {
    position += DecodeCodePointAt(garbage, position).length;
  }
  EXPECT_EQ(steps, 7u);  // ff, c3, e2, 82, x, 🙂, 80
}

TEST(UnicodeWordTest, LettersMarksAndDigitsOfAllScripts) {
  for (uint32_t word : {uint32_t{'a'},
                        uint32_t{'Z'},
                        uint32_t{'0'},
                        uint32_t{'9'},
                        uint32_t{'_'},
                        0xE6u /*æ*/,
                        0xF8u /*ø*/,
                        0xE5u /*å*/,
                        0xC5u /*Å*/,
                        0xF1u /*ñ*/,
                        0xE9u /*é*/,
                        0xFCu /*ü*/,
                        0xDFu /*ß*/,
                        0x0151u /*ő*/,
                        0x0219u /*ș*/,
                        0x0301u /*combining acute*/,
                        0x03A3u /*Σ*/,
                        0x03C9u /*ω*/,
                        0x0416u /*Ж*/,
                        0x044Fu /*я*/,
                        0x05D0u /*א*/,
                        0x0627u /*ا*/,
                        0x0661u /*Arabic-Indic 1*/,
                        0x0915u /*क*/,
                        0x0E01u /*ก*/,
                        0x4E00u /*一*/,
                        0x3042u /*あ*/,
                        0x30BDu /*ソ*/,
                        0x30FCu /*ー*/,
                        0x3005u /*々*/,
                        0xAC00u /*가*/,
                        0xFF21u /*Ａ*/,
                        0x20000u /*𠀀*/}) {
    EXPECT_TRUE(IsWordCodePoint(word)) << std::hex << word;
  }
}

TEST(UnicodeWordTest, PunctuationSymbolsEmojiAndSpacesAreNot) {
  for (uint32_t other : {uint32_t{' '},
                         uint32_t{'\t'},
                         uint32_t{'\n'},
                         uint32_t{'!'},
                         uint32_t{'\''},
                         uint32_t{'-'},
                         uint32_t{'.'},
                         uint32_t{'@'},
                         uint32_t{'#'},
                         uint32_t{'&'},
                         uint32_t{'+'},
                         0xA0u /*no-break space*/,
                         0xA1u /*¡*/,
                         0xBFu /*¿*/,
                         0xABu /*«*/,
                         0xD7u /*×*/,
                         0xA9u /*©*/,
                         0x2019u /*’*/,
                         0x2014u /*—*/,
                         0x20ACu /*€*/,
                         0x2122u /*™*/,
                         0x3000u,
                         0x3001u /*、*/,
                         0x3002u /*。*/,
                         0x30FBu /*・*/,
                         0xFF01u /*！*/,
                         0x1F642u /*🙂*/,
                         0x1F525u /*🔥*/,
                         0x2764u /*❤*/,
                         0x1F1F3u /*regional indicator N*/,
                         0x1F3FBu /*skin tone*/,
                         0xFE0Fu /*emoji presentation*/,
                         0x20E3u /*keycap*/,
                         0x200Du /*zero width joiner*/,
                         0xE0067u /*tag*/,
                         0xFFFDu,
                         0xE000u /*private use*/}) {
    EXPECT_FALSE(IsWordCodePoint(other)) << std::hex << other;
  }
}

TEST(UnicodeWordTest, SuperscriptsFractionsAndCircledNumbersAreNotWordCharacters) {
  // UAX #29: "MOVISTAR²" and "movistar½" end their word before the sign.
  for (uint32_t other : {0xB2u /*²*/, 0xB3u /*³*/, 0xB9u /*¹*/, 0xBCu /*¼*/, 0xBDu /*½*/,
                         0xBEu /*¾*/, 0x2070u /*⁰*/, 0x2075u /*⁵*/, 0x2082u /*₂*/,
                         0x2153u /*⅓*/, 0x2460u /*①*/, 0x2776u /*❶*/}) {
    EXPECT_FALSE(IsWordCodePoint(other)) << std::hex << other;
  }
  EXPECT_TRUE(IsWordCodePoint(0x2160u)) << "Ⅰ (Roman numeral) is a letter (ALetter)";
  EXPECT_TRUE(IsWordCodePoint(0x2071u)) << "ⁱ (superscript i) is a letter (Lm)";
  EXPECT_TRUE(IsWholeWordAt("MOVISTAR²", 0, 8));
  EXPECT_TRUE(IsWholeWordAt("movistar½ precio", 0, 8));
}

// Every assigned code point agrees with ICU's Word_Break property (the rule in unicode.h).
TEST(UnicodeWordTest, AgreesWithIcuWordBreakOnEveryAssignedCodePoint) {
  auto icu_word = [](UChar32 c) {
    if ((c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xE0100 && c <= 0xE01EF) ||
        (c >= 0x20D0 && c <= 0x20FF) || (c >= 0x1F000 && c <= 0x1FAFF)) {
      return false;
    }
    if (c == '_') return true;
    switch (u_getIntPropertyValue(c, UCHAR_WORD_BREAK)) {
      case U_WB_ALETTER:
      case U_WB_HEBREW_LETTER:
      case U_WB_NUMERIC:
      case U_WB_KATAKANA:
      case U_WB_EXTENDNUMLET:
        return true;
      case U_WB_EXTEND:
        if ((U_GET_GC_MASK(c) & U_GC_M_MASK) != 0) return true;
        [[fallthrough]];
      default:
        return IsUnspacedScript(static_cast<uint32_t>(c)) &&
               (U_GET_GC_MASK(c) & (U_GC_L_MASK | U_GC_M_MASK | U_GC_N_MASK)) != 0;
    }
  };
  size_t checked = 0;
  for (UChar32 c = 0x80; c < 0x110000; ++c) {
    if (u_charType(c) == U_UNASSIGNED) continue;
    ASSERT_EQ(IsWordCodePoint(static_cast<uint32_t>(c)), icu_word(c)) << std::hex << c;
    ++checked;
  }
  EXPECT_GT(checked, 140000u);
}

// ComposeCanonical agrees with ICU's NFC on decomposed Latin, Greek, Cyrillic and kana, and maps
// every composed byte back to where its character started.
TEST(UnicodeComposeTest, AgreesWithIcuNfcAndKeepsOffsets) {
  UErrorCode error = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(error);
  ASSERT_TRUE(U_SUCCESS(error));
  std::string composed;
  std::vector<uint32_t> offsets;
  for (std::string_view text :
       {"Telefo\u0301nica", "El Corte Ingle\u0301s", "Espan\u0303a y Pen\u0303a",
        "bla\u030Abær og A\u030Are", "Vie\u0323\u0302t Nam", "e\u0302\u0301", "\u0391\u0301\u03B8\u03B7\u0301\u03BD\u03B1",
        "\u0438\u0306\u043E\u0434", "\u304B\u3099", "x\u0301y", "\u0301start", "\xff\u0301",
        "plain ascii", "ya compuesto: Telefónica"}) {
    icu::UnicodeString normalized = nfc->normalize(
        icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), text.size())), error);
    std::string expected;
    normalized.toUTF8String(expected);
    const bool changed = ComposeCanonical(text, composed, offsets);
    if (text != "\xff\u0301") {
      EXPECT_EQ(composed, expected) << text;
    }
    EXPECT_EQ(changed, composed != text) << text;
    ASSERT_EQ(offsets.size(), composed.size() + 1) << text;
    EXPECT_EQ(offsets.back(), text.size());
    for (size_t i = 0; i + 1 < offsets.size(); ++i) EXPECT_LE(offsets[i], offsets[i + 1]) << text;
  }
  EXPECT_TRUE(ComposeCanonical("Telefo\u0301nica", composed, offsets));
  EXPECT_EQ(composed, "Telefónica");
  EXPECT_EQ(offsets[5], 5u);  // both bytes of ó come from the o
  EXPECT_EQ(offsets[6], 5u);
  EXPECT_EQ(offsets[7], 8u);  // n follows the combining mark
  EXPECT_TRUE(MayNeedComposition("Telefo\u0301nica"));
  EXPECT_FALSE(MayNeedComposition("Telefónica, blåbær og Ærlig"));
}

// The byte test lets emoji, kana and CJK posts skip the composing copy, but never misses a
// character that can compose with the one before it (ICU: NFC_Quick_Check = Maybe).
TEST(UnicodeComposeTest, EmojiAndKanaSkipTheCopyButEverySecondHalfIsSeen) {
  EXPECT_FALSE(MayNeedComposition("Telenor \U0001F642\U0001F525 #5G"));
  EXPECT_FALSE(MayNeedComposition("\u30BD\u30CB\u30FC\u306E\u65B0\u578B\u304C\u51FA\u305F"));
  EXPECT_TRUE(MayNeedComposition("\u304B\u3099"));
  uint32_t checked = 0;
  for (UChar32 c = 0; c <= 0x10FFFF; ++c) {
    if (u_getIntPropertyValue(c, UCHAR_NFC_QUICK_CHECK) != UNORM_MAYBE) continue;
    std::string text = "a";
    icu::UnicodeString(c).toUTF8String(text);
    ASSERT_TRUE(MayNeedComposition(text)) << std::hex << c;
    ++checked;
  }
  EXPECT_GT(checked, 100u);
}

TEST(UnicodeWordTest, UnspacedScripts) {
  for (uint32_t unspaced :
       {0x4E00u, 0x9FA5u, 0x3042u, 0x30BDu, 0x30FCu, 0xFF71u /*ｱ*/, 0x0E01u /*Thai*/,
        0x0E81u /*Lao*/, 0x1780u /*Khmer*/, 0x1000u /*Myanmar*/, 0x3105u /*Bopomofo*/, 0x20000u}) {
    EXPECT_TRUE(IsUnspacedScript(unspaced)) << std::hex << unspaced;
  }
  for (uint32_t spaced : {uint32_t{'a'}, 0xE5u, 0x0416u, 0x05D0u, 0x0627u, 0x0915u,
                          0xAC00u /*Hangul uses spaces*/, 0x1F642u}) {
    EXPECT_FALSE(IsUnspacedScript(spaced)) << std::hex << spaced;
  }
}

TEST(UnicodeFoldTest, LowercasesNordicSpanishGreekAndCyrillic) {
  EXPECT_EQ(Folded("TELENOR Norge"), "telenor norge");
  EXPECT_EQ(Folded("ÆØÅ æøå"), "æøå æøå");
  EXPECT_EQ(Folded("TELEFÓNICA MÁSMÓVIL ÑANDÚ ÜBER"), "telefónica másmóvil ñandú über");
  EXPECT_EQ(Folded("ŸĲŁŐŠŽ"), "ÿĳłőšž");
  EXPECT_EQ(Folded("ȘȚ"), "șț");                      // Romanian, Latin Extended-B
  EXPECT_EQ(Folded("ΟΔΥΣΣΕΥΣ Ϊ Ά"), "οδυσσευσ ϊ ά");  // final sigma folds to σ
  EXPECT_EQ(Folded("οδυσσευς"), "οδυσσευσ");
  EXPECT_EQ(Folded("МОСКВА ЁЖ Ӂ"), "москва ёж ӂ");
  EXPECT_EQ(Folded("ẠỆ ＴＥＬＥＮＯＲ"), "ạệ ｔｅｌｅｎｏｒ");
  EXPECT_EQ(Folded("µ"), "μ");  // micro sign folds to Greek mu (both two bytes)
}

TEST(UnicodeFoldTest, FoldsThatChangeTheLengthAreLeftAlone) {
  EXPECT_EQ(Folded("\u0130"), "\u0130");  // İ: lowercase is i + combining dot, 3 bytes not 2
  EXPECT_EQ(Folded("\u1E9E"), "\u1E9E");  // ẞ: ß is 2 bytes, ẞ is 3
  EXPECT_EQ(Folded("\u212A"), "\u212A");  // Kelvin sign: 'k' is 1 byte
  EXPECT_EQ(Folded("ß"), "ß");
  EXPECT_EQ(Folded("ソニー 가 🙂"), "ソニー 가 🙂");
}

TEST(UnicodeFoldTest, EveryCodePointKeepsItsLengthAndFoldingIsIdempotent) {
  std::string folded;
  std::string twice;
  for (uint32_t code_point = 0; code_point <= 0x10FFFF; ++code_point) {
    if (code_point >= 0xD800 && code_point <= 0xDFFF) continue;
    std::string bytes = Utf8(code_point);
    FoldCase(bytes, folded);
    ASSERT_EQ(folded.size(), bytes.size()) << std::hex << code_point;
    DecodedCodePoint decoded = DecodeCodePointAt(folded, 0);
    ASSERT_EQ(decoded.length, bytes.size()) << std::hex << code_point;
    ASSERT_EQ(decoded.code_point, FoldCodePoint(code_point)) << std::hex << code_point;
    ASSERT_EQ(FoldCodePoint(decoded.code_point), decoded.code_point) << std::hex << code_point;
    // Folding keeps a character's class, so boundaries judged on folded text are the same.
    ASSERT_EQ(IsWordCodePoint(decoded.code_point), IsWordCodePoint(code_point))
        << std::hex << code_point;
    ASSERT_EQ(IsUnspacedScript(decoded.code_point), IsUnspacedScript(code_point))
        << std::hex << code_point;
  }
}

TEST(UnicodeFoldTest, InvalidBytesAreCopiedAndTheBufferIsReused) {
  std::string bytes =
      "A\xff\xc3"
      "B\xe1\x80"
      "C\x80Ø";
  EXPECT_EQ(Folded(bytes),
            "a\xff\xc3"
            "b\xe1\x80"
            "c\x80ø");
  std::string folded;
  folded.reserve(64);
  const char* buffer = folded.data();
  for (std::string_view text : {"Telenor", "", "ÆØÅ", "a somewhat longer text of many words"}) {
    FoldCase(text, folded);
    EXPECT_EQ(folded.size(), text.size());
    EXPECT_EQ(folded.data(), buffer) << "the fold must reuse the caller's buffer";
  }
}

// The fold one code point at a time, as the reference for the SIMD passes.
std::string FoldedByCodePoint(std::string_view text) {
  std::string out;
  for (size_t position = 0; position < text.size();) {
    DecodedCodePoint decoded = DecodeCodePointAt(text, position);
    if (decoded.code_point == kReplacementCharacter && decoded.length == 1) {
      out += text[position];
    } else {
      out += Utf8(FoldCodePoint(decoded.code_point));
    }
    position += decoded.length;
  }
  return out;
}

TEST(UnicodeFoldTest, MixedTextAgreesWithFoldingOneCodePointAtATime) {
  // Pieces that straddle the 16-byte chunks at every offset: Latin-1 pairs split across chunks,
  // scripts that need the second pass, emoji with variation selectors, broken bytes.
  const std::vector<std::string> pieces = {
      "A",    "z",      " ", "Å", "å",    "Ø",        "Æ",        "Ñ",    "Ó",   "×",  "ß",
      "Ÿ",    "Ł",      "Σ", "ς", "Ж",    "Ӂ",        "µ",        "Ḁ",    "Ａ",  "ａ", "ソ",
      "🙂", "❤️", "…", "¿", "\xc3", "\xef\xbc", "\xe1\xb8", "\xff", "\x80"};
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::string text;
    size_t count = next() % 40;
    for (size_t i = 0; i < count; ++i) text += pieces[next() % pieces.size()];
    ASSERT_EQ(Folded(text), FoldedByCodePoint(text)) << "iteration " << iteration;
  }
}

TEST(UnicodeFoldTest, AsciiFastPathAgreesWithTheSlowPath) {
  // Lengths around the 8-byte stride, with every ASCII byte in every lane.
  for (size_t length = 1; length <= 24; ++length) {
    for (int first = 0; first < 128; ++first) {
      std::string text(length, 'x');
      for (size_t i = 0; i < length; ++i) text[i] = static_cast<char>((first + i * 13) % 128);
      std::string expected = text;
      for (char& c : expected) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      }
      ASSERT_EQ(Folded(text), expected) << length << " " << first;
    }
  }
}

TEST(UnicodeWholeWordTest, PunctuationEmojiAndTextEdgesAreBoundaries) {
  auto whole = [](std::string_view text, std::string_view word) {
    size_t begin = text.find(word);
    EXPECT_NE(begin, std::string_view::npos) << text;
    return IsWholeWordAt(text, begin, begin + word.size());
  };
  for (std::string_view text : {"telenor", "telenor's", "(telenor)", "telenor!", "telenor🙂",
                                "🙂telenor", "#telenor", "@telenor", "«telenor»", "telenor.",
                                "¡telenor!", "telenor’s", "x-telenor-y", "\xfftelenor\xff"}) {
    EXPECT_TRUE(whole(text, "telenor")) << text;
  }
  for (std::string_view text :
       {"telenorsk", "åtelenor", "telenorå", "telenor_x", "xtelenor", "telenor2", "telenorñ",
        "ételenor", "telenor\u0301", "Жtelenor", "telenor가"}) {
    EXPECT_FALSE(whole(text, "telenor")) << text;
  }
}

TEST(UnicodeWholeWordTest, UnspacedScriptsNeedNoBoundary) {
  std::string_view sony = "ソニー";
  auto whole = [](std::string_view text, std::string_view word) {
    size_t begin = text.find(word);
    return IsWholeWordAt(text, begin, begin + word.size());
  };
  EXPECT_TRUE(whole("ソニーの新製品", sony));
  EXPECT_TRUE(whole("新しいソニー製", sony));
  EXPECT_TRUE(whole("新型iPhoneを買った", "iPhone"));  // Latin term inside Japanese text
  EXPECT_TRUE(whole("ใช้dtacดี", "dtac"));               // and inside Thai
  EXPECT_FALSE(whole("가dtac", "dtac"));               // Hangul is written with spaces
}

TEST(EchoableTextTest, InvalidBytesBecomeReplacementAndLongTextIsCut) {
  EXPECT_EQ(EchoableText("abc", 10), "abc");
  EXPECT_EQ(EchoableText("a\xFF" "b", 10), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(EchoableText(std::string(12, 'x'), 10), std::string(10, 'x') + "… (12 bytes)");
  // A character cut in two by the limit is not echoed as broken UTF-8.
  EXPECT_EQ(EchoableText("ab\xC3\xA9", 3), "ab\xEF\xBF\xBD… (4 bytes)");
}

}  // namespace
}  // namespace brandpulse
