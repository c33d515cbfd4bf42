// The `enrich` transform (type enrichment::kTransformType): language, sentiment and intents of
// posts, and the sentiment towards each brand a post names (operators/enrich_text.h has the rules).
//
// Publishes under the shared names of engine/enrichment_fields.h:
// - post fields `lang` (text), `lang_variant` (text, nb/nn), `sentiment` (−1/0/+1),
//   `sentiment_confidence` (0…1000), `intents` (IntentBit mask); Post::language is set to the
//   language found, so the built-in `lang:` query field and `lang` dimension use it too;
// - Mention::sentiment: the sentiment towards that brand;
// - window counters sentiment_negative|neutral|positive (per mention, the sentiment towards its
//   brand; the post's when enrichment ran before match) and intent_* (per mention of a post with
//   that intent), registered at start-up in this fixed order (their ids are stored);
// - query fields `sentiment:` and `intent:`; window dimensions `sentiment` (towards the brand)
//   and `intent` (the post's main intent: complaint, churn, support, question, purchase, praise).
//
// Options (its section under `transforms:`):
//   posts: matched (default; after `match`: only posts naming a brand, with per-brand sentiment)
//        | all (every post; may stand before `match` so that watchlist queries can use
//          sentiment:/intent:/lang:, per-brand sentiment is then the post's)
//   language: payload (default; a post's own language tag is kept) | detect (always CLD2)
#pragma once

#include "operators/registry.h"

namespace brandpulse {

// Registers the post fields, counters, dimensions and query fields above (idempotent) and the
// `enrich` transform reader. Called by RegisterBuiltinOperators at start-up.
void RegisterEnrichment(OperatorRegistry& registry);

}  // namespace brandpulse
