#include "operators/window_aggregate.h"

#include "engine/hash.h"

namespace brandpulse {
namespace {

class WindowAggregateState final : public TransformState {
 public:
  std::unordered_map<WindowDeltaKey, WindowMetrics, WindowDeltaKeyHash> deltas;
};

}  // namespace

size_t WindowDeltaKeyHash::operator()(const WindowDeltaKey& key) const {
  return MixBits((uint64_t{key.brand_index} << 32 | key.window_index) ^
                 MixBits(static_cast<uint64_t>(key.start_ms)));
}

int64_t WindowStart(int64_t time_ms, int64_t size_ms) {
  int64_t quotient = time_ms / size_ms;
  if (time_ms % size_ms < 0) --quotient;
  return quotient * size_ms;
}

std::unique_ptr<TransformState> WindowAggregate::MakeState() const {
  return std::make_unique<WindowAggregateState>();
}

Status WindowAggregate::Process(Batch& batch, TransformState& state) const {
  auto& deltas = static_cast<WindowAggregateState&>(state).deltas;
  const int64_t watermark = watermark_->load(std::memory_order_acquire);
  for (const Mention& mention : batch.mentions) {
    if (mention.own_post) continue;  // the brand's own account: not a customer mention
    const Post& post = batch.posts[mention.post_index];
    // Unique authors are counted by author id; a post without one counts by handle.
    uint64_t author_hash =
        HashBytes(post.author_id.empty() ? post.author_handle : post.author_id);
    for (uint32_t window_index = 0; window_index < window_sizes_ms_.size(); ++window_index) {
      int64_t size = window_sizes_ms_[window_index];
      int64_t start = WindowStart(post.event_time_ms, size);
      if (start + size + allowed_lateness_ms_ <= watermark) {
        if (batch.late_post_indices.empty() ||
            batch.late_post_indices.back() != mention.post_index) {
          batch.late_post_indices.push_back(mention.post_index);
        }
        continue;
      }
      deltas[WindowDeltaKey{mention.brand_index, window_index, start}].AddMention(
          author_hash, post.author_followers);
    }
  }
  return Status::Ok();
}

void WindowAggregate::TakeDeltas(
    TransformState& state, const std::function<void(const WindowDeltaKey&, WindowMetrics&)>& visit) {
  auto& deltas = static_cast<WindowAggregateState&>(state).deltas;
  for (auto& [key, metrics] : deltas) visit(key, metrics);
  deltas.clear();
}

}  // namespace brandpulse
