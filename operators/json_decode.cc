#include "operators/json_decode.h"
#include "operators/public_metrics.h"  // issue 12

#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include <simdjson.h>

#include "operators/json_decode_internal.h"

namespace brandpulse {
namespace {

namespace ondemand = simdjson::ondemand;

using decode_internal::Formatted;
using decode_internal::HtmlToText;
using decode_internal::JetstreamFormat;
using decode_internal::JsonDecodeState;
using decode_internal::JsonError;
using decode_internal::JsonPointerFormat;
using decode_internal::MastodonFormat;
using decode_internal::PostDraft;
using decode_internal::Reason;
using decode_internal::SplitPointer;
using decode_internal::TwitterV1Format;
using decode_internal::TwitterV2Format;
using decode_internal::SnowflakeTimeMs;
using decode_internal::UnescapeTwitterText;

// The operator for one input format (json_decode_internal.h): the format is a template
// argument, so no record pays for choosing it.
template <typename Format>
class JsonDecode final : public Transform {
 public:
  explicit JsonDecode(Format format) : format_(std::move(format)) {}

  std::string_view name() const override { return "decode"; }

  Result<std::unique_ptr<TransformState>> MakeState() const override {
    return std::unique_ptr<TransformState>(std::make_unique<JsonDecodeState>());
  }

  Status Process(Batch& batch, TransformState& state_base) const override {
    auto& state = static_cast<JsonDecodeState&>(state_base);
    for (uint32_t index = 0; index < batch.records.size(); ++index) {
      if (batch.records[index].refused) continue;  // a dead letter of the source's (too long)
      size_t posts_before = batch.posts.size();
      size_t dead_letters_before = batch.dead_letters.size();
      Reason reason = DecodeRecord(batch, index, state);
      if (!reason.empty()) {
        // A broken record yields a dead letter, not some of its posts. (A page's tweets are
        // judged one by one in DecodeRecord: a bad tweet is a dead letter of its own.)
        batch.posts.resize(posts_before);
        batch.dead_letters.resize(dead_letters_before);
        batch.dead_letters.push_back(DeadLetter{index, reason});
      } else if (batch.posts.size() == posts_before &&
                 batch.dead_letters.size() == dead_letters_before) {
        ++batch.skipped_records;
      }
    }
    for (const Post& post : batch.posts) {
      if (post.event_time_ms > batch.max_event_time_ms) batch.max_event_time_ms = post.event_time_ms;
    }
    return Status::Ok();
  }

  // Jetstream: the DID → handle map learnt this epoch goes into the epoch's commit (issue 14).
  Status HandOver(TransformState&, EpochHandOver& epoch) const override {
    if constexpr (std::is_same_v<Format, JetstreamFormat>) {
      format_.handles->WriteChanges(epoch.commit);
    }
    return Status::Ok();
  }

 private:
  Reason DecodeRecord(Batch& batch, uint32_t index, JsonDecodeState& state) const {
    std::string_view bytes = batch.RecordBytes(index);
    ondemand::document document;
    if (auto error = state.parser.iterate(bytes.data(), bytes.size(), batch.RecordCapacity(index))
                         .get(document)) {
      return JsonError(batch, error);
    }
    ondemand::object object;
    if (auto error = document.get_object().get(object)) {
      if (error == simdjson::INCORRECT_TYPE) return "record is not a JSON object";
      return JsonError(batch, error);
    }
    PostDraft draft;
    state.drafts.clear();
    state.users.clear();
    bool skip = false;
    RETURN_IF_REASON(format_.Visit(batch, object, state, draft, skip));
    const char* unread = nullptr;
    if (document.current_location().get(unread) != simdjson::OUT_OF_BOUNDS) {
      return "trailing content after the JSON document";
    }
    if (skip) return {};
    if (!state.drafts.empty()) {  // a page of several posts (twitter-v2)
      // Each tweet stands alone: one without text or time is a dead letter naming its id, and
      // the page's other tweets are still posts.
      for (const PostDraft& post_draft : state.drafts) {
        Reason reason = EmitPost(batch, index, post_draft);
        if (reason.empty()) continue;
        batch.dead_letters.push_back(DeadLetter{
            index, post_draft.id.empty()
                       ? reason
                       : Formatted(batch, fmt::format("tweet {}: {}", post_draft.id.substr(0, 32),
                                                      reason))});
      }
      return {};
    }
    return EmitPost(batch, index, draft);
  }

