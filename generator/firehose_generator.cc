#include "generator/firehose_generator.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <span>
#include <unordered_set>

#include <fmt/format.h>

#include "engine/hash.h"
#include "engine/json_writer.h"
#include "engine/unicode.h"

namespace brandpulse {
namespace {

// ---- randomness ------------------------------------------------------------------------------

// xoshiro256** seeded through splitmix64. Our own generator, because the standard
// distributions' output differs between standard libraries.
class Random {
 public:
  explicit Random(uint64_t seed) {
    uint64_t state = seed;
    for (uint64_t& word : state_) {
      state += 0x9e3779b97f4a7c15ULL;
      word = MixBits(state);
    }
  }

  uint64_t Next() {
    const uint64_t result = std::rotl(state_[1] * 5, 7) * 9;
    const uint64_t shifted = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= shifted;
    state_[3] = std::rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, bound); 0 when bound is 0. Lemire's multiply-shift with rejection: unbiased,
  // integer-only.
  uint64_t Below(uint64_t bound) {
    if (bound == 0) return 0;
    unsigned __int128 product = static_cast<unsigned __int128>(Next()) * bound;
    auto low = static_cast<uint64_t>(product);
    if (low < bound) {
      const uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        product = static_cast<unsigned __int128>(Next()) * bound;
        low = static_cast<uint64_t>(product);
      }
    }
    return static_cast<uint64_t>(product >> 64);
  }

  // True with probability threshold / 2^53 (see ChanceThreshold).
  bool Chance(uint64_t threshold) { return (Next() >> 11) < threshold; }
  bool Percent(uint64_t percent) { return Below(100) < percent; }

 private:
  uint64_t state_[4];
};

constexpr uint64_t kChanceOne = uint64_t{1} << 53;

// A probability in [0, 1] as an integer threshold for Random::Chance: the only place a share
// touches floating point, so the per-record path is integer-only and the same on every machine.
uint64_t ChanceThreshold(double probability) {
  if (!(probability > 0)) return 0;
  if (probability >= 1) return kChanceOne;
  return static_cast<uint64_t>(probability * 0x1p53);
}

// A per-key value that does not depend on how many random numbers were drawn before, so an
// author's handle and followers are the same every time the author appears.
uint64_t KeyedHash(uint64_t salt, uint64_t key, uint64_t which) {
  return MixBits(salt ^ MixBits(key * 0x9e3779b97f4a7c15ULL + which));
}

// A bijection on 32 bits (xor and odd multiplies are invertible): unique author numbers that do
// not reveal the author's rank.
uint32_t Permute32(uint32_t value, uint32_t key) {
  value ^= key;
  value *= 0x9e3779b1U;
  value ^= value >> 16;
  value *= 0x85ebca6bU;
  value ^= value >> 13;
  value *= 0xc2b2ae35U;
  value ^= value >> 16;
  return value;
}

// Draws index i (0-based) with probability weight(i + 1) / total weight. Cumulative weights
// are integer thresholds in [0, 2^53], computed once; a guide table by the draw's top bits
// narrows the binary search to a few entries, so a 16M-entry author table costs no more than
// a handful of cache misses per draw.
class WeightedSampler {
 public:
  WeightedSampler() = default;

  // Weights are computed twice rather than stored: the author table may have 16M entries.
  template <typename Weight>
  WeightedSampler(uint64_t count, Weight weight) {
    double total = 0;
    for (uint64_t rank = 1; rank <= count; ++rank) total += weight(rank);
    thresholds_.reserve(count);
    double running = 0;
    for (uint64_t rank = 1; rank <= count; ++rank) {
      running += weight(rank);
      thresholds_.push_back(std::min(kChanceOne, static_cast<uint64_t>(running / total * 0x1p53)));
    }
    if (thresholds_.empty()) return;
    thresholds_.back() = kChanceOne;
    guide_.resize(kGuideBuckets + 1);
    size_t index = 0;
    for (uint64_t bucket = 0; bucket <= kGuideBuckets; ++bucket) {
      const uint64_t floor = bucket << kGuideShift;
      while (index + 1 < thresholds_.size() && thresholds_[index] <= floor) ++index;
      guide_[bucket] = static_cast<uint32_t>(index);
    }
  }

  // REQUIRES: constructed with count > 0.
  size_t Sample(Random& random) const {
    const uint64_t draw = random.Next() >> 11;
    const uint64_t bucket = draw >> kGuideShift;
    // The answer, the first threshold above the draw, lies in [guide_[b], guide_[b + 1]].
    const auto first = thresholds_.begin() + guide_[bucket];
    const auto last = thresholds_.begin() + guide_[bucket + 1] + 1;
    return static_cast<size_t>(std::upper_bound(first, last, draw) - thresholds_.begin());
  }

 private:
  static constexpr int kGuideBits = 12;
  static constexpr uint64_t kGuideBuckets = uint64_t{1} << kGuideBits;
  static constexpr int kGuideShift = 53 - kGuideBits;
  std::vector<uint64_t> thresholds_;
  std::vector<uint32_t> guide_;
};

// ---- text helpers ----------------------------------------------------------------------------

// A growable byte buffer that stands in for std::string on the hot path, so it keeps
// std::string's names (append, push_back, ...). A record is hundreds of tiny appends; here each
// is one capacity compare and a few stores, where std::string makes an out-of-line call.
class ByteBuffer {
 public:
  void clear() { size_ = 0; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const char* data() const { return storage_.data(); }
  char back() const { return storage_[size_ - 1]; }
  void pop_back() { --size_; }
  // REQUIRES: length <= size() (records are only ever cut short).
  void Truncate(size_t length) { size_ = length; }
  std::string_view view() const { return std::string_view(storage_.data(), size_); }

  void push_back(char c) {
    if (size_ == storage_.size()) Grow(1);
    storage_[size_++] = c;
  }
  void append(std::string_view text) {
    if (storage_.size() - size_ < text.size()) Grow(text.size());
    std::memcpy(storage_.data() + size_, text.data(), text.size());
    size_ += text.size();
  }
  void append(const char* begin, const char* end) { append(std::string_view(begin, end - begin)); }
  void append(const char* begin, size_t length) { append(std::string_view(begin, length)); }

  // Room for `bytes` more; write through the pointer, then Commit() the end of what was written.
  char* Reserve(size_t bytes) {
    if (storage_.size() - size_ < bytes) Grow(bytes);
    return storage_.data() + size_;
  }
  void Commit(const char* end) { size_ = static_cast<size_t>(end - storage_.data()); }

 private:
  // Out of line and cold, so the fast paths above stay small enough to inline.
  [[gnu::noinline, gnu::cold]] void Grow(size_t bytes) {
    storage_.resize(std::max(storage_.size() * 2, size_ + bytes + 1024));
  }

  std::string storage_;  // its size() is the capacity: zero-filled once, when it grows
  size_t size_ = 0;
};

template <typename Out>
void AppendUnsigned(Out& out, uint64_t value) {
  char buffer[24];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, end);
}

template <typename Out>
void AppendSigned(Out& out, int64_t value) {
  char buffer[24];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, end);
}

template <typename Out>
void AppendDigits(Out& out, int64_t value, int width) {
  char buffer[8];
  for (int i = width - 1; i >= 0; --i) {
    buffer[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(buffer, static_cast<size_t>(width));
}

// The body of a JSON string (no quotes): '"', '\\' and control characters escaped, everything
// else (non-ASCII included) copied as raw UTF-8.
void AppendJsonEscaped(ByteBuffer& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  char* cursor = out.Reserve(text.size() * 6);  // \u00XX at worst
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte != '"' && byte != '\\') {
      *cursor++ = c;
      continue;
    }
    *cursor++ = '\\';
    switch (byte) {
      case '"': *cursor++ = '"'; break;
      case '\\': *cursor++ = '\\'; break;
      case '\n': *cursor++ = 'n'; break;
      case '\r': *cursor++ = 'r'; break;
      case '\t': *cursor++ = 't'; break;
      case '\b': *cursor++ = 'b'; break;
      case '\f': *cursor++ = 'f'; break;
      default:
        *cursor++ = 'u';
        *cursor++ = '0';
        *cursor++ = '0';
        *cursor++ = kHex[byte >> 4];
        *cursor++ = kHex[byte & 15];
    }
  }
  out.Commit(cursor);
}

template <typename Out>
void AppendJsonQuoted(Out& out, std::string_view text) {
  out.push_back('"');
  AppendJsonEscaped(out, text);
  out.push_back('"');
}

template <typename Out>
void AppendHtmlEscaped(Out& out, std::string_view text) {
  size_t run_begin = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    std::string_view entity;
    switch (text[i]) {
      case '&': entity = "&amp;"; break;
      case '<': entity = "&lt;"; break;
      case '>': entity = "&gt;"; break;
      case '"': entity = "&quot;"; break;
      case '\'': entity = "&#39;"; break;
      default: continue;
    }
    out.append(text.data() + run_begin, i - run_begin);
    out.append(entity);
    run_begin = i + 1;
  }
  out.append(text.data() + run_begin, text.size() - run_begin);
}

// Lowercase letters this generator knows an uppercase for without changing the byte length:
// ASCII a-z and Latin-1 à..þ except ÷ (UTF-8 C3 A0..BE, not B7).
bool IsLatin1LowerTail(unsigned char second) { return second >= 0xA0 && second <= 0xBE && second != 0xB7; }

// Appends `text` with its first letter uppercased (when it is one of the letters above).
template <typename Out>
void AppendCapitalized(Out& out, std::string_view text) {
  if (text.empty()) return;
  const auto first = static_cast<unsigned char>(text[0]);
  if (first >= 'a' && first <= 'z') {
    out.push_back(static_cast<char>(first - 32));
    out.append(text.substr(1));
  } else if (first == 0xC3 && text.size() > 1 && IsLatin1LowerTail(static_cast<unsigned char>(text[1]))) {
    out.push_back(text[0]);
    out.push_back(static_cast<char>(text[1] - 0x20));
    out.append(text.substr(2));
  } else {
    out.append(text);
  }
}

