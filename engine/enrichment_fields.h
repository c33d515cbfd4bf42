// The names under which enrichment (language, sentiment, intent) publishes what it finds about a
// post, so that the operators that read them (alert rules, sinks, queries) and the one that
// writes them agree without including each other. Values live in registered post fields
// (engine/post_fields.h) and window counters (engine/window_metric_registry.h); a reader looks
// them up by these names and treats "not registered" or "not present" as "enrichment is off".
#pragma once

#include <cstdint>
#include <string_view>

namespace brandpulse::enrichment {

// Post fields.
inline constexpr std::string_view kLanguageField = "lang";             // text: "en", "no", "es", "und"
inline constexpr std::string_view kLanguageVariantField = "lang_variant";  // text: "nb", "nn" or absent
inline constexpr std::string_view kSentimentField = "sentiment";       // number: -1, 0, +1 (whole post)
inline constexpr std::string_view kSentimentConfidenceField = "sentiment_confidence";  // number, 0..1000
inline constexpr std::string_view kIntentsField = "intents";           // number: IntentBit mask

// Intents, as bits of the `intents` field; the letters are the evaluation format's codes.
enum IntentBit : uint32_t {
  kIntentQuestion = 1u << 0,   // Q
  kIntentComplaint = 1u << 1,  // C
  kIntentPraise = 1u << 2,     // P
  kIntentPurchase = 1u << 3,   // B
  kIntentChurn = 1u << 4,      // X
  kIntentSupport = 1u << 5,    // S
};

// Window counters (per brand mention; sentiment is the sentiment towards that brand).
inline constexpr std::string_view kNegativeCounter = "sentiment_negative";
inline constexpr std::string_view kNeutralCounter = "sentiment_neutral";
inline constexpr std::string_view kPositiveCounter = "sentiment_positive";
inline constexpr std::string_view kQuestionCounter = "intent_question";
inline constexpr std::string_view kComplaintCounter = "intent_complaint";
inline constexpr std::string_view kPraiseCounter = "intent_praise";
inline constexpr std::string_view kPurchaseCounter = "intent_purchase";
inline constexpr std::string_view kChurnCounter = "intent_churn";
inline constexpr std::string_view kSupportCounter = "intent_support";

// The transform's `type:` in a pipeline's `transforms:` list.
inline constexpr std::string_view kTransformType = "enrich";

}  // namespace brandpulse::enrichment
