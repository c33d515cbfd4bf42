#include "engine/window_types.h"

#include <algorithm>

#include "engine/batch.h"
#include "engine/hash.h"
#include "engine/startup_registry.h"

namespace brandpulse {
namespace {

// Up to 7 bytes of a BCP-47 tag, lower-cased; "und" when absent or not a tag.
uint64_t LanguagePayload(std::string_view language) {
  if (language.empty() || language.size() > 7) language = "und";
  uint64_t packed = 0;
  for (char c : language) {
    bool valid = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-';
    if (!valid) return LanguagePayload("und");
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    packed = packed << 8 | static_cast<uint8_t>(c);
  }
  return packed;
}

bool LanguageOf(const Post& post, const Mention&, uint64_t& payload) {
  payload = LanguagePayload(post.language);
  return true;
}

void AppendLanguage(uint64_t payload, std::string& out) {
  std::string tag;
  for (; payload != 0; payload >>= 8) tag.insert(tag.begin(), static_cast<char>(payload & 0xff));
  out += tag;
}

bool PlatformOf(const Post& post, const Mention&, uint64_t& payload) {
  payload = static_cast<uint64_t>(post.platform);
  return true;
}

void AppendPlatform(uint64_t payload, std::string& out) {
  out += PlatformName(static_cast<Platform>(payload));
}

// Own posts are one slice; customers are the brand total itself.
bool AuthorOf(const Post&, const Mention& mention, uint64_t& payload) {
  payload = 1;
  return mention.own_post;
}

void AppendAuthor(uint64_t payload, std::string& out) { out += payload == 1 ? "own" : "customer"; }

StartupRegistry<DimensionDefinition>& Dimensions() {
  static StartupRegistry<DimensionDefinition> registry{
      {Dimension::kLanguage, "lang", "the post's language", LanguageOf, AppendLanguage},
      {Dimension::kPlatform, "platform", "the network the post came from", PlatformOf,
       AppendPlatform},
      {Dimension::kAuthor, "author", "the brand's own posts vs customers", AuthorOf, AppendAuthor},
  };
  return registry;
}

}  // namespace

std::string_view WindowTypeName(WindowType type) {
  switch (type) {
    case WindowType::kTumbling: return "tumbling";
    case WindowType::kHopping: return "hopping";
    case WindowType::kSliding: return "sliding";
  }
  return "tumbling";
}

void RegisterDimension(const DimensionDefinition& definition) {
  // Idempotent: an id or name already registered keeps its first definition.
  Dimensions().AddUnless(
      [&](const DimensionDefinition& existing) {
        return existing.id == definition.id || existing.name == definition.name;
      },
      [&](size_t) { return definition; });
}

const DimensionDefinition* FindDimension(std::string_view name) {
  return Dimensions().Find([&](const DimensionDefinition& entry) { return entry.name == name; });
}

const DimensionDefinition& DimensionOf(Dimension id) {
  const DimensionDefinition* found =
      Dimensions().Find([&](const DimensionDefinition& entry) { return entry.id == id; });
  return found != nullptr ? *found : Dimensions()[0];  // unregistered ids never reach here
}

std::string_view DimensionName(Dimension dimension) { return DimensionOf(dimension).name; }

std::vector<std::string> DimensionNames() {
  std::vector<std::string> names;
  for (const DimensionDefinition& definition : Dimensions()) names.emplace_back(definition.name);
  return names;
}

std::string DimensionString(DimensionValue value) {
  if (value == kBrandTotal) return {};
  const DimensionDefinition& definition =
      DimensionOf(static_cast<Dimension>(value >> kDimensionShift));
  std::string out(definition.name);
  out.push_back(':');
  definition.append_value(value & kDimensionPayloadMask, out);
  return out;
}

std::optional<uint32_t> WindowLayout::FindShape(int64_t size_ms, int64_t slide_ms) const {
  for (uint32_t shape = 0; shape < shapes.size(); ++shape) {
    if (shapes[shape].size_ms == size_ms && shapes[shape].slide_ms == slide_ms) return shape;
  }
  return std::nullopt;
}

WindowLayout MakeWindowLayout(const std::vector<WindowSpec>& windows) {
  WindowLayout layout;
  for (const WindowSpec& window : windows) {
    int64_t size = window.stored_size_ms(), slide = window.stored_slide_ms();
    std::optional<uint32_t> index = layout.FindShape(size, slide);
    if (!index) {
      layout.shapes.push_back(WindowShape{size, slide, {}});
      index = static_cast<uint32_t>(layout.shapes.size() - 1);
    }
    std::vector<Dimension>& dimensions = layout.shapes[*index].dimensions;
    for (Dimension dimension : window.dimensions) {
      if (std::find(dimensions.begin(), dimensions.end(), dimension) == dimensions.end()) {
        dimensions.push_back(dimension);
      }
    }
    layout.shape_of_window.push_back(*index);
  }
  return layout;
}

size_t WindowDeltaKeyHash::operator()(const WindowDeltaKey& key) const {
  return MixBits((uint64_t{key.brand_index} << 32 | key.shape_index) ^
                 MixBits(static_cast<uint64_t>(key.start_ms) ^ MixBits(key.dimension)));
}

int64_t WindowStart(int64_t time_ms, int64_t size_ms) {
  int64_t quotient = time_ms / size_ms;
  if (time_ms % size_ms < 0) --quotient;
  return quotient * size_ms;
}

}  // namespace brandpulse
