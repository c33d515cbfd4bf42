#include "pipeline/pipeline_runner.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "pipeline/http_api.h"
#include "engine/json_writer.h"
#include "engine/state_store.h"
#include "engine/watermark.h"
#include "generator/generator_source.h"
#include "operators/file_source.h"
#include "operators/hyperscan_match.h"
#include "operators/json_decode.h"
#include "operators/json_lines_sink.h"
#include "operators/threshold_alert.h"
#include "operators/window_aggregate.h"

namespace brandpulse {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kNoWatermark = INT64_MIN;

// Processing time for idle-partition detection (monotonic; only differences matter).
int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A blocking queue of batch pointers; one lock per batch (thousands of posts), not per post.
class BatchQueue {
 public:
  void Push(Batch* batch) {
    {
      std::lock_guard lock(mutex_);
      batches_.push_back(batch);
    }
    ready_.notify_one();
  }
  // Blocks until a batch arrives; nullptr once closed and empty.
  Batch* Pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return closed_ || !batches_.empty(); });
    if (batches_.empty()) return nullptr;
    Batch* batch = batches_.front();
    batches_.pop_front();
    return batch;
  }
  Batch* TryPop() {
    std::lock_guard lock(mutex_);
    if (batches_.empty()) return nullptr;
    Batch* batch = batches_.front();
    batches_.pop_front();
    return batch;
  }
  void Close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Batch*> batches_;  // GUARDED_BY(mutex_)
  bool closed_ = false;         // GUARDED_BY(mutex_)
};

// A window that has data and has not closed yet, ordered by when it closes.
// (Brand totals only: dimension windows are written, not evaluated.)
struct OpenWindow {
  int64_t close_time_ms;  // start + size + allowed lateness
  uint32_t shape_index;   // into the WindowLayout
  uint32_t brand_index;
  int64_t start_ms;
  auto operator<=>(const OpenWindow&) const = default;
};

class PipelineRun {
 public:
  PipelineRun(const PipelineSpec& spec, const RunOptions& options)
      : spec_(spec), options_(options) {}

  Result<RunSummary> Run();

 private:
  Status Setup();
  Status OpenSource();
  Status RebuildOpenWindows();
  Status BuildWorkerOperators();
  Status MaybeReloadWatchlist();
  Status ApplyWatchlist(std::shared_ptr<const WatchlistSpec> spec,
                        std::shared_ptr<const CompiledWatchlist> compiled);
  Status DeliverOutboxLeftovers();
  void WorkerLoop(size_t worker_index);
  Status Dispatch(bool& end_of_input);
  Status HandleCompleted(Batch* batch);
  Status FinishBatch(Batch& batch);
  Status WaitForOneCompletion();
  Status WaitForAllInFlight();
  Status Commit(bool end_of_input);
  Status Deliver(const std::vector<FiredAlert>& alerts);
  Status CheckWorkerError();
  void StopWorkers();
  void ReportProgress(bool force);
  WindowKey KeyOf(uint32_t brand_index, uint32_t shape_index, DimensionValue dimension,
                  int64_t start_ms) const;
  Status EvaluateClosed(const OpenWindow& window, const WindowMetrics& bucket_or_window,
                        const std::unordered_map<WindowDeltaKey, WindowMetrics, WindowDeltaKeyHash>& merged,
                        std::vector<FiredAlert>& fired);

  const PipelineSpec& spec_;
  const RunOptions& options_;
  Clock::time_point started_ = Clock::now();
  Clock::time_point last_progress_ = started_;
  Clock::time_point last_commit_ = started_;

  std::shared_ptr<const CompiledWatchlist> watchlist_;
  std::shared_ptr<const WatchlistSpec> watchlist_spec_;
  struct LoadedWatchlist {
    std::shared_ptr<const WatchlistSpec> spec;
    std::shared_ptr<const CompiledWatchlist> compiled;
    std::string error;
  };
  std::future<LoadedWatchlist> reload_compile_;  // in progress when valid()
  std::optional<LoadedWatchlist> reload_pending_;  // compiled, waiting for a commit boundary
  std::filesystem::file_time_type watchlist_mtime_{};
  Clock::time_point last_watchlist_check_ = Clock::now();
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Source> source_;
  std::unique_ptr<AlertEvaluator> evaluator_;
  std::unique_ptr<LineSink> alerts_sink_;
  std::unique_ptr<LineSink> dead_letter_sink_;
  std::unique_ptr<LineSink> late_sink_;
  // Declared after store_ so it stops (no request in flight) before the store closes.
  std::unique_ptr<WindowQueries> queries_;
  std::atomic<bool> api_reload_requested_{false};  // set by the API's threads
  std::unique_ptr<HttpApi> api_;

