// BrandDirectory: what the engine's roles may know of the brands a pipeline watches — their ids,
// names and competitor groups by index — without depending on how a watchlist is written or
// compiled (operators/ implements it over the compiled watchlist). Brand indexes change when a
// watchlist is reloaded; ids do not, so state that outlives a reload is keyed by id.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace brandpulse {

struct BrandInfo {
  std::string_view id;
  std::string_view name;
  std::string_view group;  // "" when the brand is in no competitor group
};

// Immutable; views returned live as long as the directory.
class BrandDirectory {
 public:
  virtual ~BrandDirectory() = default;
  virtual uint32_t brand_count() const = 0;
  // REQUIRES: index < brand_count().
  virtual BrandInfo brand_info(uint32_t index) const = 0;
  virtual std::optional<uint32_t> FindBrand(std::string_view id) const = 0;
};

}  // namespace brandpulse