template <typename Out>
void AppendUppercased(Out& out, std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 'a' && byte <= 'z') {
      out.push_back(static_cast<char>(byte - 32));
    } else if (byte == 0xC3 && i + 1 < text.size() &&
               IsLatin1LowerTail(static_cast<unsigned char>(text[i + 1]))) {
      out.push_back(text[i]);
      out.push_back(static_cast<char>(text[i + 1] - 0x20));
      ++i;
    } else {
      out.push_back(text[i]);
    }
  }
}

// ---- time ------------------------------------------------------------------------------------

struct CivilTime {
  int64_t year;
  unsigned month, day, hour, minute, second, millisecond;
  unsigned weekday;  // 0 = Sunday
};

// Howard Hinnant's civil_from_days: proleptic Gregorian, UTC, no locale, no libc.
CivilTime ToCivil(int64_t epoch_ms) {
  constexpr int64_t kDayMs = 86400000;
  int64_t days = epoch_ms / kDayMs;
  int64_t rest = epoch_ms % kDayMs;
  if (rest < 0) {
    rest += kDayMs;
    --days;
  }
  CivilTime civil;
  civil.weekday = static_cast<unsigned>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  const int64_t shifted = days + 719468;
  const int64_t era = (shifted >= 0 ? shifted : shifted - 146096) / 146097;
  const int64_t day_of_era = shifted - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t month_index = (5 * day_of_year + 2) / 153;
  civil.day = static_cast<unsigned>(day_of_year - (153 * month_index + 2) / 5 + 1);
  civil.month = static_cast<unsigned>(month_index < 10 ? month_index + 3 : month_index - 9);
  civil.year = year_of_era + era * 400 + (civil.month <= 2 ? 1 : 0);
  civil.hour = static_cast<unsigned>(rest / 3600000);
  civil.minute = static_cast<unsigned>(rest / 60000 % 60);
  civil.second = static_cast<unsigned>(rest / 1000 % 60);
  civil.millisecond = static_cast<unsigned>(rest % 1000);
  return civil;
}

template <typename Out>
void AppendYear(Out& out, int64_t year) {
  if (year >= 0 && year <= 9999) {
    AppendDigits(out, year, 4);
  } else {
    AppendSigned(out, year);
  }
}

template <typename Out>
void AppendClock(Out& out, const CivilTime& civil) {
  AppendDigits(out, civil.hour, 2);
  out.push_back(':');
  AppendDigits(out, civil.minute, 2);
  out.push_back(':');
  AppendDigits(out, civil.second, 2);
}

// "2026-01-01T00:00:00.000Z"
template <typename Out>
void AppendIsoTime(Out& out, int64_t epoch_ms) {
  const CivilTime civil = ToCivil(epoch_ms);
  AppendYear(out, civil.year);
  out.push_back('-');
  AppendDigits(out, civil.month, 2);
  out.push_back('-');
  AppendDigits(out, civil.day, 2);
  out.push_back('T');
  AppendClock(out, civil);
  out.push_back('.');
  AppendDigits(out, civil.millisecond, 3);
  out.push_back('Z');
}

// "Thu Jan 01 00:00:00 +0000 2026" (X/Twitter v1.1 created_at)
template <typename Out>
void AppendTwitterTime(Out& out, int64_t epoch_ms) {
  static constexpr std::string_view kWeekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const CivilTime civil = ToCivil(epoch_ms);
  out.append(kWeekdays[civil.weekday]);
  out.push_back(' ');
  out.append(kMonths[civil.month - 1]);
  out.push_back(' ');
  AppendDigits(out, civil.day, 2);
  out.push_back(' ');
  AppendClock(out, civil);
  out.append(" +0000 ");
  AppendYear(out, civil.year);
}

// ---- identifiers -----------------------------------------------------------------------------

constexpr int64_t kTwitterEpochMs = 1288834974657;
constexpr std::string_view kBase32Sortable = "234567abcdefghijklmnopqrstuvwxyz";  // AT Protocol TIDs
constexpr std::string_view kBase32 = "abcdefghijklmnopqrstuvwxyz234567";          // CIDs, DIDs
constexpr std::string_view kBase62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// X/Twitter snowflake: milliseconds since the Twitter epoch above 22 bits of sequence. Unique
// while fewer than 2^22 posts share one event millisecond's neighbourhood (the disorder window).
uint64_t SnowflakeId(uint64_t index, int64_t event_ms) {
  const auto since_epoch = static_cast<uint64_t>(std::max<int64_t>(0, event_ms - kTwitterEpochMs));
  return (since_epoch << 22) | (index & 0x3FFFFF);
}

// AT Protocol TID: 53 bits of microseconds and 10 bits of clock id, 13 sortable base32 chars.
template <typename Out>
void AppendTid(Out& out, uint64_t microseconds, uint64_t clock_id) {
  const uint64_t value = ((microseconds << 10) | (clock_id & 1023)) & 0x7FFFFFFFFFFFFFFFULL;
  for (int i = 0; i < 13; ++i) out.push_back(kBase32Sortable[(value >> (60 - 5 * i)) & 31]);
}

// A CIDv1 (dag-cbor, sha2-256) lookalike: "bafyrei" and 52 base32 characters.
template <typename Out>
void AppendCid(Out& out, uint64_t key) {
  out.append("bafyrei");
  uint64_t bits = 0;
  for (int i = 0; i < 52; ++i) {
    if (i % 12 == 0) bits = MixBits(MixBits(key) + static_cast<uint64_t>(i / 12 + 1) * 0x9e3779b97f4a7c15ULL);
    out.push_back(kBase32[bits & 31]);
    bits >>= 5;
  }
}

// ---- word lists ------------------------------------------------------------------------------

// Dictionary words of 2-3 letters are mostly abbreviations ("hg", "rs"); the short words of
// real text come from the function word lists below instead.
constexpr size_t kMinWordLength = 4;
constexpr size_t kMaxWordLength = 14;
// How often a content word of each length (in letters) appears in running text, roughly (per
// mille). Dictionary entries are mostly long and rare; drawing the length first keeps posts
// readable.
constexpr uint32_t kWordLengthWeights[kMaxWordLength + 1] = {0,   0,   0,  0,  170, 160, 140, 120,
                                                             100, 75,  55, 35, 25,  15,  10};

// The most common words of each language, drawn for about a third of all words: real text is
// mostly made of them, and no dictionary says which ones they are.
constexpr std::string_view kEnglishFunctionWords[] = {
    "the", "and", "to",  "of",   "a",   "in",   "is", "it",  "you", "that", "for", "on",
    "with", "my", "this", "was", "not", "but",  "are", "have", "just", "so",  "at", "be",
    "me",  "we",  "all", "can",  "your", "now", "why", "what", "they", "again"};
constexpr std::string_view kNorwegianFunctionWords[] = {
    "og", "i",   "det", "er",  "som", "på",  "en",  "til", "å",    "har", "med", "for",
    "ikke", "jeg", "de", "av", "at",  "var", "så",  "men", "kan",  "vi",  "du",  "om",
    "et", "meg", "nå",  "bare", "hva", "fra", "igjen", "hvorfor", "alle", "helt"};
constexpr std::string_view kSpanishFunctionWords[] = {
    "de",  "la", "que", "el",  "en",   "y",  "a",    "los", "se",  "del", "las", "un",
    "por", "con", "no", "una", "su",   "para", "es", "al",  "lo",  "como", "más", "pero",
    "me",  "muy", "ya", "otra", "vez", "todo", "hoy", "porque", "nada", "siempre"};

enum class Script { kEnglish, kNorwegian, kSpanish };  // what punctuation a language's posts use

struct LanguageSource {
  std::string_view tag;
  std::string_view file;
  std::string_view package;
  std::span<const std::string_view> function_words;
  Script script;
};

constexpr LanguageSource kLanguageSources[] = {
    {"en", "american-english", "wamerican", kEnglishFunctionWords, Script::kEnglish},
    {"no", "bokmaal", "wnorwegian", kNorwegianFunctionWords, Script::kNorwegian},
    {"nb", "bokmaal", "wnorwegian", kNorwegianFunctionWords, Script::kNorwegian},
    {"es", "spanish", "wspanish", kSpanishFunctionWords, Script::kSpanish},
};

// A language's vocabulary, compact enough to stay in cache: random word draws from a whole
// dictionary (bokmaal has 900k entries) would each cost several cache misses.
constexpr size_t kMaxVocabulary = 20000;

struct WordList {
  std::string tag;
  std::string bytes;  // every word, back to back
  // Words as (offset << 5 | byte length) into `bytes`, ordered by length in letters; the words of
  // length L are refs[length_begin[L], length_begin[L + 1]).
  std::vector<uint32_t> refs;
  std::array<uint32_t, kMaxWordLength + 2> length_begin{};
  std::vector<uint8_t> lengths;             // lengths that have words, with...
  std::vector<uint32_t> length_cumulative;  // ...their cumulative weights
  std::vector<uint32_t> handle_refs;        // up to 6 ASCII letters: the stems of author handles
  std::vector<std::string_view> function_words;  // the language's, less brand words
  Script script = Script::kEnglish;

  std::string_view Word(uint32_t ref) const {
    return std::string_view(bytes.data() + (ref >> 5), ref & 31);
  }
};

// The number of letters of a dictionary entry that is a plain lowercase word (ASCII a-z and the
// Latin-1 lowercase letters ß à..ÿ), 0 otherwise. Names, abbreviations, possessives ("word's")
// and hyphenated compounds read oddly in random text and are left out.
size_t PlainWordLength(std::string_view word) {
  size_t length = 0;
  for (size_t i = 0; i < word.size(); ++length) {
    const auto byte = static_cast<unsigned char>(word[i]);
    if (byte >= 'a' && byte <= 'z') {
      ++i;
      continue;
    }
    if (byte != 0xC3 || i + 1 >= word.size()) return 0;
    const auto second = static_cast<unsigned char>(word[i + 1]);
    if (second < 0x9F || second > 0xBF || second == 0xB7) return 0;
    i += 2;
  }
  return length;
}

