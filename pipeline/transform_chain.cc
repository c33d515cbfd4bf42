#include "pipeline/transform_chain.h"

#include <fmt/format.h>

namespace brandpulse {

Result<std::unique_ptr<TransformChain>> TransformChain::Make(
    const std::vector<std::shared_ptr<const TransformSpec>>& specs,
    const TransformBuildContext& context, int workers) {
  std::unique_ptr<TransformChain> chain(new TransformChain(specs, workers));
  chain->event_time_limits_ = context.event_time_limits;
  // Event times are checked once posts exist: after the decoder (before everything when a
  // chain has none, e.g. a source that makes posts itself).
  for (size_t index = 0; index < specs.size(); ++index) {
    if (specs[index]->type() == "decode") chain->limits_before_ = index + 1;
  }
  chain->transforms_.resize(specs.size());
  for (auto& states : chain->states_) states.resize(specs.size());
  for (size_t index = 0; index < specs.size(); ++index) {
    Built built;
    RETURN_IF_ERROR(chain->Build(index, context, built));
    chain->Install(index, std::move(built));
  }
  return chain;
}

Status TransformChain::Build(size_t index, const TransformBuildContext& context,
                             Built& built) const {
  Result<std::unique_ptr<Transform>> transform = specs_[index]->Make(context);
  if (!transform.ok()) {
    return transform.status().WithContext(
        fmt::format("transform {} ({})", index + 1, specs_[index]->type()));
  }
  built.transform = std::move(*transform);
  built.states.clear();
  for (size_t worker = 0; worker < states_.size(); ++worker) {
    Result<std::unique_ptr<TransformState>> state = built.transform->MakeState();
    if (!state.ok()) {
      return state.status().WithContext(
          fmt::format("transform {} ({}) state", index + 1, specs_[index]->type()));
    }
    built.states.push_back(std::move(*state));
  }
  return Status::Ok();
}

void TransformChain::Install(size_t index, Built built) {
  transforms_[index] = std::move(built.transform);
  for (size_t worker = 0; worker < states_.size(); ++worker) {
    states_[worker][index] = std::move(built.states[worker]);
  }
}

Status TransformChain::Process(Batch& batch, size_t worker) const {
  const std::vector<std::unique_ptr<TransformState>>& states = states_[worker];
  for (size_t index = 0; index < transforms_.size(); ++index) {
    if (index == limits_before_ && event_time_limits_ != nullptr) {
      ApplyEventTimeLimits(batch, *event_time_limits_);
    }
    Status status = transforms_[index]->Process(batch, *states[index]);
    if (!status.ok()) {
      return Status::Internal(
          fmt::format("{} failed: {}", transforms_[index]->name(), status.ToString()));
    }
  }
  if (limits_before_ == transforms_.size() && event_time_limits_ != nullptr) {
    ApplyEventTimeLimits(batch, *event_time_limits_);
  }
  return Status::Ok();
}

Status TransformChain::RebuildForWatchlist(const TransformBuildContext& context) {
  // All or nothing: everything is built before anything is replaced, so a failure (no memory
  // for a Hyperscan scratch) leaves the chain as it was.
  std::vector<std::pair<size_t, Built>> rebuilt;
  for (size_t index = 0; index < specs_.size(); ++index) {
    if (!specs_[index]->uses_watchlist()) continue;
    Built built;
    RETURN_IF_ERROR(Build(index, context, built));
    rebuilt.emplace_back(index, std::move(built));
  }
  for (auto& [index, built] : rebuilt) Install(index, std::move(built));
  return Status::Ok();
}

Status TransformChain::HandOver(EpochHandOver& epoch) {
  for (auto& states : states_) {
    for (size_t index = 0; index < transforms_.size(); ++index) {
      RETURN_IF_ERROR(transforms_[index]->HandOver(*states[index], epoch));
    }
  }
  return Status::Ok();
}

bool TransformChain::ReadsCommittedState() const {
  for (const auto& transform : transforms_) {
    if (transform->ReadsCommittedState()) return true;
  }
  return false;
}

}  // namespace brandpulse
