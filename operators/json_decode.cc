#include "operators/json_decode.h"

#include <array>
#include <cstring>

#include <simdjson.h>

#include <charconv>

#include "engine/event_time.h"

namespace brandpulse {
namespace {

namespace ondemand = simdjson::ondemand;

// Why a record became a dead letter; empty means fine. Static text or arena-owned.
using Reason = std::string_view;

// Fields of one post as found in the document: views into the input or the parser's string
// buffer, valid until the next document is iterated.
struct PostDraft {
  std::string_view id, text, author_id, author_handle, language;
  std::string_view reply_to_post_id, reply_to_author_id, reply_to_handle;
  std::string_view time_text;
  int64_t time_number = 0;
  bool has_time_number = false;
  int64_t followers = 0;
  // Expanded link URLs (entities.urls[].expanded_url), the first kMaxUrls of them.
  static constexpr size_t kMaxUrls = 8;
  std::array<std::string_view, kMaxUrls> urls{};
  uint32_t url_count = 0;
  int text_priority = -1;  // which text field won: higher is better (full_text over text)
  bool html_text = false;  // Mastodon content: strip tags when copying
};

struct UserEntry {
  std::string_view id, username;
  int64_t followers = 0;
};

class JsonDecodeState final : public TransformState {
 public:
  ondemand::parser parser;
  std::vector<PostDraft> drafts;  // v2 pages hold several tweets
  std::vector<UserEntry> users;
};

Reason Formatted(Batch& batch, std::string text) { return batch.arena.Copy(text); }

Reason JsonError(Batch& batch, simdjson::error_code error) {
  if (error == simdjson::UTF8_ERROR) return "invalid UTF-8";
  return Formatted(batch, fmt::format("invalid JSON: {}", simdjson::error_message(error)));
}

// A string, or null (empty). Anything else is a wrong type.
Reason ReadString(Batch& batch, ondemand::value& value, std::string_view field,
                  std::string_view& out) {
  ondemand::json_type type;
  if (auto error = value.type().get(type)) return JsonError(batch, error);
  if (type == ondemand::json_type::null) {
    out = {};
    return {};
  }
  if (type != ondemand::json_type::string) {
    return Formatted(batch, fmt::format("field '{}' has wrong type: expected string", field));
  }
  if (auto error = value.get_string().get(out)) {
    return Formatted(batch, fmt::format("field '{}' is not a valid string: {}", field,
                                        simdjson::error_message(error)));
  }
  return {};
}

// A whole number, a numeric string, or null (0).
Reason ReadInteger(Batch& batch, ondemand::value& value, std::string_view field, int64_t& out) {
  ondemand::json_type type;
  if (auto error = value.type().get(type)) return JsonError(batch, error);
  switch (type) {
    case ondemand::json_type::null:
      out = 0;
      return {};
    case ondemand::json_type::number: {
      if (value.get_int64().get(out) == simdjson::SUCCESS) return {};
      double number;
      if (value.get_double().get(number) == simdjson::SUCCESS && number > -9.2e18 && number < 9.2e18) {
        out = static_cast<int64_t>(number);
        return {};
      }
      break;
    }
    case ondemand::json_type::string: {
      std::string_view text;
      if (value.get_string().get(text) == simdjson::SUCCESS) {
        auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
        if (error == std::errc() && end == text.data() + text.size()) return {};
      }
      break;
    }
    default:
      break;
  }
  return Formatted(batch, fmt::format("field '{}' has wrong type: expected number", field));
}

// An ISO/Twitter time string or an epoch number.
Reason ReadTime(Batch& batch, ondemand::value& value, std::string_view field, PostDraft& draft) {
  ondemand::json_type type;
  if (auto error = value.type().get(type)) return JsonError(batch, error);
  if (type == ondemand::json_type::number) {
    draft.has_time_number = true;
    return ReadInteger(batch, value, field, draft.time_number);
  }
  return ReadString(batch, value, field, draft.time_text);
}

#define RETURN_IF_REASON(expression)         \
  do {                                       \
    Reason reason_or_empty_ = (expression);  \
    if (!reason_or_empty_.empty()) return reason_or_empty_; \
  } while (0)

// Iterates the fields of `object`, calling visit(key, value) -> Reason for each.
template <typename Visit>
Reason ForEachField(Batch& batch, ondemand::object object, Visit&& visit) {
  for (auto field_result : object) {
    ondemand::field field;
    if (auto error = std::move(field_result).get(field)) return JsonError(batch, error);
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) return JsonError(batch, error);
    ondemand::value value = field.value();
    RETURN_IF_REASON(visit(key, value));
  }
  return {};
}

template <typename Visit>
Reason ForEachFieldOf(Batch& batch, ondemand::value& value, std::string_view field, Visit&& visit) {
  ondemand::json_type type;
  if (auto error = value.type().get(type)) return JsonError(batch, error);
  if (type == ondemand::json_type::null) return {};
  ondemand::object object;
  if (type != ondemand::json_type::object || value.get_object().get(object)) {
    return Formatted(batch, fmt::format("field '{}' has wrong type: expected object", field));
  }
  return ForEachField(batch, object, visit);
}

template <typename Visit>
Reason ForEachElementOf(Batch& batch, ondemand::value& value, std::string_view field, Visit&& visit) {
  ondemand::json_type type;
  if (auto error = value.type().get(type)) return JsonError(batch, error);
  if (type == ondemand::json_type::null) return {};
  ondemand::array array;
  if (type != ondemand::json_type::array || value.get_array().get(array)) {
    return Formatted(batch, fmt::format("field '{}' has wrong type: expected array", field));
  }
  for (auto element_result : array) {
    ondemand::value element;
    if (auto error = std::move(element_result).get(element)) return JsonError(batch, error);
    RETURN_IF_REASON(visit(element));
  }
  return {};
}

void OfferText(PostDraft& draft, std::string_view text, int priority) {
  if (priority > draft.text_priority) {
    draft.text = text;
    draft.text_priority = priority;
  }
}

// entities.urls[].expanded_url (X/Twitter v1.1 and v2): the links as the author wrote them. A
// link already seen (v1.1 repeats them in extended_tweet) is not added twice.
Reason ReadUrlEntities(Batch& batch, ondemand::value& entities, std::string_view field,
                       PostDraft& draft) {
  return ForEachFieldOf(batch, entities, field, [&](std::string_view key, ondemand::value& v) -> Reason {
    if (key != "urls") return {};
    return ForEachElementOf(batch, v, "entities.urls", [&](ondemand::value& element) -> Reason {
      return ForEachFieldOf(batch, element, "entities.urls", [&](std::string_view inner, ondemand::value& u) -> Reason {
        if (inner != "expanded_url") return {};
        std::string_view url;
        RETURN_IF_REASON(ReadString(batch, u, "entities.urls.expanded_url", url));
        if (url.empty() || draft.url_count == PostDraft::kMaxUrls) return {};
        for (uint32_t i = 0; i < draft.url_count; ++i) {
          if (draft.urls[i] == url) return {};
        }
        draft.urls[draft.url_count++] = url;
        return {};
      });
    });
  });
}

// ---- X/Twitter v1.1 -------------------------------------------------------------------------

Reason VisitTwitterV1(Batch& batch, ondemand::object tweet, PostDraft& draft, bool& is_notice) {
  return ForEachField(batch, tweet, [&](std::string_view key, ondemand::value& value) -> Reason {
    std::string_view text;
    if (key == "id_str") return ReadString(batch, value, "id_str", draft.id);
    if (key == "text" || key == "full_text") {
      RETURN_IF_REASON(ReadString(batch, value, key, text));
      if (!text.empty() || draft.text_priority < 0) OfferText(draft, text, key == "text" ? 0 : 1);
      return {};
    }
    if (key == "extended_tweet") {
      return ForEachFieldOf(batch, value, key, [&](std::string_view inner, ondemand::value& v) -> Reason {
        if (inner == "entities") return ReadUrlEntities(batch, v, "extended_tweet.entities", draft);
        if (inner != "full_text") return {};
        RETURN_IF_REASON(ReadString(batch, v, "extended_tweet.full_text", text));
        OfferText(draft, text, 2);
        return {};
      });
    }
    if (key == "user") {
      return ForEachFieldOf(batch, value, key, [&](std::string_view inner, ondemand::value& v) -> Reason {
        if (inner == "id_str") return ReadString(batch, v, "user.id_str", draft.author_id);
        if (inner == "screen_name") return ReadString(batch, v, "user.screen_name", draft.author_handle);
        if (inner == "followers_count") return ReadInteger(batch, v, "user.followers_count", draft.followers);
        return {};
      });
    }
    if (key == "created_at") return ReadString(batch, value, "created_at", draft.time_text);
    if (key == "entities") return ReadUrlEntities(batch, value, "entities", draft);
    if (key == "lang") return ReadString(batch, value, "lang", draft.language);
    if (key == "in_reply_to_status_id_str") return ReadString(batch, value, key, draft.reply_to_post_id);
    if (key == "in_reply_to_user_id_str") return ReadString(batch, value, key, draft.reply_to_author_id);
    if (key == "in_reply_to_screen_name") return ReadString(batch, value, key, draft.reply_to_handle);
    if (key == "delete" || key == "scrub_geo" || key == "limit" || key == "status_withheld" ||
        key == "user_withheld" || key == "disconnect" || key == "warning") {
      is_notice = true;  // stream control messages, not posts
    }
    return {};
  });
}

// ---- X/Twitter v2 ----------------------------------------------------------------------------

Reason VisitTwitterV2TweetField(Batch& batch, std::string_view key, ondemand::value& value,
                                PostDraft& draft) {
  std::string_view text;
  if (key == "id") return ReadString(batch, value, "id", draft.id);
  if (key == "text") {
    RETURN_IF_REASON(ReadString(batch, value, "text", text));
    OfferText(draft, text, 0);
    return {};
  }
  if (key == "note_tweet") {  // long posts carry the whole text here
    return ForEachFieldOf(batch, value, key, [&](std::string_view inner, ondemand::value& v) -> Reason {
      if (inner != "text") return {};
      RETURN_IF_REASON(ReadString(batch, v, "note_tweet.text", text));
      OfferText(draft, text, 1);
      return {};
    });
  }
  if (key == "author_id") return ReadString(batch, value, "author_id", draft.author_id);
  if (key == "entities") return ReadUrlEntities(batch, value, "entities", draft);
  if (key == "created_at") return ReadString(batch, value, "created_at", draft.time_text);
  if (key == "lang") return ReadString(batch, value, "lang", draft.language);
  if (key == "in_reply_to_user_id") return ReadString(batch, value, key, draft.reply_to_author_id);
  if (key == "referenced_tweets") {
    return ForEachElementOf(batch, value, key, [&](ondemand::value& element) -> Reason {
      std::string_view type, id;
      RETURN_IF_REASON(ForEachFieldOf(batch, element, key, [&](std::string_view inner, ondemand::value& v) -> Reason {
        if (inner == "type") return ReadString(batch, v, "referenced_tweets.type", type);
        if (inner == "id") return ReadString(batch, v, "referenced_tweets.id", id);
        return {};
      }));
      if (type == "replied_to") draft.reply_to_post_id = id;
      return {};
    });
  }
  return {};
}

Reason VisitTwitterV2Tweet(Batch& batch, ondemand::value& value, JsonDecodeState& state) {
  state.drafts.emplace_back();
  return ForEachFieldOf(batch, value, "data", [&](std::string_view key, ondemand::value& v) {
    return VisitTwitterV2TweetField(batch, key, v, state.drafts.back());
  });
}

Reason VisitTwitterV2Page(Batch& batch, ondemand::object page, JsonDecodeState& state,
                          PostDraft& bare_tweet, bool& has_errors) {
  return ForEachField(batch, page, [&](std::string_view key, ondemand::value& value) -> Reason {
    if (key == "data") {
      ondemand::json_type type;
      if (auto error = value.type().get(type)) return JsonError(batch, error);
      if (type == ondemand::json_type::array) {
        return ForEachElementOf(batch, value, "data", [&](ondemand::value& element) {
          return VisitTwitterV2Tweet(batch, element, state);
        });
      }
      return VisitTwitterV2Tweet(batch, value, state);
    }
    if (key == "includes") {
      return ForEachFieldOf(batch, value, key, [&](std::string_view inner, ondemand::value& v) -> Reason {
        if (inner != "users") return {};
        return ForEachElementOf(batch, v, "includes.users", [&](ondemand::value& user_value) -> Reason {
          UserEntry user;
          RETURN_IF_REASON(ForEachFieldOf(batch, user_value, "includes.users", [&](std::string_view field, ondemand::value& u) -> Reason {
            if (field == "id") return ReadString(batch, u, "includes.users.id", user.id);
            if (field == "username") return ReadString(batch, u, "includes.users.username", user.username);
            if (field == "public_metrics") {
              return ForEachFieldOf(batch, u, field, [&](std::string_view metric, ondemand::value& m) -> Reason {
                if (metric != "followers_count") return {};
                return ReadInteger(batch, m, "public_metrics.followers_count", user.followers);
              });
            }
            return {};
          }));
          state.users.push_back(user);
          return {};
        });
      });
    }
    if (key == "errors") {
      has_errors = true;
      return {};
    }
    // A bare tweet object (no page around it).
    return VisitTwitterV2TweetField(batch, key, value, bare_tweet);
  });
}

// ---- Bluesky Jetstream -----------------------------------------------------------------------

struct JetstreamEvent {
  std::string_view did, kind, operation, collection, rkey;
  int64_t time_us = 0;
};

Reason VisitJetstream(Batch& batch, ondemand::object event, JetstreamEvent& jetstream,
                      PostDraft& draft) {
  return ForEachField(batch, event, [&](std::string_view key, ondemand::value& value) -> Reason {
    if (key == "did") return ReadString(batch, value, "did", jetstream.did);
    if (key == "kind") return ReadString(batch, value, "kind", jetstream.kind);
    if (key == "time_us") return ReadInteger(batch, value, "time_us", jetstream.time_us);
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

// ---- Mastodon --------------------------------------------------------------------------------

Reason VisitMastodon(Batch& batch, ondemand::object status, PostDraft& draft) {
  return ForEachField(batch, status, [&](std::string_view key, ondemand::value& value) -> Reason {
    std::string_view text;
    if (key == "id") return ReadString(batch, value, "id", draft.id);
    if (key == "created_at") return ReadString(batch, value, "created_at", draft.time_text);
    if (key == "in_reply_to_id") return ReadString(batch, value, key, draft.reply_to_post_id);
    if (key == "in_reply_to_account_id") return ReadString(batch, value, key, draft.reply_to_author_id);
    if (key == "language") return ReadString(batch, value, "language", draft.language);
    if (key == "content") {
      RETURN_IF_REASON(ReadString(batch, value, "content", text));
      OfferText(draft, text, 0);
      draft.html_text = true;
      return {};
    }
    if (key == "account") {
      return ForEachFieldOf(batch, value, key, [&](std::string_view field, ondemand::value& v) -> Reason {
        if (field == "id") return ReadString(batch, v, "account.id", draft.author_id);
        if (field == "acct") return ReadString(batch, v, "account.acct", draft.author_handle);
        if (field == "followers_count") return ReadInteger(batch, v, "account.followers_count", draft.followers);
        return {};
      });
    }
    return {};
  });
}

// Appends one code point as UTF-8; returns bytes written (0 if invalid).
size_t AppendCodePoint(char* out, uint32_t code_point) {
  if (code_point < 0x80) {
    out[0] = static_cast<char>(code_point);
    return 1;
  }
  if (code_point < 0x800) {
    out[0] = static_cast<char>(0xC0 | (code_point >> 6));
    out[1] = static_cast<char>(0x80 | (code_point & 0x3F));
    return 2;
  }
  if (code_point >= 0xD800 && code_point <= 0xDFFF) return 0;
  if (code_point < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (code_point >> 12));
    out[1] = static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (code_point & 0x3F));
    return 3;
  }
  if (code_point > 0x10FFFF) return 0;
  out[0] = static_cast<char>(0xF0 | (code_point >> 18));
  out[1] = static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (code_point & 0x3F));
  return 4;
}

// Mastodon content is HTML: drop tags (paragraphs and <br> become newlines) and decode
// entities. The output is never longer than the input, so it is written into the arena in place.
std::string_view HtmlToText(std::string_view html, StringArena& arena) {
  char* out = arena.Allocate(html.size());
  size_t length = 0;
  size_t i = 0;
  while (i < html.size()) {
    char c = html[i];
    if (c == '<') {
      size_t close = html.find('>', i);
      if (close == std::string_view::npos) break;
      std::string_view tag = html.substr(i + 1, close - i - 1);
      bool breaks_line = tag.starts_with("br") || tag.starts_with("/p") || tag.starts_with("p ") ||
                         tag == "p";
      if (breaks_line && length > 0 && out[length - 1] != '\n') out[length++] = '\n';
      i = close + 1;
      continue;
    }
    if (c == '&') {
      size_t semicolon = html.find(';', i);
      if (semicolon != std::string_view::npos && semicolon - i <= 10) {
        std::string_view entity = html.substr(i + 1, semicolon - i - 1);
        char replacement = 0;
        if (entity == "amp") replacement = '&';
        else if (entity == "lt") replacement = '<';
        else if (entity == "gt") replacement = '>';
        else if (entity == "quot") replacement = '"';
        else if (entity == "apos" || entity == "#39") replacement = '\'';
        else if (entity == "nbsp") replacement = ' ';
        if (replacement != 0) {
          out[length++] = replacement;
          i = semicolon + 1;
          continue;
        }
        if (entity.size() >= 2 && entity[0] == '#') {
          uint32_t code_point = 0;
          bool hex = entity[1] == 'x' || entity[1] == 'X';
          std::string_view digits = entity.substr(hex ? 2 : 1);
          auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(),
                                              code_point, hex ? 16 : 10);
          if (error == std::errc() && end == digits.data() + digits.size()) {
            size_t written = AppendCodePoint(out + length, code_point);
            if (written > 0) {
              length += written;
              i = semicolon + 1;
              continue;
            }
          }
        }
      }
    }
    out[length++] = c;
    ++i;
  }
  while (length > 0 && out[length - 1] == '\n') --length;
  return std::string_view(out, length);
}

