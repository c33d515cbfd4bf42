#include "pipeline/batch_scheduler.h"

namespace brandpulse {

void BatchScheduler::Queue::Push(Batch* batch) {
  {
    std::lock_guard lock(mutex_);
    batches_.push_back(batch);
  }
  ready_.notify_one();
}

Batch* BatchScheduler::Queue::Pop() {
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [&] { return closed_ || !batches_.empty(); });
  if (batches_.empty()) return nullptr;
  Batch* batch = batches_.front();
  batches_.pop_front();
  return batch;
}

Batch* BatchScheduler::Queue::TryPop() {
  std::lock_guard lock(mutex_);
  if (batches_.empty()) return nullptr;
  Batch* batch = batches_.front();
  batches_.pop_front();
  return batch;
}

void BatchScheduler::Queue::Close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  ready_.notify_all();
}

BatchScheduler::BatchScheduler(TransformChain* chain, int workers, FinishedCallback on_finished)
    : chain_(chain), worker_count_(workers), on_finished_(std::move(on_finished)) {
  // Two batches per worker keep every worker busy while the coordinator fills the next ones.
  for (int index = 0; index < workers * 2 + 2; ++index) {
    pool_.push_back(std::make_unique<Batch>());
    free_.push_back(pool_.back().get());
  }
}

BatchScheduler::~BatchScheduler() { Stop(); }

void BatchScheduler::Start() {
  for (int worker = 0; worker < worker_count_; ++worker) {
    threads_.emplace_back([this, worker] { WorkerLoop(static_cast<size_t>(worker)); });
  }
}

void BatchScheduler::Stop() {
  work_.Close();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

void BatchScheduler::WorkerLoop(size_t worker) {
  while (Batch* batch = work_.Pop()) {
    Status status = chain_->Process(*batch, worker);
    if (!status.ok()) {
      std::lock_guard lock(error_mutex_);
      if (worker_error_.ok()) worker_error_ = std::move(status);
    }
    done_.Push(batch);
  }
}

Status BatchScheduler::WorkerError() {
  std::lock_guard lock(error_mutex_);
  return worker_error_;
}

Status BatchScheduler::Finish(Batch* batch) {
  RETURN_IF_ERROR(WorkerError());
  completed_out_of_order_.emplace(batch->sequence, batch);
  while (!completed_out_of_order_.empty() &&
         completed_out_of_order_.begin()->first == next_to_finish_) {
    Batch* next = completed_out_of_order_.begin()->second;
    completed_out_of_order_.erase(completed_out_of_order_.begin());
    --in_flight_;
    ++next_to_finish_;
    Status status = on_finished_(*next);
    free_.push_back(next);
    RETURN_IF_ERROR(status);
  }
  return Status::Ok();
}

Status BatchScheduler::WaitForOne() { return Finish(done_.Pop()); }

Status BatchScheduler::Poll() {
  while (Batch* done = done_.TryPop()) RETURN_IF_ERROR(Finish(done));
  return Status::Ok();
}

Result<Batch*> BatchScheduler::Acquire() {
  RETURN_IF_ERROR(Poll());
  while (free_.empty()) RETURN_IF_ERROR(WaitForOne());
  Batch* batch = free_.back();
  free_.pop_back();
  batch->Reset();
  return batch;
}

void BatchScheduler::Dispatch(Batch* batch) {
  batch->sequence = next_sequence_++;
  ++in_flight_;
  work_.Push(batch);
}

Status BatchScheduler::Drain() {
  while (in_flight_ > 0) RETURN_IF_ERROR(WaitForOne());
  return Status::Ok();
}

}  // namespace brandpulse
