// Enrichment: language (CLD2 full tables, payload tags), sentiment rules per language, intents,
// sentiment towards each brand, bad input, and the `enrich` transform's fields and counters.
#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "engine/enrichment_fields.h"
#include "engine/window_metric_registry.h"
#include "engine/window_types.h"
#include "operators/enrich_text.h"
#include "operators/enrich_words.h"
#include "operators/query.h"
#include "operators/registry.h"

namespace brandpulse {
namespace {

using namespace enrichment;

class EnrichTextTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto made = TextEnricher::Make();
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    enricher_ = std::move(made).value().release();
    scratch_ = new EnrichScratch();
    ASSERT_TRUE(enricher_->Prepare(*scratch_).ok());
  }
  static void TearDownTestSuite() {
    delete scratch_;
    delete enricher_;
  }

  TextEnrichment Enrich(std::string_view text, std::string_view payload = "",
                        std::vector<BrandSpan> brands = {}) {
    TextEnrichment out;
    enricher_->Enrich(text, payload, brands, *scratch_, out);
    return out;
  }
  // Spans of `names` (first occurrence each) in `text`.
  static std::vector<BrandSpan> Spans(std::string_view text, std::vector<std::string_view> names) {
    std::vector<BrandSpan> spans;
    for (std::string_view name : names) {
      const size_t at = text.find(name);
      EXPECT_NE(at, std::string_view::npos) << name;
      spans.push_back({static_cast<uint32_t>(at), static_cast<uint32_t>(at + name.size())});
    }
    return spans;
  }

  static TextEnricher* enricher_;
  static EnrichScratch* scratch_;
};
TextEnricher* EnrichTextTest::enricher_ = nullptr;
EnrichScratch* EnrichTextTest::scratch_ = nullptr;

TEST_F(EnrichTextTest, RunsWithCld2FullTables) {
  EXPECT_NE(TextEnricher::Cld2Version().find("20140204"), std::string_view::npos)
      << TextEnricher::Cld2Version();
}

TEST_F(EnrichTextTest, DetectsLanguagesAndNorwegianVariants) {
  EXPECT_EQ(Enrich("My internet has been down for six hours and nobody answers the phone").language, "en");
  EXPECT_EQ(Enrich("Llevo seis horas sin internet y nadie contesta al teléfono").language, "es");
  TextEnrichment bokmal = Enrich("Jeg har ventet på pakken i to uker og ingen svarer på telefonen");
  EXPECT_EQ(bokmal.language, "no");
  EXPECT_EQ(bokmal.variant, "nb");
  TextEnrichment nynorsk = Enrich("Eg har venta på pakken i to veker og ingen svarar på telefonen");
  EXPECT_EQ(nynorsk.language, "no");
  EXPECT_EQ(nynorsk.variant, "nn");
}

TEST_F(EnrichTextTest, PayloadLanguageIsKeptAndNorwegianTagsMapToNo) {
  EXPECT_EQ(Enrich("ok", "es").language, "es");
  TextEnrichment nynorsk = Enrich("ok", "nn");
  EXPECT_EQ(nynorsk.language, "no");
  EXPECT_EQ(nynorsk.variant, "nn");
  EXPECT_EQ(Enrich("Telenor er bra", "nb-NO").variant, "nb");
  // A plain `no` tag: the variant comes from the words (CLD2 with a Norwegian hint called
  // nearly every nynorsk post bokmål).
  EXPECT_EQ(Enrich("Eg har venta på pakken i to veker og ingen svarar", "no").variant, "nn");
  EXPECT_EQ(Enrich("Kvifor er appen så treg i dag?", "no").variant, "nn");
  EXPECT_EQ(Enrich("Jeg har ventet på pakken i to uker og ingen svarer", "no").variant, "nb");
  EXPECT_EQ(Enrich("Telenor er bra", "no").variant, "nb");  // nothing tells: bokmål
  // Not a language: detected instead.
  EXPECT_EQ(Enrich("This is an English sentence about my phone bill", "und").language, "en");
}

