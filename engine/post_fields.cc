#include "engine/post_fields.h"

#include "engine/startup_registry.h"

namespace brandpulse {
namespace {

StartupRegistry<PostFieldDefinition>& Fields() {
  static StartupRegistry<PostFieldDefinition> registry;
  return registry;
}

}  // namespace

std::optional<uint32_t> RegisterPostField(std::string_view name, PostFieldKind kind,
                                          std::string_view description) {
  auto [index, added] = Fields().AddUnless(
      [&](const PostFieldDefinition& field) { return field.name == name; },
      [&](size_t slot) {
        return PostFieldDefinition{static_cast<uint32_t>(slot), std::string(name), kind,
                                   std::string(description)};
      });
  if (!added && Fields()[index].kind != kind) return std::nullopt;
  return static_cast<uint32_t>(index);
}

const PostFieldDefinition* FindPostField(std::string_view name) {
  return Fields().Find([&](const PostFieldDefinition& field) { return field.name == name; });
}

uint32_t PostFieldCount() { return static_cast<uint32_t>(Fields().size()); }

}  // namespace brandpulse
