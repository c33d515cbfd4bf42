#include "operators/enrich_transform.h"

#include <mutex>

#include <fmt/format.h>

#include "engine/enrichment_fields.h"
#include "engine/window_metric_registry.h"
#include "operators/enrich_text.h"
#include "operators/query.h"

namespace brandpulse {
namespace {

using namespace enrichment;

// Dimension ids of enrichment (the built-ins are 1-3; ids are stored in window keys).
constexpr Dimension kSentimentDimension{16};
constexpr Dimension kIntentDimension{17};

struct Slots {
  uint32_t language = 0, variant = 0, sentiment = 0, confidence = 0, intents = 0;
};
Slots g_slots;

int64_t NumberOf(const Post& post, uint32_t slot, int64_t absent) {
  const PostFieldValue* value = FieldOf(post, slot);
  return value == nullptr ? absent : value->number;
}

// The sentiment towards the mention's brand: its own when enrichment ran after match, else the
// post's. 0 when the post was not enriched.
uint8_t MentionSentiment(const Post& post, const Mention& mention) {
  if (mention.sentiment != 0) return mention.sentiment;
  const PostFieldValue* value = FieldOf(post, g_slots.sentiment);
  if (value == nullptr) return 0;
  return static_cast<uint8_t>(value->number + 2);  // −1/0/+1 → 1/2/3
}

constexpr uint32_t kIntentBitsInOrder[] = {kIntentQuestion, kIntentComplaint, kIntentPraise,
                                           kIntentPurchase, kIntentChurn,    kIntentSupport};
constexpr std::string_view kIntentNames[] = {"question", "complaint", "praise",
                                             "purchase", "churn",     "support"};

// The main intent, for the `intent` dimension (one slice per mention).
constexpr uint32_t kIntentPriority[] = {kIntentComplaint, kIntentChurn,    kIntentSupport,
                                        kIntentQuestion,  kIntentPurchase, kIntentPraise};

template <uint8_t kClass>
uint64_t CountSentiment(const Post& post, const Mention& mention) {
  return MentionSentiment(post, mention) == kClass;
}

template <uint32_t kBit>
uint64_t CountIntent(const Post& post, const Mention&) {
  return (static_cast<uint64_t>(NumberOf(post, g_slots.intents, 0)) & kBit) != 0;
}

void RegisterFieldsOnce() {
  static std::once_flag registered;
  std::call_once(registered, [] {
    g_slots.language = *RegisterPostField(kLanguageField, PostFieldKind::kText,
                                          "language found by enrich: en, no, es, …, und");
    g_slots.variant = *RegisterPostField(kLanguageVariantField, PostFieldKind::kText,
                                         "Norwegian written standard: nb or nn");
    g_slots.sentiment = *RegisterPostField(kSentimentField, PostFieldKind::kNumber,
                                           "sentiment of the post: -1, 0, +1");
    g_slots.confidence = *RegisterPostField(kSentimentConfidenceField, PostFieldKind::kNumber,
                                            "confidence of the sentiment, 0..1000");
    g_slots.intents = *RegisterPostField(kIntentsField, PostFieldKind::kNumber,
                                         "intents of the post (IntentBit mask)");
    // Fixed order: the counter ids are part of the stored windows.
    RegisterWindowCounter(kNegativeCounter, "mentions whose sentiment towards the brand is negative",
                          CountSentiment<1>);
    RegisterWindowCounter(kNeutralCounter, "mentions whose sentiment towards the brand is neutral",
                          CountSentiment<2>);
    RegisterWindowCounter(kPositiveCounter, "mentions whose sentiment towards the brand is positive",
                          CountSentiment<3>);
    RegisterWindowCounter(kQuestionCounter, "mentions in a post that asks a question",
                          CountIntent<kIntentQuestion>);
    RegisterWindowCounter(kComplaintCounter, "mentions in a complaint", CountIntent<kIntentComplaint>);
    RegisterWindowCounter(kPraiseCounter, "mentions in a post that praises", CountIntent<kIntentPraise>);
    RegisterWindowCounter(kPurchaseCounter, "mentions in a post that considers buying",
                          CountIntent<kIntentPurchase>);
    RegisterWindowCounter(kChurnCounter, "mentions in a post that leaves or threatens to",
                          CountIntent<kIntentChurn>);
    RegisterWindowCounter(kSupportCounter, "mentions in a post that asks for support",
                          CountIntent<kIntentSupport>);

    RegisterQueryField(QueryFieldDefinition{
        std::string(kSentimentField),
        {"negative", "neutral", "positive"},
        "write sentiment:negative, sentiment:neutral or sentiment:positive (needs enrich with "
        "posts: all before match)",
        [](const Post& post, std::string_view value) {
          const PostFieldValue* field = FieldOf(post, g_slots.sentiment);
          if (field == nullptr) return false;
          return (value == "negative" && field->number < 0) ||
                 (value == "neutral" && field->number == 0) ||
                 (value == "positive" && field->number > 0);
        }});
    RegisterQueryField(QueryFieldDefinition{
        "intent",
        {"question", "complaint", "praise", "purchase", "churn", "support"},
        "write intent:question, intent:complaint, intent:praise, intent:purchase, intent:churn "
        "or intent:support (needs enrich with posts: all before match)",
        [](const Post& post, std::string_view value) {
          const auto intents = static_cast<uint32_t>(NumberOf(post, g_slots.intents, 0));
          for (size_t i = 0; i < std::size(kIntentNames); ++i) {
            if (value == kIntentNames[i]) return (intents & kIntentBitsInOrder[i]) != 0;
          }
          return false;
        }});
    RegisterDimension(DimensionDefinition{
        kSentimentDimension, "sentiment", "the sentiment towards the brand: negative, neutral, positive",
        [](const Post& post, const Mention& mention, uint64_t& payload) {
          payload = MentionSentiment(post, mention);
          return payload != 0;
        },
        [](uint64_t payload, std::string& out) {
          out += SentimentClassName(static_cast<SentimentClass>(payload));
        }});
    RegisterDimension(DimensionDefinition{
        kIntentDimension, "intent",
        "the post's main intent: complaint, churn, support, question, purchase, praise or none",
        [](const Post& post, const Mention&, uint64_t& payload) {
          const PostFieldValue* field = FieldOf(post, g_slots.intents);
          if (field == nullptr) return false;
          payload = 7;  // none
          for (size_t i = 0; i < std::size(kIntentPriority); ++i) {
            if (static_cast<uint32_t>(field->number) & kIntentPriority[i]) {
              payload = i + 1;
              break;
            }
          }
          return true;
        },
        [](uint64_t payload, std::string& out) {
          constexpr std::string_view kNames[] = {"complaint", "churn",    "support", "question",
                                                 "purchase",  "praise",   "none"};
          out += payload >= 1 && payload <= 7 ? kNames[payload - 1] : std::string_view("none");
        }});
  });
}

struct EnrichTransformOptions {
  bool matched_only = true;
  EnrichOptions text;
};

class EnrichState final : public TransformState {
 public:
  EnrichScratch scratch;
  TextEnrichment result;
  std::vector<BrandSpan> spans;
};

// Start loading what Process reads of a post: the struct (text, language, fields), and the
// first lines of its text.
void PrefetchStruct(const Post& post) {
  const char* const bytes = reinterpret_cast<const char*>(&post);
  for (size_t offset = 0; offset < sizeof(Post); offset += 64) __builtin_prefetch(bytes + offset);
}
void PrefetchText(const Post& post) {
  for (size_t offset = 0; offset < post.text.size() && offset < 192; offset += 64) {
    __builtin_prefetch(post.text.data() + offset);
  }
}

class EnrichTransform final : public Transform {
 public:
  EnrichTransform(std::unique_ptr<TextEnricher> enricher, bool matched_only)
      : enricher_(std::move(enricher)), matched_only_(matched_only) {}