// The rules' negation (the model reads the rules' scores; it calls the mild "Jeg liker den nye
// appen" neutral, as most such posts of the tuning part are labelled).
TEST_F(EnrichTextTest, NegationInEachLanguagesWordOrder) {
  EnrichOptions rules_only;
  rules_only.use_model = false;
  auto made = TextEnricher::Make(rules_only);
  ASSERT_TRUE(made.ok());
  EnrichScratch scratch;
  ASSERT_TRUE((*made)->Prepare(scratch).ok());
  auto Enrich = [&](std::string_view text, std::string_view payload = "") {
    TextEnrichment out;
    (*made)->Enrich(text, payload, {}, scratch, out);
    return out;
  };
  EXPECT_EQ(Enrich("I like the new app").sentiment, SentimentClass::kPositive);
  EXPECT_EQ(Enrich("I don't like the new app at all").sentiment, SentimentClass::kNegative);
  EXPECT_EQ(Enrich("Jeg liker den nye appen", "nb").sentiment, SentimentClass::kPositive);
  EXPECT_EQ(Enrich("Jeg liker ikke den nye appen", "nb").sentiment, SentimentClass::kNegative);
  EXPECT_EQ(Enrich("Eg likar ikkje den nye appen", "nn").sentiment, SentimentClass::kNegative);
  EXPECT_EQ(Enrich("Me gusta la nueva app", "es").sentiment, SentimentClass::kPositive);
  EXPECT_EQ(Enrich("No me gusta la nueva app", "es").sentiment, SentimentClass::kNegative);
  EXPECT_EQ(Enrich("not bad at all, the new app is actually pretty good").sentiment,
            SentimentClass::kPositive);
}

TEST_F(EnrichTextTest, ComplaintsWithoutSentimentWordsAreNegative) {
  TextEnrichment waited = Enrich("Ventet på pakken i to uker", "nb");
  EXPECT_EQ(waited.sentiment, SentimentClass::kNegative);
  EXPECT_TRUE(waited.intents & kIntentComplaint);
  EXPECT_EQ(Enrich("Iberia canceló mi vuelo", "es").sentiment, SentimentClass::kNegative);
  EXPECT_EQ(Enrich("Great, another outage from Xfinity. Love paying for nothing").sentiment,
            SentimentClass::kNegative);
}

TEST_F(EnrichTextTest, EmojiEmoticonsCapsAndElongation) {
  EXPECT_EQ(Enrich("😍😍😍").sentiment, SentimentClass::kPositive);
  EXPECT_EQ(Enrich("😡😡").sentiment, SentimentClass::kNegative);
  EXPECT_EQ(Enrich("new phone :)").sentiment, SentimentClass::kPositive);
  TextEnrichment plain = Enrich("the app is good");
  TextEnrichment shouted = Enrich("the app is GOOD");
  TextEnrichment long_word = Enrich("the app is goooood");
  EXPECT_GT(shouted.score, plain.score);
  EXPECT_GT(long_word.score, plain.score);
}

TEST_F(EnrichTextTest, Intents) {
  EXPECT_TRUE(Enrich("Does Spotify Family include Hulu?").intents & kIntentQuestion);
  EXPECT_TRUE(Enrich("@Xfinity please DM me, need help setting up my modem").intents & kIntentSupport);
  EXPECT_TRUE(Enrich("Thinking of getting the iPhone from Apple this spring").intents & kIntentPurchase);
  EXPECT_TRUE(Enrich("I'm done with Comcast. Cancelling tomorrow.").intents & kIntentChurn);
  EXPECT_TRUE(Enrich("Tusen takk til Norwegian, dere var fantastiske!", "nb").intents & kIntentPraise);
  EXPECT_TRUE(Enrich("¿Cómo cambio el PIN de la tarjeta?", "es").intents & kIntentSupport);
  EXPECT_EQ(Enrich("Heading to the airport tomorrow").intents, 0u);
}