  // Operators in worker order; window_ is the last one.
  std::vector<std::unique_ptr<Transform>> transforms_;
  size_t window_transform_index_ = 0;
  std::vector<std::vector<std::unique_ptr<TransformState>>> worker_states_;
  std::vector<std::thread> workers_;
  BatchQueue work_queue_;
  BatchQueue done_queue_;
  std::mutex worker_error_mutex_;
  Status worker_error_;  // GUARDED_BY(worker_error_mutex_)

  // Coordinator-only state below.
  std::vector<std::unique_ptr<Batch>> batches_;
  std::vector<Batch*> free_batches_;
  std::map<uint64_t, Batch*> completed_out_of_order_;
  uint64_t next_sequence_ = 0;
  uint64_t next_to_finish_ = 0;
  size_t in_flight_ = 0;
  int64_t epoch_records_ = 0;
  uint64_t position_ = 0;  // source position after the last finished batch
  bool have_position_ = false;
  std::atomic<int64_t> watermark_{kNoWatermark};  // read by workers; written at barriers only
  int64_t max_event_time_ms_ = INT64_MIN;
  WatermarkTracker watermarks_{spec_.max_out_of_orderness_ms, spec_.idle_timeout_ms};
  WindowLayout layout_ = MakeWindowLayout(spec_.windows);
  std::set<OpenWindow> open_windows_;
  std::string line_;  // reused for sink lines
  RunSummary summary_;
};

WindowKey PipelineRun::KeyOf(uint32_t brand_index, uint32_t shape_index, DimensionValue dimension,
                             int64_t start_ms) const {
  const WindowShape& shape = layout_.shapes[shape_index];
  return WindowKey{watchlist_->brand(brand_index).id, shape.size_ms, start_ms,
                   DimensionString(dimension), shape.slide_ms};
}

Status PipelineRun::Setup() {
  if (options_.fresh) {
    std::error_code error;
    std::filesystem::remove_all(spec_.state_directory, error);
    if (error) {
      return Status::IoError(
          fmt::format("cannot remove state {}: {}", spec_.state_directory, error.message()));
    }
  }
  ASSIGN_OR_RETURN(watchlist_, CompiledWatchlist::Make(spec_.watchlist));
  watchlist_spec_ = std::make_shared<const WatchlistSpec>(spec_.watchlist);
  if (!spec_.watchlist.path.empty()) {
    std::error_code error;
    watchlist_mtime_ = std::filesystem::last_write_time(spec_.watchlist.path, error);
  }
  ASSIGN_OR_RETURN(store_, StateStore::Open(StateOptions{spec_.state_directory,
                                                         spec_.memory_budget_bytes}));
  ASSIGN_OR_RETURN(alerts_sink_, LineSink::Open(spec_.alerts_sink, options_.fresh));
  ASSIGN_OR_RETURN(dead_letter_sink_, LineSink::Open(spec_.dead_letter_sink, options_.fresh));
  ASSIGN_OR_RETURN(late_sink_, LineSink::Open(spec_.late_sink, options_.fresh));
  evaluator_ = std::make_unique<AlertEvaluator>(spec_.alert_rules, spec_.windows, *watchlist_);

  ASSIGN_OR_RETURN(std::optional<int64_t> watermark, store_->ReadMetaInteger(kWatermarkKey));
  if (watermark) watermark_.store(*watermark);
  ASSIGN_OR_RETURN(std::optional<int64_t> max_event_time,
                   store_->ReadMetaInteger(kMaxEventTimeKey));
  if (max_event_time) max_event_time_ms_ = *max_event_time;
  ASSIGN_OR_RETURN(std::optional<std::string> partition_times, store_->ReadMeta(kPartitionTimesKey));
  if (partition_times && !watermarks_.Restore(*partition_times, NowMs())) {
    return Status::Corruption(fmt::format("meta {} holds '{}'", kPartitionTimesKey, *partition_times));
  }
  if (!options_.api_listen.empty()) {
    ASSIGN_OR_RETURN(HttpApiOptions api_options, ParseListenAddress(options_.api_listen));
    queries_ = std::make_unique<WindowQueries>(*store_, spec_);
    WindowQueries* queries = queries_.get();
    api_options.on_reload = [this] { api_reload_requested_.store(true); };
    ASSIGN_OR_RETURN(api_, HttpApi::Start(api_options, [queries](const auto& use) {
                       use(*queries);
                       return Status::Ok();
                     }));
    summary_.api_address = api_->address();
    if (options_.on_api_ready) options_.on_api_ready(summary_.api_address);
  }
  RETURN_IF_ERROR(DeliverOutboxLeftovers());
  RETURN_IF_ERROR(RebuildOpenWindows());
  RETURN_IF_ERROR(OpenSource());

  summary_.workers = options_.workers > 0 ? options_.workers : spec_.workers;
  RETURN_IF_ERROR(BuildWorkerOperators());
  // Two batches per worker keep every worker busy while the coordinator fills the next ones.
  for (int index = 0; index < summary_.workers * 2 + 2; ++index) {
    batches_.push_back(std::make_unique<Batch>());
    free_batches_.push_back(batches_.back().get());
  }
  for (const BrandSpec& brand : spec_.watchlist.brands) {
    summary_.brands.push_back(BrandSummary{brand.id, brand.name, 0, 0});
  }
  summary_.alerts_sink = alerts_sink_->description();
  summary_.dead_letter_sink = dead_letter_sink_->description();
  summary_.late_sink = late_sink_->description();
  for (int worker = 0; worker < summary_.workers; ++worker) {
    workers_.emplace_back([this, worker] { WorkerLoop(worker); });
  }
  return Status::Ok();
}

