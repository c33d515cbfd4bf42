// Transform: an operator that takes a batch and works on it in place (decode, match, enrich).
// The operator itself is immutable after Make() and shared by all workers; everything mutable
// (a simdjson parser, a Hyperscan scratch) lives in the per-worker TransformState it makes.
#pragma once

#include <memory>
#include <string_view>

#include "engine/batch.h"
#include "engine/status.h"

namespace brandpulse {

class TransformState {
 public:
  virtual ~TransformState() = default;
};

class Transform {
 public:
  virtual ~Transform() = default;
  virtual std::string_view name() const = 0;
  // One state per worker thread. Called before the worker starts.
  virtual std::unique_ptr<TransformState> MakeState() const = 0;
  // Processes every row of `batch`. Bad input is never an error here: it becomes a dead letter
  // in the batch. A non-ok Status means the engine itself cannot go on (a bug, out of memory).
  // Thread-safe: many workers call it at once, each with its own state and batch.
  virtual Status Process(Batch& batch, TransformState& state) const = 0;
};

}  // namespace brandpulse