TEST_F(EnrichTextTest, SentimentTowardsEachBrand) {
  const std::string_view switched = "Telia is bad, switched to Telenor and love it";
  TextEnrichment out = Enrich(switched, "", Spans(switched, {"Telia", "Telenor"}));
  ASSERT_EQ(out.brand_sentiment.size(), 2u);
  EXPECT_EQ(out.brand_sentiment[0], SentimentClass::kNegative);
  EXPECT_EQ(out.brand_sentiment[1], SentimentClass::kPositive);

  const std::string_view bytter = "Bytter fra Telia til Ice, mye bedre dekning";
  out = Enrich(bytter, "nb", Spans(bytter, {"Telia", "Ice"}));
  EXPECT_EQ(out.brand_sentiment[0], SentimentClass::kNegative);
  EXPECT_EQ(out.brand_sentiment[1], SentimentClass::kPositive);

  const std::string_view cambio = "Me cambio de Movistar a Digi, pago la mitad";
  out = Enrich(cambio, "es", Spans(cambio, {"Movistar", "Digi"}));
  EXPECT_EQ(out.brand_sentiment[0], SentimentClass::kNegative);
  EXPECT_EQ(out.brand_sentiment[1], SentimentClass::kPositive);

  const std::string_view contrast = "Delta was great but United lost my bag";
  out = Enrich(contrast, "", Spans(contrast, {"Delta", "United"}));
  EXPECT_EQ(out.brand_sentiment[0], SentimentClass::kPositive);
  EXPECT_EQ(out.brand_sentiment[1], SentimentClass::kNegative);

  // A complaint cue counts fully in its own clause even when the post's words are positive
  // elsewhere (the post as a whole only leans).
  const std::string_view leaned = "Foodora kom aldri, Wolt leverte raskt";
  out = Enrich(leaned, "nb", Spans(leaned, {"Foodora", "Wolt"}));
  EXPECT_EQ(out.brand_sentiment[0], SentimentClass::kNegative);
  EXPECT_EQ(out.brand_sentiment[1], SentimentClass::kPositive);

  // A brand named again later: the clauses of its later places count too.
  const std::string_view again = "Delta lost my bag, United waited 2 hours with me. Thank you United";
  out = Enrich(again, "en", Spans(again, {"Delta", "United"}));
  EXPECT_EQ(out.brand_sentiment[0], SentimentClass::kNegative);
  EXPECT_EQ(out.brand_sentiment[1], SentimentClass::kPositive);
}

// Two brands set against each other with "while"/"mens"/"mientras" are two clauses; a brand
// after "instead of"/"i stedet for"/"en vez de" was only not chosen. (Both neutral/neutral and
// positive/positive before.)
TEST_F(EnrichTextTest, WhileSplitsClausesAndInsteadOfIsNeutral) {
  const std::string_view rivals = "Netflix keeps raising prices while Hulu just works";
  TextEnrichment out = Enrich(rivals, "en", Spans(rivals, {"Netflix", "Hulu"}));
  EXPECT_EQ(out.brand_sentiment[0], SentimentClass::kNegative);
  EXPECT_EQ(out.brand_sentiment[1], SentimentClass::kPositive);
  const std::string_view instead = "Bestilte fra Komplett i stedet for Elkjøp, kom dagen etter. Supert";
  out = Enrich(instead, "no", Spans(instead, {"Komplett", "Elkjøp"}));
  EXPECT_EQ(out.brand_sentiment[0], SentimentClass::kPositive);
  EXPECT_EQ(out.brand_sentiment[1], SentimentClass::kNeutral);
}

// Speed praises the brand of its clause (both brands were negative before).
TEST_F(EnrichTextTest, SpeedPraisesTheBrandOfItsClause) {
  const std::string_view norwegian = "Foodora mistet bestillingen, Wolt kom på 15 minutter";
  TextEnrichment out = Enrich(norwegian, "no", Spans(norwegian, {"Foodora", "Wolt"}));
  EXPECT_EQ(out.brand_sentiment[0], SentimentClass::kNegative);
  EXPECT_EQ(out.brand_sentiment[1], SentimentClass::kPositive);
  const std::string_view english = "Glovo lost my order, Uber Eats brought it in 20 minutes";
  out = Enrich(english, "en", Spans(english, {"Glovo", "Uber Eats"}));
  EXPECT_EQ(out.brand_sentiment[0], SentimentClass::kNegative);
  EXPECT_EQ(out.brand_sentiment[1], SentimentClass::kPositive);
}