Status PipelineRun::OpenSource() {
  switch (spec_.source.type) {
    case SourceType::kFile: {
      if (spec_.source.array_pointer.empty()) {
        ASSIGN_OR_RETURN(source_, MakeJsonLinesFileSource(spec_.source.path, spec_.source.follow));
      } else {
        ASSIGN_OR_RETURN(source_,
                         MakeJsonArrayFileSource(spec_.source.path, spec_.source.array_pointer));
      }
      break;
    }
    case SourceType::kStdin: {
      ASSIGN_OR_RETURN(source_, MakeStdinSource());
      return Status::Ok();  // standard input cannot resume; it starts where it is
    }
    case SourceType::kGenerator: {
      ASSIGN_OR_RETURN(source_, MakeGeneratorSource(spec_.source.generator));
      break;
    }
  }
  ASSIGN_OR_RETURN(std::optional<uint64_t> position, store_->ReadPosition(source_->id(), 0));
  if (position) {
    summary_.resumed = true;
    summary_.resumed_position = *position;
    position_ = *position;
    have_position_ = true;
    RETURN_IF_ERROR(source_->Seek(0, *position));
  }
  return Status::Ok();
}

// Decode is built once; match and window depend on the watchlist and are rebuilt on a reload.
// REQUIRES: no batch in flight (workers idle) and no pending window deltas.
Status PipelineRun::BuildWorkerOperators() {
  if (transforms_.empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<Transform> decode, MakeJsonDecode(spec_.decode));
    transforms_.push_back(std::move(decode));
  }
  transforms_.resize(1);
  ASSIGN_OR_RETURN(std::unique_ptr<Transform> match, MakeHyperscanMatch(watchlist_));
  transforms_.push_back(std::move(match));
  WindowAggregate::Options window_options;
  window_options.layout = layout_;
  window_options.allowed_lateness_ms = spec_.allowed_lateness_ms;
  window_options.term_capacity = TermCapacityFor(spec_.top_k);
  window_options.co_terms = spec_.co_terms;
  if (!layout_.shape_of_window.empty()) {
    window_options.term_shape = layout_.shape_of_window[spec_.top_k_window];
  }
  window_transform_index_ = transforms_.size();
  transforms_.push_back(std::make_unique<WindowAggregate>(std::move(window_options), &watermark_));

  worker_states_.resize(static_cast<size_t>(summary_.workers));
  for (auto& states : worker_states_) {
    if (states.empty()) states.push_back(transforms_[0]->MakeState());
    states.resize(1);
    for (size_t index = 1; index < transforms_.size(); ++index) {
      states.push_back(transforms_[index]->MakeState());
    }
  }
  return Status::Ok();
}