  std::string_view name() const override { return kTransformType; }

  Result<std::unique_ptr<TransformState>> MakeState() const override {
    auto state = std::make_unique<EnrichState>();
    RETURN_IF_ERROR(enricher_->Prepare(state->scratch));
    state->spans.reserve(64);
    state->result.brand_sentiment.reserve(64);
    return std::unique_ptr<TransformState>(std::move(state));
  }

  Status Process(Batch& batch, TransformState& base_state) const override {
    auto& state = static_cast<EnrichState&>(base_state);
    // Mentions come in post order (match appends them post by post).
    size_t mention = 0;
    for (uint32_t index = 0; index < batch.posts.size(); ++index) {
      while (mention < batch.mentions.size() && batch.mentions[mention].post_index < index) ++mention;
      const size_t first_mention = mention;
      size_t end_mention = mention;
      while (end_mention < batch.mentions.size() && batch.mentions[end_mention].post_index == index) {
        ++end_mention;
      }
      if (matched_only_ && first_mention == end_mention) continue;
      // The next posts to enrich: their fields and the start of their text were last touched
      // by decode, and match's databases have since pushed them out of cache. The struct of the
      // one after next and the text of the next (its struct asked for one post earlier) are
      // fetched while this post is enriched.
      size_t next = index + 1, after_next = index + 2;
      if (matched_only_) {
        size_t m = end_mention;
        next = m < batch.mentions.size() ? batch.mentions[m].post_index : batch.posts.size();
        while (m < batch.mentions.size() && batch.mentions[m].post_index == next) ++m;
        after_next = m < batch.mentions.size() ? batch.mentions[m].post_index : batch.posts.size();
      }
      if (after_next < batch.posts.size()) PrefetchStruct(batch.posts[after_next]);
      if (next < batch.posts.size()) PrefetchText(batch.posts[next]);
      Post& post = batch.posts[index];
      state.spans.clear();
      for (size_t m = first_mention; m < end_mention; ++m) {
        state.spans.push_back({batch.mentions[m].first_hit_begin, batch.mentions[m].first_hit_end});
      }
      enricher_->Enrich(post.text, post.language, state.spans, state.scratch, state.result);
      const TextEnrichment& result = state.result;
      PostFieldValue* fields = batch.MutableFields(post);
      fields[g_slots.language] = PostFieldValue{result.language, 0, true};
      if (!result.variant.empty()) fields[g_slots.variant] = PostFieldValue{result.variant, 0, true};
      const int64_t sentiment = result.sentiment == SentimentClass::kNegative   ? -1
                                : result.sentiment == SentimentClass::kPositive ? 1
                                                                                : 0;
      fields[g_slots.sentiment] = PostFieldValue{{}, sentiment, true};
      fields[g_slots.confidence] = PostFieldValue{{}, result.confidence, true};
      fields[g_slots.intents] = PostFieldValue{{}, static_cast<int64_t>(result.intents), true};
      if (result.language != "und") post.language = result.language;  // static text
      for (size_t m = first_mention; m < end_mention; ++m) {
        batch.mentions[m].sentiment =
            static_cast<uint8_t>(result.brand_sentiment[m - first_mention]);
      }
      mention = end_mention;
    }
    return Status::Ok();
  }