// A few minutes after "in"/"en"/"på" is speed, not a wait (a duration was a complaint cue).
TEST_F(EnrichTextTest, FixedInMinutesIsNotAComplaint) {
  const TextEnrichment fast = Enrich("Vueling me solucionó la reserva en 2 minutos", "es");
  EXPECT_EQ(fast.sentiment, SentimentClass::kPositive);
  EXPECT_TRUE(fast.intents & kIntentPraise);
  EXPECT_FALSE(fast.intents & kIntentComplaint);
  const TextEnrichment slow = Enrich("Llevo 40 minutos esperando a Vueling", "es");
  EXPECT_EQ(slow.sentiment, SentimentClass::kNegative);
  EXPECT_TRUE(slow.intents & kIntentComplaint);
}

TEST_F(EnrichTextTest, BadInputIsUndeterminedNeutralAndUnsure) {
  const std::string replacement = "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD";
  const std::string invalid = "caf\xC3 \xFF\xFE";  // not valid UTF-8: must not crash either
  for (const std::string& text :
       {std::string(""), std::string("🙂🙂🙂🙂"), std::string("https://t.co/abc https://x.com/y"),
        replacement, invalid, std::string("!!! ??? ..."), std::string(2000, 'a')}) {
    TextEnrichment out = Enrich(text, "", {{0, 0}, {0, 0}});
    EXPECT_EQ(out.language, "und") << text;
    EXPECT_LE(out.confidence, 500) << text;
    if (text.find("🙂") == std::string::npos) {
      EXPECT_EQ(out.sentiment, SentimentClass::kNeutral) << text;
    }
    EXPECT_EQ(out.brand_sentiment.size(), 2u);
  }
  // Mixed scripts: something defined, never a crash.
  TextEnrichment mixed = Enrich("Telenor это 最高 مرحبا ok");
  EXPECT_FALSE(mixed.language.empty());
}

// The same bad input with a trusted payload tag: the tag's language, neutral, unsure.
TEST_F(EnrichTextTest, BadInputWithAPayloadTagIsNeutralAndUnsure) {
  const std::string replacement = "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD";
  const std::string invalid = "caf\xC3 \xFF\xFE";  // its bytes after "caf": no letter
  for (std::string_view tag : {"en", "nb", "es", "nn-NO"}) {
    for (const std::string& text :
         {std::string(""), std::string("https://t.co/abc https://x.com/y www.example.com"), replacement,
          replacement + " " + invalid.substr(4), std::string("!!! ...")}) {
      TextEnrichment out = Enrich(text, tag, {{0, 0}, {0, 3}});
      EXPECT_EQ(out.language, tag == "en" ? "en" : tag == "es" ? "es" : "no") << tag << " " << text;
      EXPECT_EQ(out.sentiment, SentimentClass::kNeutral) << tag << " " << text;
      EXPECT_LE(out.confidence, 500) << tag << " " << text;
      EXPECT_EQ(out.intents & (kIntentComplaint | kIntentPraise), 0u) << tag << " " << text;
      EXPECT_EQ(out.brand_sentiment,
                std::vector<SentimentClass>(2, SentimentClass::kNeutral)) << tag << " " << text;
    }
  }
}

// Mixed scripts and replacement characters between words: a defined result, the same as without
// the foreign or broken parts where the words tell.
TEST_F(EnrichTextTest, MixedScriptsAndReplacementCharactersKeepTheWordsResult) {
  const std::string fffd = "\xEF\xBF\xBD";
  for (auto [tag, text] : {std::pair<std::string_view, std::string>{"en", "Telia is terrible, I hate it"},
                           {"nb", "Telenor er elendig, jeg hater det"},
                           {"es", "Movistar es horrible, lo odio"},
                           {"en", "Thank you Wolt, amazing service"}}) {
    const TextEnrichment plain = Enrich(text, tag);
    std::string broken = fffd + " " + text + " " + fffd + fffd;
    broken.insert(broken.find(' ', fffd.size() + 1) + 1, fffd + " ");
    const TextEnrichment with_replacements = Enrich(broken, tag);
    EXPECT_EQ(with_replacements.sentiment, plain.sentiment) << broken;
    EXPECT_EQ(with_replacements.intents, plain.intents) << broken;
    const TextEnrichment mixed = Enrich(text + " это 最高 مرحبا", tag);
    EXPECT_EQ(mixed.language, plain.language) << text;
    EXPECT_EQ(mixed.sentiment, plain.sentiment) << text;
  }
  // Untagged, mostly foreign scripts: a static code or und, a class, a confidence in range.
  for (std::string_view text : {"Telenor это 最高 مرحبا ok", "最高 最高 😀", "это плохо Telia"}) {
    const TextEnrichment out = Enrich(text, "", {{0, 3}});
    EXPECT_FALSE(out.language.empty()) << text;
    EXPECT_NE(out.sentiment, SentimentClass::kNone) << text;
    EXPECT_GE(out.confidence, 0) << text;
    EXPECT_LE(out.confidence, 1000) << text;
    ASSERT_EQ(out.brand_sentiment.size(), 1u) << text;
    EXPECT_NE(out.brand_sentiment[0], SentimentClass::kNone) << text;
  }
}