// ---- generic JSON with field pointers --------------------------------------------------------

enum class FieldSlot : uint8_t {
  kNone, kId, kText, kAuthorId, kAuthorHandle, kFollowers, kEventTime, kLanguage,
  kReplyToPostId, kReplyToAuthorId, kReplyToHandle,
};

struct PointerNode {
  std::string key;
  FieldSlot slot = FieldSlot::kNone;
  std::string path;  // "/user/name", for messages
  std::vector<PointerNode> children;
};

std::optional<FieldSlot> SlotNamed(std::string_view name) {
  static const std::pair<std::string_view, FieldSlot> kSlots[] = {
      {"id", FieldSlot::kId},
      {"text", FieldSlot::kText},
      {"author_id", FieldSlot::kAuthorId},
      {"author_handle", FieldSlot::kAuthorHandle},
      {"author_followers", FieldSlot::kFollowers},
      {"event_time", FieldSlot::kEventTime},
      {"language", FieldSlot::kLanguage},
      {"reply_to_post_id", FieldSlot::kReplyToPostId},
      {"reply_to_author_id", FieldSlot::kReplyToAuthorId},
      {"reply_to_handle", FieldSlot::kReplyToHandle},
  };
  for (const auto& [slot_name, slot] : kSlots) {
    if (slot_name == name) return slot;
  }
  return std::nullopt;
}

