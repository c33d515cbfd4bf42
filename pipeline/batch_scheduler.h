// BatchScheduler: the worker pool and ordered completion. The coordinator takes an empty batch
// from a fixed pool, a source fills it, and the scheduler hands it to one of N workers, which run
// the transform chain on it. Workers may finish in any order; finished batches are handed back to
// the coordinator's `on_finished` in source order (their sequence), so everything downstream —
// side outputs, positions, rule inputs — is the same for any number of workers.
//
// Lifecycle: Start() → Acquire()/Dispatch() … Drain() at barriers … Stop(). Thread safety:
// every public method is for the coordinator thread; the workers are internal.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/batch.h"
#include "engine/status.h"
#include "pipeline/transform_chain.h"

namespace brandpulse {

class BatchScheduler {
 public:
  // Called on the coordinator for each finished batch, in sequence order; the batch returns to
  // the pool afterwards. An error stops the scheduler's callers (it is returned by them).
  using FinishedCallback = std::function<Status(Batch& batch)>;

  BatchScheduler(TransformChain* chain, int workers, FinishedCallback on_finished);
  ~BatchScheduler();  // stops the workers
  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  void Start();
  // An empty batch from the pool, finishing completed batches first and waiting for one when
  // every batch is in flight.
  Result<Batch*> Acquire();
  // Queues a filled batch for the workers; its sequence is assigned here.
  void Dispatch(Batch* batch);
  // Returns a batch that was not dispatched (nothing was read into it).
  void Release(Batch* batch) { free_.push_back(batch); }
  // Finishes whatever workers completed, without waiting.
  Status Poll();
  // The barrier: waits until every dispatched batch is finished. Workers are then idle until
  // the next Dispatch, so their transform states may be read (hand-over) or rebuilt.
  Status Drain();
  // Closes the queue and joins the workers (idempotent).
  void Stop();

  size_t in_flight() const { return in_flight_; }
  int workers() const { return worker_count_; }

 private:
  // A blocking queue of batch pointers; one lock per batch (thousands of posts), not per post.
  class Queue {
   public:
    void Push(Batch* batch);
    Batch* Pop();     // blocks; nullptr once closed and empty
    Batch* TryPop();  // nullptr when empty
    void Close();

   private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<Batch*> batches_;  // GUARDED_BY(mutex_)
    bool closed_ = false;         // GUARDED_BY(mutex_)
  };

  void WorkerLoop(size_t worker);
  Status Finish(Batch* batch);
  Status WaitForOne();
  Status WorkerError();

  TransformChain* chain_;
  const int worker_count_;
  FinishedCallback on_finished_;
  std::vector<std::unique_ptr<Batch>> pool_;
  std::vector<Batch*> free_;
  std::vector<std::thread> threads_;
  Queue work_;
  Queue done_;
  std::mutex error_mutex_;
  Status worker_error_;  // GUARDED_BY(error_mutex_)
  std::map<uint64_t, Batch*> completed_out_of_order_;
  uint64_t next_sequence_ = 0;
  uint64_t next_to_finish_ = 0;
  size_t in_flight_ = 0;
};

}  // namespace brandpulse