// The tokeniser hashes a word 8 bytes at a time where it wrote it, in a buffer that still holds
// an earlier post's bytes past the word: those must not change the word's hash or lookup.
TEST(WordTableTest, PaddedHashIgnoresTheBytesPastTheWord) {
  const std::string word = "unacceptable_and_then_some";
  for (size_t length = 0; length <= word.size(); ++length) {
    std::string zeros = word.substr(0, length) + std::string(8, '\0');
    std::string garbage = word.substr(0, length) + "xyzxyzxy";
    const uint64_t hash = enrich_words::WordTable::Hash(std::string_view(word).substr(0, length));
    EXPECT_EQ(enrich_words::WordTable::HashPadded(zeros.data(), length), hash) << length;
    EXPECT_EQ(enrich_words::WordTable::HashPadded(garbage.data(), length), hash) << length;
  }
  EXPECT_NE(enrich_words::WordTable::Hash("ab"), enrich_words::WordTable::Hash(std::string("ab\0", 3)));
}

TEST_F(EnrichTextTest, AShortPostAfterALongOneReadsOnlyItsOwnWords) {
  const std::vector<std::pair<std::string_view, std::string_view>> posts = {
      {"en", "Telia is terrible, worst support ever, I hate it"},
      {"nb", "Telenor er elendig og dårlig, jeg hater det"},
      {"es", "Movistar es horrible, lo odio, fatal"},
      {"en", "soooo good, thank you Wolt!"}};
  std::vector<TextEnrichment> alone;
  for (const auto& [tag, text] : posts) alone.push_back(Enrich(text, tag));
  const std::string long_post =
      "terribleterribleterrible horriblehorrible dårligdårligdårlig elendigelendig "
      "fatalfatalfatal worstworstworst hatehatehate odioodioodio " + std::string(300, 'x');
  for (size_t i = 0; i < posts.size(); ++i) {
    Enrich(long_post, posts[i].first);
    const TextEnrichment after = Enrich(posts[i].second, posts[i].first);
    EXPECT_EQ(after.sentiment, alone[i].sentiment) << posts[i].second;
    EXPECT_EQ(after.score, alone[i].score) << posts[i].second;
    EXPECT_EQ(after.confidence, alone[i].confidence) << posts[i].second;
    EXPECT_EQ(after.intents, alone[i].intents) << posts[i].second;
  }
  EXPECT_EQ(alone[0].sentiment, SentimentClass::kNegative);
  EXPECT_EQ(alone[3].sentiment, SentimentClass::kPositive);
}