// "/a/b~1c" -> {"a", "b/c"}
std::optional<std::vector<std::string>> SplitPointer(std::string_view pointer) {
  if (pointer.empty() || pointer.front() != '/') return std::nullopt;
  std::vector<std::string> parts;
  size_t position = 1;
  while (true) {
    size_t slash = pointer.find('/', position);
    std::string_view raw = pointer.substr(position, slash == std::string_view::npos ? std::string_view::npos : slash - position);
    std::string part;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        part.push_back(raw[i + 1] == '0' ? '~' : '/');
        ++i;
      } else {
        part.push_back(raw[i]);
      }
    }
    if (part.empty()) return std::nullopt;
    parts.push_back(std::move(part));
    if (slash == std::string_view::npos) break;
    position = slash + 1;
  }
  return parts;
}

Reason ReadSlot(Batch& batch, const PointerNode& node, ondemand::value& value, PostDraft& draft) {
  std::string_view text;
  switch (node.slot) {
    case FieldSlot::kNone: return {};
    case FieldSlot::kId: {
      // Ids are often numbers in generic JSON: keep their digits as written.
      ondemand::json_type type;
      if (auto error = value.type().get(type)) return JsonError(batch, error);
      if (type == ondemand::json_type::number) {
        std::string_view raw = value.raw_json_token();
        while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\t' ||
                                raw.back() == '\r')) {
          raw.remove_suffix(1);
        }
        draft.id = raw;
        return {};
      }
      return ReadString(batch, value, node.path, draft.id);
    }
    case FieldSlot::kText:
      RETURN_IF_REASON(ReadString(batch, value, node.path, text));
      OfferText(draft, text, 0);
      return {};
    case FieldSlot::kAuthorId: {
      ondemand::json_type type;
      if (auto error = value.type().get(type)) return JsonError(batch, error);
      if (type == ondemand::json_type::number) {
        std::string_view raw = value.raw_json_token();
        while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n')) raw.remove_suffix(1);
        draft.author_id = raw;
        return {};
      }
      return ReadString(batch, value, node.path, draft.author_id);
    }
    case FieldSlot::kAuthorHandle: return ReadString(batch, value, node.path, draft.author_handle);
    case FieldSlot::kFollowers: return ReadInteger(batch, value, node.path, draft.followers);
    case FieldSlot::kEventTime: return ReadTime(batch, value, node.path, draft);
    case FieldSlot::kLanguage: return ReadString(batch, value, node.path, draft.language);
    case FieldSlot::kReplyToPostId: return ReadString(batch, value, node.path, draft.reply_to_post_id);
    case FieldSlot::kReplyToAuthorId: return ReadString(batch, value, node.path, draft.reply_to_author_id);
    case FieldSlot::kReplyToHandle: return ReadString(batch, value, node.path, draft.reply_to_handle);
  }
  return {};
}