// Starts a background compile when asked to (flag, API, or the file changed), and swaps a
// compiled watchlist in when no epoch is open (right after a commit, or before any input).
Status PipelineRun::MaybeReloadWatchlist() {
  bool requested = api_reload_requested_.exchange(false);
  if (options_.reload_requested != nullptr && options_.reload_requested->exchange(false)) {
    requested = true;
  }
  const std::string& path = spec_.watchlist.path;
  if (options_.watch_watchlist_file && !path.empty() && SecondsSince(last_watchlist_check_) >= 1.0) {
    last_watchlist_check_ = Clock::now();
    std::error_code error;
    auto mtime = std::filesystem::last_write_time(path, error);
    if (!error && mtime != watchlist_mtime_) {
      watchlist_mtime_ = mtime;
      requested = true;
    }
  }
  if (requested && !reload_compile_.valid() && !path.empty()) {
    reload_compile_ = std::async(std::launch::async, [path, cache = spec_.watchlist.cache_directory] {
      LoadedWatchlist loaded;
      Diagnostics diagnostics;
      std::optional<WatchlistSpec> spec = LoadWatchlist(path, diagnostics);
      if (!spec) {
        loaded.error = diagnostics.ToString();
        return loaded;
      }
      spec->cache_directory = cache;
      Result<std::shared_ptr<const CompiledWatchlist>> compiled = CompiledWatchlist::Make(*spec);
      if (!compiled.ok()) {
        loaded.error = fmt::format("{}: {}", path, compiled.status().message());
        return loaded;
      }
      loaded.spec = std::make_shared<const WatchlistSpec>(*std::move(spec));
      loaded.compiled = *compiled;
      return loaded;
    });
  }
  if (reload_compile_.valid() &&
      reload_compile_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
    LoadedWatchlist loaded = reload_compile_.get();
    if (!loaded.error.empty()) {
      ++summary_.watchlist_reload_failures;
      summary_.last_reload_error = loaded.error;
      if (options_.on_reload) options_.on_reload(false, loaded.error);
    } else {
      reload_pending_ = std::move(loaded);
    }
  }
  if (reload_pending_ && epoch_records_ == 0 && in_flight_ == 0) {
    LoadedWatchlist pending = std::move(*reload_pending_);
    reload_pending_.reset();
    RETURN_IF_ERROR(ApplyWatchlist(std::move(pending.spec), std::move(pending.compiled)));
  }
  return Status::Ok();
}

Status PipelineRun::ApplyWatchlist(std::shared_ptr<const WatchlistSpec> spec,
                                   std::shared_ptr<const CompiledWatchlist> compiled) {
  std::shared_ptr<const CompiledWatchlist> previous_watchlist = std::move(watchlist_);
  watchlist_ = std::move(compiled);
  watchlist_spec_ = std::move(spec);
  RETURN_IF_ERROR(BuildWorkerOperators());
  evaluator_ = std::make_unique<AlertEvaluator>(spec_.alert_rules, spec_.windows, *watchlist_);
  // Brands are renumbered; everything kept by brand index follows its brand by id.
  auto new_index_of = [&](uint32_t old_index) {
    return watchlist_->FindBrand(previous_watchlist->brand(old_index).id);
  };
  // Run counters: brands that left keep theirs at the end.
  std::vector<BrandSummary> previous = std::move(summary_.brands);
  summary_.brands.assign(watchlist_->brand_count(), BrandSummary{});
  std::vector<BrandSummary> gone;
  for (uint32_t index = 0; index < previous.size(); ++index) {
    std::optional<uint32_t> now =
        index < previous_watchlist->brand_count() ? new_index_of(index) : std::nullopt;
    if (now) {
      summary_.brands[*now] = std::move(previous[index]);
    } else {
      gone.push_back(std::move(previous[index]));
    }
  }
  for (uint32_t index = 0; index < watchlist_->brand_count(); ++index) {
    summary_.brands[index].id = watchlist_->brand(index).id;
    summary_.brands[index].name = watchlist_->brand(index).name;
  }
  for (BrandSummary& brand : gone) summary_.brands.push_back(std::move(brand));
  // Open windows: a removed brand's windows get no alerts (as after a restart).
  std::set<OpenWindow> open = std::move(open_windows_);
  open_windows_.clear();
  for (OpenWindow window : open) {
    std::optional<uint32_t> now = new_index_of(window.brand_index);
    if (!now) continue;
    window.brand_index = *now;
    open_windows_.insert(window);
  }
  if (queries_) queries_->SetWatchlist(watchlist_spec_);
  ++summary_.watchlist_reloads;
  if (options_.on_reload) options_.on_reload(true, "");
  return Status::Ok();
}