// The tokeniser classifies the whole text 16 or 32 bytes a step into 64-bit masks and takes
// plain ASCII words from them; other words (apostrophes, '&', non-ASCII letters, elongation, a
// word right before an emoji or an invalid byte, words of 64 bytes or more) take the per-byte
// loop. Shifting a post by leading spaces moves its words across every step and mask
// boundary: the result must not change, and must be what the words say.
TEST_F(EnrichTextTest, WordsGiveTheSameResultAtEveryOffset) {
  struct Case {
    std::string_view tag;
    std::string text;
    SentimentClass expected;
  };
  const std::string long_word(70, 'a');  // past a 64-bit window
  const std::vector<Case> cases = {
      {"en", "the app is GREAT and the support team was helpful today", SentimentClass::kPositive},
      {"en", "the new update is goooood, thanks Wolt", SentimentClass::kPositive},
      {"en", "I don't like it, AT&T is terrible and I'm done", SentimentClass::kNegative},
      {"en", "great🔥 service, love it❤️ really", SentimentClass::kPositive},
      {"en", "see https://example.com/terrible-awful-horrible and www.awful.com", SentimentClass::kNeutral},
      {"en", "@awful_support #terrible $scam", SentimentClass::kNone},  // (not checked)
      {"en", "terrible gr\xff" "eat awful \xc3 bad", SentimentClass::kNegative},
      {"en", long_word + " is awful " + long_word + "terrible", SentimentClass::kNegative},
      {"en", "Horrible", SentimentClass::kNegative},
      {"nb", "Telenor er dårlig, jeg er IKKE fornøyd med kundeservicen", SentimentClass::kNegative},
      {"es", "El café está buenísimo, ¡me encanta! Gracias Starbucks", SentimentClass::kPositive},
      {"en", "Ｗｏｗ ÉNORME café naïve Ünïcödé words: love 😍", SentimentClass::kPositive},
  };
  for (const Case& c : cases) {
    const TextEnrichment first = Enrich(c.text, c.tag, {{0, 3}});
    if (c.expected != SentimentClass::kNone) {
      EXPECT_EQ(first.sentiment, c.expected) << c.text;
    }
    for (uint32_t offset = 1; offset <= 140; ++offset) {
      const std::string shifted = std::string(offset, ' ') + c.text;
      const TextEnrichment out = Enrich(shifted, c.tag, {{offset, offset + 3}});
      ASSERT_EQ(out.sentiment, first.sentiment) << offset << ": " << c.text;
      ASSERT_EQ(out.score, first.score) << offset << ": " << c.text;
      ASSERT_EQ(out.confidence, first.confidence) << offset << ": " << c.text;
      ASSERT_EQ(out.intents, first.intents) << offset << ": " << c.text;
      ASSERT_EQ(out.brand_sentiment, first.brand_sentiment) << offset << ": " << c.text;
    }
  }
  // What the masks decide, against the same words without it: capitals among lower case and
  // elongation add emphasis at every offset, also across a 64-byte boundary.
  for (uint32_t offset = 0; offset <= 70; ++offset) {
    const std::string pad(offset, ' ');
    const TextEnrichment plain = Enrich(pad + "the app is good", "en");
    EXPECT_GT(Enrich(pad + "the app is GOOD", "en").score, plain.score) << offset;
    EXPECT_GT(Enrich(pad + "the app is goooood", "en").score, plain.score) << offset;
    // Exactly three equal letters: one elongation bit, which may be the first of a mask word.
    EXPECT_GT(Enrich(pad + "the app is goood", "en").score, plain.score) << offset;
    EXPECT_EQ(Enrich(pad + "the app is GoOd", "en").score, plain.score) << offset;
    EXPECT_EQ(Enrich(pad + "the app is gooD", "en").score, plain.score) << offset;
  }
}

