#include "pipeline/window_closer.h"

#include <algorithm>
#include <map>

namespace brandpulse {

WindowCloser::WindowCloser(const std::vector<WindowSpec>& windows, int64_t allowed_lateness_ms,
                           std::function<bool(uint32_t)> watches)
    : windows_(windows),
      allowed_lateness_ms_(allowed_lateness_ms),
      watches_(std::move(watches)),
      layout_(MakeWindowLayout(windows)) {
  for (uint32_t index = 0; index < windows_.size(); ++index) {
    if (windows_[index].type == WindowType::kSliding && watches_(index)) sliding_watched_ = true;
  }
}

WindowKey WindowCloser::KeyOf(const BrandDirectory& brands, uint32_t brand_index,
                              uint32_t shape_index, DimensionValue dimension,
                              int64_t start_ms) const {
  const WindowShape& shape = layout_.shapes[shape_index];
  return WindowKey{std::string(brands.brand_info(brand_index).id), shape.size_ms, start_ms,
                   DimensionString(dimension), shape.slide_ms};
}

Status WindowCloser::Restore(StateStore& store, const BrandDirectory& brands,
                             int64_t watermark_ms) {
  closed_through_ms_ = watermark_ms;
  return store.ScanAllWindows([&](const WindowKey& key, const WindowMetrics& metrics) {
    stored_ends_.insert(key.start_ms + key.size_ms);
    if (!key.dimension.empty()) return;
    std::optional<uint32_t> brand = brands.FindBrand(key.brand_id);
    if (!brand) return;  // a brand removed from the watchlist keeps its history, gets no alerts
    std::optional<uint32_t> shape = layout_.FindShape(key.size_ms, key.slide_ms);
    if (!shape) return;
    int64_t close_time = WindowCloseTime(key.start_ms, key.size_ms, allowed_lateness_ms_);
    if (close_time > watermark_ms) {
      open_[OpenWindow{close_time, *shape, *brand, key.start_ms}] = Total{metrics, true};
    }
  });
}

void WindowCloser::Track(const WindowDeltaMap& deltas) {
  int64_t last_end = INT64_MIN;  // deltas of an epoch mostly share a few ends
  for (const auto& [key, delta] : deltas) {
    const int64_t size_ms = layout_.shapes[key.shape_index].size_ms;
    if (const int64_t end = key.start_ms + size_ms; end != last_end) {
      stored_ends_.insert(end);
      last_end = end;
    }
    if (key.dimension != kBrandTotal) continue;
    int64_t close_time = WindowCloseTime(key.start_ms, size_ms, allowed_lateness_ms_);
    if (close_time <= ClosedThrough(key.brand_index)) continue;  // final: not reopened
    auto [entry, inserted] =
        open_.try_emplace(OpenWindow{close_time, key.shape_index, key.brand_index, key.start_ms});
    if (inserted && joined_brands_.count(key.brand_index) > 0) {
      entry->second.complete = false;
      ++incomplete_open_;
    }
    // The delta joins the total; an incomplete total keeps only this epoch's (see Close).
    if (entry->second.complete) entry->second.metrics.Merge(delta);
  }
}

bool WindowCloser::ExpireBefore(int64_t end_before_ms) {
  if (stored_ends_.empty() || *stored_ends_.begin() > end_before_ms) return false;
  stored_ends_.erase(stored_ends_.begin(), stored_ends_.upper_bound(end_before_ms));
  return true;
}

Result<int64_t> WindowCloser::Close(int64_t watermark_ms, bool end_of_input,
                                    const WindowDeltaMap& deltas, const BrandDirectory& brands,
                                    StateStore& store, StateStore::Commit& commit,
                                    const ClosedCallback& on_closed,
                                    std::vector<WindowDeltaKey>& replaced) {
  while (!open_.empty() && (end_of_input || open_.begin()->first.close_time_ms <= watermark_ms)) {
    auto node = open_.extract(open_.begin());
    const OpenWindow window = node.key();
    WindowMetrics total = std::move(node.mapped().metrics);
    watermark_ms = std::max(watermark_ms, window.close_time_ms);
    const WindowDeltaKey delta_key{window.brand_index, window.shape_index, kBrandTotal,
                                   window.start_ms};
    WindowKey key = KeyOf(brands, window.brand_index, window.shape_index, kBrandTotal,
                          window.start_ms);
    if (!node.mapped().complete) {
      // A brand a reload added: what was stored before it (re)joined, plus this epoch's delta.
      --incomplete_open_;
      ASSIGN_OR_RETURN(std::optional<WindowMetrics> stored, store.ReadWindow(key));
      total = stored ? std::move(*stored) : WindowMetrics{};
      auto delta = deltas.find(delta_key);
      if (delta != deltas.end()) total.Merge(delta->second);
    }
    RETURN_IF_ERROR(Evaluate(window, total, deltas, brands, store, on_closed));
    // Term counts are exact while a window is open (so they do not depend on where commits
    // fall); once it is final they are bounded, once, and the stored value replaced.
    if (total.term_capacity > 0 && (total.terms.size() > total.term_capacity ||
                                    total.hashtags.size() > total.term_capacity)) {
      total.ShrinkTerms();
      commit.PutWindow(key, total);
      if (deltas.count(delta_key) > 0) replaced.push_back(delta_key);
    }
  }
  if (watermark_ms >= closed_through_ms_) {
    closed_through_ms_ = watermark_ms;
    replaying_.clear();  // caught up: one closed-through again
  } else {
    // Issue 11: only replayed brands' windows are this far behind (the others' all close later).
    for (auto& [brand, through] : replaying_) through = std::max(through, watermark_ms);
  }
  return watermark_ms;
}

// Tumbling and hopping specs see the window itself; a sliding spec sees the window that ends
// with this bucket, the merge of its last size/every buckets (stored, plus this epoch's deltas).
Status WindowCloser::Evaluate(const OpenWindow& window, const WindowMetrics& closed,
                              const WindowDeltaMap& deltas, const BrandDirectory& brands,
                              StateStore& store, const ClosedCallback& on_closed) {
  for (uint32_t index = 0; index < windows_.size(); ++index) {
    if (layout_.shape_of_window[index] != window.shape_index || !watches_(index)) continue;
    const WindowSpec& spec = windows_[index];
    ClosedWindow shown{window.brand_index, index, &spec, window.start_ms, 0, &closed};
    if (spec.type != WindowType::kSliding) {
      shown.end_ms = window.start_ms + spec.size_ms;
      RETURN_IF_ERROR(on_closed(shown));
      continue;
    }
    const int64_t end = window.start_ms + spec.slide_ms;
    const int64_t start = end - spec.size_ms;
    std::map<int64_t, WindowMetrics> buckets;
    RETURN_IF_ERROR(store.ScanSeries(
        KeyOf(brands, window.brand_index, window.shape_index, kBrandTotal, 0), start, end,
        [&](const WindowKey& key, const WindowMetrics& metrics) { buckets[key.start_ms] = metrics; }));
    WindowMetrics sliding;
    for (int64_t bucket = start; bucket < end; bucket += spec.slide_ms) {
      WindowMetrics metrics = bucket == window.start_ms ? closed : buckets[bucket];
      if (bucket != window.start_ms) {
        auto delta = deltas.find(
            WindowDeltaKey{window.brand_index, window.shape_index, kBrandTotal, bucket});
        if (delta != deltas.end()) metrics.Merge(delta->second);
      }
      sliding.Merge(metrics);
    }
    shown.start_ms = start;
    shown.end_ms = end;
    shown.metrics = &sliding;
    RETURN_IF_ERROR(on_closed(shown));
  }
  return Status::Ok();
}

void WindowCloser::Clear() {
  open_.clear();
  incomplete_open_ = 0;
  joined_brands_.clear();
  stored_ends_.clear();
  closed_through_ms_ = INT64_MIN;  // the windows are rebuilt and closed again
  replaying_.clear();
}

void WindowCloser::ReplayBrands(const std::set<uint32_t>& brand_indexes) {
  if (closed_through_ms_ == INT64_MIN) return;  // nothing closed yet: nothing to catch up with
  for (uint32_t brand : brand_indexes) replaying_[brand] = INT64_MIN;
}

void WindowCloser::ForgetBrands(const std::set<uint32_t>& brand_indexes) {
  for (auto it = open_.begin(); it != open_.end();) {
    if (!brand_indexes.contains(it->first.brand_index)) {
      ++it;
      continue;
    }
    if (!it->second.complete) --incomplete_open_;
    it = open_.erase(it);
  }
  for (uint32_t brand : brand_indexes) replaying_.erase(brand);
}

void WindowCloser::RemapBrands(const BrandDirectory& before, const BrandDirectory& after) {
  std::map<OpenWindow, Total> open = std::move(open_);
  open_.clear();
  incomplete_open_ = 0;
  for (auto& [key, total] : open) {
    std::optional<uint32_t> now = after.FindBrand(before.brand_info(key.brand_index).id);
    if (!now) continue;
    OpenWindow window = key;
    window.brand_index = *now;
    if (!total.complete) ++incomplete_open_;
    open_.emplace(window, std::move(total));
  }
  std::map<uint32_t, int64_t> replaying;
  for (const auto& [brand, through] : replaying_) {
    if (brand >= before.brand_count()) continue;
    if (std::optional<uint32_t> now = after.FindBrand(before.brand_info(brand).id)) replaying[*now] = through;
  }
  replaying_ = std::move(replaying);
  // Brands that were not in `before`: their windows may hold values from before they left.
  std::set<uint32_t> joined;
  for (uint32_t brand : joined_brands_) {
    if (brand < before.brand_count()) {
      if (std::optional<uint32_t> now = after.FindBrand(before.brand_info(brand).id)) joined.insert(*now);
    }
  }
  for (uint32_t brand = 0; brand < after.brand_count(); ++brand) {
    if (!before.FindBrand(after.brand_info(brand).id)) joined.insert(brand);
  }
  joined_brands_ = std::move(joined);
}

}  // namespace brandpulse