Status PipelineRun::RebuildOpenWindows() {
  const int64_t watermark = watermark_.load();
  return store_->ScanAllWindows([&](const WindowKey& key, const WindowMetrics&) {
    if (!key.dimension.empty()) return;
    std::optional<uint32_t> brand = watchlist_->FindBrand(key.brand_id);
    if (!brand) return;  // a brand removed from the watchlist keeps its history, gets no alerts
    for (uint32_t shape = 0; shape < layout_.shapes.size(); ++shape) {
      if (layout_.shapes[shape].size_ms != key.size_ms ||
          layout_.shapes[shape].slide_ms != key.slide_ms) {
        continue;
      }
      int64_t close_time = key.start_ms + key.size_ms + spec_.allowed_lateness_ms;
      if (close_time > watermark) {
        open_windows_.insert(OpenWindow{close_time, shape, *brand, key.start_ms});
      }
    }
  });
}

// Alerts committed to the outbox but not delivered before a crash go out first.
Status PipelineRun::DeliverOutboxLeftovers() {
  std::vector<std::string> delivered;
  Status append_status;
  RETURN_IF_ERROR(store_->ScanOutbox(kAlertsOutboxSink,
                                     [&](std::string_view alert_id, std::string_view payload) {
                                       if (!append_status.ok()) return;
                                       append_status = alerts_sink_->Append(payload);
                                       delivered.emplace_back(alert_id);
                                     }));
  RETURN_IF_ERROR(append_status);
  if (delivered.empty()) return Status::Ok();
  RETURN_IF_ERROR(alerts_sink_->Flush(true));
  StateStore::Commit commit = store_->NewCommit();
  for (const std::string& alert_id : delivered) commit.DeleteOutbox(kAlertsOutboxSink, alert_id);
  return store_->Write(commit);
}

void PipelineRun::WorkerLoop(size_t worker_index) {
  std::vector<std::unique_ptr<TransformState>>& states = worker_states_[worker_index];
  while (Batch* batch = work_queue_.Pop()) {
    for (size_t index = 0; index < transforms_.size(); ++index) {
      Status status = transforms_[index]->Process(*batch, *states[index]);
      if (!status.ok()) {
        std::lock_guard lock(worker_error_mutex_);
        if (worker_error_.ok()) {
          worker_error_ = Status::Internal(
              fmt::format("{} failed: {}", transforms_[index]->name(), status.ToString()));
        }
        break;
      }
    }
    done_queue_.Push(batch);
  }
}

Status PipelineRun::CheckWorkerError() {
  std::lock_guard lock(worker_error_mutex_);
  return worker_error_;
}

