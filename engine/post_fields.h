// Post fields that later operators add (detected language, sentiment, intents): each is
// registered by name at start-up by the operator that provides it and lives in a per-post slot
// array allocated from the batch's arena, so adding one changes neither Post nor the runner, and
// costs nothing for posts no operator touched.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brandpulse {

// One value; which member means something depends on the field's kind. A text value views the
// batch's arena or input bytes and lives as long as the batch is not reset.
struct PostFieldValue {
  std::string_view text;
  int64_t number = 0;
  bool present = false;
};

enum class PostFieldKind : uint8_t { kNumber, kText };

struct PostFieldDefinition {
  uint32_t slot = 0;  // index into a post's field array
  std::string name;   // "sentiment", "intents"
  PostFieldKind kind = PostFieldKind::kNumber;
  std::string description;
};

// Returns the field's slot, registering it when new. REQUIRES: start-up (before any batch is
// made); the same name with another kind is a programming error and returns nullopt.
std::optional<uint32_t> RegisterPostField(std::string_view name, PostFieldKind kind,
                                          std::string_view description);
// nullptr when no operator registered it.
const PostFieldDefinition* FindPostField(std::string_view name);
// Slots in use: the length of every post's field array.
uint32_t PostFieldCount();

}  // namespace brandpulse
