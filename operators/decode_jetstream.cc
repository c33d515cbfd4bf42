// The decode operator's Bluesky Jetstream format (json_decode_internal.h): commit events; only
// created app.bsky.feed.post records become posts.
#include <string>

#include "operators/json_decode_internal.h"

namespace brandpulse::decode_internal {
namespace {

struct JetstreamEvent {
  std::string_view did, kind, operation, collection, rkey;
  std::string_view identity_handle;  // kind "identity": the DID's current handle, if given
  int64_t time_us = 0;
};

Reason VisitJetstream(Batch& batch, ondemand::object event, JetstreamEvent& jetstream,
                      PostDraft& draft) {
  return ForEachField(batch, event, [&](std::string_view key, ondemand::value& value) -> Reason {
    if (key == "did") return ReadString(batch, value, "did", jetstream.did);
    if (key == "kind") return ReadString(batch, value, "kind", jetstream.kind);
    if (key == "time_us") return ReadInteger(batch, value, "time_us", jetstream.time_us);
    if (key == "identity") {
      return ForEachFieldOf(batch, value, key, [&](std::string_view field, ondemand::value& v) -> Reason {
        if (field != "handle") return {};
        return ReadString(batch, v, "identity.handle", jetstream.identity_handle);
      });
    }
    if (key != "commit") return {};
    return ForEachFieldOf(batch, value, key, [&](std::string_view field, ondemand::value& v) -> Reason {
      if (field == "operation") return ReadString(batch, v, "commit.operation", jetstream.operation);
      if (field == "collection") return ReadString(batch, v, "commit.collection", jetstream.collection);
      if (field == "rkey") return ReadString(batch, v, "commit.rkey", jetstream.rkey);
      if (field != "record") return {};
      return ForEachFieldOf(batch, v, "commit.record", [&](std::string_view record_field, ondemand::value& r) -> Reason {
        std::string_view text;
        if (record_field == "text") {
          RETURN_IF_REASON(ReadString(batch, r, "commit.record.text", text));
          OfferText(draft, text, 0);
          return {};
        }
        if (record_field == "createdAt") return ReadString(batch, r, "commit.record.createdAt", draft.time_text);
        if (record_field == "langs") {
          return ForEachElementOf(batch, r, "commit.record.langs", [&](ondemand::value& language) -> Reason {
            std::string_view tag;
            RETURN_IF_REASON(ReadString(batch, language, "commit.record.langs", tag));
            if (draft.language.empty()) draft.language = tag;
            return {};
          });
        }
        if (record_field == "reply") {
          return ForEachFieldOf(batch, r, "commit.record.reply", [&](std::string_view which, ondemand::value& p) -> Reason {
            if (which != "parent") return {};
            return ForEachFieldOf(batch, p, "commit.record.reply.parent", [&](std::string_view ref, ondemand::value& u) -> Reason {
              if (ref != "uri") return {};
              RETURN_IF_REASON(ReadString(batch, u, "commit.record.reply.parent.uri", draft.reply_to_post_id));
              // at://did:plc:xyz/app.bsky.feed.post/rkey: the author is the URI's authority.
              std::string_view uri = draft.reply_to_post_id;
              if (uri.starts_with("at://")) {
                std::string_view rest = uri.substr(5);
                draft.reply_to_author_id = rest.substr(0, rest.find('/'));
              }
              return {};
            });
          });
        }
        return {};
      });
    });
  });
}

}  // namespace

Reason JetstreamFormat::Visit(Batch& batch, ondemand::object record, JsonDecodeState& state,
                              PostDraft& draft, bool& skip) const {
  JetstreamEvent event;
  RETURN_IF_REASON(VisitJetstream(batch, record, event, draft));
  if (event.kind == "identity" && !event.did.empty() && !event.identity_handle.empty()) {
    handles->Set(event.did, event.identity_handle);
  }
  // An `update` commit replaces the record at the same URI: an edit of that post.
  if (event.kind != "commit" || (event.operation != "create" && event.operation != "update") ||
      event.collection != "app.bsky.feed.post") {
    skip = true;
    return {};
  }
  draft.author_id = event.did;
  // Posts carry DIDs only: the handle comes from an earlier identity event, when there was one.
  draft.author_handle = handles->Find(event.did, batch.arena);
  if (!draft.reply_to_author_id.empty()) {
    draft.reply_to_handle = handles->Find(draft.reply_to_author_id, batch.arena);
  }
  std::string id = fmt::format("at://{}/app.bsky.feed.post/{}", event.did, event.rkey);
  draft.id = batch.arena.Copy(id);
  draft.edited = event.operation == "update";
  if (draft.time_text.empty() && event.time_us != 0) {
    draft.time_number = event.time_us / 1000;
    draft.has_time_number = true;
  }
  return {};
}

}  // namespace brandpulse::decode_internal
