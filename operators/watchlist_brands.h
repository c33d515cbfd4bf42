// The compiled watchlist seen as the engine's BrandDirectory (engine/brand_directory.h), for
// alert rules and the runner, which know brands by index and id only.
#pragma once

#include <memory>

#include "engine/brand_directory.h"
#include "operators/hyperscan_match.h"

namespace brandpulse {

// Holds the watchlist it describes alive.
class WatchlistBrands final : public BrandDirectory {
 public:
  explicit WatchlistBrands(std::shared_ptr<const CompiledWatchlist> watchlist)
      : watchlist_(std::move(watchlist)) {}

  uint32_t brand_count() const override {
    return static_cast<uint32_t>(watchlist_->brand_count());
  }
  BrandInfo brand_info(uint32_t index) const override {
    const BrandSpec& brand = watchlist_->brand(index);
    return BrandInfo{brand.id, brand.name, brand.group};
  }
  std::optional<uint32_t> FindBrand(std::string_view id) const override {
    return watchlist_->FindBrand(id);
  }
  const std::shared_ptr<const CompiledWatchlist>& compiled() const { return watchlist_; }

 private:
  std::shared_ptr<const CompiledWatchlist> watchlist_;
};

}  // namespace brandpulse