  Reason EmitPost(Batch& batch, uint32_t index, const PostDraft& draft) const {
    if (draft.text_priority < 0) return Format::kMissingText;
    Post post;
    post.record_index = index;
    post.platform = Format::kPlatform;
    if (draft.has_time_number) {
      // Epoch seconds or milliseconds: seconds until the year 5138.
      post.event_time_ms = draft.time_number < 100000000000 ? draft.time_number * 1000 : draft.time_number;
    } else if (!draft.time_text.empty()) {
      std::optional<int64_t> time = Format::ParseTime(draft.time_text);
      if (!time) {
        return Formatted(batch, fmt::format("unparseable event time '{}'",
                                            draft.time_text.substr(0, 64)));
      }
      post.event_time_ms = *time;
    } else if (std::optional<int64_t> time = Format::kSnowflakeIds ? SnowflakeTimeMs(draft.id)
                                                                   : std::nullopt) {
      // X/Twitter omits created_at unless asked (tweet.fields); the id carries the time.
      post.event_time_ms = *time;
    } else {
      return Format::kMissingTime;
    }
    StringArena& arena = batch.arena;
    if (draft.html_text) {
      post.text = HtmlToText(draft.text, arena);
    } else if constexpr (Format::kEscapedText) {
      post.text = UnescapeTwitterText(draft.text, arena);
    } else {
      post.text = arena.Copy(draft.text);
    }
    post.id = arena.Copy(draft.id);
    post.author_id = arena.Copy(draft.author_id);
    std::string_view handle = draft.author_handle;
    if (handle.starts_with('@')) handle.remove_prefix(1);
    post.author_handle = arena.Copy(handle);
    post.language = arena.Copy(draft.language);
    post.reply_to_post_id = arena.Copy(draft.reply_to_post_id);
    post.reply_to_author_id = arena.Copy(draft.reply_to_author_id);
    post.reply_to_handle = arena.Copy(draft.reply_to_handle);
    if (draft.url_count > 0) {  // one arena string, links separated by single spaces
      size_t size = draft.url_count - 1;
      for (uint32_t i = 0; i < draft.url_count; ++i) size += draft.urls[i].size();
      char* out = arena.Allocate(size);
      size_t at = 0;
      for (uint32_t i = 0; i < draft.url_count; ++i) {
        if (i > 0) out[at++] = ' ';
        std::memcpy(out + at, draft.urls[i].data(), draft.urls[i].size());
        at += draft.urls[i].size();
      }
      post.urls = std::string_view(out, size);
    }
    post.author_followers = draft.followers;
    if (draft.edited) {
      post.edit_of = post.id;
    } else if (!draft.edit_of.empty() && draft.edit_of != draft.id) {
      post.edit_of = arena.Copy(draft.edit_of);
    }
    SetPublicMetrics(batch, draft, post);
    batch.posts.push_back(post);
    return {};
  }

  // Issue 12 (operators/public_metrics.h): only posts whose payload has them get the fields.
  void SetPublicMetrics(Batch& batch, const PostDraft& draft, Post& post) const {
    if (draft.like_count < 0 && draft.repost_count < 0 && draft.reply_count < 0 &&
        draft.quote_count < 0 && draft.retweet_of.empty() && draft.quote_of.empty()) {
      return;
    }
    PostFieldValue* fields = batch.MutableFields(post);
    auto number = [&](uint32_t slot, int64_t value) {
      if (value < 0) return;
      fields[slot].number = value;
      fields[slot].present = true;
    };
    auto text = [&](uint32_t slot, std::string_view value) {
      if (value.empty()) return;
      fields[slot].text = batch.arena.Copy(value);
      fields[slot].present = true;
    };
    number(public_slots_.likes, draft.like_count);
    number(public_slots_.reposts, draft.repost_count);
    number(public_slots_.replies, draft.reply_count);
    number(public_slots_.quotes, draft.quote_count);
    text(public_slots_.repost_of, draft.retweet_of);
    text(public_slots_.quote_of, draft.quote_of);
  }