// The transform, through the registry as a pipeline builds it.
TEST(EnrichTransformTest, SetsPostFieldsMentionSentimentAndCounters) {
  OperatorRegistry& registry = OperatorRegistry::Default();
  const TransformReader* reader = registry.FindTransform(kTransformType);
  ASSERT_NE(reader, nullptr);
  YAML::Node node = YAML::Load("{posts: matched}");
  Diagnostics diagnostics;
  YamlMap section(node, "pipeline.yaml", "enrich", diagnostics);
  WatchlistSpec watchlist;
  std::vector<WindowSpec> windows;
  const std::string file = "pipeline.yaml";
  auto spec = (*reader)(section, ConfigContext{file, watchlist, windows});
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  auto transform = (*spec)->Make(TransformBuildContext{});
  ASSERT_TRUE(transform.ok()) << transform.status().ToString();
  auto state = (*transform)->MakeState();
  ASSERT_TRUE(state.ok());

  Batch batch;
  const std::string texts[] = {"Telia is bad, switched to Telenor and love it",
                               "Telenor has nice weather today", "no brand here at all, terrible"};
  for (const std::string& text : texts) {
    Post post;
    post.text = text;
    batch.posts.push_back(post);
  }
  batch.mentions.push_back(Mention{0, 0, 0, 5});
  batch.mentions.push_back(Mention{0, 1, 26, 33});
  batch.mentions.push_back(Mention{1, 1, 0, 7});
  ASSERT_TRUE((*transform)->Process(batch, **state).ok());

  const uint32_t sentiment = FindPostField(kSentimentField)->slot;
  const uint32_t language = FindPostField(kLanguageField)->slot;
  ASSERT_NE(FieldOf(batch.posts[0], sentiment), nullptr);
  EXPECT_EQ(FieldOf(batch.posts[0], language)->text, "en");
  EXPECT_EQ(batch.posts[0].language, "en");
  EXPECT_EQ(batch.mentions[0].sentiment, static_cast<uint8_t>(SentimentClass::kNegative));
  EXPECT_EQ(batch.mentions[1].sentiment, static_cast<uint8_t>(SentimentClass::kPositive));
  EXPECT_EQ(FieldOf(batch.posts[2], sentiment), nullptr) << "posts: matched skips unmatched posts";

  const WindowMetricDefinition* negative = FindWindowMetric(kNegativeCounter);
  const WindowMetricDefinition* positive = FindWindowMetric(kPositiveCounter);
  ASSERT_NE(negative, nullptr);
  ASSERT_NE(positive, nullptr);
  EXPECT_EQ(negative->count(batch.posts[0], batch.mentions[0]), 1u);
  EXPECT_EQ(positive->count(batch.posts[0], batch.mentions[1]), 1u);
  for (std::string_view name : {kNeutralCounter, kQuestionCounter, kComplaintCounter, kPraiseCounter,
                                kPurchaseCounter, kChurnCounter, kSupportCounter}) {
    EXPECT_NE(FindWindowMetric(name), nullptr) << name;
  }
  EXPECT_NE(FindDimension("sentiment"), nullptr);
  EXPECT_NE(FindDimension("intent"), nullptr);
  std::string slice;
  uint64_t payload = 0;
  ASSERT_TRUE(FindDimension("sentiment")->value_of(batch.posts[0], batch.mentions[1], payload));
  FindDimension("sentiment")->append_value(payload, slice);
  EXPECT_EQ(slice, "positive");
}

// Bad posts through the transform: every matched post gets its fields, `und` or its tag, neutral
// towards each brand, even when a mention's span lies past the end of the text.
TEST(EnrichTransformTest, BadPostsGetDefinedFields) {
  const TransformReader* reader = OperatorRegistry::Default().FindTransform(kTransformType);
  ASSERT_NE(reader, nullptr);
  YAML::Node node = YAML::Load("{posts: matched}");
  Diagnostics diagnostics;
  YamlMap section(node, "pipeline.yaml", "enrich", diagnostics);
  WatchlistSpec watchlist;
  std::vector<WindowSpec> windows;
  const std::string file = "pipeline.yaml";
  auto spec = (*reader)(section, ConfigContext{file, watchlist, windows});
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  auto transform = (*spec)->Make(TransformBuildContext{});
  ASSERT_TRUE(transform.ok()) << transform.status().ToString();
  auto state = (*transform)->MakeState();
  ASSERT_TRUE(state.ok());

  Batch batch;
  const std::string texts[] = {"", "https://t.co/abc https://x.com/y", "\xEF\xBF\xBD\xEF\xBF\xBD",
                               "caf\xC3 \xFF\xFE", "!!!", ""};
  const std::string_view tags[] = {"", "", "", "", "", "en"};
  for (size_t i = 0; i < std::size(texts); ++i) {
    Post post;
    post.text = texts[i];
    post.language = tags[i];
    batch.posts.push_back(post);
  }
  for (uint32_t i = 0; i < std::size(texts); ++i) {
    batch.mentions.push_back(Mention{i, 0, 0, 5});
    batch.mentions.push_back(Mention{i, 1, 40, 60});  // past the end of every text
  }
  ASSERT_TRUE((*transform)->Process(batch, **state).ok());
  const uint32_t sentiment = FindPostField(kSentimentField)->slot;
  const uint32_t language = FindPostField(kLanguageField)->slot;
  const uint32_t confidence = FindPostField(kSentimentConfidenceField)->slot;
  for (size_t i = 0; i < std::size(texts); ++i) {
    ASSERT_NE(FieldOf(batch.posts[i], sentiment), nullptr) << i;
    EXPECT_EQ(FieldOf(batch.posts[i], sentiment)->number, 0) << i;
    EXPECT_LE(FieldOf(batch.posts[i], confidence)->number, 500) << i;
    EXPECT_EQ(FieldOf(batch.posts[i], language)->text, tags[i].empty() ? "und" : tags[i]) << i;
  }
  for (const Mention& mention : batch.mentions) {
    EXPECT_EQ(mention.sentiment, static_cast<uint8_t>(SentimentClass::kNeutral));
  }
}