 private:
  std::unique_ptr<TextEnricher> enricher_;
  bool matched_only_;
};

Result<std::unique_ptr<TransformSpec>> ReadEnrich(YamlMap& section, const ConfigContext&) {
  EnrichTransformOptions options;
  if (auto posts = section.Choice("posts", {"matched", "all"})) options.matched_only = *posts == "matched";
  if (auto language = section.Choice("language", {"payload", "detect"})) {
    options.text.trust_payload_language = *language == "payload";
  }
  if (auto feed = section.Boolean("intents_feed_sentiment")) options.text.intents_feed_sentiment = *feed;
  if (auto model = section.Boolean("model")) options.text.use_model = *model;
  RETURN_IF_ERROR(section.Finish());
  TransformTraits traits;
  traits.needs_before = {options.matched_only ? std::string_view("match") : std::string_view("decode")};
  return TransformSpecOf(
      std::string(kTransformType),
      [options](const TransformBuildContext&) -> Result<std::unique_ptr<Transform>> {
        auto enricher = TextEnricher::Make(options.text);
        if (!enricher.ok()) return enricher.status();
        return std::unique_ptr<Transform>(
            new EnrichTransform(std::move(enricher).value(), options.matched_only));
      },
      traits);
}

}  // namespace

void RegisterEnrichment(OperatorRegistry& registry) {
  RegisterFieldsOnce();
  registry.AddTransform(std::string(kTransformType), ReadEnrich);
}

}  // namespace brandpulse