Status PipelineRun::FinishBatch(Batch& batch) {
  summary_.records += batch.size();
  summary_.posts += batch.posts.size();
  summary_.skipped_records += batch.skipped_records;
  summary_.dead_letters += batch.dead_letters.size();
  summary_.late_posts += batch.late_post_indices.size();
  summary_.mentions += batch.mentions.size();
  summary_.input_bytes += batch.input_bytes.size();
  max_event_time_ms_ = std::max(max_event_time_ms_, batch.max_event_time_ms);
  watermarks_.Observe(batch.partition, batch.max_event_time_ms, NowMs());
  for (const Mention& mention : batch.mentions) ++summary_.brands[mention.brand_index].mentions;

  for (const DeadLetter& dead_letter : batch.dead_letters) {
    std::string_view record = batch.RecordBytes(dead_letter.record_index);
    line_.clear();
    line_.push_back('{');
    AppendJsonKey(line_, "reason", true);
    AppendJsonString(line_, dead_letter.reason);
    AppendJsonKey(line_, "source");
    AppendJsonString(line_, source_->id());
    line_ += fmt::format(",\"position\":{}", batch.records[dead_letter.record_index].end_position);
    if (IsValidUtf8(record)) {
      AppendJsonKey(line_, "record");
      AppendJsonString(line_, record);
    } else {
      AppendJsonKey(line_, "record_base64");
      AppendJsonString(line_, EncodeBase64(record));
    }
    line_.push_back('}');
    RETURN_IF_ERROR(dead_letter_sink_->Append(line_));
  }
  for (uint32_t post_index : batch.late_post_indices) {
    const Post& post = batch.posts[post_index];
    line_.clear();
    line_.push_back('{');
    AppendJsonKey(line_, "reason", true);
    AppendJsonString(line_, "late");
    AppendJsonKey(line_, "post_id");
    AppendJsonString(line_, post.id);
    AppendJsonKey(line_, "event_time");
    AppendJsonString(line_, FormatIsoTime(post.event_time_ms));
    AppendJsonKey(line_, "watermark");
    AppendJsonString(line_, FormatIsoTime(watermark_.load()));
    AppendJsonKey(line_, "record");
    AppendJsonString(line_, batch.RecordBytes(post.record_index));
    line_.push_back('}');
    RETURN_IF_ERROR(late_sink_->Append(line_));
  }
  position_ = batch.records.back().end_position;
  have_position_ = true;
  return Status::Ok();
}

// Batches finish in source order whatever order workers complete them in, so sink output and
// positions are the same for any number of workers.
Status PipelineRun::HandleCompleted(Batch* batch) {
  completed_out_of_order_.emplace(batch->sequence, batch);
  while (!completed_out_of_order_.empty() &&
         completed_out_of_order_.begin()->first == next_to_finish_) {
    Batch* next = completed_out_of_order_.begin()->second;
    completed_out_of_order_.erase(completed_out_of_order_.begin());
    RETURN_IF_ERROR(FinishBatch(*next));
    free_batches_.push_back(next);
    --in_flight_;
    ++next_to_finish_;
  }
  return Status::Ok();
}

Status PipelineRun::WaitForOneCompletion() {
  Batch* batch = done_queue_.Pop();
  RETURN_IF_ERROR(CheckWorkerError());
  return HandleCompleted(batch);
}

Status PipelineRun::WaitForAllInFlight() {
  while (in_flight_ > 0) RETURN_IF_ERROR(WaitForOneCompletion());
  return Status::Ok();
}