TEST(EnrichTransformTest, UnknownOptionValueIsAnError) {
  const TransformReader* reader = OperatorRegistry::Default().FindTransform(kTransformType);
  ASSERT_NE(reader, nullptr);
  YAML::Node node = YAML::Load("{posts: some}");
  Diagnostics diagnostics;
  YamlMap section(node, "pipeline.yaml", "enrich", diagnostics);
  WatchlistSpec watchlist;
  std::vector<WindowSpec> windows;
  const std::string file = "pipeline.yaml";
  auto spec = (*reader)(section, ConfigContext{file, watchlist, windows});
  EXPECT_FALSE(spec.ok());
}

}  // namespace
}  // namespace brandpulse

namespace enrich_model_test {

using brandpulse::enrich_model::Features;
using brandpulse::enrich_model::Model;

TEST(EnrichModelTest, ParseNamesTheBadLine) {
  auto short_row = Model::Parse("brandpulse-enrichment-model 1\nbuckets 4\nd 0 1 2\n");
  ASSERT_FALSE(short_row.ok());
  EXPECT_NE(short_row.status().ToString().find("line 3"), std::string::npos)
      << short_row.status().ToString();
  auto future = Model::Parse("brandpulse-enrichment-model 9\nbuckets 4\n");
  ASSERT_FALSE(future.ok());
  EXPECT_NE(future.status().ToString().find("format version 1"), std::string::npos);
  auto not_power = Model::Parse("brandpulse-enrichment-model 1\nbuckets 6\n");
  EXPECT_FALSE(not_power.ok());
  EXPECT_FALSE(Model::Parse("").ok());
}

// Trained on two opposite posts, the model separates them, and its text form scores the same.
TEST(EnrichModelTest, TrainsSerialisesAndScoresTheSame) {
  Features negative, positive;
  negative.dense[brandpulse::enrich_model::kBias] = positive.dense[brandpulse::enrich_model::kBias] = 1;
  negative.dense[brandpulse::enrich_model::kNegativeWords] = 0.8f;
  positive.dense[brandpulse::enrich_model::kPositiveWords] = 0.8f;
  negative.language = positive.language = 2;
  negative.hashes = {brandpulse::enrich_model::TokenHash("dårlig", 2)};
  positive.hashes = {brandpulse::enrich_model::TokenHash("bra", 2)};
  Model model(16);
  model.Train({{&negative, 0, 2u}, {&positive, 2, 4u}}, {});
  float a[brandpulse::enrich_model::kHeads], b[brandpulse::enrich_model::kHeads];
  model.Score(negative, a);
  EXPECT_GT(a[0], a[2]);
  EXPECT_GT(a[brandpulse::enrich_model::kIntentHead + 1], 0);  // complaint
  model.Score(positive, b);
  EXPECT_GT(b[2], b[0]);
  EXPECT_GT(b[brandpulse::enrich_model::kIntentHead + 2], 0);  // praise
  auto parsed = Model::Parse(model.Serialize("# test\n"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  parsed->Score(negative, b);
  for (int h = 0; h < brandpulse::enrich_model::kHeads; ++h) EXPECT_NEAR(a[h], b[h], 1e-2 * std::max(1.0f, std::fabs(a[h])));
}

TEST(EnrichModelTest, ShippedModelLoadsAndDecidesSomewhere) {
  auto shipped = Model::Parse(brandpulse::TextEnricher::ShippedModel());
  ASSERT_TRUE(shipped.ok()) << shipped.status().ToString();
  uint32_t any = 0;
  for (uint8_t language = 0; language < brandpulse::enrich_model::kLanguages; ++language) {
    any |= shipped->uses(language);
  }
  EXPECT_NE(any, 0u);
  EXPECT_EQ(shipped->uses(0), 0u);  // no training posts in other languages: the rules there
}

}  // namespace enrich_model_test