std::string Latin1ToUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x80) {
      out.push_back(c);
    } else {
      out.push_back(static_cast<char>(0xC0 | (byte >> 6)));
      out.push_back(static_cast<char>(0x80 | (byte & 0x3F)));
    }
  }
  return out;
}

Result<std::string> ReadWholeFile(const std::string& path, const LanguageSource& source) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return Status::NotFound(fmt::format(
        "word list {} for language '{}' is missing: install the Debian package {} (or point "
        "dictionary_directory at a directory that has it)",
        path, source.tag, source.package));
  }
  std::string contents;
  char buffer[1 << 16];
  size_t read;
  while ((read = std::fread(buffer, 1, sizeof(buffer), file)) > 0) contents.append(buffer, read);
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) return Status::IoError(fmt::format("cannot read word list {}", path));
  return contents;
}

// The lengths that have words, with their cumulative weights (from refs and length_begin).
void WeighLengths(WordList& list) {
  list.lengths.clear();
  list.length_cumulative.clear();
  uint32_t total = 0;
  for (size_t length = kMinWordLength; length <= kMaxWordLength; ++length) {
    if (list.length_begin[length] == list.length_begin[length + 1]) continue;
    total += kWordLengthWeights[length];
    list.lengths.push_back(static_cast<uint8_t>(length));
    list.length_cumulative.push_back(total);
  }
}

Result<WordList> LoadWordList(const std::string& directory, const LanguageSource& source) {
  const std::string path = directory + "/" + std::string(source.file);
  ASSIGN_OR_RETURN(std::string contents, ReadWholeFile(path, source));
  // wnorwegian ships ISO-8859-1, wamerican and wspanish UTF-8: tell them apart by content.
  if (!IsValidUtf8(contents)) contents = Latin1ToUtf8(contents);
  std::array<std::vector<std::string_view>, kMaxWordLength + 1> by_length;
  size_t accepted = 0;
  size_t line_begin = 0;
  while (line_begin < contents.size()) {
    size_t line_end = contents.find('\n', line_begin);
    if (line_end == std::string::npos) line_end = contents.size();
    std::string_view line(contents.data() + line_begin, line_end - line_begin);
    line_begin = line_end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t length = PlainWordLength(line);
    if (length < kMinWordLength || length > kMaxWordLength) continue;
    by_length[length].push_back(line);
    ++accepted;
  }
  // Every k-th word of each length: the lists are sorted, so this spreads over the alphabet.
  const size_t stride = std::max<size_t>(1, (accepted + kMaxVocabulary - 1) / kMaxVocabulary);
  WordList list;
  list.tag = std::string(source.tag);
  list.function_words.assign(source.function_words.begin(), source.function_words.end());
  list.script = source.script;
  for (size_t length = 0; length <= kMaxWordLength; ++length) {
    list.length_begin[length] = static_cast<uint32_t>(list.refs.size());
    for (size_t i = 0; i < by_length[length].size(); i += stride) {
      const std::string_view word = by_length[length][i];
      const auto ref = static_cast<uint32_t>(list.bytes.size() << 5 | word.size());
      list.bytes.append(word);
      list.refs.push_back(ref);
      if (length <= 6 && word.size() == length) list.handle_refs.push_back(ref);
    }
  }
  list.length_begin[kMaxWordLength + 1] = static_cast<uint32_t>(list.refs.size());
  WeighLengths(list);
  if (list.lengths.empty() || list.handle_refs.empty()) {
    return Status::InvalidArgument(fmt::format(
        "word list {} has no usable words (lowercase letters only, {} to {} long)", path,
        kMinWordLength, kMaxWordLength));
  }
  return list;
}

// ---- brand words ------------------------------------------------------------------------------

// A word as matching compares it: case-folded, accents stripped ("NOW" finds "now", "Mas" finds
// "más"; an accented term is stricter, so this errs towards leaving a word out).
std::string MatchForm(std::string_view word) {
  std::string form;
  std::vector<uint32_t> offsets;  // not needed here
  FoldAndStripAccents(word, form, offsets);
  return form;
}

// The words of a term as the matcher's word boundaries cut it: runs of word characters
// ("Yahoo!" -> yahoo; "#gammatel" -> gammatel; "The Mighty" -> the, mighty; "1&1" -> 1, 1).
std::vector<std::string> TermWords(std::string_view term) {
  std::vector<std::string> words;
  size_t begin = 0;
  bool in_word = false;
  for (size_t i = 0; i <= term.size();) {
    const DecodedCodePoint decoded =
        i < term.size() ? DecodeCodePointAt(term, i) : DecodedCodePoint{kReplacementCharacter, 1};
    const bool word_character = i < term.size() && IsWordCodePoint(decoded.code_point);
    if (word_character && !in_word) begin = i;
    if (!word_character && in_word) words.push_back(MatchForm(term.substr(begin, i - begin)));
    in_word = word_character;
    i += decoded.length;
  }
  return words;
}

// The brands' terms cut into words (TermWords), by how many words a term has.
struct BrandWords {
  std::unordered_set<std::string> single;         // terms of one word
  std::vector<std::vector<std::string>> phrases;  // terms of several words
};

BrandWords BrandWordsOf(const std::vector<GeneratedBrand>& brands) {
  BrandWords brand_words;
  for (const GeneratedBrand& brand : brands) {
    for (const std::string& term : brand.terms) {
      std::vector<std::string> words = TermWords(term);
      if (words.size() == 1) {
        brand_words.single.insert(std::move(words[0]));
      } else if (words.size() > 1) {
        brand_words.phrases.push_back(std::move(words));
      }
    }
  }
  return brand_words;
}

// Leaves out of a language's vocabulary (dictionary words and function words) every word that
// would let ordinary text name a brand: a term of one word (with the benchmarks' 10,000 brands:
// "just", "now", "tide", "delta", ...), and one word of each term of several words that the
// vocabulary could otherwise spell out ("the mighty": "mighty"). So a post without an inserted
// brand matches none, and `mention_share` is the share of posts a matcher finds a brand in.
// Author handles are left alone: their stems are followed by digits or '_', word characters.
void RemoveBrandWords(WordList& list, const BrandWords& brand_words) {
  if (brand_words.single.empty() && brand_words.phrases.empty()) return;
  std::unordered_set<std::string> excluded = brand_words.single;
  std::unordered_set<std::string> vocabulary, function_forms;
  for (const uint32_t ref : list.refs) {
    std::string form = MatchForm(list.Word(ref));
    if (!excluded.contains(form)) vocabulary.insert(std::move(form));
  }
  for (const std::string_view word : list.function_words) {
    std::string form = MatchForm(word);
    function_forms.insert(form);
    if (!excluded.contains(form)) vocabulary.insert(std::move(form));
  }
  const auto in_vocabulary = [&](const std::string& word) { return vocabulary.contains(word); };
  const auto content_word = [&](const std::string& word) { return !function_forms.contains(word); };
  for (const std::vector<std::string>& phrase : brand_words.phrases) {
    if (!std::all_of(phrase.begin(), phrase.end(), in_vocabulary)) continue;
    // Keep the function words (text without "the" or "of" reads oddly): drop a content word.
    const auto content = std::find_if(phrase.begin(), phrase.end(), content_word);
    excluded.insert(content != phrase.end() ? *content : phrase.back());
  }

  std::erase_if(list.function_words,
                [&](std::string_view word) { return excluded.contains(MatchForm(word)); });
  std::vector<uint32_t> kept;
  kept.reserve(list.refs.size());
  for (size_t length = 0; length <= kMaxWordLength; ++length) {
    const uint32_t begin = list.length_begin[length];
    const uint32_t end = list.length_begin[length + 1];
    list.length_begin[length] = static_cast<uint32_t>(kept.size());
    for (uint32_t i = begin; i < end; ++i) {
      if (!excluded.contains(MatchForm(list.Word(list.refs[i])))) kept.push_back(list.refs[i]);
    }
  }
  list.length_begin[kMaxWordLength + 1] = static_cast<uint32_t>(kept.size());
  list.refs = std::move(kept);
  WeighLengths(list);
}

// ---- posts -----------------------------------------------------------------------------------

constexpr std::string_view kEmoji[] = {"🙂", "😡", "🔥", "👍", "📶", "😂", "🙏", "💸", "🤔", "❤️",
                                       "👍🏽", "🇳🇴", "🇪🇸", "😤", "📱", "✨", "🙄", "💯", "😭", "🎉"};
constexpr std::string_view kSentenceEndings[] = {".", ".", ".", "!", "?", "...", "!!", "…", "", "?!"};
constexpr std::string_view kBrandSuffixes[] = {"!", ",", "?", ".", ":", "!!", "..."};
constexpr std::string_view kShrug = "¯\\_(ツ)_/¯";  // a real emoticon with a backslash in it

constexpr std::string_view kTwitterSources[] = {
    "<a href=\\\"http://twitter.com/download/iphone\\\" rel=\\\"nofollow\\\">Twitter for iPhone</a>",
    "<a href=\\\"http://twitter.com/download/android\\\" rel=\\\"nofollow\\\">Twitter for Android</a>",
    "<a href=\\\"https://mobile.twitter.com\\\" rel=\\\"nofollow\\\">Twitter Web App</a>",
};

// Mastodon servers: the first is the one being streamed from (local accounts have no @host).
constexpr std::string_view kMastodonHosts[] = {"social.example", "social.example",
                                               "mastodon.example", "snabel.example", "toot.example"};
constexpr std::string_view kLocalMastodonHost = kMastodonHosts[0];

constexpr int kJetstreamOtherEventPercent = 10;
constexpr size_t kRecentPosts = 1024;
constexpr uint64_t kNoAuthor = UINT64_MAX;
// Zipf-Mandelbrot offset for authors: weight 1 / (k + q). Pure Zipf (q = 0) would give the top
// author a tenth of all posts; q = 10 keeps a heavy tail without one account dominating.
constexpr double kAuthorRankOffset = 10.0;

