// The decode operator's generic JSON format (json_decode_internal.h): each Post field read from
// where the pipeline's JSON pointer for it says.
#include <algorithm>

#include "operators/json_decode_internal.h"

namespace brandpulse::decode_internal {
namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

Result<JsonPointerFormat> JsonPointerFormat::Make(
    const std::vector<std::pair<std::string, std::string>>& field_pointers) {
  PointerNode root;
  for (const auto& [name, pointer] : field_pointers) {
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
  return JsonPointerFormat(std::move(root));
}

Reason JsonPointerFormat::Visit(Batch& batch, ondemand::object record, JsonDecodeState& state,
                                PostDraft& draft, bool& skip) const {
  return VisitWithPointers(batch, record, root_, draft);
}

}  // namespace brandpulse::decode_internal
