// Window types in one place: what a window spec says (tumbling, hopping, sliding; size, slide;
// dimensions), how specs map onto stored shapes, the keys of per-worker deltas, and the one rule
// for when a window closes. Operators (window aggregation, alert rules), the runner and the
// queries all use these; none of them defines its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/diagnostics.h"
#include "engine/post.h"
#include "engine/window_metrics.h"

namespace brandpulse {

enum class WindowType { kTumbling, kHopping, kSliding };
std::string_view WindowTypeName(WindowType type);

// What a window is additionally keyed by, besides the brand (docs/state.md, "dimensions").
// The values named here are the built-in dimensions; an operator that adds one (say, sentiment)
// registers it with RegisterDimension() under a new id, and the runner never names it.
enum class Dimension : uint8_t { kLanguage = 1, kPlatform = 2, kAuthor = 3 };

// A dimension value packed into 64 bits, so workers key deltas without allocating or sharing
// an interning table: the dimension id in the top byte, the value's bytes below. 0 = the
// brand total.
using DimensionValue = uint64_t;
inline constexpr DimensionValue kBrandTotal = 0;
inline constexpr int kDimensionShift = 56;
inline constexpr uint64_t kDimensionPayloadMask = (uint64_t{1} << kDimensionShift) - 1;
inline DimensionValue PackDimension(Dimension dimension, uint64_t payload) {
  return (static_cast<uint64_t>(dimension) << kDimensionShift) | (payload & kDimensionPayloadMask);
}

struct Mention;

// How one dimension gets its value from a post and prints it.
struct DimensionDefinition {
  Dimension id{};
  std::string_view name;         // in YAML `dimensions:` and in stored keys ("lang")
  std::string_view description;  // for error hints
  // The slice this mention of `post` belongs to (its payload); false = none (e.g. a customer
  // post under `author`: customers are the brand total). Called by workers: must be pure.
  bool (*value_of)(const Post& post, const Mention& mention, uint64_t& payload) = nullptr;
  // Appends the payload's text ("no", "bluesky", "own") to `out`.
  void (*append_value)(uint64_t payload, std::string& out) = nullptr;
};

// Adds a dimension. REQUIRES: called before any pipeline is loaded (start-up), with an id and a
// name not yet registered. The built-ins (lang, platform, author) are always registered.
void RegisterDimension(const DimensionDefinition& definition);
// nullptr when unknown.
const DimensionDefinition* FindDimension(std::string_view name);
const DimensionDefinition& DimensionOf(Dimension id);
std::string_view DimensionName(Dimension dimension);
// Every registered dimension's name, for "did you mean" and hints.
std::vector<std::string> DimensionNames();
// "lang:no", "platform:bluesky", "author:own"; "" for kBrandTotal.
std::string DimensionString(DimensionValue value);

struct WindowSpec {
  std::string name;  // referenced by alert rules and queries
  WindowType type = WindowType::kTumbling;
  int64_t size_ms = 0;
  // kHopping: a new window starts every slide_ms (divides size_ms). kSliding: the window covering
  // the last size_ms is re-evaluated every slide_ms, built from buckets of slide_ms.
  int64_t slide_ms = 0;
  std::vector<Dimension> dimensions;  // brand × each of these, besides the brand total
  SourceLocation location;

  // The windows this spec stores: tumbling → (size, 0); hopping → (size, slide); sliding → its
  // buckets (slide, 0). Specs with the same stored shape share the stored windows.
  int64_t stored_size_ms() const { return type == WindowType::kSliding ? slide_ms : size_ms; }
  int64_t stored_slide_ms() const { return type == WindowType::kHopping ? slide_ms : 0; }
};

struct WindowShape {
  int64_t size_ms = 0;
  int64_t slide_ms = 0;  // hopping; 0 = tumbling
  std::vector<Dimension> dimensions;  // union over the specs that share the shape
};

// The distinct stored shapes of a pipeline's windows, and for each window spec its shape index.
struct WindowLayout {
  std::vector<WindowShape> shapes;
  std::vector<uint32_t> shape_of_window;  // by window spec index

  // The index of the stored shape (size, slide), if the layout has it (shapes are distinct).
  std::optional<uint32_t> FindShape(int64_t size_ms, int64_t slide_ms) const;
};
WindowLayout MakeWindowLayout(const std::vector<WindowSpec>& windows);

struct WindowDeltaKey {
  uint32_t brand_index = 0;
  uint32_t shape_index = 0;  // into WindowLayout::shapes
  DimensionValue dimension = kBrandTotal;
  int64_t start_ms = 0;
  bool operator==(const WindowDeltaKey&) const = default;
};

struct WindowDeltaKeyHash {
  size_t operator()(const WindowDeltaKey& key) const;
};

// Window deltas of an epoch, merged over the workers at the commit barrier.
using WindowDeltaMap = std::unordered_map<WindowDeltaKey, WindowMetrics, WindowDeltaKeyHash>;

// First millisecond of the tumbling window of `size_ms` that holds `time_ms` (floor, also for
// negative times).
int64_t WindowStart(int64_t time_ms, int64_t size_ms);

// The one rule for when a stored window is final: the watermark reached its end plus the allowed
// lateness. A mention for a window whose close time is <= the watermark is late.
inline int64_t WindowCloseTime(int64_t start_ms, int64_t size_ms, int64_t allowed_lateness_ms) {
  return start_ms + size_ms + allowed_lateness_ms;
}

}  // namespace brandpulse
