#include "operators/mention_json.h"

#include <fmt/format.h>

#include "engine/enrichment_fields.h"
#include "engine/json_writer.h"

namespace brandpulse {
namespace {

std::optional<uint32_t> SlotOf(std::string_view name) {
  const PostFieldDefinition* field = FindPostField(name);
  if (field == nullptr) return std::nullopt;
  return field->slot;
}

// Bluesky: at://<did>/app.bsky.feed.post/<rkey> -> https://bsky.app/profile/<did>/post/<rkey>.
bool AppendBlueskyLink(std::string_view id, std::string& out) {
  constexpr std::string_view kPrefix = "at://";
  constexpr std::string_view kCollection = "/app.bsky.feed.post/";
  if (id.substr(0, kPrefix.size()) != kPrefix) return false;
  const size_t collection = id.find(kCollection);
  if (collection == std::string_view::npos) return false;
  std::string_view did = id.substr(kPrefix.size(), collection - kPrefix.size());
  std::string_view rkey = id.substr(collection + kCollection.size());
  if (did.empty() || rkey.empty()) return false;
  out += "https://bsky.app/profile/";
  out += did;
  out += "/post/";
  out += rkey;
  return true;
}

}  // namespace

bool AppendPostLink(const Post& post, std::string& out) {
  if (post.id.empty()) return false;
  switch (post.platform) {
    case Platform::kTwitter:
      if (post.author_handle.empty()) {
        out += "https://x.com/i/web/status/";
      } else {
        out += "https://x.com/";
        out += post.author_handle;
        out += "/status/";
      }
      out += post.id;
      return true;
    case Platform::kBluesky:
      return AppendBlueskyLink(post.id, out);
    case Platform::kMastodon: {
      // The acct "user@instance" names the instance; a local acct has none.
      const size_t at = post.author_handle.find('@');
      if (at == std::string_view::npos || at == 0 || at + 1 == post.author_handle.size()) {
        return false;
      }
      out += "https://";
      out += post.author_handle.substr(at + 1);
      out += "/@";
      out += post.author_handle.substr(0, at);
      out += '/';
      out += post.id;
      return true;
    }
    default:
      return false;
  }
}

void AppendIntentNames(uint64_t intents, std::string& out) {
  static constexpr std::pair<uint32_t, std::string_view> kNames[] = {
      {enrichment::kIntentQuestion, "question"}, {enrichment::kIntentComplaint, "complaint"},
      {enrichment::kIntentPraise, "praise"},     {enrichment::kIntentPurchase, "purchase"},
      {enrichment::kIntentChurn, "churn"},       {enrichment::kIntentSupport, "support"},
  };
  out.push_back('[');
  bool first = true;
  for (const auto& [bit, name] : kNames) {
    if ((intents & bit) == 0) continue;
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(out, name);
  }
  out.push_back(']');
}

MentionJsonWriter::MentionJsonWriter()
    : language_slot_(SlotOf(enrichment::kLanguageField)),
      sentiment_slot_(SlotOf(enrichment::kSentimentField)),
      intents_slot_(SlotOf(enrichment::kIntentsField)),
      public_slots_(RegisterPublicMetricFields()) {}

void MentionJsonWriter::Append(const MentionRecord& record, std::string& out) const {
  const Post& post = *record.post;
  out.push_back('{');
  AppendJsonKey(out, "schema", true);
  AppendJsonString(out, kMentionSchema);
  AppendJsonKey(out, "post_id");
  AppendJsonString(out, post.id);
  AppendJsonKey(out, "platform");
  AppendJsonString(out, PlatformName(post.platform));
  AppendJsonKey(out, "event_time");
  AppendJsonString(out, FormatIsoTime(post.event_time_ms));
  if (record.ingest_time_ms != 0) {
    AppendJsonKey(out, "ingest_time");
    AppendJsonString(out, FormatIsoTime(record.ingest_time_ms));
  }
  AppendJsonKey(out, "author_id");
  AppendJsonString(out, post.author_id);
  AppendJsonKey(out, "author_handle");
  AppendJsonString(out, post.author_handle);
  AppendJsonKey(out, "link");
  const size_t link_at = out.size();
  out.push_back('"');
  if (AppendPostLink(post, out)) {
    out.push_back('"');  // links are built from ids and handles: no character needs escaping
  } else {
    out.resize(link_at);
    out += "null";
  }
  AppendJsonKey(out, "text");
  AppendJsonString(out, post.text);
  if (!post.reply_to_post_id.empty() || !post.reply_to_author_id.empty() ||
      !post.reply_to_handle.empty()) {
    AppendJsonKey(out, "reply_to");
    out.push_back('{');
    AppendJsonKey(out, "post_id", true);
    AppendJsonString(out, post.reply_to_post_id);
    AppendJsonKey(out, "author_id");
    AppendJsonString(out, post.reply_to_author_id);
    AppendJsonKey(out, "handle");
    AppendJsonString(out, post.reply_to_handle);
    out.push_back('}');
  }
  bool any_own = false;
  for (const MentionBrand& brand : record.brands) any_own = any_own || brand.own_post;
  AppendJsonKey(out, "own_post");
  out += any_own ? "true" : "false";
  AppendJsonKey(out, "brands");
  out.push_back('[');
  for (size_t b = 0; b < record.brands.size(); ++b) {
    const MentionBrand& brand = record.brands[b];
    if (b > 0) out.push_back(',');
    out.push_back('{');
    AppendJsonKey(out, "brand", true);
    AppendJsonString(out, brand.id);
    AppendJsonKey(out, "name");
    AppendJsonString(out, brand.name);
    AppendJsonKey(out, "group");
    AppendJsonString(out, brand.group);
    AppendJsonKey(out, "own_post");
    out += brand.own_post ? "true" : "false";
    AppendJsonKey(out, "terms");
    out.push_back('[');
    for (size_t t = 0; t < brand.terms.size(); ++t) {
      const MentionTerm& term = brand.terms[t];
      if (t > 0) out.push_back(',');
      out.push_back('{');
      AppendJsonKey(out, "term", true);
      AppendJsonString(out, term.term);
      AppendJsonKey(out, "kind");
      AppendJsonString(out, term.kind);
      fmt::format_to(std::back_inserter(out), ",\"begin\":{},\"end\":{}}}", term.begin, term.end);
    }
    out.push_back(']');
    if (brand.sentiment) fmt::format_to(std::back_inserter(out), ",\"sentiment\":{}", *brand.sentiment);
    out.push_back('}');
  }
  out.push_back(']');
  AppendJsonKey(out, "excluded");
  out.push_back('[');
  for (size_t e = 0; e < record.excluded.size(); ++e) {
    if (e > 0) out.push_back(',');
    out.push_back('{');
    AppendJsonKey(out, "brand", true);
    AppendJsonString(out, record.excluded[e].brand_id);
    AppendJsonKey(out, "exclusion");
    AppendJsonString(out, record.excluded[e].exclusion);
    out.push_back('}');
  }
  out.push_back(']');
  // Public metrics (issue 12, operators/public_metrics.h), when the payload had them.
  bool any_count = false;
  for (auto [key, slot] : {std::pair<std::string_view, uint32_t>{"likes", public_slots_.likes},
                           {"reposts", public_slots_.reposts},
                           {"replies", public_slots_.replies},
                           {"quotes", public_slots_.quotes}}) {
    const int64_t count = PublicCount(post, slot);
    if (count < 0) continue;
    out += any_count ? "," : ",\"public_metrics\":{";
    fmt::format_to(std::back_inserter(out), "\"{}\":{}", key, count);
    any_count = true;
  }
  if (any_count) out.push_back('}');
  if (std::string_view id = PublicText(post, public_slots_.repost_of); !id.empty()) {
    AppendJsonKey(out, "repost_of");
    AppendJsonString(out, id);
  }
  if (std::string_view id = PublicText(post, public_slots_.quote_of); !id.empty()) {
    AppendJsonKey(out, "quote_of");
    AppendJsonString(out, id);
  }
  if (language_slot_) {
    if (const PostFieldValue* value = FieldOf(post, *language_slot_)) {
      AppendJsonKey(out, "lang");
      AppendJsonString(out, value->text);
    }
  }
  if (sentiment_slot_) {
    if (const PostFieldValue* value = FieldOf(post, *sentiment_slot_)) {
      fmt::format_to(std::back_inserter(out), ",\"sentiment\":{}", value->number);
    }
  }
  if (intents_slot_) {
    if (const PostFieldValue* value = FieldOf(post, *intents_slot_)) {
      AppendJsonKey(out, "intents");
      AppendIntentNames(static_cast<uint64_t>(value->number), out);
    }
  }
  out.push_back('}');
}

}  // namespace brandpulse