// Invalid UTF-8: a byte that never occurs, an overlong NUL, an encoded surrogate, a lone
// continuation byte, a truncated sequence, a code point above U+10FFFF.
constexpr std::string_view kInvalidUtf8[] = {"\xFF", "\xC0\x80", "\xED\xA0\x80", "\x80",
                                             "\xE2\x82", "\xF5\x80\x80\x80", "\xFE"};

}  // namespace

std::optional<FirehoseFormat> ParseFirehoseFormat(std::string_view name) {
  if (name == "twitter-v1") return FirehoseFormat::kTwitterV1;
  if (name == "twitter-v2") return FirehoseFormat::kTwitterV2;
  if (name == "jetstream") return FirehoseFormat::kJetstream;
  if (name == "mastodon") return FirehoseFormat::kMastodon;
  if (name == "json") return FirehoseFormat::kJson;
  return std::nullopt;
}

std::string_view FirehoseFormatName(FirehoseFormat format) {
  switch (format) {
    case FirehoseFormat::kTwitterV1: return "twitter-v1";
    case FirehoseFormat::kTwitterV2: return "twitter-v2";
    case FirehoseFormat::kJetstream: return "jetstream";
    case FirehoseFormat::kMastodon: return "mastodon";
    case FirehoseFormat::kJson: return "json";
  }
  return "json";
}

class FirehoseGenerator::Implementation {
 public:
  explicit Implementation(const GeneratorSpec& spec) : spec_(spec), random_(spec.seed) {}

  Status Initialize();
  bool Next(std::string& out);

  const std::vector<std::string>& last_brands() const { return last_brands_; }
  bool last_malformed() const { return last_malformed_; }
  bool last_post() const { return last_post_; }
  bool last_reply() const { return last_reply_; }
  int64_t last_event_ms() const { return last_event_ms_; }
  int64_t last_nominal_ms() const { return last_nominal_ms_; }
  uint64_t produced() const { return produced_; }

 private:
  enum class Malformation { kNone, kTruncated, kInvalidUtf8, kMissingText, kTextNumber };
  enum class EntityKind : uint8_t { kHashtag, kMention, kLink };
  // A hashtag, @mention or link inside text_, by byte offsets.
  struct Entity {
    uint32_t begin;
    uint32_t end;
    EntityKind kind;
    uint64_t author;  // for mentions of generated authors; kNoAuthor for brand handles
  };
  // Everything fixed per author, derived from the seed and the author's index alone.
  struct Author {
    uint64_t index = 0;
    uint64_t number = 0;  // unique; the numeric id on X/Twitter and Mastodon
    std::string handle;   // without '@'
    std::string name;
    std::string did;
    std::string_view host;
    int64_t followers = 0;
    int64_t following = 0;
    int64_t posts = 0;
    int64_t created_ms = 0;
  };
  struct RecentPost {
    uint64_t index;
    uint64_t author;
    int64_t event_ms;
    uint64_t root_index;
    uint64_t root_author;
    int64_t root_event_ms;
  };

  uint64_t SampleAuthor() { return author_sampler_.Sample(random_); }
  void FillAuthor(uint64_t index, Author& author) const;
  void ComposePost(uint64_t index);
  void BuildText(const WordList& words, bool mention);
  void StartToken();
  // A function word (when allowed, about 40% of the time) or a dictionary word.
  void AppendWord(const WordList& words, bool capitalize, bool allow_function_word);
  void AppendPlainToken(const WordList& words, bool capitalize);
  void AppendBrand(bool capitalize);
  void Remember(uint64_t index);
  Malformation DrawMalformation();

  // Writes `,"<key>":<text>` as the malformation asks (or nothing when the text goes missing).
  void WriteText(ByteBuffer& out, std::string_view key, std::string_view text);
  void WriteTwitterV1(ByteBuffer& out, uint64_t index);
  void WriteTwitterV2(ByteBuffer& out, uint64_t index);
  void WriteJetstreamPost(ByteBuffer& out, uint64_t index);
  void WriteJetstreamOtherEvent(ByteBuffer& out, uint64_t index);
  void WriteMastodon(ByteBuffer& out, uint64_t index);
  void WriteJson(ByteBuffer& out, uint64_t index);
  void WriteTwitterV2User(ByteBuffer& out, const Author& author);
  void WriteJetstreamHead(ByteBuffer& out, uint64_t index, const Author& author, std::string_view kind);
  void RenderMastodonHtml();
  void AppendMastodonPlain(std::string_view text);
  void AppendPostUri(ByteBuffer& out, const Author& author, uint64_t index, int64_t event_ms) const;

  const GeneratorSpec spec_;
  Random random_;
  uint64_t salt_ = 0;
  uint32_t number_key_ = 0;
  std::vector<WordList> word_lists_;  // one per spec_.languages entry
  WeightedSampler brand_sampler_;
  WeightedSampler author_sampler_;
  uint64_t mention_threshold_ = 0;
  uint64_t malformed_threshold_ = 0;

  // The record being written. Reused: no allocation per record once warm.
  Malformation malformation_ = Malformation::kNone;
  Author author_;
  Author reply_author_;
  Author other_author_;  // mentions, reply roots, like subjects
  size_t language_ = 0;
  RecentPost reply_to_{};
  ByteBuffer text_;
  ByteBuffer html_;
  ByteBuffer record_;
  std::vector<Entity> entities_;
  bool glue_next_ = false;  // the next token follows without a space ("¿", "(", a line break)
  int brand_slots_[2] = {};
  int brands_left_ = 0;

  std::vector<RecentPost> recent_;
  uint64_t recent_count_ = 0;

  // The ground truth of the last record, and how many there were.
  std::vector<std::string> last_brands_;
  bool last_malformed_ = false;
  bool last_post_ = false;
  bool last_reply_ = false;
  int64_t last_event_ms_ = 0;
  int64_t last_nominal_ms_ = 0;
  uint64_t produced_ = 0;
};

Status FirehoseGenerator::Implementation::Initialize() {
  if (spec_.languages.empty()) return Status::InvalidArgument("generator: languages is empty");
  if (!(spec_.posts_per_second > 0) || !std::isfinite(spec_.posts_per_second)) {
    return Status::InvalidArgument(
        fmt::format("generator: posts_per_second must be a positive number, not {}", spec_.posts_per_second));
  }
  for (double share : {spec_.mention_share, spec_.malformed_share}) {
    if (!(share >= 0 && share <= 1)) {
      return Status::InvalidArgument(fmt::format("generator: shares must be within [0, 1], not {}", share));
    }
  }
  if (!(spec_.zipf_exponent >= 0) || !std::isfinite(spec_.zipf_exponent)) {
    return Status::InvalidArgument(
        fmt::format("generator: zipf_exponent must be >= 0, not {}", spec_.zipf_exponent));
  }
  if (spec_.author_count == 0 || spec_.author_count > kMaxGeneratorAuthors) {
    return Status::InvalidArgument(fmt::format("generator: author_count must be within 1..{}, not {}",
                                               kMaxGeneratorAuthors, spec_.author_count));
  }
  if (spec_.max_disorder_ms < 0) {
    return Status::InvalidArgument(
        fmt::format("generator: max_disorder_ms must be >= 0, not {}", spec_.max_disorder_ms));
  }
  if (spec_.reply_share_percent < 0 || spec_.reply_share_percent > 100) {
    return Status::InvalidArgument(fmt::format(
        "generator: reply_share_percent must be within 0..100, not {}", spec_.reply_share_percent));
  }
  for (const GeneratedBrand& brand : spec_.brands) {
    if (brand.terms.empty()) {
      return Status::InvalidArgument(fmt::format("generator: brand '{}' has no terms to insert", brand.id));
    }
    for (const std::string& term : brand.terms) {
      if (term.empty() || !IsValidUtf8(term)) {
        return Status::InvalidArgument(
            fmt::format("generator: brand '{}' has an empty or invalid UTF-8 term", brand.id));
      }
    }
  }
  const BrandWords brand_words = BrandWordsOf(spec_.brands);
  for (const std::string& tag : spec_.languages) {
    const LanguageSource* source = nullptr;
    for (const LanguageSource& candidate : kLanguageSources) {
      if (candidate.tag == tag) source = &candidate;
    }
    if (source == nullptr) {
      return Status::InvalidArgument(
          fmt::format("generator: no word list for language '{}' (use en, no, nb or es)", tag));
    }
    ASSIGN_OR_RETURN(WordList words, LoadWordList(spec_.dictionary_directory, *source));
    words.tag = tag;
    RemoveBrandWords(words, brand_words);
    if (words.lengths.empty()) {
      return Status::InvalidArgument(fmt::format(
          "generator: every word of the '{}' word list names a brand of the watchlist", tag));
    }
    word_lists_.push_back(std::move(words));
  }

  std::vector<double> weights;
  for (size_t rank = 1; rank <= spec_.brands.size(); ++rank) {
    const double base = static_cast<double>(rank);
    weights.push_back(spec_.zipf_exponent == 1.0 ? 1.0 / base : std::pow(base, -spec_.zipf_exponent));
  }
  brand_sampler_ = WeightedSampler(weights.size(), [&](uint64_t rank) { return weights[rank - 1]; });
  author_sampler_ = WeightedSampler(spec_.author_count, [](uint64_t rank) {
    return 1.0 / (static_cast<double>(rank) + kAuthorRankOffset);
  });
  mention_threshold_ = spec_.brands.empty() ? 0 : ChanceThreshold(spec_.mention_share);
  malformed_threshold_ = ChanceThreshold(spec_.malformed_share);

  salt_ = MixBits(spec_.seed ^ 0x5f3759df0badc0deULL);
  number_key_ = static_cast<uint32_t>(salt_ >> 32);
  for (Author* author : {&author_, &reply_author_, &other_author_}) {
    author->handle.reserve(64);
    author->name.reserve(64);
    author->did.reserve(40);
  }
  entities_.reserve(32);
  recent_.resize(kRecentPosts);
  return Status::Ok();
}

