#include "operators/enrich_text.h"

#include <hs/hs.h>
#include <malloc.h>

#if defined(__AVX2__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <mutex>

#include <cld2/public/compact_lang_det.h>
#include <cld2/public/encodings.h>
#include <fmt/format.h>

#include "engine/enrichment_fields.h"
#include "operators/enrich_cues.h"
#include "operators/enrich_words.h"

namespace brandpulse {

namespace cues = enrichment_cues;

namespace {
const enrich_words::WordInfo kNoWord{};
}  // namespace

struct Token {
  uint32_t norm_begin = 0;  // in EnrichScratch::normalized_
  uint32_t norm_length = 0;
  uint32_t text_begin = 0;  // in the original text
  uint16_t clause = 0;
  uint8_t kind = 0;  // kWord, kEmoji, kPunct
  bool caps = false;
  bool elongated = false;
  bool brand = false;  // inside a brand's span: the brand's name, not a feeling
  float valence = 0;
  const enrich_words::WordInfo* info = &kNoWord;  // the word's entry (an empty one for others)
};

struct Clause {
  double score = 0;
  double words = 0;      // the part of `score` from sentiment words
  bool signal = false;   // a sentiment word or cue in it
  bool negated = false;  // a negation word in it
};

namespace {

enum TokenKind : uint8_t { kWord = 0, kEmoji = 1, kPunct = 2 };

// ---- Word lists of the rules (into the word table at Make(); enrich_words.h) -------------------

using enrich_words::WordFlag;
using enrich_words::WordInfo;
using List = std::initializer_list<std::string_view>;

struct FlaggedList {
  WordFlag flag;
  RuleLanguage language;  // for per-language flags; kOther otherwise
  List words;
};

const FlaggedList kFlaggedLists[] = {
    {enrich_words::kNegator, RuleLanguage::kEnglish,
     {"not", "no", "never", "nor", "neither", "cannot", "ain't", "isn't", "don't", "doesn't",
      "didn't", "can't", "won't", "wasn't", "aren't", "couldn't", "wouldn't", "shouldn't",
      "haven't", "hasn't", "dont", "doesnt", "didnt", "cant", "wont", "isnt", "wasnt", "arent",
      "couldnt", "wouldnt"}},
    {enrich_words::kNegator, RuleLanguage::kNorwegian,
     {"ikke", "ikkje", "aldri", "ingen", "inga", "ingenting", "inkje", "verken"}},
    {enrich_words::kNegator, RuleLanguage::kSpanish,
     {"no", "nunca", "jamás", "ni", "tampoco", "nada", "sin", "ningún", "ninguna", "nadie"}},
    {enrich_words::kNegator, RuleLanguage::kOther, {"not", "never", "ikke", "ikkje", "aldri", "nunca"}},
    {enrich_words::kBooster, RuleLanguage::kEnglish,
     {"very", "really", "so", "super", "extremely", "totally", "absolutely", "incredibly", "too",
      "way", "such", "completely", "seriously", "truly", "highly", "honestly", "actually"}},
    {enrich_words::kBooster, RuleLanguage::kNorwegian,
     {"veldig", "svært", "utrolig", "skikkelig", "helt", "heilt", "så", "altfor", "virkelig",
      "verkeleg", "særs", "mye", "mykje", "faktisk"}},
    {enrich_words::kBooster, RuleLanguage::kSpanish,
     {"muy", "super", "súper", "tan", "demasiado", "realmente", "bastante", "totalmente", "mucho",
      "muchísimo", "re"}},
    {enrich_words::kContrast, RuleLanguage::kEnglish, {"but", "however", "although"}},
    {enrich_words::kContrast, RuleLanguage::kNorwegian, {"men"}},
    {enrich_words::kContrast, RuleLanguage::kSpanish, {"pero", "aunque"}},
    {enrich_words::kBelieve, RuleLanguage::kOther, {"believe", "creer", "tro"}},
    // Two brands set against each other without "but": each side is its own clause ("Netflix
    // keeps raising prices while Hulu just works"). Only the per-brand clauses; the whole
    // post's sum does not weigh the sides as for "but".
    {enrich_words::kClauseBreak, RuleLanguage::kOther, {"while", "whereas", "mens", "medan", "mientras"}},
    // "instead of B", "i stedet for B", "en vez de B": B was not chosen, which says nothing bad
    // about it.
    {enrich_words::kInsteadOf, RuleLanguage::kOther, {"instead", "stedet", "staden", "vez", "lugar"}},
    // "fixed it in 20 min", "en 2 minutos", "på 20 min": speed, not a wait.
    {enrich_words::kWithin, RuleLanguage::kOther, {"in", "en", "på"}},
    {enrich_words::kShortTime, RuleLanguage::kOther,
     {"min", "mins", "minute", "minutes", "minuto", "minutos", "minutt", "minutter",
      "day", "día", "dag"}},  // singular days: "in a day", "en un día", "på ein dag"
    // A brand right after "than" with a comparative before it comes off worse.
    {enrich_words::kThan, RuleLanguage::kOther, {"than", "enn", "que"}},
    {enrich_words::kComparative, RuleLanguage::kOther,
     {"better", "bedre", "betre", "mejor", "cheaper", "faster", "billigere", "raskere"}},
    // A brand right after one of these, in a post that switches, is the one left behind…
    {enrich_words::kSwitchSource, RuleLanguage::kOther,
     {"from", "left", "leaving", "quit", "ditched", "traded", "goodbye", "fra", "frå", "forlater",
      "de", "del", "dejo", "dejé", "deje", "adiós", "adios", "cancelo"}},
    // …and a brand after one of these is the one switched to.
    {enrich_words::kSwitchTarget, RuleLanguage::kOther,
     {"to", "for", "hello", "til", "a", "al", "por", "hola", "con", "prefiero", "prefer"}},
    // Function words that tell an unsure post's language (VoteLanguage).
    {enrich_words::kVoteEnglish, RuleLanguage::kOther,
     {"the", "and", "is", "my", "to", "for", "it", "you", "of", "i", "this", "was", "with", "not",
      "again"}},
    {enrich_words::kVoteNorwegian, RuleLanguage::kOther,
     {"og", "er", "jeg", "eg", "ikke", "ikkje", "på", "med", "til", "det", "har", "som", "en",
      "ein", "av", "for", "meg", "min", "dere"}},
    {enrich_words::kVoteSpanish, RuleLanguage::kOther,
     {"el", "la", "de", "que", "y", "en", "mi", "por", "me", "los", "las", "un", "una", "es",
      "con", "del", "se", "lo"}},
};

// Nynorsk forms and their bokmål counterparts: frequent function words and endings that only
// one written standard uses. A post tagged plain `no` gets its variant from these (CLD2 with a
// Norwegian hint calls nearly every such post bokmål, and costs more than the whole rest).
struct NynorskPair {
  std::string_view nynorsk, bokmal;
};
constexpr NynorskPair kNynorskPairs[] = {
    {"ikkje", "ikke"},     {"eg", "jeg"},          {"kva", "hva"},         {"korleis", "hvordan"},
    {"kvifor", "hvorfor"}, {"kor", "hvor"},        {"frå", "fra"},         {"berre", "bare"},
    {"eit", "et"},         {"heile", "hele"},      {"mykje", "mye"},       {"noko", "noe"},
    {"nokon", "noen"},     {"nokre", "noen"},      {"meir", "mer"},        {"fekk", "fikk"},
    {"vore", "vært"},      {"hjå", "hos"},         {"dei", "de"},          {"sjølv", "selv"},
    {"kvar", "hver"},      {"sidan", "siden"},     {"enno", "ennå"},       {"framleis", "fortsatt"},
    {"attende", "tilbake"}, {"verkeleg", "virkelig"}, {"heilt", "helt"},   {"likar", "liker"},
    {"dårleg", "dårlig"},  {"nøgd", "fornøyd"},    {"veke", "uke"},        {"veker", "uker"},
    {"dagar", "dager"},    {"timar", "timer"},     {"gonger", "ganger"},   {"månader", "måneder"},
    {"seier", "sier"},     {"gjer", "gjør"},       {"gjere", "gjøre"},     {"ho", "hun"},
    {"vere", "være"},      {"kome", "komme"},      {"kjem", "kommer"},     {"dykk", "dere"},
    {"deira", "deres"},    {"utan", "uten"},       {"inkje", "ingenting"}, {"svarar", "svarer"},
    {"heime", "hjemme"},   {"skule", "skole"},     {"fyrste", "første"},   {"pengane", "pengene"},
    {"teneste", "tjeneste"}, {"tenesta", "tjenesten"}, {"trur", "tror"},   {"veit", "vet"},
    {"gjev", "gir"},       {"tek", "tar"},         {"sjå", "se"},          {"byte", "bytte"},
    {"ein", "en"},         {"utanfor", "utenfor"}, {"straumen", "strømmen"}, {"førre", "forrige"},
    {"månad", "måned"},    {"seint", "sent"},      {"steig", "steg"},      {"tilsett", "ansatt"},
    {"dykkar", "deres"},   {"hennar", "hennes"},   {"medan", "mens"},      {"difor", "derfor"},
    {"kvarandre", "hverandre"}, {"sjølvsagt", "selvfølgelig"}, {"eigen", "egen"}, {"eige", "eget"},
    {"veg", "vei"},        {"gong", "gang"},       {"hugse", "huske"},     {"spurde", "spurte"},
    {"vart", "ble"},
};

bool Has(const WordInfo* info, WordFlag flag, RuleLanguage language = RuleLanguage::kOther) {
  return (info->flags & enrich_words::ForLanguage(flag, static_cast<uint8_t>(language))) != 0;
}

constexpr std::string_view kEmoticons[] = {":)", ":-)", ":(", ":-(", ":D", ":-D", ":P", ";)", ";-)",
                                           ":/", ":-/", "<3", ":'(", "xD", "XD", ":o", "=)", ":|"};
constexpr float kEmoticonValence[] = {2.0f, 2.0f, -1.9f, -1.9f, 2.3f, 2.3f, 1.4f, 1.6f, 1.6f,
                                      -1.4f, -1.4f, 2.7f, -2.2f, 2.0f, 2.0f, -0.4f, 2.0f, -0.9f};

// ---- UTF-8 -----------------------------------------------------------------------------------

// Decodes one code point at `i` (valid UTF-8 expected; anything else counts as one byte U+FFFD).
uint32_t Decode(std::string_view text, size_t i, size_t& length) {
  const auto byte = static_cast<unsigned char>(text[i]);
  auto continuation = [&](size_t k) -> int {
    if (i + k >= text.size()) return -1;
    const auto next = static_cast<unsigned char>(text[i + k]);
    return (next & 0xC0) == 0x80 ? (next & 0x3F) : -1;
  };
  if (byte < 0x80) { length = 1; return byte; }
  if ((byte & 0xE0) == 0xC0) {
    const int c1 = continuation(1);
    if (c1 >= 0) { length = 2; return ((byte & 0x1F) << 6) | c1; }
  } else if ((byte & 0xF0) == 0xE0) {
    const int c1 = continuation(1), c2 = c1 >= 0 ? continuation(2) : -1;
    if (c2 >= 0) { length = 3; return ((byte & 0x0F) << 12) | (c1 << 6) | c2; }
  } else if ((byte & 0xF8) == 0xF0) {
    const int c1 = continuation(1), c2 = c1 >= 0 ? continuation(2) : -1,
              c3 = c2 >= 0 ? continuation(3) : -1;
    if (c3 >= 0) { length = 4; return ((byte & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3; }
  }
  length = 1;
  return 0xFFFD;
}

// Writes `cp` as UTF-8 at `out`; returns the end.
char* EncodeTo(uint32_t cp, char* out) {
  if (cp < 0x80) {
    *out++ = static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out++ = static_cast<char>(0xC0 | (cp >> 6));
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out++ = static_cast<char>(0xE0 | (cp >> 12));
    *out++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out++ = static_cast<char>(0xF0 | (cp >> 18));
    *out++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

bool IsLetter(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
  if (cp == 0xD7 || cp == 0xF7) return false;
  if (cp >= 0xC0 && cp <= 0x24F) return true;  // Latin-1 and Latin Extended-A/B
  if (cp >= 0x370 && cp < 0x2000) return true;  // Greek, Cyrillic, … (as letters, no rules)
  if (cp >= 0x3040 && cp < 0xA000) return true;  // CJK
  if (cp >= 0xAC00 && cp < 0xD7B0) return true;  // Hangul
  return false;
}

bool IsUpper(uint32_t cp) {
  return (cp >= 'A' && cp <= 'Z') || (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7);
}
bool IsLower(uint32_t cp) {
  return (cp >= 'a' && cp <= 'z') || (cp >= 0xDF && cp <= 0xFF && cp != 0xF7);
}
uint32_t ToLower(uint32_t cp) {
  if (IsUpper(cp)) return cp + 0x20;
  if (cp >= 0x100 && cp <= 0x17F && (cp % 2) == 0) return cp + 1;  // Latin Extended-A pairs
  return cp;
}

// What the word loop needs of an ASCII byte, in one load instead of IsLetter/IsUpper/IsLower/
// ToLower's range checks: kAsciiLetter (IsLetter: letters and digits), kAsciiAlpha (a letter,
// counted for caps), kAsciiUpper, kAsciiLower.
enum AsciiClass : uint8_t { kAsciiLetter = 1, kAsciiAlpha = 2, kAsciiUpper = 4, kAsciiLower = 8 };

constexpr auto kAsciiClasses = [] {
  std::array<uint8_t, 128> classes{};
  for (int c = '0'; c <= '9'; ++c) classes[c] = kAsciiLetter;
  for (int c = 'a'; c <= 'z'; ++c) classes[c] = kAsciiLetter | kAsciiAlpha | kAsciiLower;
  for (int c = 'A'; c <= 'Z'; ++c) classes[c] = kAsciiLetter | kAsciiAlpha | kAsciiUpper;
  return classes;
}();
constexpr auto kAsciiCaseCount = [] {
  std::array<uint64_t, 128> counts{};  // 32-bit halves: no text offset reaches 2^32
  for (int c = 'A'; c <= 'Z'; ++c) counts[c] = 1;
  for (int c = 'a'; c <= 'z'; ++c) counts[c] = uint64_t{1} << 32;
  return counts;
}();

// ---- Whole-text classification (Tokenize's fast path for plain ASCII words) -----------------

// Per 64 bytes of text, four mask words, bit k for byte 64 * chunk + k.
enum AsciiMask : size_t {
  kMaskAlnum = 0,   // an ASCII letter or digit (IsLetter below 0x80)
  kMaskUpper = 1,   // 'A'…'Z'
  kMaskLower = 2,   // 'a'…'z'
  kMaskTriple = 3,  // the byte (case folded) equals the two before it: elongation ("sooo")
  kMaskCount = 4,
};

// Fills masks[kMaskCount * chunk + kind] for every 64 bytes of `text` plus one zero chunk
// after them (so that a 64-bit window from any byte of the text can read the next chunk), and
// `folded` with the text, ASCII upper case folded to lower case, up to the end of the last
// chunk (bytes past the text are zero). One pass, 16 or 32 bytes a step, instead of a table
// load, a case fold and a run check per byte of every word.
void ClassifyAscii(std::string_view text, uint64_t* masks, char* folded) {
  const size_t size = text.size();
  const size_t chunks = (size + 63) / 64;
  uint64_t previous_same = 0;  // the last chunk's bytes equal to the byte before them
#if defined(__AVX2__)
  using Vector = __m256i;
  constexpr size_t kStep = 32;
  auto load = [](const char* at) { return _mm256_loadu_si256(reinterpret_cast<const Vector*>(at)); };
  auto splat = [](char c) { return _mm256_set1_epi8(c); };
  auto in_range = [&](Vector v, char low, char high) {  // low…high, both ASCII
    return _mm256_and_si256(_mm256_cmpgt_epi8(v, splat(static_cast<char>(low - 1))),
                            _mm256_cmpgt_epi8(splat(static_cast<char>(high + 1)), v));
  };
  auto bits = [](Vector v) { return static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(v))); };
  auto store = [](char* at, Vector v) { _mm256_storeu_si256(reinterpret_cast<Vector*>(at), v); };
  auto fold_case = [&](Vector v, Vector upper) { return _mm256_or_si256(v, _mm256_and_si256(upper, splat(0x20))); };
  auto either = [](Vector a, Vector b) { return _mm256_or_si256(a, b); };
  auto equal = [](Vector a, Vector b) { return _mm256_cmpeq_epi8(a, b); };
  // Each byte's predecessor: `v` one byte up, the first from the last byte of `before`.
  auto shift_in = [](Vector v, Vector before) {
    return _mm256_alignr_epi8(v, _mm256_permute2x128_si256(before, v, 0x21), 15);
  };
  Vector previous = _mm256_setzero_si256();  // the last step's folded bytes (zeros at the start)
#elif defined(__SSE2__)
  using Vector = __m128i;
  constexpr size_t kStep = 16;
  auto load = [](const char* at) { return _mm_loadu_si128(reinterpret_cast<const Vector*>(at)); };
  auto splat = [](char c) { return _mm_set1_epi8(c); };
  auto in_range = [&](Vector v, char low, char high) {
    return _mm_and_si128(_mm_cmpgt_epi8(v, splat(static_cast<char>(low - 1))),
                         _mm_cmpgt_epi8(splat(static_cast<char>(high + 1)), v));
  };
  auto bits = [](Vector v) { return static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(v))); };
  auto store = [](char* at, Vector v) { _mm_storeu_si128(reinterpret_cast<Vector*>(at), v); };
  auto fold_case = [&](Vector v, Vector upper) { return _mm_or_si128(v, _mm_and_si128(upper, splat(0x20))); };
  auto either = [](Vector a, Vector b) { return _mm_or_si128(a, b); };
  auto equal = [](Vector a, Vector b) { return _mm_cmpeq_epi8(a, b); };
  auto shift_in = [](Vector v, Vector before) {
    return _mm_or_si128(_mm_slli_si128(v, 1), _mm_srli_si128(before, 15));
  };
  Vector previous = _mm_setzero_si128();
#else
  unsigned char previous = 0;
#endif
  for (size_t chunk = 0; chunk < chunks; ++chunk) {
    const size_t begin = chunk * 64;
    uint64_t alnum = 0, upper = 0, lower = 0, same = 0;
#if defined(__AVX2__) || defined(__SSE2__)
    for (size_t part = 0; part < 64; part += kStep) {
      const size_t at = begin + part;
      Vector bytes;
      if (at + kStep <= size) {
        bytes = load(text.data() + at);
      } else {
        alignas(32) char tail[kStep] = {};  // past the text: zeros, which are no letters
        if (at < size) std::memcpy(tail, text.data() + at, size - at);
        bytes = load(tail);
      }
      const Vector is_upper = in_range(bytes, 'A', 'Z');
      const Vector is_lower = in_range(bytes, 'a', 'z');
      const Vector is_digit = in_range(bytes, '0', '9');
      const Vector lowered = fold_case(bytes, is_upper);
      store(folded + at, lowered);
      upper |= bits(is_upper) << part;
      lower |= bits(is_lower) << part;
      alnum |= bits(either(either(is_upper, is_lower), is_digit)) << part;
      same |= bits(equal(lowered, shift_in(lowered, previous))) << part;
      previous = lowered;
    }
#else
    for (size_t k = 0; k < 64; ++k) {
      const size_t at = begin + k;
      const auto byte = at < size ? static_cast<unsigned char>(text[at]) : 0;
      const bool is_upper = byte >= 'A' && byte <= 'Z';
      const bool is_lower = byte >= 'a' && byte <= 'z';
      const bool is_digit = byte >= '0' && byte <= '9';
      const auto lowered = static_cast<unsigned char>(is_upper ? byte + 0x20 : byte);
      folded[at] = static_cast<char>(lowered);
      same |= uint64_t{lowered == previous} << k;
      previous = lowered;
      upper |= uint64_t{is_upper} << k;
      lower |= uint64_t{is_lower} << k;
      alnum |= uint64_t{is_upper || is_lower || is_digit} << k;
    }
#endif
    uint64_t* chunk_masks = masks + kMaskCount * chunk;
    chunk_masks[kMaskAlnum] = alnum;
    chunk_masks[kMaskUpper] = upper;
    chunk_masks[kMaskLower] = lower;
    // A third equal byte: equal to the one before, which equals the one before it.
    chunk_masks[kMaskTriple] = same & ((same << 1) | (previous_same >> 63));
    previous_same = same;
  }
  std::fill(masks + kMaskCount * chunks, masks + kMaskCount * (chunks + 1), uint64_t{0});
}

// Emoji and pictographs (not variation selectors, joiners or skin tones).
bool IsEmoji(uint32_t cp) {
  if (cp == 0xFE0F || cp == 0x200D || (cp >= 0x1F3FB && cp <= 0x1F3FF)) return false;
  return (cp >= 0x1F000 && cp < 0x1FB00) || (cp >= 0x2190 && cp < 0x2C00) || cp == 0x3030 ||
         cp == 0x303D || cp == 0x3297 || cp == 0x3299;
}

}  // namespace

// ---- Lexicons --------------------------------------------------------------------------------

namespace {

// Adds a lexicon's `word<TAB>valence` lines to the table under `language` (kOther: emoji).
void AddLexicon(enrich_words::WordTable& table, std::string_view text, RuleLanguage language,
                uint32_t membership_flag) {
  size_t position = 0;
  while (position < text.size()) {
    size_t end = text.find('\n', position);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(position, end - position);
    position = end + 1;
    const size_t tab = line.find('\t');
    if (tab == std::string_view::npos || tab == 0) continue;
    WordInfo& info = table.Add(line.substr(0, tab));
    info.valence[static_cast<size_t>(language)] =
        std::strtof(std::string(line.substr(tab + 1)).c_str(), nullptr);
    info.flags |= membership_flag;
  }
}

}  // namespace

namespace {
constexpr std::string_view kEnglishLexicon =
#include "operators/enrichment/lexicon_en.inc"
    ;
constexpr std::string_view kNorwegianLexicon =
#include "operators/enrichment/lexicon_no.inc"
    ;
constexpr std::string_view kSpanishLexicon =
#include "operators/enrichment/lexicon_es.inc"
    ;
constexpr std::string_view kEmojiLexicon =
#include "operators/enrichment/lexicon_emoji.inc"
    ;
constexpr std::string_view kShippedModel =
#include "operators/enrichment/model_v1.inc"
    ;
}  // namespace

// ---- Cue databases ---------------------------------------------------------------------------

struct TextEnricher::CueDatabase {
  hs_database_t* database = nullptr;
  std::vector<cues::Cue> cue_of_id;
  ~CueDatabase() { hs_free_database(database); }
};

namespace {

Result<std::unique_ptr<TextEnricher::CueDatabase>> CompileCues(
    std::initializer_list<std::pair<const cues::CuePattern*, size_t>> lists) {
  auto compiled = std::make_unique<TextEnricher::CueDatabase>();
  std::vector<const char*> expressions;
  std::vector<unsigned> flags, ids;
  for (const auto& [patterns, count] : lists) {
    for (size_t i = 0; i < count; ++i) {
      ids.push_back(static_cast<unsigned>(expressions.size()));
      expressions.push_back(patterns[i].regex);
      flags.push_back(HS_FLAG_UTF8 | HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL);
      compiled->cue_of_id.push_back(patterns[i].cue);
    }
  }
  hs_compile_error_t* error = nullptr;
  if (hs_compile_multi(expressions.data(), flags.data(), ids.data(),
                       static_cast<unsigned>(expressions.size()), HS_MODE_BLOCK, nullptr,
                       &compiled->database, &error) != HS_SUCCESS) {
    std::string message = fmt::format("enrich: cue pattern {} does not compile: {}",
                                      error->expression, error->message);
    hs_free_compile_error(error);
    return Status::Internal(message);
  }
  return compiled;
}

}  // namespace

// ---- Scratch ---------------------------------------------------------------------------------

EnrichScratch::EnrichScratch()
    : tokens_(new std::vector<Token>()), clauses_(new std::vector<Clause>()) {
  normalized_.reserve(1024);
  tokens_->reserve(256);
  clauses_->reserve(32);
  cue_hits_.reserve(64);
  pending_words_.reserve(256);
  brand_repeats_.reserve(16);
  features_.hashes.reserve(512);
}

EnrichScratch::~EnrichScratch() {
  delete tokens_;
  delete clauses_;
  for (hs_scratch* scratch : hs_scratch_) hs_free_scratch(scratch);
}

// ---- TextEnricher ----------------------------------------------------------------------------

std::string_view SentimentClassName(SentimentClass sentiment) {
  switch (sentiment) {
    case SentimentClass::kNegative: return "negative";
    case SentimentClass::kNeutral: return "neutral";
    case SentimentClass::kPositive: return "positive";
    case SentimentClass::kNone: return "";
  }
  return "";
}

std::string_view TextEnricher::Cld2Version() { return CLD2::DetectLanguageVersion(); }

std::string_view TextEnricher::ShippedModel() { return kShippedModel; }

TextEnricher::~TextEnricher() = default;

Result<std::unique_ptr<TextEnricher>> TextEnricher::Make(EnrichOptions options,
                                                         std::string_view model_text) {
  // Without the full tables (libcld2_full linked before libcld2) nynorsk is never detected.
  const std::string_view version = Cld2Version();
  if (version.find("20140204") == std::string_view::npos) {
    return Status::Internal(fmt::format(
        "enrich: CLD2 runs with its small tables ({}); link -lcld2_full before -lcld2", version));
  }
  std::unique_ptr<TextEnricher> enricher(new TextEnricher());
  enricher->options_ = options;
  enricher->words_ = std::make_unique<enrich_words::WordTable>();
  enrich_words::WordTable& words = *enricher->words_;
  AddLexicon(words, kEnglishLexicon, RuleLanguage::kEnglish, enrich_words::kInEnglishLexicon);
  AddLexicon(words, kNorwegianLexicon, RuleLanguage::kNorwegian, enrich_words::kInNorwegianLexicon);
  AddLexicon(words, kSpanishLexicon, RuleLanguage::kSpanish, enrich_words::kInSpanishLexicon);
  for (const FlaggedList& list : kFlaggedLists) {
    for (std::string_view word : list.words) {
      words.Add(word).flags |=
          enrich_words::ForLanguage(list.flag, static_cast<uint8_t>(list.language));
    }
  }
  for (const NynorskPair& pair : kNynorskPairs) {
    words.Add(pair.nynorsk).flags |= enrich_words::kNynorsk;
    words.Add(pair.bokmal).flags |= enrich_words::kBokmal;
  }
  words.ForEach([](WordInfo& info) {
    // A post in no language with rules: the first lexicon that knows the word.
    info.valence[0] = (info.flags & enrich_words::kInEnglishLexicon)     ? info.valence[1]
                      : (info.flags & enrich_words::kInNorwegianLexicon) ? info.valence[2]
                                                                         : info.valence[3];
  });
  if (!words.Seal()) {
    return Status::Internal(fmt::format("enrich: more than {} distinct words in the lexicons",
                                        enrich_words::WordTable::kMaxEntries));
  }
  enricher->emoji_ = std::make_unique<enrich_words::WordTable>();
  AddLexicon(*enricher->emoji_, kEmojiLexicon, RuleLanguage::kOther, 0);
  if (!enricher->emoji_->Seal()) return Status::Internal("enrich: too many emoji");
  using List = std::pair<const cues::CuePattern*, size_t>;
  const List english{cues::kEnglish, std::size(cues::kEnglish)};
  const List norwegian{cues::kNorwegian, std::size(cues::kNorwegian)};
  const List spanish{cues::kSpanish, std::size(cues::kSpanish)};
  for (auto lists : {std::initializer_list<List>{english}, std::initializer_list<List>{norwegian},
                     std::initializer_list<List>{spanish}}) {
    auto compiled = CompileCues(lists);
    if (!compiled.ok()) return compiled.status();
    enricher->cues_.push_back(std::move(compiled).value());
  }
  if (options.use_model) {
    auto model = enrich_model::Model::Parse(model_text.empty() ? kShippedModel : model_text);
    if (!model.ok()) return model.status();
    enricher->model_ = std::make_unique<enrich_model::Model>(std::move(model).value());
  }
  return enricher;
}

Status TextEnricher::Prepare(EnrichScratch& scratch) const {
  for (hs_scratch* allocated : scratch.hs_scratch_) hs_free_scratch(allocated);
  scratch.hs_scratch_.assign(cues_.size(), nullptr);
  for (size_t i = 0; i < cues_.size(); ++i) {
    if (hs_alloc_scratch(cues_[i]->database, &scratch.hs_scratch_[i]) != HS_SUCCESS) {
      return Status::Internal("enrich: cannot allocate a Hyperscan scratch");
    }
  }
  return Status::Ok();
}

// ---- Language --------------------------------------------------------------------------------

namespace {

bool IsAsciiLetters(std::string_view code) {
  if (code.size() < 2 || code.size() > 3) return false;
  for (char c : code) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
  }
  return true;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool EqualsCaseless(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// The language codes enrichment reports: static strings, so a post field can view them.
std::string_view StaticCode(std::string_view code) {
  static constexpr std::string_view kKnown[] = {
      "en", "no", "es", "da", "sv", "de", "fr", "it", "pt", "nl", "fi", "is", "pl", "ru", "ja",
      "zh", "ko", "ar", "tr", "ca", "gl", "eu", "et", "lv", "lt", "cs", "sk", "hu", "ro", "el",
      "uk", "he", "hi", "id", "ms", "tl", "vi", "th", "fa", "ur", "bg", "hr", "sr", "sl", "ga",
      "cy", "af", "sw", "fo"};
  for (std::string_view known : kKnown) {
    if (EqualsCaseless(known, code)) return known;
  }
  return "und";
}

RuleLanguage RuleLanguageOf(std::string_view code) {
  if (code == "en") return RuleLanguage::kEnglish;
  // Danish and Swedish detections of short Scandinavian posts are mostly Norwegian here, and
  // their sentiment words are close enough for the Norwegian rules.
  if (code == "no" || code == "da" || code == "sv") return RuleLanguage::kNorwegian;
  if (code == "es" || code == "ca" || code == "gl") return RuleLanguage::kSpanish;
  return RuleLanguage::kOther;
}

}  // namespace

void TextEnricher::DetectLanguage(std::string_view text, std::string_view payload_language,
                                  EnrichScratch& scratch, TextEnrichment& out) const {
  out.language = "und";
  out.variant = {};
  // The common tags, trusted, in short (the same result as below).
  if (options_.trust_payload_language && payload_language.size() == 2) {
    for (std::string_view code : {std::string_view("en"), std::string_view("es"), std::string_view("no")}) {
      if (payload_language == code) {
        out.language = code;
        return;
      }
    }
  }
  // The payload tag's primary subtag: "en-US" → "en", "nb" → "no" with variant "nb".
  std::string_view primary = payload_language.substr(0, payload_language.find_first_of("-_"));
  std::string_view payload_variant;
  if (EqualsCaseless(primary, "nb")) payload_variant = "nb";
  if (EqualsCaseless(primary, "nn")) payload_variant = "nn";
  if (!payload_variant.empty()) primary = "no";
  const std::string_view payload_code =
      IsAsciiLetters(primary) ? StaticCode(primary) : std::string_view("und");

  CLD2::Language hint = CLD2::UNKNOWN_LANGUAGE;
  if (payload_code == "en") hint = CLD2::ENGLISH;
  if (payload_code == "no") hint = payload_variant == "nn" ? CLD2::NORWEGIAN_N : CLD2::NORWEGIAN;
  if (payload_code == "es") hint = CLD2::SPANISH;
  if (payload_code == "da") hint = CLD2::DANISH;
  if (payload_code == "sv") hint = CLD2::SWEDISH;

  const bool trust_payload = options_.trust_payload_language && payload_code != "und";
  if (trust_payload) {
    // A plain `no` leaves the variant to the word vote after tokenising (Enrich).
    out.language = payload_code;
    out.variant = payload_variant;
    return;
  }
  if (text.empty()) return;
  // @handles, #tags and links are names, not language: CLD2 reads "@Movistar llevo 6 horas sin
  // internet" as English with them.
  std::string& plain = scratch.plain_;
  plain.clear();
  for (size_t i = 0; i < text.size();) {
    const bool word_start = i == 0 || text[i - 1] == ' ' || text[i - 1] == '\n';
    if (word_start && (text[i] == '@' || text[i] == '#' || text.substr(i, 4) == "http")) {
      while (i < text.size() && text[i] != ' ' && text[i] != '\n') ++i;
      continue;
    }
    plain.push_back(text[i]);
    ++i;
  }
  // CLD2 allocates ≈170 KB per call; above glibc's default mmap threshold every call would map
  // and unmap it (24–70 µs). Serving it from the heap, and not trimming it back, costs ≈2.5 µs.
  // Only once CLD2 is really needed: process-wide, every free of a heap chunk ≥ 64 KB then
  // consolidates malloc's fastbins, which cost a pipeline of tagged posts (which never call
  // CLD2) more than all of enrichment (bench/RESULTS.md, Enrichment).
  static std::once_flag malloc_tuned;
  std::call_once(malloc_tuned, [] {
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
  });
  CLD2::Language top3[3];
  int percent3[3];
  int text_bytes = 0;
  bool reliable = false;
  const CLD2::Language detected = CLD2::DetectLanguageSummary(
      plain.data(), static_cast<int>(plain.size()), true, "", CLD2::UNKNOWN_ENCODING, hint, top3,
      percent3, &text_bytes, &reliable);
  // Too little text (a few letters between emoji and links) or no confident guess: unsure.
  if (detected == CLD2::UNKNOWN_LANGUAGE || text_bytes < 6 || (!reliable && percent3[0] < 50)) {
    return;
  }
  switch (detected) {
    case CLD2::ENGLISH: out.language = "en"; break;
    case CLD2::NORWEGIAN: out.language = "no"; out.variant = "nb"; break;
    case CLD2::NORWEGIAN_N: out.language = "no"; out.variant = "nn"; break;
    case CLD2::SPANISH: out.language = "es"; break;
    default: out.language = StaticCode(CLD2::LanguageCode(detected)); break;
  }
}

// ---- Tokens ----------------------------------------------------------------------------------

// When CLD2 is unsure (short posts, names, emoji): the rules whose words the post uses most.
RuleLanguage TextEnricher::VoteLanguage(const EnrichScratch& scratch) const {
  int english = 0, norwegian = 0, spanish = 0;
  for (const Token& token : *scratch.tokens_) {
    if (token.kind != kWord) continue;
    const uint32_t flags = token.info->flags;
    english += ((flags & enrich_words::kVoteEnglish) != 0) * 2 +
               ((flags & enrich_words::kInEnglishLexicon) != 0);
    norwegian += ((flags & enrich_words::kVoteNorwegian) != 0) * 2 +
                 ((flags & enrich_words::kInNorwegianLexicon) != 0);
    spanish += ((flags & enrich_words::kVoteSpanish) != 0) * 2 +
               ((flags & enrich_words::kInSpanishLexicon) != 0);
  }
  if (english == 0 && norwegian == 0 && spanish == 0) return RuleLanguage::kOther;
  if (english >= norwegian && english >= spanish) return RuleLanguage::kEnglish;
  return norwegian >= spanish ? RuleLanguage::kNorwegian : RuleLanguage::kSpanish;
}

// Bokmål or nynorsk, for a post tagged plain `no`: the standard more of its distinctive word
// forms belong to; bokmål (nine in ten Norwegian writers) when they tie.
std::string_view TextEnricher::VoteNorwegianVariant(const EnrichScratch& scratch) const {
  int nynorsk = 0, bokmal = 0;
  for (const Token& token : *scratch.tokens_) {
    if (token.kind != kWord) continue;
    nynorsk += (token.info->flags & enrich_words::kNynorsk) != 0;
    bokmal += (token.info->flags & enrich_words::kBokmal) != 0;
    // Adjectives in -leg/-lege are nynorsk ("dårleg", "hyggelege"), in -lig/-lige bokmål.
    const std::string_view word(scratch.normalized_.data() + token.norm_begin, token.norm_length);
    if (word.size() > 5) {
      nynorsk += word.ends_with("leg") || word.ends_with("lege");
      bokmal += word.ends_with("lig") || word.ends_with("lige");
    }
  }
  return nynorsk > bokmal ? std::string_view("nn") : bokmal > nynorsk ? std::string_view("nb") : std::string_view();
}

void TextEnricher::Tokenize(std::string_view text, RuleLanguage language,
                            EnrichScratch& scratch) const {
  std::string& normalized = scratch.normalized_;
  std::vector<Token>& tokens = *scratch.tokens_;
  tokens.clear();
  std::vector<std::pair<uint32_t, uint64_t>>& pending = scratch.pending_words_;
  pending.clear();
  // Written through a pointer into a buffer sized once: no input byte makes more than two bytes
  // of normalised text (a one-letter word and its space, a mark and its space), plus the
  // leading space. The string keeps its capacity, so a warm call does not allocate.
  // + 32: HashPadded reads whole 8-byte chunks, and a plain word is copied 16 bytes a step.
  normalized.resize(2 * text.size() + 2 + 32);
  char* const base = normalized.data();
  const size_t chunks = (text.size() + 63) / 64;
  if (scratch.ascii_masks_.size() < kMaskCount * (chunks + 1)) {
    scratch.ascii_masks_.resize(kMaskCount * (chunks + 1));
  }
  if (scratch.folded_.size() < 64 * chunks + 16) scratch.folded_.resize(64 * chunks + 16);
  const uint64_t* const masks = scratch.ascii_masks_.data();
  const char* const folded = scratch.folded_.data();
  ClassifyAscii(text, scratch.ascii_masks_.data(), scratch.folded_.data());
  uint32_t word_count = 0, caps_words = 0;
  // The flags of the words looked up (in any order: the elongated ones while tokenising).
  uint32_t seen_flags = 0;
  size_t* const first_contrast = scratch.first_contrast_;
  std::fill(first_contrast, first_contrast + 4, SIZE_MAX);
  constexpr uint32_t kAnyContrast = enrich_words::kContrast * 0xFu;  // bits of the 4 languages
  auto note_flags = [&seen_flags, first_contrast](size_t index, uint32_t flags) {
    seen_flags |= flags;
    if ((flags & kAnyContrast) == 0) return;
    for (uint8_t language = 0; language < 4; ++language) {
      if ((flags & enrich_words::ForLanguage(enrich_words::kContrast, language)) != 0) {
        first_contrast[language] = std::min(first_contrast[language], index);
      }
    }
  };
  char* out = base;
  *out++ = ' ';
  auto offset = [&] { return static_cast<uint32_t>(out - base); };

  // Stores a token field by field into the vector. `tokens.push_back(token)` had the compiler
  // assemble the token on the stack with narrow stores and copy it with one 32-byte load, which
  // waits for those stores (a failed store forwarding, the most expensive spot of Tokenize).
  auto store = [&tokens](const Token& token) {
    Token& stored = tokens.emplace_back();
    stored.norm_begin = token.norm_begin;
    stored.norm_length = token.norm_length;
    stored.text_begin = token.text_begin;
    stored.clause = token.clause;
    stored.kind = token.kind;
    stored.caps = token.caps;
    stored.elongated = token.elongated;
    stored.valence = token.valence;
    stored.info = token.info;
  };
  auto add_punct = [&](char mark, uint32_t text_begin) {
    Token token;
    token.kind = kPunct;
    token.norm_begin = offset();
    token.norm_length = 1;
    token.text_begin = text_begin;
    *out++ = mark;
    *out++ = ' ';
    store(token);
  };
  auto next = [&](size_t at, size_t& length) -> uint32_t {
    const auto byte = static_cast<unsigned char>(text[at]);
    if (byte < 0x80) {
      length = 1;
      return byte;
    }
    return Decode(text, at, length);
  };

  size_t i = 0;
  while (i < text.size()) {
    // A space is dropped (below) and starts nothing: the most common byte, skipped first.
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    // Links are addresses, not the writer's words ("http://url_removed", ".../lost-and-found").
    if ((text[i] == 'h' || text[i] == 'w') &&
        (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\n' || text[i - 1] == '(') &&
        (text.substr(i, 7) == "http://" || text.substr(i, 8) == "https://" ||
         text.substr(i, 4) == "www.")) {
      while (i < text.size() && text[i] != ' ' && text[i] != '\n') ++i;
      continue;
    }
    size_t length = 1;
    const uint32_t cp = next(i, length);
    // Emoticons stand alone between spaces.
    if ((i == 0 || text[i - 1] == ' ') && (cp == ':' || cp == ';' || cp == '<' || cp == 'x' ||
                                            cp == 'X' || cp == '=')) {
      bool found = false;
      for (size_t e = 0; e < std::size(kEmoticons); ++e) {
        const std::string_view emoticon = kEmoticons[e];
        if (text.substr(i, emoticon.size()) == emoticon &&
            (i + emoticon.size() == text.size() || text[i + emoticon.size()] == ' ')) {
          Token token;
          token.kind = kEmoji;
          token.text_begin = static_cast<uint32_t>(i);
          token.norm_begin = offset();
          token.norm_length = 2;  // patterns see every emoticon alike
          token.valence = kEmoticonValence[e];
          std::memcpy(out, ":) ", 3);
          out += 3;
          store(token);
          i += emoticon.size();
          found = true;
          break;
        }
      }
      if (found) continue;
    }
    if (cp < 0x80 && (kAsciiClasses[cp] & kAsciiLetter)) {
      // A plain ASCII word: letters and digits up to a byte that cannot continue a word (not
      // an apostrophe, '&' or a non-ASCII byte), not elongated. Its length, cases and
      // elongation come from the masks and its bytes from `folded`: the same token as the
      // per-byte loop below, which takes every other word.
      bool taken = false;
      for (;;) {
        const size_t chunk = kMaskCount * (i >> 6);
        const unsigned shift = i & 63;
        auto window = [&](AsciiMask kind) {  // the mask's 64 bits from byte i on
          const uint64_t low = masks[chunk + kind] >> shift;
          return shift == 0 ? low : low | (masks[chunk + kMaskCount + kind] << (64 - shift));
        };
        const auto length = static_cast<unsigned>(std::countr_one(window(kMaskAlnum)));
        const size_t end = i + length;
        const auto stop = end < text.size() ? static_cast<unsigned char>(text[end]) : 0;
        const uint64_t in_word = length < 64 ? (uint64_t{1} << length) - 1 : 0;
        if (!(length < 64 && stop != '\'' && stop != '&' && stop < 0x80 &&
              (window(kMaskTriple) & in_word & ~uint64_t{3}) == 0)) {
          break;
        }
        const int upper = std::popcount(window(kMaskUpper) & in_word);
        const int lower = std::popcount(window(kMaskLower) & in_word);
        const bool caps = upper >= 2 && lower == 0;
        ++word_count;
        caps_words += caps;
        char* const write = out;
        for (unsigned k = 0; k < length; k += 16) std::memcpy(write + k, folded + i + k, 16);
        const uint64_t hash = enrich_words::WordTable::HashPadded(write, length);
        words_->PrefetchSlot(hash);
        pending.emplace_back(static_cast<uint32_t>(tokens.size()), hash);
        // Written in place (the fields a word token has; the rest keep their defaults).
        Token& token = tokens.emplace_back();
        token.kind = kWord;
        token.text_begin = static_cast<uint32_t>(i);
        token.norm_begin = static_cast<uint32_t>(write - base);
        token.norm_length = length;
        token.caps = caps;
        out = write + length;
        *out++ = ' ';
        i = end;
        taken = true;
        // The next word after one space, unless a link or an emoticon can start with its
        // letter, is tried here (the loop above would check the space, links, emoticons and
        // its class again). When it is not plain, the loop above takes it from its start.
        if (stop != ' ' || end + 1 >= text.size()) break;
        const auto next_byte = static_cast<unsigned char>(text[end + 1]);
        if (next_byte >= 0x80 || !(kAsciiClasses[next_byte] & kAsciiLetter) || next_byte == 'h' ||
            next_byte == 'w' || next_byte == 'x' || next_byte == 'X') {
          break;
        }
        i = end + 1;
      }
      if (taken) continue;
    }
    if (IsLetter(cp) || cp == '@' || cp == '#' || cp == '$') {
      // A word: letters, digits, inner apostrophes and '&' (AT&T); '-' splits.
      Token token;
      token.kind = kWord;
      token.text_begin = static_cast<uint32_t>(i);
      token.norm_begin = offset();
      int letters = 0, upper = 0, lower = 0;
      uint32_t previous = 0;
      int run = 0;
      uint64_t ascii_cases = 0;  // ASCII upper-case letters in the low 32 bits, lower-case above
      bool elongated = false;
      // The word is written through a local pointer: `out` is shared with the lambdas above,
      // which keeps it in memory, and a load and store of it per byte chained the loop.
      char* write = out;
      const size_t size = text.size();
      size_t j = i;
      while (j < size) {
        const auto byte = static_cast<unsigned char>(text[j]);
        if (byte < 0x80) {
          // ASCII: the same decisions as below, from one table load.
          const uint8_t classes = kAsciiClasses[byte];
          const uint32_t c = byte;
          if (!(classes & kAsciiLetter)) {
            const bool inner = (c == '\'' || c == '&') && j + 1 < size && j > i;
            if (!((j == i && (c == '@' || c == '#' || c == '$')) || inner)) break;
          }
          // An ASCII letter is upper or lower case: one add counts either.
          ascii_cases += kAsciiCaseCount[byte];
          const uint32_t folded = (classes & kAsciiUpper) ? c + 0x20 : c;
          run = folded == previous ? run + 1 : 1;
          previous = folded;
          // Written always, kept only while the run is at most 2 long: no branch per byte (the
          // buffer has room for it).
          *write = static_cast<char>(folded);
          write += run <= 2;
          elongated |= run == 3;
          ++j;
          continue;
        }
        size_t l = 1;
        uint32_t c = Decode(text, j, l);
        if (c == 0x2019) c = '\'';
        const bool inner = (c == '\'' || c == '&') && j + l < size && j > i;
        const bool letter = IsLetter(c);
        if (!(letter || (j == i && (c == '@' || c == '#' || c == '$')) || inner)) break;
        if (letter && c > '9') {
          ++letters;
          if (IsUpper(c)) ++upper;
          if (IsLower(c)) ++lower;
        }
        const uint32_t folded = ToLower(c);
        run = folded == previous ? run + 1 : 1;
        previous = folded;
        if (run <= 2) write = EncodeTo(folded, write);
        elongated |= run == 3;
        j += l;
      }
      out = write;
      token.elongated = elongated;
      token.norm_length = offset() - token.norm_begin;
      upper += static_cast<int>(ascii_cases & 0xFFFFFFFF);
      lower += static_cast<int>(ascii_cases >> 32);
      letters += static_cast<int>((ascii_cases & 0xFFFFFFFF) + (ascii_cases >> 32));
      token.caps = letters >= 2 && upper == letters && lower == 0;
      ++word_count;
      caps_words += token.caps;
      std::string_view kept(base + token.norm_begin, token.norm_length);
      // The buffer is padded past any word's end (HashPadded reads whole 8-byte chunks).
      const uint64_t hash = enrich_words::WordTable::HashPadded(kept.data(), kept.size());
      if (!token.elongated) {
        // Looked up after the post (below), once its slot and entry are on their way.
        words_->PrefetchSlot(hash);
        pending.emplace_back(static_cast<uint32_t>(tokens.size()), hash);
        *out++ = ' ';
        store(token);
        i = j;
        continue;
      }
      const WordInfo* info = &words_->Find(kept, hash);
      {
        // "soooo" was kept as "soo": the lexicon may know it with one letter ("so", "lento").
        if (!(info->flags & enrich_words::kInAnyLexicon)) {
          // In place: the collapsed word is never longer than the kept one.
          char* const begin = base + token.norm_begin;
          size_t write = 0;
          size_t last_begin = 0, last_length = 0;
          for (size_t k = 0; k < kept.size();) {
            size_t l = 1;
            Decode(kept, k, l);
            const bool repeat =
                last_length == l && std::memcmp(begin + last_begin, kept.data() + k, l) == 0;
            if (!repeat) {
              std::memmove(begin + write, kept.data() + k, l);
              last_begin = write;
              last_length = l;
              write += l;
            }
            k += l;
          }
          out = begin + write;
          token.norm_length = static_cast<uint32_t>(write);
          // Hashed in the padded buffer: Find(word) would copy a word of over 64 bytes.
          info = &words_->Find(std::string_view(base + token.norm_begin, token.norm_length),
                               enrich_words::WordTable::HashPadded(base + token.norm_begin,
                                                                   token.norm_length));
        }
      }
      token.info = info;
      note_flags(tokens.size(), info->flags);
      *out++ = ' ';
      store(token);
      i = j;
      continue;
    }
    if (IsEmoji(cp)) {
      Token token;
      token.kind = kEmoji;
      token.text_begin = static_cast<uint32_t>(i);
      token.norm_begin = offset();
      std::memcpy(out, text.data() + i, length);
      out += length;
      token.norm_length = static_cast<uint32_t>(length);
      token.valence = emoji_->Find(text.substr(i, length)).valence[0];
      *out++ = ' ';
      store(token);
      i += length;
      continue;
    }
    // One call of add_punct (one call site: the compiler inlines it; from seven it did not).
    char mark = 0;
    switch (cp) {
      case '?': case 0xBF: mark = '?'; break;
      case '!': case 0xA1: mark = '!'; break;
      case '.': case 0x2026: mark = '.'; break;
      case ',': mark = ','; break;
      case ';': case ':': mark = ';'; break;
      case '\n': mark = '.'; break;
      case '"': case 0x201C: case 0x201D: case '*': mark = '"'; break;
      default: break;  // spaces, other symbols, U+FFFD: dropped
    }
    if (mark != 0) add_punct(mark, static_cast<uint32_t>(i));
    i += length;
  }
  normalized.resize(offset());
  scratch.word_count_ = word_count;
  scratch.caps_words_ = caps_words;
  for (const auto& [index, hash] : pending) words_->PrefetchEntry(hash);
  for (const auto& [index, hash] : pending) {
    Token& token = tokens[index];
    token.info = &words_->Find(std::string_view(base + token.norm_begin, token.norm_length), hash);
    note_flags(index, token.info->flags);
  }
  scratch.short_time_ = (seen_flags & enrich_words::kShortTime) != 0;
  (void)language;
}

void TextEnricher::ScanCues(RuleLanguage language, EnrichScratch& scratch) const {
  scratch.cue_hits_.clear();
  // One database per language; a post in no known language gets the English cues.
  const size_t database_index =
      language == RuleLanguage::kOther ? 0 : static_cast<size_t>(language) - 1;
  const CueDatabase& database = *cues_[database_index];
  struct Context {
    const CueDatabase* database;
    const std::vector<Token>* tokens;
    std::vector<uint32_t>* hits;
  } context{&database, scratch.tokens_, &scratch.cue_hits_};
  auto on_match = [](unsigned int id, unsigned long long, unsigned long long to, unsigned int,
                     void* data) -> int {
    auto* context = static_cast<Context*>(data);
    // The token the match ends in (or the last one before `to`).
    const auto& tokens = *context->tokens;
    auto after = std::upper_bound(tokens.begin(), tokens.end(), static_cast<uint32_t>(to),
                                  [](uint32_t offset, const Token& token) {
                                    return offset <= token.norm_begin;
                                  });
    const uint32_t token_index =
        after == tokens.begin() ? 0 : static_cast<uint32_t>(after - tokens.begin() - 1);
    context->hits->push_back((static_cast<uint32_t>(context->database->cue_of_id[id]) << 24) |
                             token_index);
    return 0;
  };
  hs_scan(database.database, scratch.normalized_.data(),
          static_cast<unsigned>(scratch.normalized_.size()), 0, scratch.hs_scratch_[database_index],
          on_match, &context);
}

namespace {

// The valence of word token `t` whose lexicon valence (in `language`) is `valence` != 0, by
// VADER's rules: capitals among lower case (`shouting_differs`), elongation, boosters and
// negation within three words before, and for Norwegian a negation up to two words after.
double ScoreWord(const std::vector<Token>& tokens, size_t t, double valence, RuleLanguage language,
                 bool shouting_differs) {
  const Token& token = tokens[t];
  const double sign = valence > 0 ? 1 : -1;
  if (token.caps && shouting_differs) valence += sign * 0.733;
  if (token.elongated) valence += sign * 0.293;
  bool negated = false;
  for (size_t back = 1; back <= 3 && back <= t; ++back) {
    const Token& before = tokens[t - back];
    if (before.kind == kPunct) break;
    if (before.kind != kWord) continue;
    if (Has(before.info, enrich_words::kBooster, language)) {
      valence += sign * 0.293 * (1.0 - 0.05 * (back - 1));
    }
    // "can't believe how good" praises.
    if (Has(before.info, enrich_words::kNegator, language) &&
        !(back >= 2 && Has(tokens[t - back + 1].info, enrich_words::kBelieve))) {
      negated = true;
    }
  }
  // Norwegian puts the negation after the verb: "liker ikke", "er det ikkje".
  if (language == RuleLanguage::kNorwegian) {
    for (size_t ahead = 1; ahead <= 2 && t + ahead < tokens.size(); ++ahead) {
      const Token& after = tokens[t + ahead];
      if (after.kind != kWord) break;
      if (Has(after.info, enrich_words::kNegator, language)) negated = true;
    }
  }
  if (negated) valence *= -0.74;
  return valence;
}

}  // namespace

namespace {

double Compound(double sum) { return sum / std::sqrt(sum * sum + 15.0); }

}  // namespace

void TextEnricher::Enrich(std::string_view text, std::string_view payload_language,
                          const std::vector<BrandSpan>& brands, EnrichScratch& scratch,
                          TextEnrichment& out) const {
  DetectLanguage(text, payload_language, scratch, out);
  RuleLanguage language = RuleLanguageOf(out.language);
  Tokenize(text, language, scratch);
  if (language == RuleLanguage::kOther) language = VoteLanguage(scratch);
  const std::string_view primary = payload_language.substr(0, payload_language.find_first_of("-_"));
  const bool tagged_variant = EqualsCaseless(primary, "nb") || EqualsCaseless(primary, "nn");
  if (out.language == "no" && !tagged_variant) {
    // Bokmål or nynorsk: the distinctive word forms when they tell (better than CLD2, which
    // also is not asked for a tagged post), else CLD2's variant, else bokmål.
    const std::string_view voted = VoteNorwegianVariant(scratch);
    if (!voted.empty()) out.variant = voted;
    else if (out.variant.empty()) out.variant = "nb";
  }
  ScanCues(language, scratch);

  std::vector<Token>& tokens = *scratch.tokens_;
  std::vector<Clause>& clauses = *scratch.clauses_;
  auto word = [&](const Token& token) {
    return std::string_view(scratch.normalized_.data() + token.norm_begin, token.norm_length);
  };

  // A duration is a complaint cue ("waited 3 hours"), except a few minutes after "in": "fixed it
  // in 20 min" praises the speed. Only a post with a short time ("min", "day") can have one.
  const bool short_time = scratch.short_time_;
  auto within_minutes = [&](size_t t) {
    return t >= 2 && t < tokens.size() && Has(tokens[t].info, enrich_words::kShortTime) &&
           tokens[t - 1].kind == kWord && Has(tokens[t - 2].info, enrich_words::kWithin);
  };
  if (short_time) {
    std::erase_if(scratch.cue_hits_, [&](uint32_t hit) {
      const size_t at = hit & 0xFFFFFF;
      return (hit >> 24) == cues::kComplaint &&
             (within_minutes(at) || (at >= 1 && within_minutes(at - 1)));
    });
  }
  // Cues: intents, and what they say about sentiment.
  uint32_t cue_mask = 0;
  for (uint32_t hit : scratch.cue_hits_) cue_mask |= 1u << (hit >> 24);
  // "Great, another outage", "Thanks for losing my bag": the praise words mean the opposite.
  const bool sarcastic = (cue_mask & (1u << cues::kSarcasm)) != 0;

  // Brand names are not feelings ("United", "Ice", "Orange"): their tokens are marked. Then one
  // pass over the tokens (there were six, ScoreTokens' two among them; each step as before, in
  // the same order per token, so the sums are the same): a word's valence by VADER's rules
  // (ScoreWord); the clauses are split at sentence marks, commas, ';' and contrast words;
  // brand names and words someone else said ("we value your loyalty") lose their valence;
  // sarcasm turns the praise words round; the whole-post sum: before a contrast word counts
  // half, after it one and a half.
  const char* const normalized = scratch.normalized_.data();
  const size_t contrast_token = scratch.first_contrast_[static_cast<size_t>(language)];
  // Counted by Tokenize.
  const bool shouting_differs = scratch.caps_words_ > 0 && scratch.caps_words_ < scratch.word_count_;
  const uint32_t splits_flags =
      enrich_words::ForLanguage(enrich_words::kContrast, static_cast<uint8_t>(language)) |
      enrich_words::kClauseBreak;
  const uint32_t negator_flag =
      enrich_words::ForLanguage(enrich_words::kNegator, static_cast<uint8_t>(language));
  // Brand names first: tokens are in text order, so each brand's are found by a binary search.
  for (const BrandSpan& brand : brands) {
    auto at = std::lower_bound(tokens.begin(), tokens.end(), brand.begin,
                               [](const Token& token, uint32_t offset) { return token.text_begin < offset; });
    for (; at != tokens.end() && at->text_begin < brand.end; ++at) at->brand = true;
  }
  clauses.assign(1, Clause{});
  bool quoted = false;
  double sum = 0;
  int signals = 0;
  int exclamations = 0, questions = 0;
  double positive_words = 0, negative_words = 0, emoji_sum = 0;
  bool negation = false, shouting = false, has_words = false;
  uint16_t clause = 0;         // the current clause (truncated as Token::clause is)
  bool may_split = false;      // a split needs a token before it that is no mark
  for (size_t t = 0; t < tokens.size(); ++t) {
    Token& token = tokens[t];
    if (token.kind == kPunct) {
      // Marks have no valence: they split, count and open or close quotes.
      const char mark = normalized[token.norm_begin];
      if (mark != '"' && may_split) {
        clauses.push_back(Clause{});
        ++clause;
      }
      token.clause = clause;
      may_split = false;
      if (mark == '"') quoted = !quoted;
      if (mark == '!') ++exclamations;
      if (mark == '?') ++questions;
      continue;
    }
    if (token.kind == kWord) {
      // The word's own valence (VADER's rules), then what the post around it makes of it.
      const double lexicon = token.info->valence[static_cast<size_t>(language)];
      if (lexicon != 0) {
        token.valence = static_cast<float>(ScoreWord(tokens, t, lexicon, language, shouting_differs));
      }
      const uint32_t flags = token.info->flags;
      if ((flags & splits_flags) != 0 && may_split) {
        clauses.push_back(Clause{});
        ++clause;
      }
      has_words = true;
      if ((flags & negator_flag) != 0) {
        clauses[clause].negated = true;
        negation = true;
      }
      shouting = shouting || token.caps;
    }
    token.clause = clause;
    may_split = true;
    if (token.brand || quoted) token.valence = 0;
    if (sarcastic && token.valence > 0) token.valence *= -0.5f;
    if (token.valence == 0) continue;
    if (token.kind == kEmoji) emoji_sum += token.valence;
    else if (token.valence > 0) positive_words += token.valence;
    else negative_words -= token.valence;
    double valence = token.valence;
    if (contrast_token != SIZE_MAX) valence *= t < contrast_token ? 0.5 : 1.5;
    sum += valence;
    ++signals;
    clauses[clause].score += token.valence;
    clauses[clause].words += token.valence;
    clauses[clause].signal = true;
  }

  const double lexicon_sum = sum;
  constexpr double kLexiconSays = 1.0, kCueLean = 0.3;
  int complaint_cues = 0;
  for (uint32_t hit : scratch.cue_hits_) {
    if (!options_.intents_feed_sentiment) break;
    const auto cue = static_cast<cues::Cue>(hit >> 24);
    const uint32_t token_index = hit & 0xFFFFFF;
    double weight = 0;
    double clause_weight = 0;  // towards the brands of the cue's clause
    const size_t clause_index = token_index < tokens.size() ? tokens[token_index].clause : 0;
    if (cue == cues::kComplaint) {
      // Complaints are negative without a sentiment word ("waited two weeks for the parcel");
      // where the words already say how the writer feels, a cue only leans. For the clause,
      // only its own words count: "Foodora kom aldri, Wolt leverte raskt" is a complaint
      // about Foodora whatever the post says about Wolt.
      weight = complaint_cues == 0 ? -2.2 : complaint_cues == 1 ? -1.2 : 0;
      clause_weight = weight;
      if (lexicon_sum > kLexiconSays) weight *= kCueLean;
      if (clauses[clause_index].words > kLexiconSays) clause_weight *= kCueLean;
      ++complaint_cues;
    }
    if (cue == cues::kSarcasm) weight = -3.0;
    if (cue == cues::kChurn) weight = -1.2;
    if (cue == cues::kPraise) weight = 1.2;
    if (cue != cues::kComplaint) clause_weight = weight;
    if (weight != 0 || clause_weight != 0) {
      sum += weight;
      if (weight != 0) ++signals;
      if (token_index < tokens.size()) {
        Clause& clause = clauses[clause_index];
        clause.score += clause_weight;
        clause.signal = true;
      }
    }
  }
  if (exclamations > 0 && sum != 0) sum += (sum > 0 ? 1 : -1) * 0.292 * std::min(exclamations, 4);
  // Speed praises the brand of its clause ("Glovo perdió mi pedido, Uber Eats me lo trajo en 20
  // minutos"); only the clause: as a post, "arrived in 20 min" is mostly a plain fact.
  for (size_t t = 2; t < tokens.size() && short_time; ++t) {
    if (!within_minutes(t)) continue;
    clauses[tokens[t].clause].score += 1.2;
    clauses[tokens[t].clause].signal = true;
  }
  // A question or a request for help without complaint or praise asks more than it feels.
  const uint32_t feeling_cues =
      (1u << cues::kComplaint) | (1u << cues::kSarcasm) | (1u << cues::kPraise);
  if ((questions > 0 || (cue_mask & (1u << cues::kSupport))) && !(cue_mask & feeling_cues)) {
    sum *= 0.3;
  }

  const double compound = Compound(sum);
  out.score = compound;
  constexpr double kThreshold = 0.2;
  if (compound >= kThreshold) out.sentiment = SentimentClass::kPositive;
  else if (compound <= -kThreshold) out.sentiment = SentimentClass::kNegative;
  else out.sentiment = SentimentClass::kNeutral;

  // Confidence: distance from the nearest boundary, damped for little evidence and unknown text.
  double confidence = out.sentiment == SentimentClass::kNeutral
                          ? 1.0 - std::fabs(compound) / kThreshold
                          : std::min(1.0, (std::fabs(compound) - kThreshold) / 0.5 + 0.5);
  if (signals == 0) confidence = 0.5;
  if (tokens.empty()) confidence = 0.1;
  if (out.language == "und") confidence *= 0.5;
  out.confidence = static_cast<int>(std::lround(std::clamp(confidence, 0.0, 1.0) * 1000));

  // Intents.
  using namespace enrichment;
  uint32_t intents = 0;
  if (cue_mask & (1u << cues::kSupport)) intents |= kIntentSupport;
  if ((questions > 0 || (cue_mask & (1u << cues::kQuestion))) && !(intents & kIntentSupport)) {
    intents |= kIntentQuestion;
  }
  const bool complaint_cue = (cue_mask & ((1u << cues::kComplaint) | (1u << cues::kSarcasm))) != 0;
  const bool churn_only = (cue_mask & (1u << cues::kChurn)) && !complaint_cue;
  if (out.sentiment == SentimentClass::kNegative && !churn_only) intents |= kIntentComplaint;
  if (out.sentiment == SentimentClass::kPositive &&
      ((cue_mask & (1u << cues::kPraise)) || compound >= 0.4)) {
    intents |= kIntentPraise;
  }
  if (cue_mask & (1u << cues::kPurchase)) intents |= kIntentPurchase;
  if (cue_mask & (1u << cues::kChurn)) intents |= kIntentChurn;
  out.intents = intents;
  scratch.rule_sentiment_ = out.sentiment;
  scratch.rule_intents_ = intents;

  // The model, where it beat the rules for this language (enrich_model.h): the rules' findings
  // and the post's words and word pairs, one dot product per head.
  const uint8_t model_language = static_cast<uint8_t>(language);
  const uint32_t model_uses = model_ != nullptr && options_.intents_feed_sentiment
                                  ? model_->uses(model_language)
                                  : 0;
  if (model_uses != 0 || options_.keep_features) {
    enrich_model::Features& features = scratch.features_;
    float* dense = features.dense;
    auto squash = [](double value) { return static_cast<float>(value / (value + 2.0)); };
    std::fill(dense, dense + enrich_model::kDense, 0.0f);
    dense[enrich_model::kBias] = 1;
    dense[enrich_model::kRuleCompound] = static_cast<float>(compound);
    dense[enrich_model::kWordsCompound] = static_cast<float>(Compound(lexicon_sum));
    dense[enrich_model::kPositiveWords] = squash(positive_words);
    dense[enrich_model::kNegativeWords] = squash(negative_words);
    dense[enrich_model::kRuleNegative] = out.sentiment == SentimentClass::kNegative;
    dense[enrich_model::kRulePositive] = out.sentiment == SentimentClass::kPositive;
    for (int cue = 0; cue < cues::kCueCount; ++cue) {
      dense[enrich_model::kCueFirst + cue] = (cue_mask >> cue) & 1u;
    }
    dense[enrich_model::kManyComplaintCues] = complaint_cues >= 2;
    dense[enrich_model::kQuestionMark] = questions > 0;
    dense[enrich_model::kExclamation] = exclamations > 0;
    dense[enrich_model::kNegation] = negation;
    dense[enrich_model::kContrast] = contrast_token != SIZE_MAX;
    dense[enrich_model::kShouting] = shouting;
    dense[enrich_model::kEmoji] = static_cast<float>(Compound(emoji_sum));
    for (int bit = 0; bit < 6; ++bit) dense[enrich_model::kRuleIntentFirst + bit] = (intents >> bit) & 1u;
    dense[enrich_model::kNoSentimentWords] = signals == 0;
    features.language = model_language;
    features.hashes.clear();
    const bool hash_words = options_.keep_features || model_->buckets() != 0;
    uint32_t previous = enrich_model::TokenHash("^", model_language);  // the post's start
    for (size_t t = 0; t < tokens.size() && hash_words; ++t) {
      const Token& token = tokens[t];
      std::string_view text_of = word(token);
      // Handles and tags name accounts, not feelings; numbers count as one word.
      if (token.kind == kWord && (text_of[0] == '@' || text_of[0] == '#')) continue;
      if (token.kind == kWord && text_of[0] >= '0' && text_of[0] <= '9') text_of = "0";
      const uint32_t hash = enrich_model::TokenHash(text_of, model_language);
      features.hashes.push_back(hash);
      features.hashes.push_back(enrich_model::PairHash(previous, hash));
      previous = hash;
    }
    if (model_uses != 0) {
      float logits[enrich_model::kHeads];
      model_->Score(features, logits);
      if (model_uses & enrich_model::kUseSentiment) {
        const float top = std::max({logits[0], logits[1], logits[2]});
        double probability[3], total = 0;
        for (int c = 0; c < 3; ++c) total += probability[c] = std::exp(logits[c] - top);
        for (double& p : probability) p /= total;
        const int best = logits[0] >= logits[1] && logits[0] >= logits[2] ? 0
                         : logits[2] > logits[1]                          ? 2
                                                                          : 1;
        out.sentiment = best == 0   ? SentimentClass::kNegative
                        : best == 2 ? SentimentClass::kPositive
                                    : SentimentClass::kNeutral;
        out.score = probability[2] - probability[0];
        out.intents = (out.intents & ~enrich_model::kSentimentIntents) |
                      enrich_model::RuleSentimentIntents(features, best);
        double model_confidence = probability[best];
        if (out.language == "und") model_confidence *= 0.5;
        // Without a single word (empty, only links, emoji, marks or U+FFFD) the model reads
        // little more than its bias: no surer than the rules' damped confidence.
        if (!has_words) model_confidence = std::min(model_confidence, out.confidence / 1000.0);
        out.confidence = static_cast<int>(std::lround(model_confidence * 1000));
      }
      for (int bit = 0; bit < 6; ++bit) {
        if (!(model_uses & enrich_model::UseIntent(bit))) continue;
        const bool on = logits[enrich_model::kIntentHead + bit] > 0;
        out.intents = on ? out.intents | (1u << bit) : out.intents & ~(1u << bit);
      }
    }
  }

  // Towards each brand: what a switch or a comparison says about it, else the clause it
  // stands in.
  out.brand_sentiment.clear();
  const bool switches = (cue_mask & (1u << cues::kChurn)) != 0;
  auto token_of = [&](uint32_t offset) {
    auto at = std::upper_bound(tokens.begin(), tokens.end(), offset,
                               [](uint32_t value, const Token& token) {
                                 return value < token.text_begin;
                               });
    return at == tokens.begin() ? size_t{0} : static_cast<size_t>(at - tokens.begin() - 1);
  };
  auto label_of = [&](double score) {
    const double value = Compound(score);
    return value >= kThreshold    ? SentimentClass::kPositive
           : value <= -kThreshold ? SentimentClass::kNegative
                                  : SentimentClass::kNeutral;
  };
  // Where else the post names the brand ("Foodora kom aldri, Wolt leverte raskt. Takk Wolt"):
  // `match` reports the first hit only, so later ones are found by the brand's words.
  std::vector<uint32_t>& repeats = scratch.brand_repeats_;
  for (size_t b = 0; b < brands.size(); ++b) {
    SentimentClass label = out.sentiment;
    if (tokens.empty() || brands.size() < 2) {
      out.brand_sentiment.push_back(label);
      continue;
    }
    const size_t index = token_of(brands[b].begin);
    size_t brand_end = index;  // one past the brand's last token
    while (brand_end < tokens.size() && tokens[brand_end].text_begin < brands[b].end) ++brand_end;
    const size_t brand_length = std::max<size_t>(brand_end - index, 1);
    repeats.clear();
    for (size_t t = index + brand_length; t + brand_length <= tokens.size(); ++t) {
      bool same = true;
      for (size_t k = 0; k < brand_length && same; ++k) {
        // A word's entry is the lookup of its normalised text, so different entries are
        // different words: most tokens are ruled out without comparing text.
        same = tokens[t + k].kind == kWord && tokens[t + k].info == tokens[index + k].info &&
               word(tokens[t + k]) == word(tokens[index + k]);
      }
      if (same) {
        repeats.push_back(static_cast<uint32_t>(t));
        t += brand_length - 1;
      }
    }
    bool decided = false;
    // What a switch or a comparison says about the brand, at its first place or a later one.
    auto marked = [&](size_t at) {
      const size_t at_clause = tokens[at].clause;
      if (at >= 2 && tokens[at - 1].kind == kWord && tokens[at - 2].kind == kWord &&
          Has(tokens[at - 2].info, enrich_words::kInsteadOf)) {
        label = SentimentClass::kNeutral;
        decided = true;
        return;
      }
      for (size_t back = 1; back <= 3 && back <= at && !decided; ++back) {
        const Token& before = tokens[at - back];
        if (before.kind != kWord) break;
        if (Has(before.info, enrich_words::kThan)) {
          // "better than B": B comes off worse.
          for (size_t k = 0; k < at; ++k) {
            if (tokens[k].clause == at_clause && Has(tokens[k].info, enrich_words::kComparative)) {
              label = SentimentClass::kNegative;
              decided = true;
            }
          }
        } else if (switches && Has(before.info, enrich_words::kSwitchSource)) {
          label = SentimentClass::kNegative;
          decided = true;
        } else if (switches && Has(before.info, enrich_words::kSwitchTarget)) {
          label = SentimentClass::kPositive;
          decided = true;
        }
      }
    };
    marked(index);
    for (size_t r = 0; r < repeats.size() && !decided; ++r) marked(repeats[r]);
    if (!decided) {
      auto has_other_brand = [&](size_t clause_index) {
        for (size_t other = 0; other < brands.size(); ++other) {
          if (other != b && tokens[token_of(brands[other].begin)].clause == clause_index) {
            return true;
          }
        }
        return false;
      };
      // The brand's own clause; when it says nothing, the clauses after it up to the next brand.
      const size_t own_clause = tokens[index].clause;
      size_t clause = own_clause;
      while (!clauses[clause].signal && clause + 1 < clauses.size() && !has_other_brand(clause + 1)) {
        ++clause;
      }
      bool signal = clauses[clause].signal;
      double score = signal ? clauses[clause].score : 0;
      // And the clauses of its later places that name no other brand.
      size_t counted = clause;
      for (uint32_t at : repeats) {
        const size_t repeat_clause = tokens[at].clause;
        if (repeat_clause == counted || !clauses[repeat_clause].signal ||
            has_other_brand(repeat_clause)) {
          continue;
        }
        score += clauses[repeat_clause].score;
        signal = true;
        counted = repeat_clause;
      }
      if (signal) {
        label = label_of(score);
      } else if (clauses[own_clause].negated) {
        label = SentimentClass::kNegative;  // "Elkjøp hadde ikke varen"
      }
    }
    out.brand_sentiment.push_back(label);
  }
}

}  // namespace brandpulse
