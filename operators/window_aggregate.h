// WindowAggregate: pre-aggregates mentions into per-worker, in-memory window deltas: every
// stored window shape (tumbling, hopping, sliding buckets) per brand, and per brand × dimension
// value (language, platform, own post vs customer). The pipeline's coordinator takes the deltas
// at each commit and writes them to RocksDB as merge operands in one WriteBatch with the source
// positions (see pipeline/ and docs/state.md).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/social_entities.h"
#include "engine/transform.h"
#include "engine/window_metric_registry.h"
#include "engine/window_metrics.h"
#include "engine/window_types.h"

namespace brandpulse {

// How many terms a stored top-k summary keeps for `top_k` reported ones.
inline uint64_t TermCapacityFor(int top_k) { return top_k <= 0 ? 0 : std::max(32, 4 * top_k); }

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
  WindowAggregate(Options options, const std::atomic<int64_t>* watermark);

  std::string_view name() const override { return "window"; }
  Result<std::unique_ptr<TransformState>> MakeState() const override;
  // For each mention: adds it to the delta of every window holding the post's event time, or
  // records the post in batch.late_post_indices when such a window is already closed.
  Status Process(Batch& batch, TransformState& state) const override;

  // Merges the worker's deltas into epoch.window_deltas and empties them.
  Status HandOver(TransformState& state, EpochHandOver& epoch) const override;

 private:
  // Subtracts batch.retractions (earlier versions of edited posts) from the open windows.
  void Retract(const Batch& batch, WindowDeltaMap& deltas, int64_t watermark) const;

  Options options_;
  const std::atomic<int64_t>* watermark_;
  // Per shape, the definitions of its dimensions (looked up once, not per mention).
  std::vector<std::vector<const DimensionDefinition*>> dimensions_of_shape_;
  // Counters other operators registered (engine/window_metric_registry.h); usually none.
  std::vector<const WindowMetricDefinition*> counters_;
};

// Hashtags and co-occurring terms of a post's text, as the window summaries count them:
// case-folded words of at least 3 characters that are not stop words (en, no, es), numbers,
// handles or parts of URLs; hashtags with their '#'. Views point into `folded`, which must
// outlive them; with words, token offsets are those in the text (the caller leaves out words
// overlapping the brand's own hit), without, `folded` holds only the folded tags.
struct PostTerms {
  std::string folded;
  struct Token {
    uint32_t begin = 0;
    uint32_t end = 0;
    bool hashtag = false;
  };
  std::vector<Token> tokens;
  std::vector<SocialEntity> entities;  // reused: the text's hashtags and cashtags
  std::string entity_folded_;          // reused: one tag folded (hashtags only)
  // With `words` false only hashtags and cashtags are kept (and a text without '#' or '$' costs
  // one memchr pass).
  void Extract(std::string_view text, bool words = true);
  std::string_view View(const Token& token) const {
    return std::string_view(folded).substr(token.begin, token.end - token.begin);
  }
};

}  // namespace brandpulse
