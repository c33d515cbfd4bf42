// A linear model over what enrichment's rules compute (their scores, cue hits, decisions) and
// hashed words and word pairs of the post, trained offline on labelled posts
// (`brandpulse train-enrichment`, cli/train_enrichment_command.cc) and shipped as a small
// versioned text file compiled into the binary (operators/enrichment/model_v1.inc, its training
// data in operators/enrichment/SOURCES.md).
//
// Heads: the sentiment (three logits, softmax: negative, neutral, positive) and one logit per
// intent (question, complaint, praise, purchase, churn, support, in enrichment::IntentBit
// order). The model file says, per rule language and head, whether the model or the rules
// decide: the trainer lets the model decide only where it beat the rules on the held-out folds
// of the training posts. Inference is a dot product over a fixed number of dense features and
// one weight row per hashed word: no allocation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace brandpulse::enrich_model {

inline constexpr int kHeads = 9;        // 0–2 sentiment logits, 3–8 intents by IntentBit
inline constexpr int kIntentHead = 3;   // head of intent bit i: kIntentHead + i
inline constexpr int kLanguages = 4;    // RuleLanguage: other, English, Norwegian, Spanish
inline constexpr int kFormatVersion = 1;

// Dense features (each about −1…+1). Each is learnt once for all languages and once per rule
// language (rows kDense × (1 + kLanguages)).
enum Dense : uint8_t {
  kBias = 0,
  kRuleCompound,      // the rules' compound score, cues included
  kWordsCompound,     // the compound of the sentiment words alone
  kPositiveWords,     // sum of the positive word valences, squashed
  kNegativeWords,     // sum of the negative word valences (magnitude), squashed
  kRuleNegative,      // the rules called the post negative
  kRulePositive,      // … positive
  kCueFirst,          // + enrichment_cues::Cue (7 cue classes: question … sarcasm)
  kManyComplaintCues = kCueFirst + 7,
  kQuestionMark,
  kExclamation,
  kNegation,
  kContrast,
  kShouting,
  kEmoji,             // emoji/emoticon valence sum, squashed
  kRuleIntentFirst,   // + intent bit index (6): the rules' intents
  kNoSentimentWords = kRuleIntentFirst + 6,
  // No length feature: in the labelled posts complaints are the long ones, and a model that
  // learnt "long is negative" called a third of VADER's positive tweets negative.
  kDense,
};

// What the model reads of one post. Hashes are 32-bit feature hashes (words and word pairs,
// mixed with the rule language); the model takes `hash & (buckets − 1)`. Enrich() fills them only
// for a model that reads words (or for training).
struct Features {
  float dense[kDense] = {};
  uint8_t language = 0;  // RuleLanguage
  std::vector<uint32_t> hashes;
};

// Feature hash of one token's normalised text, and of a pair of them.
uint32_t TokenHash(std::string_view token, uint8_t language);
inline uint32_t PairHash(uint32_t first, uint32_t second) {
  uint64_t mixed = (static_cast<uint64_t>(first) << 32 | second) * 0x9E3779B97F4A7C15ull;
  return static_cast<uint32_t>(mixed >> 29);
}

// The rules' complaint and praise bits (enrichment::IntentBit) for a post whose sentiment class is
// `sentiment` (0 negative, 1 neutral, 2 positive), read from its features: complaint = negative
// unless the post only announces leaving; praise = positive with a praise cue or clearly positive
// (the rules' compound ≥ 0.4). Where the model decides the sentiment and the rules the intent,
// the rules follow the model's sentiment.
inline constexpr uint32_t kSentimentIntents = 2u | 4u;  // complaint, praise
uint32_t RuleSentimentIntents(const Features& features, int sentiment);

// Which heads the model decides, per rule language: bit 0 the sentiment, bit 1 + i intent i.
inline constexpr uint32_t kUseSentiment = 1;
inline constexpr uint32_t UseIntent(int intent_index) { return 1u << (1 + intent_index); }

class Model {
 public:
  // Reads the text format (Serialize()). Errors name the line.
  static Result<Model> Parse(std::string_view text);
  // The text format: a version line, the bucket count, the `use` masks, then one line per
  // non-zero weight row ("d ROW w…" dense, "h BUCKET w…" hashed), weights to 4 significant digits.
  std::string Serialize(std::string_view header_comment) const;

  explicit Model(uint32_t buckets = 1024);

  // The heads' raw outputs (logits) for `features`.
  void Score(const Features& features, float out[kHeads]) const;
  uint32_t uses(uint8_t language) const { return use_[language]; }
  void set_uses(uint8_t language, uint32_t mask) { use_[language] = mask; }
  // 0: the model reads no words (the dense features only); Enrich() then hashes nothing.
  uint32_t buckets() const { return buckets_; }

  // Training (full-batch AdaGrad on the L2-regularised log loss; deterministic).
  struct Sample {
    const Features* features;
    int sentiment;     // 0 negative, 1 neutral, 2 positive
    uint32_t intents;  // IntentBit mask
  };
  struct TrainOptions {
    double l2 = 1e-3;
    int iterations = 300;
    double learning_rate = 0.3;
    // Weigh each sentiment class's posts by n / (3 × the class's posts): macro-F1 counts the
    // classes alike, and the classes' shares differ between sets.
    bool balance_classes = false;
  };
  void Train(const std::vector<Sample>& samples, const TrainOptions& options);

 private:
  float* DenseRow(int row) { return dense_.data() + static_cast<size_t>(row) * kHeads; }
  float* HashedRow(uint32_t bucket) { return hashed_.data() + static_cast<size_t>(bucket) * kHeads; }

  uint32_t buckets_;
  uint32_t bucket_mask_;
  uint32_t use_[kLanguages] = {};
  std::vector<float> dense_;   // kDense × (1 + kLanguages) rows of kHeads
  // Per language, kDense rows of kHeads: the shared row plus the language's own (Score reads one
  // row per feature instead of two). Rebuilt by CombineRows after Parse and Train.
  std::vector<float> combined_;
  void CombineRows();
  std::vector<float> hashed_;  // buckets rows of kHeads
};

}  // namespace brandpulse::enrich_model
