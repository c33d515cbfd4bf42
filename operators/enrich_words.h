// What enrichment's rules know about one normalised word (its valence in each language's
// lexicon, and whether it is a negator, a booster, a contrast word, a switch marker, … in which
// language), in one flat open-addressing hash table: a post's words are looked up once each,
// while tokenising, and every rule after that reads the token's WordInfo.
//
// Keys are views of static text (the lexicons compiled into the binary and the rules' string
// literals); the table is built once by TextEnricher::Make and only read afterwards.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace brandpulse::enrich_words {

// Flags of a word. Per-language flags take four bits, one per RuleLanguage value
// (kOther = 0, kEnglish = 1, kNorwegian = 2, kSpanish = 3): `flag << language`.
enum WordFlag : uint32_t {
  kInEnglishLexicon = 1u << 0,
  kInNorwegianLexicon = 1u << 1,
  kInSpanishLexicon = 1u << 2,
  kNegator = 1u << 3,      // ×4 languages: bits 3–6
  kBooster = 1u << 7,      // bits 7–10
  kContrast = 1u << 11,    // bits 11–14
  kBelieve = 1u << 15,     // "can't believe how good": a negator before it does not negate
  kThan = 1u << 16,        // "than", "enn", "que"
  kComparative = 1u << 17, // "better", "bedre", "mejor", …
  kSwitchSource = 1u << 18,  // "from", "fra", "de", …: the brand after it is left behind
  kSwitchTarget = 1u << 19,  // "to", "til", "a", …: the brand after it is switched to
  kVoteEnglish = 1u << 20,   // function words that tell the language of an unsure post
  kVoteNorwegian = 1u << 21,
  kVoteSpanish = 1u << 22,
  kNynorsk = 1u << 23,       // forms only nynorsk writes ("ikkje", "eg", "kva")
  kBokmal = 1u << 24,        // their bokmål counterparts ("ikke", "jeg", "hva")
  kClauseBreak = 1u << 25,   // "while", "mens", "mientras": a new clause for the per-brand rules
  kWithin = 1u << 27,        // "in", "en", "på" before a duration: "fixed it in 20 min"
  kShortTime = 1u << 28,     // "min", "minutes", "minutos", "minutter", …
  kInsteadOf = 1u << 26,     // "instead (of)", "(i) stedet (for)", "(en) vez (de)", "(en) lugar (de)"
};
inline constexpr uint32_t kInAnyLexicon = kInEnglishLexicon | kInNorwegianLexicon | kInSpanishLexicon;

constexpr uint32_t ForLanguage(WordFlag flag, uint8_t language) { return static_cast<uint32_t>(flag) << language; }

struct WordInfo {
  // By RuleLanguage; [0] (other languages) is the first lexicon that knows the word: English,
  // Norwegian, Spanish.
  float valence[4] = {0, 0, 0, 0};
  uint32_t flags = 0;
};

class WordTable {
 public:
  // The entry of `word`, created empty when absent (building only).
  WordInfo& Add(std::string_view word);
  template <typename Visit>
  void ForEach(Visit visit) {
    for (Entry& entry : entries_) visit(entry.info);
  }
  // After the last Add: sizes the slot array. False when there are more words than a slot can
  // name (kMaxEntries).
  bool Seal();
  static constexpr uint32_t kMaxEntries = (1u << 15) - 1;
  // The word's entry, or an empty one.
  const WordInfo& Find(std::string_view word) const { return Find(word, Hash(word)); }
  // The same, with `hash` == Hash(word) already computed (the tokeniser hashes each word where
  // it wrote it: HashPadded).
  const WordInfo& Find(std::string_view word, uint64_t hash) const;

  // Eight bytes at a time, after the word is written, so that the tokeniser's per-byte loop
  // does no hashing (a multiply per byte was that loop's longest dependency chain). `bytes`
  // must be readable up to the next multiple of 8 past `length` (the tokeniser's buffer is
  // padded); the bytes past `length` are masked off.
  static uint64_t HashPadded(const char* bytes, size_t length) {
    uint64_t hash = 0x9E3779B97F4A7C15ull ^ length;
    size_t at = 0;
    for (; at + 8 <= length; at += 8) hash = MixChunk(hash, LoadChunk(bytes + at));
    if (at < length) {
      hash = MixChunk(hash, LoadChunk(bytes + at) & (~uint64_t{0} >> (64 - 8 * (length - at))));
    }
    hash *= 0xD6E8FEB86659FD93ull;
    return hash ^ (hash >> 32);
  }
  // For building and short words: a word of over 64 bytes is copied (allocates).
  static uint64_t Hash(std::string_view word) {
    char padded[72] = {};
    if (word.size() + 8 > sizeof padded) {
      std::string copy(word);
      copy.append(8, '\0');
      return HashPadded(copy.data(), word.size());
    }
    std::memcpy(padded, word.data(), word.size());
    return HashPadded(padded, word.size());
  }

  // Memory-level parallelism for a post's words: the table is larger than the cache the rest
  // of a pipeline leaves it, so a lookup is mostly a wait for its slot and then its entry. The
  // tokeniser prefetches each word's slot when it has hashed the word, then, after the post,
  // the entries of the slots whose tag matches, then looks the words up.
  void PrefetchSlot(uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & mask_]);
  }
  void PrefetchEntry(uint64_t hash) const {
    if (slots_.empty()) return;
    const uint32_t value = slots_[hash & mask_];
    if (value != 0 && (value >> 15) == static_cast<uint32_t>(hash >> 47)) {
      __builtin_prefetch(&entries_[(value & kMaxEntries) - 1]);
    }
  }

 private:
  static uint64_t LoadChunk(const char* bytes) {
    uint64_t chunk;
    std::memcpy(&chunk, bytes, 8);
    return chunk;
  }
  static uint64_t MixChunk(uint64_t hash, uint64_t chunk) {
    hash = (hash ^ chunk) * 0x9E3779B97F4A7C15ull;
    return hash ^ (hash >> 29);
  }
  // 32 bytes, two to a cache line: a found word touches its slot and its entry, not also the
  // lexicon text its key views (the word itself when it fits in `key`).
  static constexpr size_t kInlineKey = 11;
  static constexpr uint8_t kLongKey = 0xFF;  // `length` of a longer word: compare words_[entry]
  struct alignas(32) Entry {
    WordInfo info;
    uint8_t length = 0;
    char key[kInlineKey] = {};
  };
  void Insert(uint32_t entry_index);

  std::vector<Entry> entries_;
  std::vector<std::string_view> words_;  // by entry: each entry's word
  std::unordered_map<std::string_view, uint32_t> building_;  // word → entry, until Seal()
  // 4 bytes a slot, so that the table stays in cache beside the other stages' data: the hash's
  // top 17 bits << 15 | (entry index + 1); 0 is empty.
  std::vector<uint32_t> slots_;
  uint64_t mask_ = 0;
  WordInfo empty_;
};

}  // namespace brandpulse::enrich_words
