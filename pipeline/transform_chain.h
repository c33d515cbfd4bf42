// TransformChain: the pipeline's transforms in config order, built from their specs, with one
// state per transform per worker. It knows the transforms only through their role
// (engine/transform.h): nothing here is positional or specific to decode, match or window.
//
// Thread safety: Process() is called by worker threads, each with its own worker index; every
// other method only while no worker is inside Process() (at a barrier, or before workers start).
#pragma once

#include <memory>
#include <vector>

#include "engine/batch.h"
#include "engine/status.h"
#include "engine/transform.h"
#include "operators/registry.h"

namespace brandpulse {

class TransformChain {
 public:
  // Builds every transform and `workers` states of each.
  static Result<std::unique_ptr<TransformChain>> Make(
      const std::vector<std::shared_ptr<const TransformSpec>>& specs,
      const TransformBuildContext& context, int workers);

  // Runs every transform on `batch` with worker `worker`'s states; the first failure stops the
  // batch and names the transform.
  Status Process(Batch& batch, size_t worker) const;
  // Builds again the transforms whose spec uses the watchlist (a reload), with fresh states; all
  // or nothing: on failure the chain is unchanged. REQUIRES: no batch in flight, and every state
  // handed over (no pending deltas).
  Status RebuildForWatchlist(const TransformBuildContext& context);
  // Every worker's states hand over what the epoch accumulated (engine/transform.h).
  Status HandOver(EpochHandOver& epoch);
  // Some transform reads what earlier commits wrote (Transform::ReadsCommittedState).
  bool ReadsCommittedState() const;

 private:
  TransformChain(std::vector<std::shared_ptr<const TransformSpec>> specs, int workers)
      : specs_(std::move(specs)), states_(static_cast<size_t>(workers)) {}
  struct Built {
    std::unique_ptr<Transform> transform;
    std::vector<std::unique_ptr<TransformState>> states;  // one per worker
  };
  Status Build(size_t index, const TransformBuildContext& context, Built& built) const;
  void Install(size_t index, Built built);

  std::vector<std::shared_ptr<const TransformSpec>> specs_;
  std::vector<std::unique_ptr<Transform>> transforms_;
  // states_[worker][transform]
  std::vector<std::vector<std::unique_ptr<TransformState>>> states_;
  EventTimeLimits* event_time_limits_ = nullptr;  // owned by the run
  size_t limits_before_ = 0;  // the transform before which event times are checked
};

}  // namespace brandpulse