Status PipelineRun::Dispatch(bool& end_of_input) {
  while (Batch* done = done_queue_.TryPop()) {
    RETURN_IF_ERROR(CheckWorkerError());
    RETURN_IF_ERROR(HandleCompleted(done));
  }
  while (free_batches_.empty()) RETURN_IF_ERROR(WaitForOneCompletion());
  Batch* batch = free_batches_.back();
  free_batches_.pop_back();
  batch->Reset();
  ASSIGN_OR_RETURN(SourceRead read, source_->Fill(*batch, spec_.batch_records));
  if (summary_.resume_seconds == 0) {
    summary_.resume_seconds = SecondsSince(started_);
    if (options_.on_ready) {
      options_.on_ready(summary_.resumed, summary_.resumed_position, summary_.resume_seconds);
    }
  }
  if (batch->empty()) {
    free_batches_.push_back(batch);
  } else {
    batch->sequence = next_sequence_++;
    epoch_records_ += static_cast<int64_t>(batch->size());
    ++in_flight_;
    work_queue_.Push(batch);
  }
  end_of_input = read == SourceRead::kEndOfInput;
  if (read == SourceRead::kNoDataYet) {
    // Following a quiet file: commit what we have on the interval, then poll again shortly.
    if (epoch_records_ > 0 &&
        SecondsSince(last_commit_) * 1000 >= static_cast<double>(spec_.commit_interval_ms)) {
      RETURN_IF_ERROR(Commit(false));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::Ok();
}

Status PipelineRun::Commit(bool end_of_input) {
  RETURN_IF_ERROR(WaitForAllInFlight());
  const Clock::time_point commit_started = Clock::now();
  // Workers are idle now (every batch they had is finished): their deltas can be taken.
  std::unordered_map<WindowDeltaKey, WindowMetrics, WindowDeltaKeyHash> merged;
  for (auto& states : worker_states_) {
    WindowAggregate::TakeDeltas(*states[window_transform_index_],
                                [&](const WindowDeltaKey& key, WindowMetrics& delta) {
                                  auto [entry, inserted] = merged.try_emplace(key);
                                  if (inserted) {
                                    entry->second = std::move(delta);
                                  } else {
                                    entry->second.Merge(delta);
                                  }
                                });
  }
  StateStore::Commit commit = store_->NewCommit();
  for (auto& [key, delta] : merged) {
    commit.MergeWindow(KeyOf(key.brand_index, key.shape_index, key.dimension, key.start_ms), delta);
    ++summary_.window_updates;
    if (key.dimension != kBrandTotal) continue;
    int64_t close_time =
        key.start_ms + layout_.shapes[key.shape_index].size_ms + spec_.allowed_lateness_ms;
    open_windows_.insert(OpenWindow{close_time, key.shape_index, key.brand_index, key.start_ms});
  }

  int64_t watermark = watermark_.load();
  if (int64_t tracked = watermarks_.Compute(NowMs()); tracked != WatermarkTracker::kNone) {
    watermark = std::max(watermark, tracked);
  }
  // At the end of a finite input every window closes; the watermark then stands at the last
  // closed window's close time, so a later run over appended input treats those as final.
  std::vector<FiredAlert> fired;
  while (!open_windows_.empty() &&
         (end_of_input || open_windows_.begin()->close_time_ms <= watermark)) {
    OpenWindow window = *open_windows_.begin();
    open_windows_.erase(open_windows_.begin());
    watermark = std::max(watermark, window.close_time_ms);
    WindowKey key = KeyOf(window.brand_index, window.shape_index, kBrandTotal, window.start_ms);
    ASSIGN_OR_RETURN(std::optional<WindowMetrics> stored, store_->ReadWindow(key));
    WindowMetrics total = stored ? std::move(*stored) : WindowMetrics{};
    auto delta = merged.find(
        WindowDeltaKey{window.brand_index, window.shape_index, kBrandTotal, window.start_ms});
    if (delta != merged.end()) total.Merge(delta->second);
    RETURN_IF_ERROR(EvaluateClosed(window, total, merged, fired));
    // Term counts are exact while a window is open (so they do not depend on where commits
    // fall); once it is final they are bounded, once, and the stored value replaced.
    if (total.term_capacity > 0 && (total.terms.size() > total.term_capacity ||
                                    total.hashtags.size() > total.term_capacity)) {
      total.ShrinkTerms();
      commit.PutWindow(key, total);
    }
  }
  for (const FiredAlert& alert : fired) {
    commit.PutOutbox(kAlertsOutboxSink, alert.id, alert.payload);
  }
  if (have_position_ && spec_.source.type != SourceType::kStdin) {
    commit.SetPosition(source_->id(), 0, position_);
  }
  commit.SetMeta(kWatermarkKey, std::to_string(watermark));
  commit.SetMeta(kPartitionTimesKey, watermarks_.Encode());
  if (max_event_time_ms_ != INT64_MIN) {
    commit.SetMeta(kMaxEventTimeKey, std::to_string(max_event_time_ms_));
  }
  // Dead letters and late posts reach disk before the position that moves past them.
  RETURN_IF_ERROR(dead_letter_sink_->Flush(true));
  RETURN_IF_ERROR(late_sink_->Flush(true));
  RETURN_IF_ERROR(store_->Write(commit));
  watermark_.store(watermark, std::memory_order_release);
  ++summary_.commits;
  summary_.commit_seconds += SecondsSince(commit_started);
  epoch_records_ = 0;
  last_commit_ = Clock::now();
  RETURN_IF_ERROR(Deliver(fired));
  if (!end_of_input && watermark != kNoWatermark && watermark > INT64_MIN + spec_.retention_ms) {
    RETURN_IF_ERROR(store_->DeleteWindowsEndingBefore(watermark - spec_.retention_ms));
  }
  return Status::Ok();
}

// A stored window closed: evaluate the rules of every window spec built on its shape. Tumbling
// and hopping specs see the window itself; a sliding spec sees the window that ends with this
// bucket, the merge of its last size/every buckets (stored, plus this commit's deltas).
Status PipelineRun::EvaluateClosed(
    const OpenWindow& window, const WindowMetrics& closed,
    const std::unordered_map<WindowDeltaKey, WindowMetrics, WindowDeltaKeyHash>& merged,
    std::vector<FiredAlert>& fired) {
  for (uint32_t index = 0; index < spec_.windows.size(); ++index) {
    if (layout_.shape_of_window[index] != window.shape_index) continue;
    const WindowSpec& spec = spec_.windows[index];
    if (spec.type != WindowType::kSliding) {
      evaluator_->EvaluateClosedWindow(window.brand_index, index, window.start_ms, closed, fired);
      continue;
    }
    const int64_t end = window.start_ms + spec.slide_ms;
    const int64_t start = end - spec.size_ms;
    std::map<int64_t, WindowMetrics> buckets;
    RETURN_IF_ERROR(store_->ScanSeries(
        KeyOf(window.brand_index, window.shape_index, kBrandTotal, 0), start, end,
        [&](const WindowKey& key, const WindowMetrics& metrics) { buckets[key.start_ms] = metrics; }));
    WindowMetrics sliding;
    for (int64_t bucket = start; bucket < end; bucket += spec.slide_ms) {
      WindowMetrics metrics = bucket == window.start_ms ? closed : buckets[bucket];
      if (bucket != window.start_ms) {
        auto delta = merged.find(WindowDeltaKey{window.brand_index, window.shape_index, kBrandTotal, bucket});
        if (delta != merged.end()) metrics.Merge(delta->second);
      }
      sliding.Merge(metrics);
    }
    evaluator_->EvaluateClosedWindow(window.brand_index, index, start, sliding, fired);
  }
  return Status::Ok();
}

// The transactional outbox: alerts are in RocksDB with the state that produced them; now they go
// to the sink, and only once it has them on disk are they removed from the outbox.
Status PipelineRun::Deliver(const std::vector<FiredAlert>& alerts) {
  if (alerts.empty()) return Status::Ok();
  for (const FiredAlert& alert : alerts) {
    RETURN_IF_ERROR(alerts_sink_->Append(alert.payload));
    ++summary_.brands[alert.brand_index].alerts;
  }
  RETURN_IF_ERROR(alerts_sink_->Flush(true));
  summary_.alerts += alerts.size();
  StateStore::Commit commit = store_->NewCommit();
  for (const FiredAlert& alert : alerts) commit.DeleteOutbox(kAlertsOutboxSink, alert.id);
  return store_->Write(commit);
}

void PipelineRun::ReportProgress(bool force) {
  if (!options_.on_progress) return;
  if (!force && SecondsSince(last_progress_) < 1.0) return;
  last_progress_ = Clock::now();
  options_.on_progress(RunProgress{summary_.records, summary_.posts, summary_.mentions,
                                   summary_.dead_letters, summary_.alerts,
                                   SecondsSince(started_)});
}

void PipelineRun::StopWorkers() {
  work_queue_.Close();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
}

Result<RunSummary> PipelineRun::Run() {
  Status status = Setup();
  if (status.ok()) {
    bool end_of_input = false;
    while (status.ok() && !end_of_input) {
      status = MaybeReloadWatchlist();
      if (!status.ok()) break;
      status = Dispatch(end_of_input);
      if (!status.ok()) break;
      bool stop = options_.stop_requested != nullptr && options_.stop_requested->load();
      if (end_of_input) {
        status = Commit(true);
      } else if (stop) {
        status = Commit(false);
        break;
      } else if (epoch_records_ >= spec_.commit_every_records) {
        status = Commit(false);
        if (status.ok() && options_.stop_after_records > 0 &&
            summary_.records >= options_.stop_after_records) {
          break;
        }
      }
      ReportProgress(false);
    }
  }
  StopWorkers();
  if (!status.ok()) return status;
  if (store_) RETURN_IF_ERROR(store_->Flush());
  ReportProgress(true);
  summary_.seconds = SecondsSince(started_);
  return summary_;
}

}  // namespace

Result<RunSummary> RunPipeline(const PipelineSpec& spec, const RunOptions& options) {
  PipelineRun run(spec, options);
  return run.Run();
}

}  // namespace brandpulse