void FirehoseGenerator::Implementation::FillAuthor(uint64_t index, Author& author) const {
  const uint64_t hash = KeyedHash(salt_, index, 1);
  const uint64_t more = KeyedHash(salt_, index, 2);
  author.index = index;
  author.number = 100000000 + Permute32(static_cast<uint32_t>(index), number_key_);
  const WordList& home = word_lists_[hash % word_lists_.size()];

  // Handles are [A-Za-z0-9_]: a short word, sometimes an underscore, and the author's index,
  // which keeps them unique. Jetstream handles are domain names.
  const std::string_view stem = home.Word(home.handle_refs[(hash >> 8) % home.handle_refs.size()]);
  author.handle.clear();
  const uint64_t style = (hash >> 40) % 4;
  if (style == 0 && spec_.format != FirehoseFormat::kJetstream) {
    AppendCapitalized(author.handle, stem);
  } else {
    author.handle.append(stem);
  }
  if (style == 1) author.handle.push_back(spec_.format == FirehoseFormat::kJetstream ? '-' : '_');
  AppendUnsigned(author.handle, index);
  if (spec_.format == FirehoseFormat::kJetstream) author.handle.append(".bsky.social");

  // Display names may carry any letter of the author's language.
  author.name.clear();
  AppendCapitalized(author.name, home.Word(home.refs[(more >> 4) % home.refs.size()]));
  if ((more & 1) != 0) {
    author.name.push_back(' ');
    AppendCapitalized(author.name, home.Word(home.refs[(more >> 24) % home.refs.size()]));
  }

  author.did.clear();
  if (spec_.format == FirehoseFormat::kJetstream) {
    author.did.assign("did:plc:");
    uint64_t bits = KeyedHash(salt_, index, 3);
    for (int i = 0; i < 24; ++i) {
      if (i == 12) bits = KeyedHash(salt_, index, 4);
      author.did.push_back(kBase32[bits & 31]);
      bits >>= 5;
    }
  }
  author.host = kMastodonHosts[(more >> 50) % std::size(kMastodonHosts)];

  // Followers: heavy-tailed, 0 .. ~10M; most accounts have tens to thousands.
  static constexpr int64_t kPowers[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
  static constexpr uint32_t kMagnitudePerMille[] = {120, 320, 620, 850, 960, 995, 1000};
  const uint64_t draw = (hash >> 48) % 1000;
  size_t magnitude = 0;
  while (draw >= kMagnitudePerMille[magnitude]) ++magnitude;
  author.followers = kPowers[magnitude] + static_cast<int64_t>((hash >> 16) % (9 * static_cast<uint64_t>(kPowers[magnitude])));
  author.following = 5 + static_cast<int64_t>((more >> 8) % 2000);
  author.posts = 1 + static_cast<int64_t>((more >> 20) % 60000);
  author.created_ms = spec_.start_time_ms - 86400000LL * static_cast<int64_t>(30 + (more >> 36) % 5000);
}

FirehoseGenerator::Implementation::Malformation FirehoseGenerator::Implementation::DrawMalformation() {
  switch (random_.Below(4)) {
    case 0: return Malformation::kTruncated;
    case 1: return Malformation::kInvalidUtf8;
    case 2: return Malformation::kMissingText;
    default: return Malformation::kTextNumber;
  }
}

bool FirehoseGenerator::Implementation::Next(std::string& out) {
  if (produced_ >= spec_.count) return false;
  const uint64_t index = produced_++;
  last_brands_.clear();
  last_reply_ = false;
  // Nominal times are evenly spaced; IEEE multiply and divide, no fused operations.
  last_nominal_ms_ = spec_.start_time_ms +
                    static_cast<int64_t>(static_cast<double>(index) * 1000.0 / spec_.posts_per_second);
  last_event_ms_ =
      last_nominal_ms_ - static_cast<int64_t>(random_.Below(static_cast<uint64_t>(spec_.max_disorder_ms) + 1));
  malformation_ = random_.Chance(malformed_threshold_) ? DrawMalformation() : Malformation::kNone;
  last_malformed_ = malformation_ != Malformation::kNone;

  record_.clear();
  if (spec_.format == FirehoseFormat::kJetstream && random_.Percent(kJetstreamOtherEventPercent)) {
    last_post_ = false;
    // Events without text can only be broken by truncation or a bad byte.
    if (malformation_ == Malformation::kMissingText || malformation_ == Malformation::kTextNumber) {
      malformation_ = random_.Below(2) == 0 ? Malformation::kTruncated : Malformation::kInvalidUtf8;
    }
    WriteJetstreamOtherEvent(record_, index);
  } else {
    last_post_ = true;
    ComposePost(index);
    switch (spec_.format) {
      case FirehoseFormat::kTwitterV1: WriteTwitterV1(record_, index); break;
      case FirehoseFormat::kTwitterV2: WriteTwitterV2(record_, index); break;
      case FirehoseFormat::kJetstream: WriteJetstreamPost(record_, index); break;
      case FirehoseFormat::kMastodon: WriteMastodon(record_, index); break;
      case FirehoseFormat::kJson: WriteJson(record_, index); break;
    }
  }
  if (malformation_ == Malformation::kTruncated) {
    // Any strict prefix of a compact JSON object is invalid: cut anywhere from the first byte on.
    record_.Truncate(1 + random_.Below(record_.size() - 1));
  }
  out.append(record_.data(), record_.size());
  if (last_malformed_) {
    last_brands_.clear();
  } else if (last_post_) {
    std::sort(last_brands_.begin(), last_brands_.end());
    last_brands_.erase(std::unique(last_brands_.begin(), last_brands_.end()), last_brands_.end());
    Remember(index);
  }
  return true;
}

void FirehoseGenerator::Implementation::Remember(uint64_t index) {
  RecentPost post{index, author_.index, last_event_ms_, index, author_.index, last_event_ms_};
  if (last_reply_) {
    post.root_index = reply_to_.root_index;
    post.root_author = reply_to_.root_author;
    post.root_event_ms = reply_to_.root_event_ms;
  }
  recent_[recent_count_ % kRecentPosts] = post;
  ++recent_count_;
}

void FirehoseGenerator::Implementation::ComposePost(uint64_t index) {
  FillAuthor(SampleAuthor(), author_);
  language_ = random_.Below(word_lists_.size());
  if (recent_count_ > 0 && random_.Percent(static_cast<uint64_t>(spec_.reply_share_percent))) {
    // Replies go to one of the latest posts of the stream, so the replied-to post exists.
    const uint64_t window = std::min<uint64_t>(recent_count_, kRecentPosts);
    reply_to_ = recent_[(recent_count_ - 1 - random_.Below(window)) % kRecentPosts];
    FillAuthor(reply_to_.author, reply_author_);
    last_reply_ = true;
  }
  BuildText(word_lists_[language_], random_.Chance(mention_threshold_));
}

void FirehoseGenerator::Implementation::StartToken() {
  if (!text_.empty() && !glue_next_) text_.push_back(' ');
  glue_next_ = false;
}

void FirehoseGenerator::Implementation::AppendWord(const WordList& words, bool capitalize,
                                                   bool allow_function_word) {
  std::string_view word;
  if (allow_function_word && !words.function_words.empty() && random_.Below(100) < 40) {
    word = words.function_words[random_.Below(words.function_words.size())];
  } else {
    const uint32_t draw = static_cast<uint32_t>(random_.Below(words.length_cumulative.back()));
    size_t slot = 0;
    while (draw >= words.length_cumulative[slot]) ++slot;
    const size_t length = words.lengths[slot];
    const uint32_t begin = words.length_begin[length];
    word = words.Word(words.refs[begin + random_.Below(words.length_begin[length + 1] - begin)]);
  }
  if (capitalize) {
    AppendCapitalized(text_, word);
  } else {
    text_.append(word);
  }
}

// One token of ordinary text: mostly words, sometimes an emoji, a hashtag, an @mention of
// another author, a link, a quotation or a shrug.
void FirehoseGenerator::Implementation::AppendPlainToken(const WordList& words, bool capitalize) {
  const uint64_t kind = random_.Below(1000);
  StartToken();
  if (kind < 25) {
    text_.append(kEmoji[random_.Below(std::size(kEmoji))]);
  } else if (kind < 65) {
    const auto begin = static_cast<uint32_t>(text_.size());
    text_.push_back('#');
    AppendWord(words, random_.Below(5) == 0, false);
    entities_.push_back({begin, static_cast<uint32_t>(text_.size()), EntityKind::kHashtag, kNoAuthor});
  } else if (kind < 90) {
    const uint64_t mentioned = SampleAuthor();
    FillAuthor(mentioned, other_author_);
    const auto begin = static_cast<uint32_t>(text_.size());
    text_.push_back('@');
    text_.append(other_author_.handle);
    entities_.push_back({begin, static_cast<uint32_t>(text_.size()), EntityKind::kMention, mentioned});
  } else if (kind < 97) {
    const auto begin = static_cast<uint32_t>(text_.size());
    text_.append("https://t.co/");
    for (int i = 0; i < 10; ++i) text_.push_back(kBase62[random_.Below(kBase62.size())]);
    entities_.push_back({begin, static_cast<uint32_t>(text_.size()), EntityKind::kLink, kNoAuthor});
  } else if (kind < 99) {
    // A quotation: ASCII quotes everywhere (they exercise JSON escaping), guillemets in Norwegian.
    const bool guillemets = words.script == Script::kNorwegian && random_.Below(2) == 0;
    text_.append(guillemets ? "«" : "\"");
    AppendWord(words, capitalize, true);
    if (random_.Below(2) == 0) {
      text_.push_back(' ');
      AppendWord(words, false, true);
    }
    text_.append(guillemets ? "»" : "\"");
  } else if (kind < 100) {
    text_.append(kShrug);
  } else {
    AppendWord(words, capitalize, true);
  }
}

// A brand term, as written or Capitalized or UPPERCASE, sometimes in parentheses or quotes,
// followed by nothing or punctuation (English: sometimes the possessive "'s").
void FirehoseGenerator::Implementation::AppendBrand(bool capitalize) {
  const GeneratedBrand& brand = spec_.brands[brand_sampler_.Sample(random_)];
  const std::string& term = brand.terms[random_.Below(brand.terms.size())];
  const bool is_handle = term[0] == '@';
  const bool is_hashtag = term[0] == '#';
  const uint64_t wrapping = random_.Below(100);
  StartToken();
  if (wrapping < 6) {
    text_.push_back('(');
  } else if (wrapping < 10) {
    text_.push_back('"');
  }
  const auto begin = static_cast<uint32_t>(text_.size());
  const uint64_t style = random_.Below(100);
  if (is_handle) {
    text_.append(term);
    entities_.push_back({begin, static_cast<uint32_t>(text_.size()), EntityKind::kMention, kNoAuthor});
  } else if (is_hashtag) {
    text_.push_back('#');
    if (style < 20) {
      AppendCapitalized(text_, std::string_view(term).substr(1));
    } else {
      text_.append(std::string_view(term).substr(1));
    }
    entities_.push_back({begin, static_cast<uint32_t>(text_.size()), EntityKind::kHashtag, kNoAuthor});
  } else if (style < 5) {
    AppendUppercased(text_, term);
  } else if (capitalize || style < 30) {
    AppendCapitalized(text_, term);
  } else {
    text_.append(term);
  }
  if (wrapping < 6) {
    text_.push_back(')');
  } else if (wrapping < 10) {
    text_.push_back('"');
  }
  const uint64_t suffix = random_.Below(100);
  if (suffix < 8 && !is_handle && !is_hashtag && word_lists_[language_].tag == "en") {
    text_.append("'s");
  } else if (suffix >= 50) {
    text_.append(kBrandSuffixes[random_.Below(std::size(kBrandSuffixes))]);
  }
  last_brands_.push_back(brand.id);
}

void FirehoseGenerator::Implementation::BuildText(const WordList& words, bool mention) {
  text_.clear();
  entities_.clear();
  glue_next_ = false;
  const int word_count = 5 + static_cast<int>(random_.Below(26));
  brands_left_ = mention ? (random_.Below(5) == 0 ? 2 : 1) : 0;
  for (int i = 0; i < brands_left_; ++i) brand_slots_[i] = static_cast<int>(random_.Below(word_count + 1));
  if (brands_left_ == 2 && brand_slots_[0] > brand_slots_[1]) std::swap(brand_slots_[0], brand_slots_[1]);
  int next_brand = 0;
  const bool spanish = words.script == Script::kSpanish;

  int sentence_left = 0;
  std::string_view ending;
  for (int slot = 0; slot <= word_count; ++slot) {
    const bool sentence_start = sentence_left == 0;
    if (sentence_start && slot < word_count) {
      sentence_left = 3 + static_cast<int>(random_.Below(10));
      ending = kSentenceEndings[random_.Below(std::size(kSentenceEndings))];
      if (spanish && (ending == "?" || ending == "!")) {
        StartToken();
        text_.append(ending == "?" ? "¿" : "¡");
        glue_next_ = true;
      }
    }
    bool capitalize = sentence_start;
    while (next_brand < brands_left_ && brand_slots_[next_brand] == slot) {
      AppendBrand(capitalize);
      capitalize = false;
      ++next_brand;
    }
    if (slot == word_count) break;
    AppendPlainToken(words, capitalize);
    if (random_.Below(100) < 6) text_.push_back(',');
    if (--sentence_left == 0 || slot + 1 == word_count) {
      if (!text_.empty() && text_.back() == ',') text_.pop_back();
      text_.append(ending);
      sentence_left = 0;
      if (slot + 1 < word_count) {
        // A sentence without final punctuation ends its line.
        const uint64_t separator = ending.empty() ? 3 : random_.Below(100);
        if (separator < 5) {
          text_.append(separator < 2 ? "\n\n" : "\n");
          glue_next_ = true;
        }
      }
    }
  }
}

// ---- writers ---------------------------------------------------------------------------------

void FirehoseGenerator::Implementation::WriteText(ByteBuffer& out, std::string_view key,
                                                  std::string_view text) {
  if (malformation_ == Malformation::kMissingText) return;
  out.append(",\"");
  out.append(key);
  out.append("\":");
  if (malformation_ == Malformation::kTextNumber) {
    AppendUnsigned(out, 1 + random_.Below(1000000000));
    return;
  }
  out.push_back('"');
  if (malformation_ == Malformation::kInvalidUtf8) {
    // At a space (or the end), so the rest of the text stays as it was.
    size_t at = random_.Below(text.size() + 1);
    while (at < text.size() && text[at] != ' ') ++at;
    AppendJsonEscaped(out, text.substr(0, at));
    out.append(kInvalidUtf8[random_.Below(std::size(kInvalidUtf8))]);
    AppendJsonEscaped(out, text.substr(at));
  } else {
    AppendJsonEscaped(out, text);
  }
  out.push_back('"');
}

void FirehoseGenerator::Implementation::WriteTwitterV1(ByteBuffer& out, uint64_t index) {
  const uint64_t id = SnowflakeId(index, last_event_ms_);
  out.append("{\"created_at\":\"");
  AppendTwitterTime(out, last_event_ms_);
  out.append("\",\"id\":");
  AppendUnsigned(out, id);
  out.append(",\"id_str\":\"");
  AppendUnsigned(out, id);
  out.push_back('"');
  WriteText(out, "text", text_.view());
  out.append(",\"source\":\"");
  out.append(kTwitterSources[author_.index % std::size(kTwitterSources)]);
  out.append("\",\"truncated\":false");
  if (last_reply_) {
    const uint64_t parent = SnowflakeId(reply_to_.index, reply_to_.event_ms);
    out.append(",\"in_reply_to_status_id\":");
    AppendUnsigned(out, parent);
    out.append(",\"in_reply_to_status_id_str\":\"");
    AppendUnsigned(out, parent);
    out.append("\",\"in_reply_to_user_id\":");
    AppendUnsigned(out, reply_author_.number);
    out.append(",\"in_reply_to_user_id_str\":\"");
    AppendUnsigned(out, reply_author_.number);
    out.append("\",\"in_reply_to_screen_name\":\"");
    out.append(reply_author_.handle);
    out.push_back('"');
  } else {
    out.append(
        ",\"in_reply_to_status_id\":null,\"in_reply_to_status_id_str\":null,\"in_reply_to_user_id\":null,"
        "\"in_reply_to_user_id_str\":null,\"in_reply_to_screen_name\":null");
  }
  out.append(",\"user\":{\"id\":");
  AppendUnsigned(out, author_.number);
  out.append(",\"id_str\":\"");
  AppendUnsigned(out, author_.number);
  out.append("\",\"name\":");
  AppendJsonQuoted(out, author_.name);
  out.append(",\"screen_name\":\"");
  out.append(author_.handle);
  out.append("\",\"followers_count\":");
  AppendSigned(out, author_.followers);
  out.append(",\"friends_count\":");
  AppendSigned(out, author_.following);
  out.append(",\"statuses_count\":");
  AppendSigned(out, author_.posts);
  out.append(",\"created_at\":\"");
  AppendTwitterTime(out, author_.created_ms);
  out.append("\"},\"geo\":null,\"coordinates\":null,\"place\":null,\"is_quote_status\":false");
  out.append(",\"retweet_count\":");
  AppendUnsigned(out, random_.Below(4) == 0 ? random_.Below(40) : 0);
  out.append(",\"favorite_count\":");
  AppendUnsigned(out, random_.Below(2) == 0 ? random_.Below(200) : 0);

  // Entities with indices in code points, as v1.1 counts them.
  out.append(",\"entities\":{");
  static constexpr std::pair<EntityKind, std::string_view> kGroups[] = {
      {EntityKind::kHashtag, "hashtags"}, {EntityKind::kLink, "urls"}, {EntityKind::kMention, "user_mentions"}};
  bool first_group = true;
  for (const auto& [kind, group] : kGroups) {
    if (!first_group) out.push_back(',');
    first_group = false;
    out.push_back('"');
    out.append(group);
    out.append("\":[");
    bool first = true;
    size_t scanned = 0;
    uint64_t code_points = 0;
    for (const Entity& entity : entities_) {
      // Count code points up to this entity (entities are in text order).
      for (; scanned < entity.begin; ++scanned) code_points += (static_cast<unsigned char>(text_.data()[scanned]) & 0xC0) != 0x80;
      uint64_t entity_code_points = 0;
      for (size_t i = entity.begin; i < entity.end; ++i) entity_code_points += (static_cast<unsigned char>(text_.data()[i]) & 0xC0) != 0x80;
      if (entity.kind != kind) continue;
      if (!first) out.push_back(',');
      first = false;
      const std::string_view body(text_.data() + entity.begin + (kind == EntityKind::kLink ? 0 : 1),
                                  entity.end - entity.begin - (kind == EntityKind::kLink ? 0 : 1));
      switch (kind) {
        case EntityKind::kHashtag:
          out.append("{\"text\":");
          AppendJsonQuoted(out, body);
          break;
        case EntityKind::kLink:
          out.append("{\"url\":\"");
          out.append(body);
          out.append("\",\"expanded_url\":\"");
          out.append(body);
          out.append("\",\"display_url\":\"");
          out.append(body.substr(8));
          out.push_back('"');
          break;
        case EntityKind::kMention:
          out.append("{\"screen_name\":");
          AppendJsonQuoted(out, body);
          if (entity.author != kNoAuthor) {
            FillAuthor(entity.author, other_author_);
            out.append(",\"name\":");
            AppendJsonQuoted(out, other_author_.name);
            out.append(",\"id\":");
            AppendUnsigned(out, other_author_.number);
            out.append(",\"id_str\":\"");
            AppendUnsigned(out, other_author_.number);
            out.push_back('"');
          }
          break;
      }
      out.append(",\"indices\":[");
      AppendUnsigned(out, code_points);
      out.push_back(',');
      AppendUnsigned(out, code_points + entity_code_points);
      out.append("]}");
    }
    out.push_back(']');
  }
  out.append(",\"symbols\":[]},\"favorited\":false,\"retweeted\":false,\"lang\":\"");
  out.append(word_lists_[language_].tag);
  out.append("\"}");
}

void FirehoseGenerator::Implementation::WriteTwitterV2User(ByteBuffer& out, const Author& author) {
  out.append("{\"id\":\"");
  AppendUnsigned(out, author.number);
  out.append("\",\"name\":");
  AppendJsonQuoted(out, author.name);
  out.append(",\"username\":\"");
  out.append(author.handle);
  out.append("\",\"public_metrics\":{\"followers_count\":");
  AppendSigned(out, author.followers);
  out.append(",\"following_count\":");
  AppendSigned(out, author.following);
  out.append(",\"tweet_count\":");
  AppendSigned(out, author.posts);
  out.append("}}");
}

void FirehoseGenerator::Implementation::WriteTwitterV2(ByteBuffer& out, uint64_t index) {
  const uint64_t id = SnowflakeId(index, last_event_ms_);
  out.append("{\"data\":[{\"id\":\"");
  AppendUnsigned(out, id);
  out.push_back('"');
  WriteText(out, "text", text_.view());
  out.append(",\"author_id\":\"");
  AppendUnsigned(out, author_.number);
  out.append("\",\"created_at\":\"");
  AppendIsoTime(out, last_event_ms_);
  out.append("\",\"lang\":\"");
  out.append(word_lists_[language_].tag);
  out.append("\",\"conversation_id\":\"");
  AppendUnsigned(out, last_reply_ ? SnowflakeId(reply_to_.root_index, reply_to_.root_event_ms) : id);
  out.push_back('"');
  if (last_reply_) {
    out.append(",\"referenced_tweets\":[{\"type\":\"replied_to\",\"id\":\"");
    AppendUnsigned(out, SnowflakeId(reply_to_.index, reply_to_.event_ms));
    out.append("\"}],\"in_reply_to_user_id\":\"");
    AppendUnsigned(out, reply_author_.number);
    out.push_back('"');
  }
  out.append(",\"public_metrics\":{\"retweet_count\":");
  AppendUnsigned(out, random_.Below(4) == 0 ? random_.Below(40) : 0);
  out.append(",\"reply_count\":");
  AppendUnsigned(out, random_.Below(4) == 0 ? random_.Below(10) : 0);
  out.append(",\"like_count\":");
  AppendUnsigned(out, random_.Below(2) == 0 ? random_.Below(200) : 0);
  out.append(",\"quote_count\":");
  AppendUnsigned(out, random_.Below(10) == 0 ? random_.Below(5) : 0);
  out.append("}}],\"includes\":{\"users\":[");
  WriteTwitterV2User(out, author_);
  if (last_reply_ && reply_author_.index != author_.index) {
    out.push_back(',');
    WriteTwitterV2User(out, reply_author_);
  }
  out.append("]}}");
}

void FirehoseGenerator::Implementation::AppendPostUri(ByteBuffer& out, const Author& author,
                                                      uint64_t index, int64_t event_ms) const {
  out.append("at://");
  out.append(author.did);
  out.append("/app.bsky.feed.post/");
  AppendTid(out, static_cast<uint64_t>(event_ms) * 1000 + index % 1000, index);
}

// {"did":…,"time_us":…,"kind":"<kind>" — time_us is when Jetstream saw the event: the nominal
// (arrival) time, increasing, unlike createdAt.
void FirehoseGenerator::Implementation::WriteJetstreamHead(ByteBuffer& out, uint64_t index,
                                                           const Author& author, std::string_view kind) {
  out.append("{\"did\":\"");
  if (malformation_ == Malformation::kInvalidUtf8 && !last_post_) {
    out.append(kInvalidUtf8[random_.Below(std::size(kInvalidUtf8))]);
  }
  out.append(author.did);
  out.append("\",\"time_us\":");
  const auto arrival_us = static_cast<int64_t>(static_cast<double>(index) * 1e6 / spec_.posts_per_second);
  AppendSigned(out, spec_.start_time_ms * 1000 + arrival_us);
  out.append(",\"kind\":\"");
  out.append(kind);
  out.push_back('"');
}

void FirehoseGenerator::Implementation::WriteJetstreamPost(ByteBuffer& out, uint64_t index) {
  const uint64_t created_us = static_cast<uint64_t>(last_event_ms_) * 1000 + index % 1000;
  WriteJetstreamHead(out, index, author_, "commit");
  out.append(",\"commit\":{\"rev\":\"");
  AppendTid(out, static_cast<uint64_t>(last_nominal_ms_) * 1000 + index % 1000, index ^ 0x155);
  out.append("\",\"operation\":\"create\",\"collection\":\"app.bsky.feed.post\",\"rkey\":\"");
  AppendTid(out, created_us, index);
  out.append("\",\"record\":{\"$type\":\"app.bsky.feed.post\",\"createdAt\":\"");
  AppendIsoTime(out, last_event_ms_);
  out.append("\",\"langs\":[\"");
  out.append(word_lists_[language_].tag);
  out.append("\"]");
  if (!entities_.empty()) {
    // Rich-text facets, with UTF-8 byte offsets as Bluesky counts them.
    out.append(",\"facets\":[");
    bool first = true;
    for (const Entity& entity : entities_) {
      if (!first) out.push_back(',');
      first = false;
      out.append("{\"$type\":\"app.bsky.richtext.facet\",\"features\":[{\"$type\":\"app.bsky.richtext.facet#");
      const std::string_view body(text_.data() + entity.begin, entity.end - entity.begin);
      switch (entity.kind) {
        case EntityKind::kHashtag:
          out.append("tag\",\"tag\":");
          AppendJsonQuoted(out, body.substr(1));
          break;
        case EntityKind::kLink:
          out.append("link\",\"uri\":\"");
          out.append(body);
          out.push_back('"');
          break;
        case EntityKind::kMention:
          out.append("mention\",\"did\":\"");
          if (entity.author != kNoAuthor) {
            FillAuthor(entity.author, other_author_);
            out.append(other_author_.did);
          } else {
            // A brand's account: a stable made-up DID from its handle.
            out.append("did:plc:");
            uint64_t bits = HashBytes(body, salt_);
            for (int i = 0; i < 24; ++i) {
              if (i == 12) bits = MixBits(bits);
              out.push_back(kBase32[bits & 31]);
              bits >>= 5;
            }
          }
          out.push_back('"');
          break;
      }
      out.append("}],\"index\":{\"byteEnd\":");
      AppendUnsigned(out, entity.end);
      out.append(",\"byteStart\":");
      AppendUnsigned(out, entity.begin);
      out.append("}}");
    }
    out.push_back(']');
  }
  if (last_reply_) {
    FillAuthor(reply_to_.root_author, other_author_);
    out.append(",\"reply\":{\"parent\":{\"cid\":\"");
    AppendCid(out, salt_ ^ reply_to_.index);
    out.append("\",\"uri\":\"");
    AppendPostUri(out, reply_author_, reply_to_.index, reply_to_.event_ms);
    out.append("\"},\"root\":{\"cid\":\"");
    AppendCid(out, salt_ ^ reply_to_.root_index);
    out.append("\",\"uri\":\"");
    AppendPostUri(out, other_author_, reply_to_.root_index, reply_to_.root_event_ms);
    out.append("\"}}");
  }
  WriteText(out, "text", text_.view());
  out.append("},\"cid\":\"");
  AppendCid(out, salt_ ^ index);
  out.append("\"}}");
}

// Jetstream carries much more than posts: likes, reposts, follows, identity and account events.
// The decoder must pass over them; they hold no text and mention no brand.
void FirehoseGenerator::Implementation::WriteJetstreamOtherEvent(ByteBuffer& out, uint64_t index) {
  FillAuthor(SampleAuthor(), author_);
  const uint64_t kind = random_.Below(100);
  if (kind < 15) {
    const bool identity = kind < 8;
    WriteJetstreamHead(out, index, author_, identity ? "identity" : "account");
    out.append(identity ? ",\"identity\":{\"did\":\"" : ",\"account\":{\"active\":true,\"did\":\"");
    out.append(author_.did);
    if (identity) {
      out.append("\",\"handle\":\"");
      out.append(author_.handle);
    }
    out.append("\",\"seq\":");
    AppendUnsigned(out, 30340180350ULL + index);
    out.append(",\"time\":\"");
    AppendIsoTime(out, last_event_ms_);
    out.append("\"}}");
    return;
  }
  std::string_view collection = kind < 60 ? "app.bsky.feed.like" : kind < 80 ? "app.bsky.feed.repost"
                                                                            : "app.bsky.graph.follow";
  WriteJetstreamHead(out, index, author_, "commit");
  out.append(",\"commit\":{\"rev\":\"");
  AppendTid(out, static_cast<uint64_t>(last_nominal_ms_) * 1000 + index % 1000, index ^ 0x155);
  out.append("\",\"operation\":\"create\",\"collection\":\"");
  out.append(collection);
  out.append("\",\"rkey\":\"");
  AppendTid(out, static_cast<uint64_t>(last_event_ms_) * 1000 + index % 1000, index);
  out.append("\",\"record\":{\"$type\":\"");
  out.append(collection);
  out.append("\",\"createdAt\":\"");
  AppendIsoTime(out, last_event_ms_);
  out.append("\",\"subject\":");
  if (kind >= 80) {
    FillAuthor(SampleAuthor(), other_author_);
    out.push_back('"');
    out.append(other_author_.did);
    out.push_back('"');
  } else {
    // Likes and reposts point at a recent post of the stream (or, before any, a made-up one).
    RecentPost subject{index, SampleAuthor(), last_event_ms_, index, 0, 0};
    if (recent_count_ > 0) {
      subject = recent_[(recent_count_ - 1 - random_.Below(std::min<uint64_t>(recent_count_, kRecentPosts))) %
                        kRecentPosts];
    }
    FillAuthor(subject.author, other_author_);
    out.append("{\"cid\":\"");
    AppendCid(out, salt_ ^ subject.index);
    out.append("\",\"uri\":\"");
    AppendPostUri(out, other_author_, subject.index, subject.event_ms);
    out.append("\"}");
  }
  out.append("},\"cid\":\"");
  AppendCid(out, salt_ ^ index ^ 0xA5A5);
  out.append("\"}}");
}

void FirehoseGenerator::Implementation::AppendMastodonPlain(std::string_view text) {
  // Paragraphs for blank lines, <br /> for single line breaks, as Mastodon renders them.
  size_t position = 0;
  while (position < text.size()) {
    const size_t newline = text.find('\n', position);
    if (newline == std::string_view::npos) {
      AppendHtmlEscaped(html_, text.substr(position));
      return;
    }
    AppendHtmlEscaped(html_, text.substr(position, newline - position));
    if (newline + 1 < text.size() && text[newline + 1] == '\n') {
      html_.append("</p><p>");
      position = newline + 2;
    } else {
      html_.append("<br />");
      position = newline + 1;
    }
  }
}

void FirehoseGenerator::Implementation::RenderMastodonHtml() {
  html_.clear();
  html_.append("<p>");
  size_t position = 0;
  for (const Entity& entity : entities_) {
    AppendMastodonPlain(text_.view().substr(position, entity.begin - position));
    const std::string_view body(text_.data() + entity.begin, entity.end - entity.begin);
    switch (entity.kind) {
      case EntityKind::kHashtag:
        html_.append("<a href=\"https://");
        html_.append(kLocalMastodonHost);
        html_.append("/tags/");
        AppendHtmlEscaped(html_, body.substr(1));
        html_.append("\" class=\"mention hashtag\" rel=\"tag\">#<span>");
        AppendHtmlEscaped(html_, body.substr(1));
        html_.append("</span></a>");
        break;
      case EntityKind::kMention: {
        std::string_view host = kLocalMastodonHost;
        if (entity.author != kNoAuthor) {
          FillAuthor(entity.author, other_author_);
          host = other_author_.host;
        }
        html_.append("<span class=\"h-card\" translate=\"no\"><a href=\"https://");
        html_.append(host);
        html_.append("/@");
        AppendHtmlEscaped(html_, body.substr(1));
        html_.append("\" class=\"u-url mention\">@<span>");
        AppendHtmlEscaped(html_, body.substr(1));
        html_.append("</span></a></span>");
        break;
      }
      case EntityKind::kLink:
        html_.append("<a href=\"");
        html_.append(body);
        html_.append(
            "\" target=\"_blank\" rel=\"nofollow noopener noreferrer\" translate=\"no\"><span "
            "class=\"invisible\">https://</span><span class=\"\">");
        html_.append(body.substr(8));
        html_.append("</span><span class=\"invisible\"></span></a>");
        break;
    }
    position = entity.end;
  }
  AppendMastodonPlain(text_.view().substr(position));
  html_.append("</p>");
}

void FirehoseGenerator::Implementation::WriteMastodon(ByteBuffer& out, uint64_t index) {
  RenderMastodonHtml();
  const uint64_t id = SnowflakeId(index, last_event_ms_);
  out.append("{\"id\":\"");
  AppendUnsigned(out, id);
  out.append("\",\"created_at\":\"");
  AppendIsoTime(out, last_event_ms_);
  if (last_reply_) {
    out.append("\",\"in_reply_to_id\":\"");
    AppendUnsigned(out, SnowflakeId(reply_to_.index, reply_to_.event_ms));
    out.append("\",\"in_reply_to_account_id\":\"");
    AppendUnsigned(out, reply_author_.number);
    out.push_back('"');
  } else {
    out.append("\",\"in_reply_to_id\":null,\"in_reply_to_account_id\":null");
  }
  out.append(",\"sensitive\":false,\"spoiler_text\":\"\",\"visibility\":\"");
  out.append(random_.Below(10) == 0 ? "unlisted" : "public");
  out.append("\",\"language\":\"");
  out.append(word_lists_[language_].tag);
  out.append("\",\"uri\":\"https://");
  out.append(author_.host);
  out.append("/users/");
  out.append(author_.handle);
  out.append("/statuses/");
  AppendUnsigned(out, id);
  out.append("\",\"url\":\"https://");
  out.append(author_.host);
  out.append("/@");
  out.append(author_.handle);
  out.push_back('/');
  AppendUnsigned(out, id);
  out.append("\",\"replies_count\":");
  AppendUnsigned(out, random_.Below(4) == 0 ? random_.Below(10) : 0);
  out.append(",\"reblogs_count\":");
  AppendUnsigned(out, random_.Below(4) == 0 ? random_.Below(30) : 0);
  out.append(",\"favourites_count\":");
  AppendUnsigned(out, random_.Below(2) == 0 ? random_.Below(100) : 0);
  out.append(",\"edited_at\":null");
  WriteText(out, "content", html_.view());
  out.append(",\"reblog\":null,\"account\":{\"id\":\"");
  AppendUnsigned(out, author_.number);
  out.append("\",\"username\":\"");
  out.append(author_.handle);
  out.append("\",\"acct\":\"");
  out.append(author_.handle);
  if (author_.host != kLocalMastodonHost) {
    out.push_back('@');
    out.append(author_.host);
  }
  out.append("\",\"display_name\":");
  AppendJsonQuoted(out, author_.name);
  out.append(",\"locked\":false,\"bot\":false,\"created_at\":\"");
  AppendIsoTime(out, author_.created_ms);
  out.append("\",\"url\":\"https://");
  out.append(author_.host);
  out.append("/@");
  out.append(author_.handle);
  out.append("\",\"followers_count\":");
  AppendSigned(out, author_.followers);
  out.append(",\"following_count\":");
  AppendSigned(out, author_.following);
  out.append(",\"statuses_count\":");
  AppendSigned(out, author_.posts);
  out.append("},\"media_attachments\":[],\"mentions\":[");
  bool first = true;
  for (const Entity& entity : entities_) {
    if (entity.kind != EntityKind::kMention) continue;
    if (!first) out.push_back(',');
    first = false;
    const std::string_view handle(text_.data() + entity.begin + 1, entity.end - entity.begin - 1);
    std::string_view host = kLocalMastodonHost;
    out.append("{\"id\":\"");
    if (entity.author != kNoAuthor) {
      FillAuthor(entity.author, other_author_);
      host = other_author_.host;
      AppendUnsigned(out, other_author_.number);
    } else {
      AppendUnsigned(out, HashBytes(handle, salt_) % 1000000000000ULL);
    }
    out.append("\",\"username\":");
    AppendJsonQuoted(out, handle);
    out.append(",\"url\":\"https://");
    out.append(host);
    out.append("/@");
    AppendJsonEscaped(out, handle);
    out.append("\",\"acct\":");
    out.push_back('"');
    AppendJsonEscaped(out, handle);
    if (host != kLocalMastodonHost) {
      out.push_back('@');
      out.append(host);
    }
    out.append("\"}");
  }
  out.append("],\"tags\":[");
  first = true;
  for (const Entity& entity : entities_) {
    if (entity.kind != EntityKind::kHashtag) continue;
    if (!first) out.push_back(',');
    first = false;
    const std::string_view tag(text_.data() + entity.begin + 1, entity.end - entity.begin - 1);
    out.append("{\"name\":");
    AppendJsonQuoted(out, tag);
    out.append(",\"url\":\"https://");
    out.append(kLocalMastodonHost);
    out.append("/tags/");
    AppendJsonEscaped(out, tag);
    out.append("\"}");
  }
  out.append("],\"emojis\":[]}");
}

void FirehoseGenerator::Implementation::WriteJson(ByteBuffer& out, uint64_t index) {
  out.append("{\"id\":\"");
  AppendUnsigned(out, SnowflakeId(index, last_event_ms_));
  out.push_back('"');
  WriteText(out, "text", text_.view());
  out.append(",\"author\":\"");
  AppendUnsigned(out, author_.number);
  out.append("\",\"followers\":");
  AppendSigned(out, author_.followers);
  out.append(",\"ts\":");
  AppendSigned(out, last_event_ms_);
  out.append(",\"lang\":\"");
  out.append(word_lists_[language_].tag);
  out.push_back('"');
  if (last_reply_) {
    out.append(",\"reply_to\":\"");
    AppendUnsigned(out, SnowflakeId(reply_to_.index, reply_to_.event_ms));
    out.append("\",\"reply_to_author\":\"");
    AppendUnsigned(out, reply_author_.number);
    out.push_back('"');
  }
  out.push_back('}');
}

// ---- FirehoseGenerator -----------------------------------------------------------------------

FirehoseGenerator::FirehoseGenerator(std::unique_ptr<Implementation> implementation)
    : implementation_(std::move(implementation)) {}

FirehoseGenerator::~FirehoseGenerator() = default;

Result<std::unique_ptr<FirehoseGenerator>> FirehoseGenerator::Make(const GeneratorSpec& spec) {
  auto implementation = std::make_unique<Implementation>(spec);
  RETURN_IF_ERROR(implementation->Initialize());
  return std::unique_ptr<FirehoseGenerator>(new FirehoseGenerator(std::move(implementation)));
}

bool FirehoseGenerator::Next(std::string& out) { return implementation_->Next(out); }

const std::vector<std::string>& FirehoseGenerator::last_inserted_brands() const {
  return implementation_->last_brands();
}
bool FirehoseGenerator::last_was_malformed() const { return implementation_->last_malformed(); }
bool FirehoseGenerator::last_was_post() const { return implementation_->last_post(); }
bool FirehoseGenerator::last_was_reply() const { return implementation_->last_reply(); }
int64_t FirehoseGenerator::last_event_time_ms() const { return implementation_->last_event_ms(); }
int64_t FirehoseGenerator::last_nominal_time_ms() const { return implementation_->last_nominal_ms(); }
uint64_t FirehoseGenerator::produced() const { return implementation_->produced(); }

}  // namespace brandpulse
