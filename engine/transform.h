// Transform: an operator that takes a batch and works on it in place (decode, match, enrich).
// The operator itself is immutable after Make() and shared by all workers; everything mutable
// (a simdjson parser, a Hyperscan scratch) lives in the per-worker TransformState it makes.
#pragma once

#include <memory>
#include <string_view>

#include "engine/batch.h"
#include "engine/state_store.h"
#include "engine/status.h"
#include "engine/window_types.h"

namespace brandpulse {

// What the workers' transforms hand over at a commit barrier, to be written in the epoch's one
// WriteBatch: window deltas merged over all workers, and the commit itself for state a transform
// keeps of its own (a set of seen post ids, say).
struct EpochHandOver {
  WindowDeltaMap* window_deltas = nullptr;
  StateStore::Commit* commit = nullptr;
};

class TransformState {
 public:
  virtual ~TransformState() = default;
};

class Transform {
 public:
  virtual ~Transform() = default;
  virtual std::string_view name() const = 0;
  // One state per worker thread, made before the worker starts. Fails when a per-worker
  // resource cannot be had (a Hyperscan scratch, memory).
  virtual Result<std::unique_ptr<TransformState>> MakeState() const = 0;
  // Processes every row of `batch`. Bad input is never an error here: it becomes a dead letter
  // in the batch. A non-ok Status means the engine itself cannot go on (a bug, out of memory).
  // Thread-safe: many workers call it at once, each with its own state and batch.
  virtual Status Process(Batch& batch, TransformState& state) const = 0;
  // At a commit barrier, with every worker paused: moves what `state` accumulated during the
  // epoch into `epoch` and empties it. Called for each worker's state in turn, by the
  // coordinator. Most transforms keep nothing across batches and need not override it.
  virtual Status HandOver(TransformState& state, EpochHandOver& epoch) const {
    return Status::Ok();
  }
  // True when Process() reads state earlier commits wrote (TransformBuildContext::store). The
  // runner writes an epoch's commit while the next epoch runs (issue 17); for a chain with such
  // a transform it waits for that write before the next epoch starts.
  virtual bool ReadsCommittedState() const { return false; }
};

}  // namespace brandpulse