  Format format_;
  const PublicMetricSlots& public_slots_ = RegisterPublicMetricFields();
};

template <typename Format>
std::unique_ptr<Transform> MakeDecode(Format format) {
  return std::make_unique<JsonDecode<Format>>(std::move(format));
}

}  // namespace

std::string_view DecodeFormatName(DecodeFormat format) {
  switch (format) {
    case DecodeFormat::kTwitterV1: return "twitter-v1";
    case DecodeFormat::kTwitterV2: return "twitter-v2";
    case DecodeFormat::kJetstream: return "jetstream";
    case DecodeFormat::kMastodon: return "mastodon";
    case DecodeFormat::kJson: return "json";
  }
  return "json";
}

std::optional<DecodeSpec> ReadDecodeSpec(YamlMap& map) {
  size_t errors_before = map.diagnostics().size();
  DecodeSpec spec;
  spec.location = map.Location();
  std::optional<std::string> format =
      map.Choice("format", {"twitter-v1", "twitter-v2", "jetstream", "mastodon", "json"}, true);
  if (format == "twitter-v1") spec.format = DecodeFormat::kTwitterV1;
  else if (format == "twitter-v2") spec.format = DecodeFormat::kTwitterV2;
  else if (format == "jetstream") spec.format = DecodeFormat::kJetstream;
  else if (format == "mastodon") spec.format = DecodeFormat::kMastodon;
  else spec.format = DecodeFormat::kJson;

  YAML::Node fields = map.Child("fields");
  if (fields.IsDefined()) {
    if (format && *format != "json") {
      map.diagnostics().Add(map.LocationOf("fields"),
                            fmt::format("'fields' only applies to format json, not {}", *format),
                            "remove it, or use format: json");
    }
    YamlMap field_map(fields, map.file(), "decode fields", map.diagnostics());
    static const char* kNames[] = {"id", "text", "author_id", "author_handle", "author_followers",
                                   "event_time", "language", "reply_to_post_id",
                                   "reply_to_author_id", "reply_to_handle"};
    for (const char* name : kNames) {
      if (auto pointer = field_map.String(name)) {
        if (!SplitPointer(*pointer)) {
          map.diagnostics().Add(field_map.LocationOf(name),
                                fmt::format("'{}' is not a JSON pointer", *pointer),
                                "write it like /text or /user/screen_name");
          continue;
        }
        spec.field_pointers.emplace_back(name, *pointer);
      }
    }
    field_map.CheckNoUnknownKeys();
  }
  if (format == "json") {
    for (const char* required : {"text", "event_time"}) {
      bool present = false;
      for (const auto& [name, pointer] : spec.field_pointers) present |= name == required;
      if (!present) {
        map.diagnostics().Add(map.Location(),
                              fmt::format("format json needs fields.{}", required),
                              "e.g. fields: {text: /text, event_time: /created_at}");
      }
    }
  }
  map.CheckNoUnknownKeys();
  if (map.diagnostics().size() != errors_before) return std::nullopt;
  return spec;
}

Result<std::unique_ptr<Transform>> MakeJsonDecode(const DecodeSpec& spec) {
  return MakeJsonDecode(spec, nullptr);
}

Result<std::unique_ptr<Transform>> MakeJsonDecode(const DecodeSpec& spec, StateStore* store) {
  // The pointers are checked whatever the format, though only json reads them.
  ASSIGN_OR_RETURN(JsonPointerFormat json, JsonPointerFormat::Make(spec.field_pointers));
  switch (spec.format) {
    case DecodeFormat::kTwitterV1: return MakeDecode(TwitterV1Format{});
    case DecodeFormat::kTwitterV2: return MakeDecode(TwitterV2Format{});
    case DecodeFormat::kJetstream: {
      JetstreamFormat format;
      if (store != nullptr) RETURN_IF_ERROR(format.handles->Load(*store));
      return MakeDecode(std::move(format));
    }
    case DecodeFormat::kMastodon: return MakeDecode(MastodonFormat{});
    case DecodeFormat::kJson: break;
  }
  return MakeDecode(std::move(json));
}

}  // namespace brandpulse
