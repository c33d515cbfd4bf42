#include "engine/post_fields.h"

#include <deque>
#include <mutex>

namespace brandpulse {
namespace {

struct PostFieldRegistry {
  std::mutex mutex;
  std::deque<PostFieldDefinition> definitions;  // GUARDED_BY(mutex) while registering
};

PostFieldRegistry& Registry() {
  static PostFieldRegistry registry;
  return registry;
}

}  // namespace

std::optional<uint32_t> RegisterPostField(std::string_view name, PostFieldKind kind,
                                          std::string_view description) {
  PostFieldRegistry& registry = Registry();
  std::lock_guard lock(registry.mutex);
  for (const PostFieldDefinition& definition : registry.definitions) {
    if (definition.name != name) continue;
    if (definition.kind != kind) return std::nullopt;
    return definition.slot;
  }
  auto slot = static_cast<uint32_t>(registry.definitions.size());
  registry.definitions.push_back(
      PostFieldDefinition{slot, std::string(name), kind, std::string(description)});
  return slot;
}

const PostFieldDefinition* FindPostField(std::string_view name) {
  for (const PostFieldDefinition& definition : Registry().definitions) {
    if (definition.name == name) return &definition;
  }
  return nullptr;
}

uint32_t PostFieldCount() { return static_cast<uint32_t>(Registry().definitions.size()); }

std::vector<PostFieldDefinition> PostFields() {
  std::lock_guard lock(Registry().mutex);
  return {Registry().definitions.begin(), Registry().definitions.end()};
}

}  // namespace brandpulse
