// WindowCloser: knows which brand windows are open and closes them when the watermark passes
// their close time (engine/window_types.h: WindowCloseTime). Closing reads the window's final
// metrics (stored value + this epoch's delta), shows them to the alert rules that watch the
// window's spec (a sliding spec sees the merge of its buckets), and bounds the term summaries
// once, in the closing commit. Dimension windows are written, not evaluated.
//
// Thread safety: the coordinator only.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <vector>

#include "engine/alert_rule.h"
#include "engine/brand_directory.h"
#include "engine/state_store.h"
#include "engine/window_types.h"

namespace brandpulse {

class WindowCloser {
 public:
  // Shown each closed window of a spec `watches(window_index)` says someone needs.
  using ClosedCallback = std::function<Status(const ClosedWindow& window)>;

  WindowCloser(const std::vector<WindowSpec>& windows, int64_t allowed_lateness_ms,
               std::function<bool(uint32_t window_index)> watches);

  // Start: every stored brand window of this pipeline's shapes that the watermark has not
  // closed is open. Windows of brands no longer in the watchlist stay closed (no alerts).
  Status Restore(StateStore& store, const BrandDirectory& brands, int64_t watermark_ms);
  // This epoch's deltas opened (or kept open) these windows.
  void Track(const WindowDeltaMap& deltas);
  // Closes every open window whose close time is <= watermark_ms, or all of them at the end of
  // a finite input; returns the watermark to store (at the end: the last close time, so a later
  // run over appended input treats those windows as final).
  Result<int64_t> Close(int64_t watermark_ms, bool end_of_input, const WindowDeltaMap& deltas,
                        const BrandDirectory& brands, StateStore& store, StateStore::Commit& commit,
                        const ClosedCallback& on_closed);
  // A reload renumbered the brands; windows of brands that left are dropped (as after a restart).
  void RemapBrands(const BrandDirectory& before, const BrandDirectory& after);

  const WindowLayout& layout() const { return layout_; }
  // Brand windows with data that have not closed (brandpulse_windows_open).
  size_t open_count() const { return open_.size(); }
  WindowKey KeyOf(const BrandDirectory& brands, uint32_t brand_index, uint32_t shape_index,
                  DimensionValue dimension, int64_t start_ms) const;

 private:
  // A brand-total window with data that has not closed, ordered by when it closes.
  struct OpenWindow {
    int64_t close_time_ms;
    uint32_t shape_index;
    uint32_t brand_index;
    int64_t start_ms;
    auto operator<=>(const OpenWindow&) const = default;
  };
  Status Evaluate(const OpenWindow& window, const WindowMetrics& closed,
                  const WindowDeltaMap& deltas, const BrandDirectory& brands, StateStore& store,
                  const ClosedCallback& on_closed);

  const std::vector<WindowSpec>& windows_;
  const int64_t allowed_lateness_ms_;
  std::function<bool(uint32_t)> watches_;
  WindowLayout layout_;
  std::set<OpenWindow> open_;
};

}  // namespace brandpulse