Reason VisitWithPointers(Batch& batch, ondemand::object object, const PointerNode& node,
                         PostDraft& draft) {
  return ForEachField(batch, object, [&](std::string_view key, ondemand::value& value) -> Reason {
    for (const PointerNode& child : node.children) {
      if (child.key != key) continue;
      if (child.slot != FieldSlot::kNone) RETURN_IF_REASON(ReadSlot(batch, child, value, draft));
      if (!child.children.empty()) {
        ondemand::json_type type;
        if (auto error = value.type().get(type)) return JsonError(batch, error);
        if (type != ondemand::json_type::object) return {};  // absent deeper fields
        ondemand::object inner;
        if (auto error = value.get_object().get(inner)) return JsonError(batch, error);
        RETURN_IF_REASON(VisitWithPointers(batch, inner, child, draft));
      }
      return {};
    }
    return {};
  });
}

// ---- the operator ----------------------------------------------------------------------------

class JsonDecode final : public Transform {
 public:
  JsonDecode(DecodeSpec spec, PointerNode pointer_root)
      : spec_(std::move(spec)), pointer_root_(std::move(pointer_root)) {
    switch (spec_.format) {
      case DecodeFormat::kTwitterV1:
      case DecodeFormat::kTwitterV2: platform_ = Platform::kTwitter; break;
      case DecodeFormat::kJetstream: platform_ = Platform::kBluesky; break;
      case DecodeFormat::kMastodon: platform_ = Platform::kMastodon; break;
      case DecodeFormat::kJson: platform_ = Platform::kGeneric; break;
    }
  }

