// WindowAggregate: pre-aggregates mentions into per-worker, in-memory window deltas: every
// stored window shape (tumbling, hopping, sliding buckets) per brand, and per brand × dimension
// value (language, platform, own post vs customer). The pipeline's coordinator takes the deltas
// at each commit and writes them to RocksDB as merge operands in one WriteBatch with the source
// positions (see engine/pipeline_runner.cc and docs/state.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/pipeline_config.h"
#include "engine/transform.h"
#include "engine/window_metrics.h"

namespace brandpulse {

// A dimension value packed into 64 bits, so workers key deltas without allocating or sharing
// an interning table: the Dimension in the top byte, the value's bytes below (a language tag of
// up to 7 ASCII bytes, a Platform, 1 for an own post). 0 = the brand total.
using DimensionValue = uint64_t;
inline constexpr DimensionValue kBrandTotal = 0;
// "lang:no", "platform:bluesky", "author:own"; "" for kBrandTotal.
std::string DimensionString(DimensionValue value);

struct WindowShape {
  int64_t size_ms = 0;
  int64_t slide_ms = 0;  // hopping; 0 = tumbling
  std::vector<Dimension> dimensions;  // union over the specs that share the shape
};

// The distinct stored shapes of a pipeline's windows, and for each window spec its shape index.
struct WindowLayout {
  std::vector<WindowShape> shapes;
  std::vector<uint32_t> shape_of_window;  // by PipelineSpec::windows index
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

// First millisecond of the tumbling window of `size_ms` that holds `time_ms` (floor, also for
// negative times).
int64_t WindowStart(int64_t time_ms, int64_t size_ms);

class WindowAggregate final : public Transform {
 public:
  struct Options {
    WindowLayout layout;
    int64_t allowed_lateness_ms = 0;
    uint64_t term_capacity = 0;  // 0 = no hashtag / term summaries
    uint32_t term_shape = 0;     // the shape whose brand totals carry them
    bool co_terms = false;       // words too, not only hashtags and cashtags
  };
  // `watermark` is written by the coordinator only while no worker runs (at commit barriers)
  // and read by workers: a mention whose window ended at least `allowed_lateness_ms` before it
  // is late. It must outlive the operator.
  WindowAggregate(Options options, const std::atomic<int64_t>* watermark)
      : options_(std::move(options)), watermark_(watermark) {}

  std::string_view name() const override { return "window"; }
  std::unique_ptr<TransformState> MakeState() const override;
  // For each mention: adds it to the delta of every window holding the post's event time, or
  // records the post in batch.late_post_indices when such a window is already closed.
  Status Process(Batch& batch, TransformState& state) const override;

  // Hands every delta accumulated in `state` to `visit`, then empties it.
  // REQUIRES: the worker owning `state` is paused (commit barrier).
  static void TakeDeltas(TransformState& state,
                         const std::function<void(const WindowDeltaKey&, WindowMetrics&)>& visit);

 private:
  Options options_;
  const std::atomic<int64_t>* watermark_;
};

// Hashtags and co-occurring terms of a post's text, as the window summaries count them:
// case-folded words of at least 3 characters that are not stop words (en, no, es), numbers,
// handles or parts of URLs; hashtags with their '#'. Words overlapping [skip_begin, skip_end)
// (the brand's own hit) are left out. Views point into `folded`, which must outlive them.
struct PostTerms {
  std::string folded;
  struct Token {
    uint32_t begin = 0;
    uint32_t end = 0;
    bool hashtag = false;
  };
  std::vector<Token> tokens;
  // With `words` false only hashtags and cashtags are kept (and a text without '#' or '$' costs
  // one memchr pass).
  void Extract(std::string_view text, bool words = true);
  std::string_view View(const Token& token) const {
    return std::string_view(folded).substr(token.begin, token.end - token.begin);
  }
};

}  // namespace brandpulse
