// WindowCloser: knows which brand windows are open and closes them when the watermark passes
// their close time (engine/window_types.h: WindowCloseTime). It keeps each open brand window's
// total in memory (the stored value at start-up plus every delta since: exactly what RocksDB
// holds, issue 17), so closing reads nothing from the store: it shows the final metrics to the
// alert rules that watch the window's spec (a sliding spec sees the merge of its buckets, read
// from the store) and bounds the term summaries once, in the closing commit. Dimension windows
// are written, not evaluated. A window of a brand that a reload brought (back) may have a stored
// value from before: it is read at close (ReadsStore()).
//
// It also knows the end times of the windows the store may hold, so the runner's retention scans
// only when some window can expire (ExpireBefore).
//
// Thread safety: the coordinator only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
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
  // This epoch's deltas opened (or kept open) these windows; their totals take the deltas.
  // A delta for a window already final (closed by an earlier Close, or by the restored watermark)
  // does not reopen it: the caller merges it into the store only (an inquiry found unanswered
  // after its window closed, operators/response_times.h).
  void Track(const WindowDeltaMap& deltas);
  // Closes every open window whose close time is <= watermark_ms, or all of them at the end of
  // a finite input; returns the watermark to store (at the end: the last close time, so a later
  // run over appended input treats those windows as final). A closed window whose term
  // summaries had to be bounded is written with PutWindow (its total includes this epoch's
  // delta), and its key is added to `replaced`: the caller must not merge that delta again.
  // Reads the store only when ReadsStore() (every earlier commit must be written by then).
  Result<int64_t> Close(int64_t watermark_ms, bool end_of_input, const WindowDeltaMap& deltas,
                        const BrandDirectory& brands, StateStore& store, StateStore::Commit& commit,
                        const ClosedCallback& on_closed, std::vector<WindowDeltaKey>& replaced);
  // True when Close() may read the store: a watched sliding spec (its earlier buckets), or an
  // open window whose total lacks a stored value (a brand a reload added).
  bool ReadsStore() const { return sliding_watched_ || incomplete_open_ > 0; }
  // Retention: true when some window the store may hold ends at or before `end_before_ms`
  // (then the caller deletes them: StateStore::DeleteWindowsEndingBefore); forgets those ends.
  bool ExpireBefore(int64_t end_before_ms);
  // Forgets every open window and stored end (issue 11: a cluster's merger wiped its merged
  // windows and rebuilds them from the partials topic).
  void Clear();
  // Forgets the open windows of these brands (issue 11: a merger dropped the windows of the
  // partials partitions it no longer owns); the other brands' windows and closed_through stay.
  void ForgetBrands(const std::set<uint32_t>& brand_indexes);
  // Issue 11: these brands' windows are rebuilt from their first (a merger replays a gained
  // partials partition beside kept ones): until the watermark given to Close reaches the others'
  // closed-through again, each of them has its own, from the start, so their deltas open windows
  // the others have closed. Call after ForgetBrands.
  void ReplayBrands(const std::set<uint32_t>& brand_indexes);
  // The close time through which the brand's windows are final.
  int64_t ClosedThrough(uint32_t brand_index) const {
    auto found = replaying_.find(brand_index);
    return found != replaying_.end() ? found->second : closed_through_ms_;
  }
  bool replaying() const { return !replaying_.empty(); }
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
  // An open window's total; `complete` is false when a stored value may be missing from it.
  struct Total {
    WindowMetrics metrics;
    bool complete = true;
  };
  Status Evaluate(const OpenWindow& window, const WindowMetrics& closed,
                  const WindowDeltaMap& deltas, const BrandDirectory& brands, StateStore& store,
                  const ClosedCallback& on_closed);

  const std::vector<WindowSpec>& windows_;
  const int64_t allowed_lateness_ms_;
  std::function<bool(uint32_t)> watches_;
  WindowLayout layout_;
  std::map<OpenWindow, Total> open_;
  size_t incomplete_open_ = 0;  // open_ entries with complete == false
  bool sliding_watched_ = false;
  // Brands a reload added: their windows may have stored values the totals lack.
  std::set<uint32_t> joined_brands_;
  // Distinct end times (start + size) of windows the store may hold, with any brand and dimension.
  std::set<int64_t> stored_ends_;
  // Windows whose close time is at or before this are final (the last Close's watermark).
  int64_t closed_through_ms_ = INT64_MIN;
  // Brands being replayed (ReplayBrands) -> their own closed-through, below closed_through_ms_.
  std::map<uint32_t, int64_t> replaying_;
};

}  // namespace brandpulse
