#include "operators/json_decode_fields.h"

#include "operators/json_decode_internal.h"

#include <charconv>

namespace brandpulse::decode_internal {

Reason Formatted(Batch& batch, std::string text) { return batch.arena.Copy(text); }

Reason JsonError(Batch& batch, simdjson::error_code error) {
  if (error == simdjson::UTF8_ERROR) return "invalid UTF-8";
  return Formatted(batch, fmt::format("invalid JSON: {}", simdjson::error_message(error)));
}

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

Reason ReadTime(Batch& batch, ondemand::value& value, std::string_view field, PostDraft& draft) {
  ondemand::json_type type;
  if (auto error = value.type().get(type)) return JsonError(batch, error);
  if (type == ondemand::json_type::number) {
    draft.has_time_number = true;
    return ReadInteger(batch, value, field, draft.time_number);
  }
  return ReadString(batch, value, field, draft.time_text);
}

Reason ReadPublicMetrics(Batch& batch, ondemand::value& value, std::string_view field,
                         PostDraft& draft) {
  return ForEachFieldOf(batch, value, field, [&](std::string_view key, ondemand::value& v) -> Reason {
    if (key == "like_count") return ReadInteger(batch, v, "public_metrics.like_count", draft.like_count);
    if (key == "retweet_count") {
      return ReadInteger(batch, v, "public_metrics.retweet_count", draft.repost_count);
    }
    if (key == "reply_count") return ReadInteger(batch, v, "public_metrics.reply_count", draft.reply_count);
    if (key == "quote_count") return ReadInteger(batch, v, "public_metrics.quote_count", draft.quote_count);
    return {};
  });
}

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

namespace {

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

}  // namespace

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

std::string_view UnescapeTwitterText(std::string_view text, StringArena& arena) {
  if (text.find('&') == std::string_view::npos) return arena.Copy(text);
  char* out = arena.Allocate(text.size());
  size_t written = 0;
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};
  for (size_t at = 0; at < text.size();) {
    if (text[at] == '&') {
      bool decoded = false;
      for (const auto& [entity, character] : kEntities) {
        if (text.compare(at, entity.size(), entity) == 0) {
          out[written++] = character;
          at += entity.size();
          decoded = true;
          break;
        }
      }
      if (decoded) continue;
    }
    out[written++] = text[at++];
  }
  return std::string_view(out, written);
}

std::optional<int64_t> SnowflakeTimeMs(std::string_view id) {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(id.data(), id.data() + id.size(), value);
  if (error != std::errc() || end != id.data() + id.size()) return std::nullopt;
  // Snowflakes began in November 2010; smaller ids are sequential and carry no time.
  if (value < (uint64_t{1} << 32)) return std::nullopt;
  return static_cast<int64_t>(value >> 22) + 1288834974657;
}

void DidHandles::Set(std::string_view did, std::string_view handle) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = handles_.find(did);
  if (found != handles_.end()) {
    if (found->second == handle) return;
    found->second.assign(handle);
  } else if (handles_.size() < kMaxEntries) {
    handles_.emplace(std::string(did), std::string(handle));
  } else {
    return;
  }
  changed_.emplace_back(std::string(did), std::string(handle));
}

Status DidHandles::Load(StateStore& store) {
  std::lock_guard<std::mutex> lock(mutex_);
  return store.ScanRuleState(kDidHandlesOwner, [&](std::string_view did, std::string_view handle) {
    if (handles_.size() < kMaxEntries) handles_.insert_or_assign(std::string(did), std::string(handle));
  });
}

void DidHandles::WriteChanges(StateStore::Commit* commit) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (commit != nullptr) {
    for (const auto& [did, handle] : changed_) commit->PutRuleState(kDidHandlesOwner, did, handle);
  }
  changed_.clear();
}

std::string_view DidHandles::Find(std::string_view did, StringArena& arena) const {
  if (did.empty()) return {};
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = handles_.find(did);
  return found == handles_.end() ? std::string_view() : arena.Copy(found->second);
}

}  // namespace brandpulse::decode_internal