  std::string_view name() const override { return "decode"; }

  Result<std::unique_ptr<TransformState>> MakeState() const override {
    return std::unique_ptr<TransformState>(std::make_unique<JsonDecodeState>());
  }

  Status Process(Batch& batch, TransformState& state_base) const override {
    auto& state = static_cast<JsonDecodeState&>(state_base);
    for (uint32_t index = 0; index < batch.records.size(); ++index) {
      size_t posts_before = batch.posts.size();
      Reason reason = DecodeRecord(batch, index, state);
      if (!reason.empty()) {
        batch.posts.resize(posts_before);  // a record yields posts or a dead letter, not both
        batch.dead_letters.push_back(DeadLetter{index, reason});
      } else if (batch.posts.size() == posts_before) {
        ++batch.skipped_records;
      }
    }
    for (const Post& post : batch.posts) {
      if (post.event_time_ms > batch.max_event_time_ms) batch.max_event_time_ms = post.event_time_ms;
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
    switch (spec_.format) {
      case DecodeFormat::kTwitterV1:
        RETURN_IF_REASON(VisitTwitterV1(batch, object, draft, skip));
        break;
      case DecodeFormat::kTwitterV2: {
        bool has_errors = false;
        RETURN_IF_REASON(VisitTwitterV2Page(batch, object, state, draft, has_errors));
        if (state.drafts.empty() && draft.text_priority < 0 && draft.id.empty()) skip = true;
        break;
      }
      case DecodeFormat::kJetstream: {
        JetstreamEvent event;
        RETURN_IF_REASON(VisitJetstream(batch, object, event, draft));
        if (event.kind != "commit" || event.operation != "create" ||
            event.collection != "app.bsky.feed.post") {
          skip = true;
          break;
        }
        draft.author_id = event.did;
        std::string id = fmt::format("at://{}/app.bsky.feed.post/{}", event.did, event.rkey);
        draft.id = batch.arena.Copy(id);
        if (draft.time_text.empty() && event.time_us != 0) {
          draft.time_number = event.time_us / 1000;
          draft.has_time_number = true;
        }
        break;
      }
      case DecodeFormat::kMastodon:
        RETURN_IF_REASON(VisitMastodon(batch, object, draft));
        break;
      case DecodeFormat::kJson:
        RETURN_IF_REASON(VisitWithPointers(batch, object, pointer_root_, draft));
        break;
    }
    const char* unread = nullptr;
    if (document.current_location().get(unread) != simdjson::OUT_OF_BOUNDS) {
      return "trailing content after the JSON document";
    }
    if (skip) return {};
    if (spec_.format == DecodeFormat::kTwitterV2 && !state.drafts.empty()) {
      for (PostDraft& tweet : state.drafts) {
        for (const UserEntry& user : state.users) {
          if (user.id == tweet.author_id) {
            tweet.author_handle = user.username;
            tweet.followers = user.followers;
          }
          if (!tweet.reply_to_author_id.empty() && user.id == tweet.reply_to_author_id) {
            tweet.reply_to_handle = user.username;
          }
        }
        RETURN_IF_REASON(EmitPost(batch, index, tweet));
      }
      return {};
    }
    return EmitPost(batch, index, draft);
  }

  Reason EmitPost(Batch& batch, uint32_t index, const PostDraft& draft) const {
    if (draft.text_priority < 0) {
      switch (spec_.format) {
        case DecodeFormat::kMastodon: return "missing field 'content'";
        case DecodeFormat::kJetstream: return "missing field 'commit.record.text'";
        default: return "missing field 'text'";
      }
    }
    Post post;
    post.record_index = index;
    post.platform = platform_;
    if (draft.has_time_number) {
      // Epoch seconds or milliseconds: seconds until the year 5138.
      post.event_time_ms = draft.time_number < 100000000000 ? draft.time_number * 1000 : draft.time_number;
    } else if (!draft.time_text.empty()) {
      std::optional<int64_t> time = spec_.format == DecodeFormat::kTwitterV1
                                        ? ParseTwitterTimestampMs(draft.time_text)
                                        : ParseIso8601Ms(draft.time_text);
      if (!time && spec_.format == DecodeFormat::kJson) time = ParseTwitterTimestampMs(draft.time_text);
      if (!time) {
        return Formatted(batch, fmt::format("unparseable event time '{}'",
                                            draft.time_text.substr(0, 64)));
      }
      post.event_time_ms = *time;
    } else {
      switch (spec_.format) {
        case DecodeFormat::kJetstream: return "missing field 'commit.record.createdAt'";
        case DecodeFormat::kJson: return "missing event time field";
        default: return "missing field 'created_at'";
      }
    }
    StringArena& arena = batch.arena;
    post.text = draft.html_text ? HtmlToText(draft.text, arena) : arena.Copy(draft.text);
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
    batch.posts.push_back(post);
    return {};
  }

  DecodeSpec spec_;
  PointerNode pointer_root_;
  Platform platform_ = Platform::kGeneric;
};

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
  PointerNode root;
  for (const auto& [name, pointer] : spec.field_pointers) {
    std::optional<FieldSlot> slot = SlotNamed(name);
    std::optional<std::vector<std::string>> parts = SplitPointer(pointer);
    if (!slot || !parts) {
      return Status::InvalidArgument(fmt::format("bad decode field {}: '{}'", name, pointer));
    }
    PointerNode* node = &root;
    for (const std::string& part : *parts) {
      auto child = std::find_if(node->children.begin(), node->children.end(),
                                [&](const PointerNode& candidate) { return candidate.key == part; });
      if (child == node->children.end()) {
        node->children.push_back(PointerNode{part, FieldSlot::kNone, {}, {}});
        child = node->children.end() - 1;
      }
      node = &*child;
    }
    node->slot = *slot;
    node->path = pointer.substr(1);
  }
  return std::unique_ptr<Transform>(std::make_unique<JsonDecode>(spec, std::move(root)));
}

}  // namespace brandpulse
