// Enrichment of one post's text: its language (payload or CLD2 with its full tables), its
// sentiment (rules over curated lexicons, per language: negation in each language's word order,
// boosters, caps, elongation, emoji, emoticons, "but"/"men"/"pero"), its intents (one Hyperscan
// database of cue phrases per language over the post's normalised words), and the sentiment
// towards each brand it names (the clause around the brand; "switched from A to B").
//
// TextEnricher is immutable after Make() and shared by every worker; everything a call writes
// lives in the caller's EnrichScratch, which is reused so that a warm call does not allocate
// (CLD2 itself allocates ≈170 KB per call: its first call raises glibc's mmap and trim
// thresholds, process-wide, so those allocations come from the heap instead of mmap/munmap per
// call; a post with a trustworthy payload tag never calls CLD2).
// docs/enrichment.md describes the rules and their measured accuracy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/status.h"
#include "operators/enrich_model.h"

struct hs_database;
struct hs_scratch;

namespace brandpulse {
namespace enrich_words {
class WordTable;
}

enum class SentimentClass : uint8_t { kNone = 0, kNegative = 1, kNeutral = 2, kPositive = 3 };
std::string_view SentimentClassName(SentimentClass sentiment);  // "negative", …, "" for kNone

// Languages with rules. Everything else is scored with all three lexicons and no language rules.
enum class RuleLanguage : uint8_t { kOther = 0, kEnglish, kNorwegian, kSpanish };

struct BrandSpan {
  uint32_t begin = 0;  // byte offsets of the brand's first hit in the text
  uint32_t end = 0;
};

struct TextEnrichment {
  std::string_view language = "und";  // "en", "no", "es", another ISO code, or "und" (static)
  std::string_view variant;           // "nb" / "nn" for Norwegian when known, else empty
  SentimentClass sentiment = SentimentClass::kNeutral;
  int confidence = 0;  // 0…1000
  double score = 0;    // compound score, −1…+1
  uint32_t intents = 0;  // enrichment::IntentBit mask
  std::vector<SentimentClass> brand_sentiment;  // one per BrandSpan given, same order
};

struct EnrichOptions {
  // false: always run CLD2 (the payload language is still a hint).
  bool trust_payload_language = true;
  // Customer posts: complaint, churn, praise and sarcasm cues move the sentiment ("waited two
  // weeks" is negative without a sentiment word). false scores the words alone (general text).
  bool intents_feed_sentiment = true;
  // The shipped linear model (enrich_model.h, operators/enrichment/model_v1.inc) decides the
  // sentiment and intents where its file says it beat the rules, for customer posts
  // (intents_feed_sentiment). false: the rules alone.
  bool use_model = true;
  // Fill EnrichScratch::features() for every post (training); otherwise only where the model
  // is used.
  bool keep_features = false;
};

struct Token;
struct Clause;

// Per-worker buffers. Not thread-safe; one per worker.
class EnrichScratch {
 public:
  EnrichScratch();
  ~EnrichScratch();
  EnrichScratch(const EnrichScratch&) = delete;
  EnrichScratch& operator=(const EnrichScratch&) = delete;

  // What the model read of the last post (filled when the model decides something for its
  // language, or always with EnrichOptions::keep_features), and the rules' own decision.
  const enrich_model::Features& features() const { return features_; }
  SentimentClass rule_sentiment() const { return rule_sentiment_; }
  uint32_t rule_intents() const { return rule_intents_; }

 private:
  friend class TextEnricher;
  std::string plain_;       // the text without @handles, #tags and links, for CLD2
  std::string normalized_;  // " word word ? emoji " : lowercased, de-elongated tokens
  std::vector<Token>* tokens_;
  std::vector<Clause>* clauses_;
  std::vector<uint32_t> cue_hits_;  // (cue class << 24) | token index
  // Words whose table lookup waits for the end of the post (token index, hash): their slots
  // and entries are prefetched first (enrich_words.h, PrefetchSlot).
  std::vector<std::pair<uint32_t, uint64_t>> pending_words_;
  std::vector<uint32_t> brand_repeats_;  // token indexes where a brand is named again
  // Tokenize's classification of the whole text, 64 bytes per mask word, four words per 64
  // bytes (ASCII letter or digit, upper case, lower case, third equal byte in a row), and the
  // text with ASCII upper case folded, padded for 16-byte copies. They only grow (to the
  // longest post seen), so a warm call does not allocate.
  std::vector<uint64_t> ascii_masks_;
  std::string folded_;
  // What Tokenize finds on its way, so that Enrich() needs no pass of its own for it: word
  // tokens and those in capitals, the first contrast word of each rule language (by
  // RuleLanguage; SIZE_MAX: none; the language may be voted after tokenising), and whether a
  // word is a short time ("min", "day").
  uint32_t word_count_ = 0;
  uint32_t caps_words_ = 0;
  size_t first_contrast_[4] = {SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX};
  bool short_time_ = false;
  std::vector<hs_scratch*> hs_scratch_;  // per language database
  enrich_model::Features features_;
  SentimentClass rule_sentiment_ = SentimentClass::kNeutral;
  uint32_t rule_intents_ = 0;
};

class TextEnricher {
 public:
  // Builds lexicons and cue databases; checks that CLD2's full tables are linked.
  // `model_text` replaces the shipped model (the text format of enrich_model.h; empty: the
  // shipped one).
  static Result<std::unique_ptr<TextEnricher>> Make(EnrichOptions options = {},
                                                    std::string_view model_text = {});
  // The model compiled into the binary (operators/enrichment/model_v1.inc).
  static std::string_view ShippedModel();
  ~TextEnricher();

  // Allocates `scratch`'s per-database Hyperscan scratch (once per worker).
  Status Prepare(EnrichScratch& scratch) const;

  // Enriches `text` (valid UTF-8). `payload_language` is the post's own tag or empty. `brands`
  // are the spans of the brands the post names (may be empty). Never fails on any input: empty
  // or symbol-only text gives "und", neutral, low confidence.
  void Enrich(std::string_view text, std::string_view payload_language,
              const std::vector<BrandSpan>& brands, EnrichScratch& scratch,
              TextEnrichment& out) const;

  // The language part alone: a trustworthy payload tag, else CLD2 with the tag as hint. A plain
  // `no` tag leaves the variant empty (Enrich() votes it from the words).
  void DetectLanguage(std::string_view text, std::string_view payload_language,
                      EnrichScratch& scratch, TextEnrichment& out) const;

  // CLD2's version string (names the table build, "… - 20140204" for the full tables).
  static std::string_view Cld2Version();

  struct CueDatabase;

 private:
  TextEnricher() = default;
  void Tokenize(std::string_view text, RuleLanguage language, EnrichScratch& scratch) const;
  void ScanCues(RuleLanguage language, EnrichScratch& scratch) const;
  RuleLanguage VoteLanguage(const EnrichScratch& scratch) const;
  std::string_view VoteNorwegianVariant(const EnrichScratch& scratch) const;

  EnrichOptions options_;
  std::unique_ptr<enrich_words::WordTable> words_;  // lexicons and the rules' word lists
  std::unique_ptr<enrich_words::WordTable> emoji_;  // emoji valences
  std::vector<std::unique_ptr<CueDatabase>> cues_;  // English, Norwegian, Spanish
  std::unique_ptr<enrich_model::Model> model_;  // null: rules only
};

}  // namespace brandpulse
