#include "pipeline/pipeline_runner.h"

#include <sys/statvfs.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "engine/log.h"
#include "engine/state_store.h"
#include "engine/watermark.h"
#include "operators/mention_stream.h"  // issue 12: the mentions stream
#include "operators/watchlist_brands.h"
#include "pipeline/batch_scheduler.h"
#include "pipeline/cluster_runtime.h"  // issue 11: global windows
#include "operators/dedup.h"  // issue 11: dedup across instances
#include "pipeline/http_api.h"
#include "pipeline/http_operations.h"
#include "pipeline/metrics.h"
#include "pipeline/rule_set.h"
#include "operators/response_times.h"  // issue 12
#include "pipeline/sink_delivery.h"
#include "pipeline/transform_chain.h"
#include "pipeline/watchlist_reloader.h"
#include "pipeline/window_closer.h"

namespace brandpulse {
namespace {

constexpr int64_t kNoWatermark = INT64_MIN;

// A sink of a side stream (dead letters, late posts): written in source order, flushed before
// the commit that moves past its records.
struct SideSink {
  std::string stream;
  std::unique_ptr<Sink> sink;
};

// A sink of the alerts (or mentions) stream and its delivery thread.
struct OutboxSink {
  std::unique_ptr<Sink> sink;
  std::unique_ptr<SinkDelivery> delivery;
  std::string stream = std::string(kAlertsStream);
};

// One run of a pipeline: owns the run's parts and drives them. Each part owns its own state:
// BatchScheduler (workers, ordered completion), TransformChain (operators and their per-worker
// states), WindowCloser (open windows), RuleSet (alert rules), WatchlistReloader (hot reload),
// SinkDelivery (one per outbox sink). What stays here is the epoch: positions, watermark, and
// the one commit that makes them durable together.
class PipelineRun {
 public:
  PipelineRun(const PipelineSpec& spec, const RunOptions& options)
      : spec_(spec),
        options_(options),
        clock_(*options.clock),
        started_ms_(clock_.NowMs()),
        last_progress_ms_(started_ms_),
        last_commit_ms_(started_ms_),
        window_settings_(spec.window_settings()) {}
  ~PipelineRun();

  Result<RunSummary> Run();

 private:
  Status Setup();
  Status OpenState();
  Status OpenSinks();
  Status OpenSource();
  Status SeekPartitions(const std::vector<uint32_t>& partitions);
  Status StartApi();
  Result<std::unique_ptr<HttpApi>> StartListener(const std::string& listen, bool with_queries);
  void PublishBrands(bool force);
  TransformBuildContext BuildContext() const;
  Status MaybeReloadWatchlist();
  Status ApplyWatchlist(LoadedWatchlist loaded);
  Status ReadBatch(bool& end_of_input);
  Status HandleAssignmentChange();
  Status FinishBatch(Batch& batch);
  Status Commit(bool end_of_input);
  Status FinishWrite();
  Status WaitForOutboxRoom();
  Status WaitForStateSpace();
  Status DrainDeliveries();
  Status ClusterInquiries(WindowDeltaMap& deltas, bool end_of_input);  // issue 11: inquiries
  Status StartClusterDedup();  // issue 11: dedup across instances
  Status ClusterDedup(StateStore::Commit& commit);
  Status ReportGivenUp();
  void ReportProgress(bool force);
  // Issue 11: global windows across instances (`cluster:`; the definitions are at the end).
  Status StartCluster();
  Status ClusterPoll();
  Status ClusterEpoch(WindowDeltaMap& deltas, StateStore::Commit& commit);
  Status ClusterEnd(bool& end_of_input);
  Status ResetMergedState();
  void OnlyMergedBrandsAlert();
  Status ApplyMergeChange(const ClusterRuntime::MergeChange& change);
  Status ReplayMergedPartitions(const std::set<uint32_t>& partitions);
  // Issue 11, snapshots (pipeline/cluster_snapshot.h).
  Status StartClusterSnapshots();
  Status PublishClusterSnapshots();
  Status RestoreSnapshotWindows(const std::map<uint32_t, std::vector<SnapshotWindow>>& restored);
  Result<std::map<uint32_t, std::vector<SnapshotStateEntry>>> CollectSnapshotState(
      const std::vector<uint32_t>& due);
  Status RestoreSnapshotState(const std::map<uint32_t, std::vector<SnapshotStateEntry>>& restored);
  Status DropMergedPartitions(const std::set<uint32_t>& partitions);
  void Notice(const std::string& message) const {
    if (options_.on_notice) options_.on_notice(message);
  }
  double SecondsSince(int64_t start_ms) const { return (clock_.NowMs() - start_ms) / 1000.0; }

  const PipelineSpec& spec_;
  const RunOptions& options_;
  Clock& clock_;
  const int64_t started_ms_;
  int64_t last_progress_ms_;
  int64_t last_commit_ms_;
  int64_t last_publish_ms_ = INT64_MIN;
  bool brands_changed_ = true;  // ids to publish again (start, reload)
  const WindowSettings window_settings_;

  std::shared_ptr<const WatchlistSpec> watchlist_spec_;
  std::shared_ptr<const WatchlistBrands> brands_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Source> source_;
  SourceCapabilities capabilities_;
  std::vector<SideSink> side_sinks_;
  std::vector<OutboxSink> outbox_sinks_;
  std::unique_ptr<WatchlistReloader> reloader_;
  // Objects transforms keep across watchlist reloads (TransformBuildContext::run_objects).
  mutable std::map<std::string, std::shared_ptr<void>, std::less<>> run_objects_;
  std::unique_ptr<TransformChain> chain_;
  std::unique_ptr<BatchScheduler> scheduler_;
  std::optional<RuleSet> rules_;
  std::unique_ptr<WindowCloser> closer_;
  // Declared after store_ and the sinks so it lets go of them first; before the listeners so
  // no request is in flight when it goes.
  std::unique_ptr<PipelineMetrics> metrics_;
  // Declared after store_ so they stop (no request in flight) before the store closes.
  std::unique_ptr<WindowQueries> queries_;
  std::unique_ptr<HttpApi> api_;
  std::unique_ptr<HttpApi> metrics_api_;  // --metrics: operations routes only
  // Issue 11: null without `cluster:` (pipeline/cluster_runtime.h).
  std::unique_ptr<ClusterRuntime> cluster_;
  std::optional<int64_t> cluster_committed_watermark_;
  int64_t cluster_end_wait_started_ms_ = INT64_MIN;
  uint64_t cluster_late_deltas_ = 0;  // merged deltas of windows already closed here
  uint64_t cluster_late_inquiry_events_ = 0;  // merged after the merged watermark passed them
  // Issue 11: with `cluster:` and `dedup`, the merge side's set (operators/dedup.h).
  std::unique_ptr<DedupMerger> dedup_merger_;

  // Coordinator-only state of the epoch.
  std::optional<LoadedWatchlist> reload_pending_;  // compiled, waiting for a commit boundary
  int64_t epoch_records_ = 0;
  bool ready_reported_ = false;  // on_ready was called
  PositionMap positions_;  // partition → position after its last finished batch
  std::map<uint32_t, std::string> input_identities_;  // partition → Batch::input_identity there
  std::atomic<int64_t> watermark_{kNoWatermark};  // read by workers; written at barriers only
  int64_t max_event_time_ms_ = INT64_MIN;
  WatermarkTracker watermarks_{spec_.max_out_of_orderness_ms, spec_.idle_timeout_ms};
  EventTimeLimits event_time_limits_;  // read by workers; newest_allowed_ms written at barriers
  void UpdateEventTimeLimits();
  std::vector<FiredAlert> fired_;  // alerts of the epoch (rules fire them on batches too)
  // The mentions stream (issue 12), when a sink takes it: the epoch's mention records.
  std::optional<MentionStream> mention_stream_;
  std::vector<OutboxEntry> epoch_mentions_;
  std::vector<InquiryObservation> inquiries_;  // the epoch's, for the response-time metrics
  // Issue 11, with `cluster:`: what the rules read of inquiries in the epoch, for the mergers.
  std::vector<InquiryEvent> epoch_inquiry_events_;
  RunSummary summary_;

  // The epoch whose commit is being written while the next epoch runs (at most one; issue 17).
  // Its outbox entries go to the sinks' delivery threads only once it is written; the source is
  // told its positions when the coordinator collects it (FinishWrite).
  struct InFlightWrite {
    std::future<Status> written;
    PositionMap positions;
  };
  std::optional<InFlightWrite> in_flight_write_;
  bool chain_reads_committed_state_ = false;

  // Outbox entries a sink refused for good, handed from its delivery thread to the coordinator,
  // which reports them and writes them to the dead-letter sinks.
  struct GivenUp {
    std::string sink;
    OutboxEntry entry;
    std::string why;
  };
  std::mutex given_up_mutex_;
  std::vector<GivenUp> given_up_;  // GUARDED_BY(given_up_mutex_)
};

PipelineRun::~PipelineRun() {
  if (in_flight_write_) in_flight_write_->written.wait();  // it uses the store and the sinks
  if (scheduler_) scheduler_->Stop();
  for (OutboxSink& sink : outbox_sinks_) sink.delivery->Stop();
}

TransformBuildContext PipelineRun::BuildContext() const {
  TransformBuildContext context;
  context.watchlist = brands_->compiled();
  context.windows = &window_settings_;
  context.layout = &closer_->layout();
  context.watermark = &watermark_;
  context.event_time_limits = const_cast<EventTimeLimits*>(&event_time_limits_);
  // Issue 14: transforms with state of their own (dedup) read it back and keep it across reloads.
  context.store = store_.get();
  context.run_objects = &run_objects_;
  return context;
}

// The newest event time a post may carry until the next barrier (engine/event_time.h).
void PipelineRun::UpdateEventTimeLimits() {
  int64_t newest = spec_.max_event_time_ms;
  const int64_t skew = spec_.max_future_skew_ms;
  auto plus_skew = [skew](int64_t time) {
    return time > INT64_MAX - skew ? INT64_MAX : time + skew;
  };
  if (!capabilities_.finite) {
    // The wall clock (the run's Clock is a steady one, for intervals).
    const int64_t wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
    newest = std::min(newest, plus_skew(wall_ms));
  }
  // Issue 11: not with `cluster:`. An instance's partitions may be hours apart there (one
  // resumed at an old committed offset after a move, another at its end), the merged watermark
  // is the minimum over all partitions, and no post is late where it is read: the limit only
  // dead-lettered posts a single process keeps (s23-inquiry found it losing mentions and answers).
  if (int64_t others = watermarks_.others_newest_ms();
      !cluster_ && others != WatermarkTracker::kNone) {
    newest = std::min(newest, plus_skew(others));
  }
  event_time_limits_.newest_allowed_ms.store(newest, std::memory_order_release);
}

Status PipelineRun::OpenState() {
  // Under the store's lock: a second `run --fresh` beside a running pipeline deletes nothing
  // (and, failing here, truncates no output either: sinks open after the state).
  if (options_.fresh) RETURN_IF_ERROR(RemoveState(spec_.state_directory));
  // Memory that transforms hold themselves (the de-duplication set) comes out of the budget;
  // the pipeline reader keeps it at most half of it (issue 14).
  uint64_t claimed = 0;
  for (const auto& transform : spec_.transforms) claimed += transform->memory_bytes();
  const uint64_t rocksdb_budget =
      spec_.memory_budget_bytes - std::min(claimed, spec_.memory_budget_bytes / 2);
  ASSIGN_OR_RETURN(store_, StateStore::Open(StateOptions{spec_.state_directory, rocksdb_budget}));
  ASSIGN_OR_RETURN(std::optional<int64_t> watermark, store_->ReadMetaInteger(kWatermarkKey));
  if (watermark) watermark_.store(*watermark);
  ASSIGN_OR_RETURN(std::optional<int64_t> max_event_time,
                   store_->ReadMetaInteger(kMaxEventTimeKey));
  if (max_event_time) max_event_time_ms_ = *max_event_time;
  ASSIGN_OR_RETURN(std::optional<std::string> partition_times, store_->ReadMeta(kPartitionTimesKey));
  if (partition_times && !watermarks_.Restore(*partition_times, clock_.NowMs())) {
    return Status::Corruption(fmt::format("meta {} holds '{}'", kPartitionTimesKey, *partition_times));
  }
  return Status::Ok();
}

Status PipelineRun::OpenSinks() {
  DeliveryOptions delivery_options;
  delivery_options.limit = spec_.outbox_limit;
  for (const SinkBinding& binding : spec_.sinks) {
    SinkBuildContext context{binding.name, options_.fresh};
    Result<std::unique_ptr<Sink>> sink = binding.spec->Make(context);
    if (!sink.ok()) return sink.status().WithContext(fmt::format("sink '{}'", binding.name));
    summary_.sinks.push_back(SinkSummary{binding.name, binding.stream, (*sink)->description()});
    if (binding.stream == kAlertsStream || binding.stream == kMentionsStream) {
      OutboxSink outbox{std::move(*sink), nullptr, binding.stream};
      if (binding.stream == kMentionsStream) mention_stream_.emplace();
      std::string sink_name = binding.name;
      // A webhook sends one request per entry, each up to its timeout: one entry per call, so a
      // stop (and the end of a run) waits for one slow request, not for 512 of them (issue 12).
      DeliveryOptions sink_options = delivery_options;
      if (binding.spec->type() == "webhook") sink_options.max_entries_per_call = 1;
      outbox.delivery = std::make_unique<SinkDelivery>(
          *outbox.sink, *store_, clock_, sink_options,
          [this, sink_name](const OutboxEntry& entry, const Status& why) {
            std::lock_guard lock(given_up_mutex_);
            given_up_.push_back(GivenUp{sink_name, entry, why.ToString()});
          });
      // Alerts committed to the outbox but not delivered before a crash go out first.
      RETURN_IF_ERROR(outbox.delivery->LoadLeftovers());
      outbox_sinks_.push_back(std::move(outbox));
    } else {
      side_sinks_.push_back(SideSink{binding.stream, std::move(*sink)});
    }
  }
  for (OutboxSink& sink : outbox_sinks_) sink.delivery->Start();
  // Entries for a sink this pipeline no longer has (renamed, removed, `type: none`) would wait
  // forever unseen: say so, with the way to deliver them.
  ASSIGN_OR_RETURN(auto depth_by_sink, store_->OutboxDepthBySink());
  for (const auto& [sink, depth] : depth_by_sink) {
    bool configured = false;
    for (const OutboxSink& outbox : outbox_sinks_) configured |= outbox.sink->name() == sink;
    if (configured) continue;
    Notice(fmt::format("the outbox holds {} undelivered entries for sink '{}', which this pipeline "
                       "does not have; they stay there until a sink named '{}' is configured "
                       "(`name: {}` under sinks:)",
                       depth, sink, sink, sink));
  }
  return Status::Ok();
}

Status PipelineRun::SeekPartitions(const std::vector<uint32_t>& partitions) {
  if (!capabilities_.resumable) return Status::Ok();  // stdin starts where it is
  if (cluster_) {  // issue 11: at the group's commit points, not the state's positions
    ASSIGN_OR_RETURN(PositionMap positions, cluster_->SeekGained(partitions));
    for (const auto& [partition, position] : positions) {
      positions_[partition] = position;
      RETURN_IF_ERROR(source_->Seek(partition, position));
    }
    return Status::Ok();
  }
  for (uint32_t partition : partitions) {
    ASSIGN_OR_RETURN(std::optional<uint64_t> position,
                     store_->ReadPosition(source_->id(), partition));
    if (!position) continue;
    if (!summary_.resumed) {
      summary_.resumed = true;
      summary_.resumed_position = *position;
    }
    positions_[partition] = *position;
    // Issue 16: the identity of the input the position is in (a followed file may have been
    // rotated or truncated while the pipeline was stopped).
    ASSIGN_OR_RETURN(std::optional<std::string> identity,
                     store_->ReadMeta(InputIdentityKey(source_->id(), partition)));
    if (identity) input_identities_[partition] = *identity;
    RETURN_IF_ERROR(source_->SeekIdentified(partition, *position, identity.value_or("")));
  }
  return Status::Ok();
}

Status PipelineRun::OpenSource() {
  SourceBuildContext context;
  context.clock = &clock_;
  ASSIGN_OR_RETURN(source_, spec_.source->Make(context));
  capabilities_ = source_->capabilities();
  // A file source's id is "file:<path>" (a JSON array adds "#<pointer>").
  if (source_->id().starts_with("file:") && source_->id().find('#') == std::string::npos) {
    summary_.input_path = source_->id().substr(5);
  }
  return SeekPartitions(source_->partitions());
}

// A listener with the operations routes (/metrics, /healthz, /readyz, the dashboard), and the
// query API when `with_queries`.
Result<std::unique_ptr<HttpApi>> PipelineRun::StartListener(const std::string& listen,
                                                           bool with_queries) {
  ASSIGN_OR_RETURN(HttpApiOptions api_options, ParseListenAddress(listen));
  MetricsRegistry* registry = options_.metrics_registry != nullptr ? options_.metrics_registry
                                                                    : &MetricsRegistry::Default();
  const PipelineMetrics* metrics = metrics_.get();
  api_options.add_routes = [registry, metrics](HttpRoutes& routes) {
    AddOperationsRoutes(routes, *registry, metrics);
  };
  if (!with_queries) {
    return HttpApi::Start(api_options, [](const auto&) {
      return Status::NotFound("the query API is off here: run with --api HOST:PORT to serve it");
    });
  }
  if (!queries_) queries_ = std::make_unique<WindowQueries>(*store_, spec_);
  WindowQueries* queries = queries_.get();
  WatchlistReloader* reloader = reloader_.get();
  api_options.on_reload = [reloader] { reloader->Request(); };
  return HttpApi::Start(api_options, [queries](const auto& use) {
    use(*queries);
    return Status::Ok();
  });
}

Status PipelineRun::StartApi() {
  if (!options_.api_listen.empty()) {
    ASSIGN_OR_RETURN(api_, StartListener(options_.api_listen, true));
    summary_.api_address = api_->address();
    if (options_.on_api_ready) options_.on_api_ready(summary_.api_address);
  }
  if (!options_.metrics_listen.empty()) {
    ASSIGN_OR_RETURN(metrics_api_, StartListener(options_.metrics_listen, false));
    if (options_.on_metrics_ready) options_.on_metrics_ready(metrics_api_->address());
  }
  return Status::Ok();
}

// The per-brand figures /metrics and the dashboard show: about once a second.
void PipelineRun::PublishBrands(bool force) {
  if (!force && clock_.NowMs() - last_publish_ms_ < 1000) return;
  last_publish_ms_ = clock_.NowMs();
  metrics_->UpdateBrands([&](std::vector<BrandFigures>& brands) {
    const bool same_brands = brands.size() == summary_.brands.size() && !brands_changed_;
    if (!same_brands) brands.resize(summary_.brands.size());
    for (size_t i = 0; i < summary_.brands.size(); ++i) {
      const BrandSummary& brand = summary_.brands[i];
      if (!same_brands) {
        brands[i].id = brand.id;
        brands[i].name = brand.name;
      }
      brands[i].mentions = brand.mentions;
      brands[i].alerts = brand.alerts;
    }
  });
  brands_changed_ = false;
}

Status PipelineRun::Setup() {
  metrics_ = std::make_unique<PipelineMetrics>(
      options_.metrics_registry != nullptr ? *options_.metrics_registry
                                           : MetricsRegistry::Default(),
      spec_.name, options_.metrics_top_brands);
  ASSIGN_OR_RETURN(std::shared_ptr<const CompiledWatchlist> compiled,
                   CompiledWatchlist::Make(spec_.watchlist));
  brands_ = std::make_shared<const WatchlistBrands>(std::move(compiled));
  watchlist_spec_ = std::make_shared<const WatchlistSpec>(spec_.watchlist);
  reloader_ = std::make_unique<WatchlistReloader>(spec_.watchlist.path,
                                                  spec_.watchlist.cache_directory,
                                                  options_.watch_watchlist_file, clock_);
  RETURN_IF_ERROR(OpenState());
  ASSIGN_OR_RETURN(RuleSet rules, RuleSet::Make(spec_.alert_rules, spec_.windows, *brands_,
                                                              spec_.allowed_lateness_ms));
  rules_.emplace(std::move(rules));
  std::vector<std::string> rule_names;
  for (const auto& rule : spec_.alert_rules) rule_names.push_back(rule->name());
  metrics_->DeclareRules(rule_names);
  RETURN_IF_ERROR(rules_->Restore(*store_, *brands_));
  closer_ = std::make_unique<WindowCloser>(
      spec_.windows, spec_.allowed_lateness_ms,
      [this](uint32_t window_index) { return rules_->WatchesWindow(window_index); });
  RETURN_IF_ERROR(StartApi());
  RETURN_IF_ERROR(OpenSinks());
  RETURN_IF_ERROR(closer_->Restore(*store_, *brands_, watermark_.load()));
  RETURN_IF_ERROR(OpenSource());
  if (spec_.cluster) RETURN_IF_ERROR(StartCluster());
  if (spec_.cluster) RETURN_IF_ERROR(StartClusterDedup());  // before the chain is built

  summary_.workers = options_.workers > 0 ? options_.workers : spec_.workers;
  event_time_limits_.oldest_ms = spec_.min_event_time_ms;
  event_time_limits_.newest_ms = spec_.max_event_time_ms;
  event_time_limits_.max_future_skew_ms = spec_.max_future_skew_ms;
  UpdateEventTimeLimits();
  ASSIGN_OR_RETURN(chain_, TransformChain::Make(spec_.transforms, BuildContext(), summary_.workers));
  chain_reads_committed_state_ = chain_->ReadsCommittedState();
  scheduler_ = std::make_unique<BatchScheduler>(chain_.get(), summary_.workers,
                                                [this](Batch& batch) { return FinishBatch(batch); });
  for (const BrandSpec& brand : spec_.watchlist.brands) {
    summary_.brands.push_back(BrandSummary{brand.id, brand.name, 0, 0});
  }
  scheduler_->Start();
  std::vector<std::pair<std::string, SinkDelivery*>> deliveries;
  for (OutboxSink& sink : outbox_sinks_) {
    deliveries.emplace_back(sink.sink->name(), sink.delivery.get());
  }
  metrics_->AttachSources(store_.get(), std::move(deliveries));
  PublishBrands(true);
  // Ready: state restored, watchlist compiled, sinks open, source at its committed position
  // (issue 11: with `cluster:`, once the merged state is restored too: ClusterPoll).
  metrics_->SetReady(!cluster_);
  return Status::Ok();
}

// Swaps a compiled watchlist in when no epoch is open (right after a commit, or before any
// input); reports one that failed.
Status PipelineRun::MaybeReloadWatchlist() {
  if (options_.reload_requested != nullptr && options_.reload_requested->exchange(false)) {
    reloader_->Request();
  }
  if (std::optional<LoadedWatchlist> loaded = reloader_->Poll()) {
    if (!loaded->error.empty()) {
      ++summary_.watchlist_reload_failures;
      summary_.last_reload_error = loaded->error;
      metrics_->OnReload(false, loaded->error, 0);
      if (options_.on_reload) options_.on_reload(false, loaded->error);
    } else {
      reload_pending_ = std::move(*loaded);
    }
  }
  if (reload_pending_ && epoch_records_ == 0 && scheduler_->in_flight() == 0) {
    LoadedWatchlist pending = std::move(*reload_pending_);
    reload_pending_.reset();
    // Rules and transforms rebuilt for the new brands may read state: all of it written first.
    RETURN_IF_ERROR(FinishWrite());
    RETURN_IF_ERROR(ApplyWatchlist(std::move(pending)));
  }
  return Status::Ok();
}

Status PipelineRun::ApplyWatchlist(LoadedWatchlist loaded) {
  std::shared_ptr<const WatchlistBrands> previous = std::move(brands_);
  brands_ = std::make_shared<const WatchlistBrands>(std::move(loaded.compiled));
  // The transforms first: if they cannot be built (no memory for a scratch), the old watchlist
  // keeps running and the reload is reported as failed.
  Status rebuilt = chain_->RebuildForWatchlist(BuildContext());
  if (!rebuilt.ok()) {
    brands_ = std::move(previous);
    ++summary_.watchlist_reload_failures;
    summary_.last_reload_error = rebuilt.ToString();
    metrics_->OnReload(false, summary_.last_reload_error, 0);
    if (options_.on_reload) options_.on_reload(false, summary_.last_reload_error);
    return Status::Ok();
  }
  watchlist_spec_ = std::move(loaded.spec);
  // Brands are renumbered; everything kept by brand index follows its brand by id.
  RETURN_IF_ERROR(rules_->OnBrandsChanged(*previous, *brands_));
  if (cluster_) cluster_->SetBrandlessCoverage(rules_->CoveredBrands(*brands_));  // issue 11, s26
  closer_->RemapBrands(*previous, *brands_);
  // Run counters: brands that left keep theirs at the end.
  std::vector<BrandSummary> before = std::move(summary_.brands);
  summary_.brands.assign(brands_->brand_count(), BrandSummary{});
  std::vector<BrandSummary> gone;
  for (uint32_t index = 0; index < before.size(); ++index) {
    std::optional<uint32_t> now =
        index < previous->brand_count() ? brands_->FindBrand(previous->brand_info(index).id)
                                        : std::nullopt;
    if (now) {
      summary_.brands[*now] = std::move(before[index]);
    } else {
      gone.push_back(std::move(before[index]));
    }
  }
  for (uint32_t index = 0; index < brands_->brand_count(); ++index) {
    BrandInfo info = brands_->brand_info(index);
    summary_.brands[index].id = std::string(info.id);
    summary_.brands[index].name = std::string(info.name);
  }
  for (BrandSummary& brand : gone) summary_.brands.push_back(std::move(brand));
  if (queries_) queries_->SetWatchlist(watchlist_spec_);
  ++summary_.watchlist_reloads;
  metrics_->OnReload(true, "", brands_->brand_count());
  brands_changed_ = true;
  PublishBrands(true);
  if (options_.on_reload) options_.on_reload(true, "");
  return Status::Ok();
}

Status PipelineRun::FinishBatch(Batch& batch) {
  metrics_->OnBatch(batch);
  summary_.records += batch.size();
  summary_.posts += batch.posts.size();
  summary_.skipped_records += batch.skipped_records;
  summary_.dead_letters += batch.dead_letters.size();
  summary_.late_posts += batch.late_post_indices.size();
  summary_.duplicates_dropped += batch.duplicates_dropped;
  summary_.edits_applied += batch.edits_applied;
  summary_.edits_late += batch.edits_late;
  summary_.input_bytes += batch.input_bytes.size();
  max_event_time_ms_ = std::max(max_event_time_ms_, batch.max_event_time_ms);
  if (cluster_) cluster_->ObserveBatch(batch.partition, batch.max_event_time_ms);
  watermarks_.Observe(batch.partition, batch.max_event_time_ms, clock_.NowMs());
  // As the windows count them: a brand's own posts are not mentions (issue 14).
  for (const Mention& mention : batch.mentions) {
    BrandSummary& brand = summary_.brands[mention.brand_index];
    if (mention.own_post) {
      ++summary_.own_posts;
      ++brand.own_posts;
    } else {
      ++summary_.mentions;
      ++brand.mentions;
    }
  }
  // An edit that replaced an earlier version took that version's mentions back (issue 14).
  for (const Retraction& retraction : batch.retractions) {
    BrandSummary& brand = summary_.brands[retraction.brand_index];
    // (Counted in an earlier run when this run resumed: nothing of this run to take back.)
    uint64_t& total = retraction.own_post ? summary_.own_posts : summary_.mentions;
    uint64_t& of_brand = retraction.own_post ? brand.own_posts : brand.mentions;
    if (total > 0 && of_brand > 0) {
      --total;
      --of_brand;
    }
  }

  for (SideSink& side : side_sinks_) {
    if (side.stream == kDeadLetterStream) {
      for (const DeadLetter& dead_letter : batch.dead_letters) {
        SideRecord record;
        record.kind = SideRecord::Kind::kDeadLetter;
        record.reason = dead_letter.reason;
        record.source_id = source_->id();
        record.partition = batch.partition;
        record.position = batch.records[dead_letter.record_index].end_position;
        record.record = batch.RecordBytes(dead_letter.record_index);
        RETURN_IF_ERROR(side.sink->Append(record));
      }
    } else {
      for (uint32_t post_index : batch.late_post_indices) {
        const Post& post = batch.posts[post_index];
        SideRecord record;
        record.kind = SideRecord::Kind::kLatePost;
        record.reason = "late";
        record.source_id = source_->id();
        record.partition = batch.partition;
        record.position = batch.records[post.record_index].end_position;
        record.record = batch.RecordBytes(post.record_index);
        record.post_id = post.id;
        record.event_time_ms = post.event_time_ms;
        record.watermark_ms = watermark_.load();
        RETURN_IF_ERROR(side.sink->Append(record));
      }
    }
  }
  if (mention_stream_) mention_stream_->AppendBatch(batch, *brands_, epoch_mentions_);
  if (rules_->WatchesBatches()) {
    RuleContext context{*brands_, watermark_.load(), fired_};
    context.inquiries = &inquiries_;
    if (cluster_) context.inquiry_events = &epoch_inquiry_events_;  // issue 11: for the mergers
    RETURN_IF_ERROR(rules_->OnBatch(batch, context));
  }
  positions_[batch.partition] = batch.records.back().end_position;
  if (!batch.input_identity.empty()) input_identities_[batch.partition] = batch.input_identity;
  return Status::Ok();
}

// A lost partition's batches are finished and committed before the source lets it go; a gained
// one resumes from its committed position.
Status PipelineRun::HandleAssignmentChange() {
  AssignmentChange change = source_->TakeAssignmentChange();
  summary_.partitions_gained += change.gained.size();
  summary_.partitions_lost += change.lost.size();
  metrics_->OnAssignmentChange(change.gained.size(), change.lost.size());
  if (!change.lost.empty()) {
    RETURN_IF_ERROR(Commit(false));
    RETURN_IF_ERROR(FinishWrite());  // durable before the partitions are let go
    for (uint32_t partition : change.lost) {
      positions_.erase(partition);
      input_identities_.erase(partition);
      watermarks_.Forget(partition);
    }
    if (cluster_) cluster_->ForgetLost(change.lost);
  }
  RETURN_IF_ERROR(source_->CompleteAssignmentChange());
  RETURN_IF_ERROR(SeekPartitions(change.gained));
  Notice(fmt::format("source {}: {} partition(s) gained, {} lost", source_->id(),
                     change.gained.size(), change.lost.size()));
  return Status::Ok();
}

Status PipelineRun::ReadBatch(bool& end_of_input) {
  // A write that ended: the source hears of it now, not only at the next commit (a quiet input).
  if (in_flight_write_ &&
      in_flight_write_->written.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
    RETURN_IF_ERROR(FinishWrite());
  }
  ASSIGN_OR_RETURN(Batch* batch, scheduler_->Acquire());
  ASSIGN_OR_RETURN(SourceRead read, source_->Fill(*batch, spec_.batch_records));
  batch->ingest_time_ms = WallClockMs();  // alerts report it (issue 12: ingest-to-alert latency)
  if (!ready_reported_) {
    ready_reported_ = true;
    summary_.resume_seconds = SecondsSince(started_ms_);
    if (options_.on_ready) {
      options_.on_ready(summary_.resumed, summary_.resumed_position, summary_.resume_seconds);
    }
  }
  if (batch->empty()) {
    scheduler_->Release(batch);
  } else {
    epoch_records_ += static_cast<int64_t>(batch->size());
    scheduler_->Dispatch(batch);
  }
  end_of_input = read == SourceRead::kEndOfInput;
  if (read == SourceRead::kAssignmentChanged) return HandleAssignmentChange();
  if (read == SourceRead::kNoDataYet) {
    // A quiet input: commit what we have on the interval (issue 11: or an epoch whose group
    // commit was deferred, or markers due), then poll again shortly.
    if ((epoch_records_ > 0 || (cluster_ && cluster_->has_unpublished())) &&
        clock_.NowMs() - last_commit_ms_ >= spec_.commit_interval_ms) {
      RETURN_IF_ERROR(Commit(false));
    }
    clock_.SleepMs(50);
  }
  return Status::Ok();
}

// Backpressure: a sink whose outbox is full holds the next commit (and so ingestion) until its
// receiver catches up. Nothing is dropped, and the operator is told.
Status PipelineRun::WaitForOutboxRoom() {
  for (OutboxSink& sink : outbox_sinks_) {
    if (!sink.delivery->full()) continue;
    const int64_t paused_ms = clock_.NowMs();
    ++summary_.backpressure_waits;
    DeliveryStats stats = sink.delivery->stats();
    Notice(fmt::format("sink '{}' has {} undelivered entries (limit {}); ingestion paused{}",
                       sink.sink->name(), stats.depth, spec_.outbox_limit,
                       stats.last_error.empty() ? "" : ": " + stats.last_error));
    source_->Pause();
    bool room = sink.delivery->WaitForRoom(options_.stop_requested);
    source_->Resume();
    summary_.backpressure_seconds += SecondsSince(paused_ms);
    metrics_->OnBackpressure(SecondsSince(paused_ms));
    if (room) Notice(fmt::format("sink '{}' caught up; ingestion resumed", sink.sink->name()));
  }
  return Status::Ok();
}

// The epoch's commit. The barrier (every worker idle) covers only what must see the whole
// epoch at once: the hand-over of the workers' deltas, the watermark, closing windows (from the
// totals the closer keeps in memory) and the alert rules. The WriteBatch is then finished and
// written on another thread while the workers go on with the next epoch (issue 17): the window
// merges are encoded there, RocksDB writes positions, windows, rule state and outbox in one
// WriteBatch as before, and only then are the outbox entries handed to the sinks' delivery
// threads. One write is in flight at a time: the next commit waits for it before its own.
Status PipelineRun::Commit(bool end_of_input) {
  RETURN_IF_ERROR(scheduler_->Drain());
  RETURN_IF_ERROR(WaitForOutboxRoom());
  if (cluster_) RETURN_IF_ERROR(PublishClusterSnapshots());  // issue 11: as of the last commit
  const int64_t commit_started_ms = clock_.NowMs();
  StateStore::Commit commit = store_->NewCommit();
  // Workers are idle now (every batch they had is finished): their deltas can be taken.
  WindowDeltaMap deltas;
  EpochHandOver epoch{&deltas, &commit};
  RETURN_IF_ERROR(chain_->HandOver(epoch));
  // issue 12: the inquiries the rules opened and answered while the epoch's batches were read
  // become window counters (response times), under the watermark those batches saw.
  AddInquiryWindowDeltas(inquiries_, closer_->layout(), spec_.allowed_lateness_ms,
                         watermark_.load(), spec_.retention_ms, deltas);
  // Issue 11: the epoch's inquiry events go with its partials, keyed by brand.
  if (cluster_) cluster_->AddEpochInquiries(std::move(epoch_inquiry_events_));
  epoch_inquiry_events_.clear();
  const size_t batch_inquiries = inquiries_.size();
  // Issue 11: these deltas go to the partials topic; the merged ones take their place.
  if (cluster_) RETURN_IF_ERROR(ClusterDedup(commit));  // issue 11: dedup at the merger
  if (cluster_) RETURN_IF_ERROR(ClusterEpoch(deltas, commit));
  if (cluster_) cluster_->EndEpochEvents();  // (kept when the epoch was deferred)
  summary_.window_updates += deltas.size();
  // Issue 11: the merged inquiry events; their observations are counted there.
  if (cluster_) RETURN_IF_ERROR(ClusterInquiries(deltas, end_of_input));
  const size_t judged_from = std::max(batch_inquiries, inquiries_.size());
  const size_t delta_count = deltas.size();
  closer_->Track(deltas);
  const size_t open_before_close = closer_->open_count();

  const int64_t previous_watermark = watermark_.load();
  int64_t watermark = previous_watermark;
  if (int64_t tracked = watermarks_.Compute(clock_.NowMs()); tracked != WatermarkTracker::kNone) {
    watermark = std::max(watermark, tracked);
  }
  if (cluster_) {
    cluster_committed_watermark_ = cluster_->Watermark();
    watermark = cluster_committed_watermark_.value_or(kNoWatermark);
    // A replayed partials partition catching up: its brands' windows close by its own watermark
    // (the kept brands' wait: the merged watermark does not move until it caught up).
    if (std::optional<int64_t> behind = cluster_->CatchUpWatermark()) {
      watermark = std::min(watermark, *behind);
    }
  }
  // Sliding windows read their earlier buckets, a rejoined brand its stored value.
  if (closer_->ReadsStore()) RETURN_IF_ERROR(FinishWrite());
  RuleContext context{*brands_, watermark, fired_, end_of_input, &inquiries_};
  std::vector<WindowDeltaKey> replaced;
  ASSIGN_OR_RETURN(watermark,
                   closer_->Close(watermark, end_of_input, deltas, *brands_, *store_, commit,
                                  [&](const ClosedWindow& window) {
                                    return rules_->OnWindowClosed(window, context);
                                  },
                                  replaced));
  // Those windows were written whole (PutWindow): their deltas are in the value already.
  for (const WindowDeltaKey& key : replaced) deltas.erase(key);
  context.watermark_ms = watermark;
  RETURN_IF_ERROR(rules_->OnWatermark(context));
  if (cluster_ && cluster_committed_watermark_) {  // (stored: the merged one, not a catch-up's)
    watermark = std::max(watermark, *cluster_committed_watermark_);
  }
  if (cluster_) {
    // The closer (and with it the rules' series) caught up: the replayed partitions' logs go into
    // this commit, as of the windows it holds (nothing was polled since TakeMerged).
    if (cluster_->catching_up() && !closer_->replaying()) cluster_->EndCatchUp();
    if (cluster_->snapshot_due()) cluster_->SnapshotMergeState(commit);
  }
  // Issue 11: with `cluster:` the inquiries are the merger's (ClusterInquiries), like `deltas`.
  if (inquiries_.size() > judged_from) {
    // issue 12: inquiries whose deadline the watermark passed count as unanswered in their own
    // windows, final ones too (merged into the store, not reopened: operators/response_times.h).
    WindowDeltaMap unanswered;
    AddInquiryWindowDeltas(std::span(inquiries_).subspan(judged_from), closer_->layout(),
                           spec_.allowed_lateness_ms, watermark, spec_.retention_ms, unanswered);
    closer_->Track(unanswered);
    for (auto& [key, delta] : unanswered) deltas[key].Merge(delta);
  }
  RETURN_IF_ERROR(rules_->Snapshot(commit));
  metrics_->OnInquiries(inquiries_, *brands_);  // issue 12: response-time metrics
  inquiries_.clear();
  for (OutboxSink& sink : outbox_sinks_) {
    if (sink.stream == kMentionsStream) {
      for (const OutboxEntry& mention : epoch_mentions_) {
        commit.PutOutbox(sink.sink->name(), mention.id, mention.payload);
      }
      continue;
    }
    for (const FiredAlert& alert : fired_) commit.PutOutbox(sink.sink->name(), alert.id, alert.payload);
  }
  if (capabilities_.resumable && !cluster_) {  // a cluster's positions are the group's
    for (const auto& [partition, position] : positions_) {
      commit.SetPosition(source_->id(), partition, position);
    }
    for (const auto& [partition, identity] : input_identities_) {
      commit.SetMeta(InputIdentityKey(source_->id(), partition), identity);
    }
  }
  commit.SetMeta(kWatermarkKey, std::to_string(watermark));
  commit.SetMeta(kPartitionTimesKey, watermarks_.Encode());
  if (max_event_time_ms_ != INT64_MIN) {
    commit.SetMeta(kMaxEventTimeKey, std::to_string(max_event_time_ms_));
  }
  // Dead letters and late posts reach their sinks before the positions that move past them
  // (entries a receiver refused for good join the dead letters here, once an epoch).
  RETURN_IF_ERROR(ReportGivenUp());
  for (SideSink& side : side_sinks_) RETURN_IF_ERROR(side.sink->Flush());
  // The previous epoch's write first: commits apply in order, one at a time.
  RETURN_IF_ERROR(FinishWrite());
  RETURN_IF_ERROR(WaitForStateSpace());

  // What the write hands on once it is durable: the outbox entries, per sink.
  std::vector<std::pair<SinkDelivery*, std::vector<OutboxEntry>>> deliveries;
  for (OutboxSink& sink : outbox_sinks_) {
    std::vector<OutboxEntry> entries;
    if (sink.stream == kMentionsStream) {
      entries = epoch_mentions_;
    } else {
      entries.reserve(fired_.size());
      for (const FiredAlert& alert : fired_) entries.push_back(OutboxEntry{alert.id, alert.payload, 0});
    }
    deliveries.emplace_back(sink.delivery.get(), std::move(entries));
  }
  // Retention only when some stored window can expire (the closer knows their end times).
  std::optional<int64_t> expire_before;
  if (!end_of_input && watermark != kNoWatermark && watermark > INT64_MIN + spec_.retention_ms &&
      closer_->ExpireBefore(watermark - spec_.retention_ms)) {
    expire_before = watermark - spec_.retention_ms;
  }
  in_flight_write_.emplace();
  in_flight_write_->positions = positions_;
  in_flight_write_->written = std::async(
      std::launch::async,
      [store = store_.get(), closer = closer_.get(), brands = brands_, commit = std::move(commit),
       deltas = std::move(deltas), deliveries = std::move(deliveries), expire_before,
       directory = spec_.state_directory]() mutable -> Status {
        for (const auto& [key, delta] : deltas) {
          commit.MergeWindow(closer->KeyOf(*brands, key.brand_index, key.shape_index,
                                           key.dimension, key.start_ms),
                             delta);
        }
        Status written = store->Write(commit);
        if (!written.ok() && store->out_of_space()) {
          // RocksDB itself found the disk full (the reserve was not enough): its Resume() aborts
          // on an assertion in Debian's build after a failed WAL write, so the run ends here.
          return Status::IoError(fmt::format(
              "state directory {} is full: {}; everything committed before is kept, a rerun "
              "resumes from there once there is space (state.min_free_mb keeps a reserve so that "
              "a full disk pauses the run instead)",
              directory, written.message()));
        }
        RETURN_IF_ERROR(written);
        // Committed: the entries are in the outbox; each sink's thread delivers them from here.
        for (auto& [delivery, entries] : deliveries) delivery->Enqueue(std::move(entries));
        if (expire_before) RETURN_IF_ERROR(store->DeleteWindowsEndingBefore(*expire_before));
        return Status::Ok();
      });

  // The next epoch's workers see the new watermark (results do not depend on the write).
  // Issue 11: with `cluster:` no post is late where it is read (an instance's own partitions,
  // read again after an abandoned epoch or a move, say nothing about the global watermark); the
  // merger closes windows by the merged one.
  watermark_.store(cluster_ ? kNoWatermark : watermark, std::memory_order_release);
  UpdateEventTimeLimits();
  summary_.event_times_refused = event_time_limits_.rejected.load(std::memory_order_relaxed);
  summary_.commit_seconds += SecondsSince(commit_started_ms);
  metrics_->OnCommit(SecondsSince(commit_started_ms), delta_count,
                     open_before_close - std::min(open_before_close, closer_->open_count()),
                     closer_->open_count(), watermark, fired_);
  epoch_records_ = 0;
  last_commit_ms_ = clock_.NowMs();
  for (const FiredAlert& alert : fired_) ++summary_.brands[alert.brand_index].alerts;
  summary_.alerts += fired_.size();
  fired_.clear();
  epoch_mentions_.clear();
  // A transform that reads committed state (dedup) must see this epoch's; the end of the input
  // is the last commit.
  if (chain_reads_committed_state_ || end_of_input) RETURN_IF_ERROR(FinishWrite());
  return Status::Ok();
}

// Waits for the commit in flight, if any; once it is durable the source is told its positions.
Status PipelineRun::FinishWrite() {
  if (!in_flight_write_) return Status::Ok();
  const int64_t waited_from_ms = clock_.NowMs();
  Status written = in_flight_write_->written.get();
  PositionMap positions = std::move(in_flight_write_->positions);
  in_flight_write_.reset();
  summary_.commit_seconds += SecondsSince(waited_from_ms);
  RETURN_IF_ERROR(written);
  ++summary_.commits;
  if (capabilities_.resumable) {
    Status told = source_->OnCommitted(positions);
    if (!told.ok()) Notice(fmt::format("source {}: {}", source_->id(), told.ToString()));
  }
  return Status::Ok();
}

// Free space on the state's file system, or nullopt when it cannot be told.
std::optional<uint64_t> FreeBytes(const std::string& directory) {
  struct statvfs info;
  if (::statvfs(directory.c_str(), &info) != 0) return std::nullopt;
  return static_cast<uint64_t>(info.f_bavail) * info.f_frsize;
}

// The state's disk is (nearly) full (issue 16): nothing more is read — the coordinator waits
// here with the epoch's commit in hand, nothing is written, what was committed stays — and
// the commit goes on by itself once state.min_free_mb is free again (checked every second). A
// stop request ends the wait with an error that says so; a rerun resumes from the last commit.
Status PipelineRun::WaitForStateSpace() {
  const uint64_t reserve = spec_.state_min_free_bytes;
  if (reserve == 0) return Status::Ok();
  std::optional<uint64_t> free = FreeBytes(spec_.state_directory);
  if (!free || *free >= reserve) return Status::Ok();
  const std::string& directory = spec_.state_directory;
  Notice(fmt::format("state directory {} is full: {:.1f} MiB free, below state.min_free_mb "
                     "({} MiB); ingestion paused until there is space (stop to exit; a rerun "
                     "resumes from the last commit)",
                     directory, *free / 1048576.0, reserve >> 20));
  LogError("state directory is full: ingestion paused until space returns",
           {{"state", directory}, {"free_bytes", std::to_string(*free)},
            {"min_free_bytes", std::to_string(reserve)}});
  ++summary_.state_full_pauses;
  while (true) {
    for (int waited = 0; waited < 1000; waited += 50) {
      if (options_.stop_requested != nullptr && options_.stop_requested->load()) {
        return Status::IoError(fmt::format(
            "stopped while the state directory {} was full ({} bytes free, state.min_free_mb is "
            "{}); everything committed before is kept, a rerun resumes from there",
            directory, free.value_or(0), reserve >> 20));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    free = FreeBytes(directory);
    if (!free || *free >= reserve) break;
  }
  Notice(fmt::format("state directory {} has space again; ingestion resumed", directory));
  LogInfo("state directory has space again: ingestion resumed", {{"state", directory}});
  return Status::Ok();
}

// At the end of a run every committed alert is delivered before the run returns, unless a stop
// was requested: then what is undelivered stays in the outbox for the next start.
Status PipelineRun::DrainDeliveries() {
  // A receiver that stays down keeps the run here (nothing is dropped); every 10 s the operator
  // is told what is waiting and why, and a stop request leaves it in the outbox.
  for (OutboxSink& sink : outbox_sinks_) {
    while (!sink.delivery->WaitUntilEmpty(options_.stop_requested, 10000)) {
      if (options_.stop_requested != nullptr && options_.stop_requested->load()) break;
      DeliveryStats stats = sink.delivery->stats();
      Notice(fmt::format("waiting for sink '{}' to take {} entries{} (stop to keep them in the "
                         "outbox for the next start)",
                         sink.sink->name(), stats.depth,
                         stats.last_error.empty() ? "" : "; last error: " + stats.last_error));
    }
  }
  for (OutboxSink& sink : outbox_sinks_) {
    sink.delivery->Stop();
    DeliveryStats stats = sink.delivery->stats();
    for (SinkSummary& summary : summary_.sinks) {
      if (summary.name != sink.sink->name()) continue;
      summary.delivered = stats.delivered;
      summary.failures = stats.failures;
      summary.given_up = stats.given_up;
      summary.pending = stats.depth;
      summary.last_error = stats.last_error;
    }
  }
  return Status::Ok();
}

Status PipelineRun::ReportGivenUp() {
  std::vector<GivenUp> given_up;
  {
    std::lock_guard lock(given_up_mutex_);
    given_up.swap(given_up_);
  }
  for (const GivenUp& refused : given_up) {
    Notice(fmt::format("sink '{}' refused '{}' for good ({}); it goes to the dead letters",
                       refused.sink, refused.entry.id, refused.why));
    std::string source = "sink:" + refused.sink;
    std::string reason = "refused by sink '" + refused.sink + "': " + refused.why;
    for (SideSink& side : side_sinks_) {
      if (side.stream != kDeadLetterStream) continue;
      SideRecord record;
      record.kind = SideRecord::Kind::kDeadLetter;
      record.reason = reason;
      record.source_id = source;
      record.record = refused.entry.payload;
      RETURN_IF_ERROR(side.sink->Append(record));
    }
  }
  return Status::Ok();
}

void PipelineRun::ReportProgress(bool force) {
  if (!options_.on_progress) return;
  if (!force && clock_.NowMs() - last_progress_ms_ < 1000) return;
  last_progress_ms_ = clock_.NowMs();
  summary_.seconds = SecondsSince(started_ms_);
  if (!positions_.empty()) summary_.position = positions_.begin()->second;
  options_.on_progress(summary_);
}

Result<RunSummary> PipelineRun::Run() {
  Status status = Setup();
  if (status.ok()) {
    bool end_of_input = false;
    while (status.ok() && !end_of_input) {
      status = MaybeReloadWatchlist();
      if (!status.ok()) break;
      if (cluster_ && !(status = ClusterPoll()).ok()) break;
      status = ReadBatch(end_of_input);
      if (!status.ok()) break;
      if (cluster_ && end_of_input && !(status = ClusterEnd(end_of_input)).ok()) break;
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
      PublishBrands(false);
    }
  }
  // Issue 11: the snapshots due as of the last commit (a stop is a good point for the next owner).
  // (BRANDPULSE_TEST_NO_FINAL_SNAPSHOT: benchmarks measure a restore after a crash instead.)
  if (cluster_ && status.ok() && std::getenv("BRANDPULSE_TEST_NO_FINAL_SNAPSHOT") == nullptr) {
    status = PublishClusterSnapshots();
  }
  if (scheduler_) scheduler_->Stop();
  if (cluster_) {
    Notice(fmt::format("{}; {} merged window delta(s) late (window already closed); {}; {} "
                       "inquiry event(s) late (merged watermark already past them)",
                       cluster_->Summary(), cluster_late_deltas_, cluster_->InquirySummary(),
                       cluster_late_inquiry_events_));
    if (dedup_merger_) {
      const DedupMerger::Stats& stats = dedup_merger_->stats();
      Notice(fmt::format("cluster: dedup: {}; merger: {} event(s), {} counted, {} duplicate(s) "
                         "dropped, {} edit(s) applied, {} edit(s) late, {} evicted, {} id(s) held",
                         cluster_->PostSummary(), stats.events, stats.counted, stats.duplicates,
                         stats.edits_applied, stats.edits_late, stats.evicted,
                         dedup_merger_->size()));
    }
  }
  // The last commit's write (a stop, an error or stop_after_records left the loop after it).
  if (Status finished = FinishWrite(); status.ok()) status = finished;
  if (status.ok()) status = DrainDeliveries();
  // Refusals during the final wait: no commit follows, so they are flushed here.
  if (status.ok()) status = ReportGivenUp();
  for (SideSink& side : side_sinks_) {
    if (status.ok()) status = side.sink->Flush();
  }
  for (OutboxSink& sink : outbox_sinks_) sink.delivery->Stop();
  if (!status.ok()) return status;
  if (store_) RETURN_IF_ERROR(store_->Flush());
  ReportProgress(true);
  PublishBrands(true);
  summary_.seconds = SecondsSince(started_ms_);
  return summary_;
}

// ---- Issue 11: global windows across instances (pipeline/cluster_runtime.h, docs/cluster.md) ----
// With `cluster:` the epoch's window deltas are published as partials instead of being merged
// here; the windows, the window closer and the window rules of this instance are those of the
// partials partitions it owns in the merge group, rebuilt from the partials topic whenever that
// ownership changes.

// A brand's alerts come from the member that merges it: the others hold none of its windows
// (a `below` threshold would fire there on nothing).
void PipelineRun::OnlyMergedBrandsAlert() {
  rules_->SetBrandOwner([this](const BrandInfo& brand) { return cluster_->MergesBrand(brand.id); });
}

Status PipelineRun::StartCluster() {
  ASSIGN_OR_RETURN(cluster_, ClusterRuntime::Make(*spec_.cluster, *source_, spec_.watchlist,
                                                  spec_.max_out_of_orderness_ms,
                                                  [this](const std::string& message) {
                                                    Notice(message);
                                                  }));
  OnlyMergedBrandsAlert();
  cluster_->SetBrandlessCoverage(rules_->CoveredBrands(*brands_));  // s26: and at each reload
  RETURN_IF_ERROR(StartClusterSnapshots());
  // What the store holds is merged state of the partials partitions this instance owned when it
  // last committed, with the merge log of each: kept (resumed from where each log was) if the
  // merge group's first assignment is among them, else wiped and rebuilt from the partials topic
  // (ClusterRuntime::Poll). The stored watermark is the merged one of those partitions.
  const int64_t stored_watermark = watermark_.load();
  cluster_committed_watermark_.reset();
  if (stored_watermark != kNoWatermark) cluster_committed_watermark_ = stored_watermark;
  RETURN_IF_ERROR(cluster_->LoadMergeState(*store_, cluster_committed_watermark_));
  // Partial drops stay on (MergePlanner::set_partial_drop): window rules hold of a dropped brand
  // what they hold of any brand merged elsewhere; `unanswered` and `viral_post` keep their state
  // by brand and their copies of brandless events by partials partition, dropped with their
  // partition (RuleSet::ClearBrands, ClearPartialsPartitions), and release a replayed
  // partition's events by its own watermark (ClusterInquiries).
  cluster_->set_idle_timeout(spec_.idle_timeout_ms);  // idle source partitions (issue 11)
  // No post is late where it is read (see Commit).
  watermark_.store(kNoWatermark);
  watermarks_ = WatermarkTracker{spec_.max_out_of_orderness_ms, spec_.idle_timeout_ms};
  return Status::Ok();
}

Status PipelineRun::ResetMergedState() {
  RETURN_IF_ERROR(FinishWrite());
  RETURN_IF_ERROR(store_->DeleteWindowsEndingBefore(INT64_MAX));
  StateStore::Commit wipe = store_->NewCommit();
  for (const auto& rule : spec_.alert_rules) wipe.DeleteAllRuleState(rule->name());
  wipe.DeleteAllRuleState("~noise");
  wipe.DeleteAllRuleState("~noise-ids");
  wipe.DeleteAllRuleState(ClusterRuntime::kMergeStateName);
  wipe.DeleteAllRuleState(kDedupMergeOwner);  // issue 11: the merger's dedup set
  RETURN_IF_ERROR(store_->Write(wipe));
  if (dedup_merger_) dedup_merger_->Clear();
  closer_->Clear();
  ASSIGN_OR_RETURN(RuleSet rules, RuleSet::Make(spec_.alert_rules, spec_.windows, *brands_,
                                                spec_.allowed_lateness_ms));
  rules_.emplace(std::move(rules));
  OnlyMergedBrandsAlert();
  cluster_committed_watermark_.reset();
  return Status::Ok();
}

Status PipelineRun::ApplyMergeChange(const ClusterRuntime::MergeChange& change) {
  if (change.reset) {
    RETURN_IF_ERROR(ResetMergedState());
  } else {
    if (!change.dropped.empty()) RETURN_IF_ERROR(DropMergedPartitions(change.dropped));
    if (!change.replayed.empty()) RETURN_IF_ERROR(ReplayMergedPartitions(change.replayed));
  }
  if (!change.restored.empty()) RETURN_IF_ERROR(RestoreSnapshotWindows(change.restored));
  if (!change.restored.empty()) RETURN_IF_ERROR(RestoreSnapshotState(change.restored_state));
  return Status::Ok();
}

// Issue 11, snapshots (docs/cluster.md, "Snapshots"). A snapshot carries a partition's merge log,
// its stored windows (the window rules rebuild their window state from them as they close again,
// as after a replay) and the per-brand state kept elsewhere (CollectSnapshotState): the merger's
// `dedup` set, `unanswered`'s held events and open inquiries, `viral_post`'s held events and
// tracked posts. Every pipeline may start a gained partition from a snapshot.
Status PipelineRun::StartClusterSnapshots() {
  cluster_->set_snapshot_restore(true);
  return Status::Ok();
}

// At the start of a commit: the snapshots due, of the state the last commit wrote (its merge logs
// and the windows it left in the store: the write is waited for first).
Status PipelineRun::PublishClusterSnapshots() {
  const std::vector<uint32_t> due = cluster_->SnapshotsDue();
  if (due.empty()) return Status::Ok();
  RETURN_IF_ERROR(FinishWrite());
  std::map<uint32_t, std::vector<SnapshotWindow>> windows;
  for (uint32_t partition : due) windows[partition];
  const std::set<uint32_t> partitions(due.begin(), due.end());  // their brands' windows alone
  RETURN_IF_ERROR(store_->ScanBrandWindows(cluster_->StoredBrandsOf(partitions, *brands_),
                                           [&](const WindowKey& key, const WindowMetrics& metrics) {
    auto found = windows.find(cluster_->PartitionOfBrand(key.brand_id));
    if (found != windows.end()) found->second.push_back(SnapshotWindow{key, metrics});
  }));
  ASSIGN_OR_RETURN(auto state, CollectSnapshotState(due));  // the brands' rule state
  for (auto& [partition, stored] : windows) {
    RETURN_IF_ERROR(cluster_->PublishSnapshot(partition, std::move(stored),
                                              cluster_committed_watermark_,
                                              std::move(state[partition])));
  }
  return Status::Ok();
}

// The rule state of the due partitions' brands, as the last commit left it in the store (the
// caller waited for its write): the rules and the dedup merger write what changed at every
// commit (RuleSet::Snapshot, DedupMerger::WriteChanges, in the WriteBatch that stores the merge
// logs), and nothing they keep of a merged brand changes between commits, so the store holds the
// state as of the same merge point as the snapshot's merge log. (In memory only, and not carried:
// what the readers keep (unanswered's own post ids), derived indexes, and the rule set's noise
// state — cooldowns, held groups, recent alert ids — which a gained partition starts over, as a
// replayed one does.) An entry names its brand (dedup, unanswered) or its partials partition
// (viral_post: tracked posts and held copies are stamped with the partition they came from).
Result<std::map<uint32_t, std::vector<SnapshotStateEntry>>> PipelineRun::CollectSnapshotState(
    const std::vector<uint32_t>& due) {
  std::map<uint32_t, std::vector<SnapshotStateEntry>> state;
  for (uint32_t partition : due) state[partition];
  auto add = [&](uint32_t partition, std::string_view owner, std::string_view key,
                 std::string_view value) {
    auto found = state.find(partition);
    if (found == state.end()) return;
    found->second.push_back(
        SnapshotStateEntry{std::string(owner), std::string(key), std::string(value)});
  };
  RETURN_IF_ERROR(rules_->ScanBrandState(
      *store_, [&](std::string_view owner, std::string_view key, std::string_view value,
                   const RuleStateScope& scope) {
        add(scope.partials_partition ? *scope.partials_partition
                                     : cluster_->PartitionOfBrand(scope.brand_id),
            owner, key, value);
      }));
  if (!dedup_merger_) return state;
  RETURN_IF_ERROR(store_->ScanRuleState(kDedupMergeOwner, [&](std::string_view key,
                                                              std::string_view value) {
    if (std::optional<std::string_view> brand = DedupMerger::BrandOfStateKey(key)) {
      add(cluster_->PartitionOfBrand(*brand), kDedupMergeOwner, key, value);
    }
  }));
  return state;
}

// Partitions that start from a snapshot (after their reset or drop): its windows go into the
// store as its writer held them, and the closer tracks their brand totals as open windows (the
// closer closes them by the merged or catch-up watermark, the rules evaluate them, as they do
// after a replay that merged the same epochs).
Status PipelineRun::RestoreSnapshotWindows(
    const std::map<uint32_t, std::vector<SnapshotWindow>>& restored) {
  RETURN_IF_ERROR(FinishWrite());
  const WindowLayout& layout = closer_->layout();
  StateStore::Commit write = store_->NewCommit();
  WindowDeltaMap totals;
  uint64_t count = 0;
  for (const auto& [partition, windows] : restored) {
    for (const SnapshotWindow& window : windows) {
      write.PutWindow(window.key, window.metrics);
      ++count;
      if (!window.key.dimension.empty()) continue;
      std::optional<uint32_t> brand = brands_->FindBrand(window.key.brand_id);
      if (!brand) continue;
      std::optional<uint32_t> shape = layout.FindShape(window.key.size_ms, window.key.slide_ms);
      if (!shape) continue;
      totals[WindowDeltaKey{*brand, *shape, kBrandTotal, window.key.start_ms}].Merge(window.metrics);
    }
  }
  RETURN_IF_ERROR(store_->Write(write));
  closer_->Track(totals);
  Notice(fmt::format("cluster: {} window(s) of {} partials partition(s) restored from snapshots",
                     count, restored.size()));
  return Status::Ok();
}

// After RestoreSnapshotWindows: the restored partitions' rule state (CollectSnapshotState) goes to
// the rules and the dedup merger, which dropped these brands' state just before (the reset, or
// DropMergedPartitions' ClearBrands / ClearPartialsPartitions / DropBrands); they take it beside
// the kept brands' and it is written now, as the windows are (their merge logs go with the next
// commit: a crash before it replays the partitions again, dropping both).
Status PipelineRun::RestoreSnapshotState(
    const std::map<uint32_t, std::vector<SnapshotStateEntry>>& restored) {
  std::map<std::string, std::vector<std::pair<std::string, std::string>>, std::less<>> by_owner;
  uint64_t count = 0;
  for (const auto& [partition, entries] : restored) {
    for (const SnapshotStateEntry& entry : entries) {
      by_owner[entry.owner].emplace_back(entry.key, entry.value);
      ++count;
    }
  }
  if (count == 0) return Status::Ok();
  StateStore::Commit write = store_->NewCommit();
  if (auto dedup = by_owner.find(kDedupMergeOwner); dedup != by_owner.end()) {
    if (dedup_merger_) RETURN_IF_ERROR(dedup_merger_->LoadEntries(dedup->second, write));
    by_owner.erase(dedup);
  }
  RETURN_IF_ERROR(rules_->LoadBrandState(by_owner, write));
  RETURN_IF_ERROR(store_->Write(write));
  Notice(fmt::format("cluster: {} rule-state entr{} of {} partials partition(s) restored from "
                     "snapshots",
                     count, count == 1 ? "y" : "ies", restored.size()));
  return Status::Ok();
}

// Partials partitions gained without local state, replayed from their beginning beside the kept
// ones (issue 11): whatever the store and the rules hold of their brands goes (as for a drop),
// then the closer and the rules' series rebuild those brands alone, from their first window,
// while the merged watermark waits for them (ClusterRuntime::CatchUpWatermark).
Status PipelineRun::ReplayMergedPartitions(const std::set<uint32_t>& partitions) {
  // Also RuleSet::ClearBrands and the merger's dedup entries of those brands (DedupMerger).
  RETURN_IF_ERROR(DropMergedPartitions(partitions));
  std::set<uint32_t> brands;
  for (uint32_t brand = 0; brand < brands_->brand_count(); ++brand) {
    if (partitions.contains(cluster_->PartitionOfBrand(brands_->brand_info(brand).id))) {
      brands.insert(brand);
    }
  }
  closer_->ReplayBrands(brands);
  return Status::Ok();
}

// Partials partitions this instance no longer merges: their brands' windows and their merge logs
// leave the store (one write), their open windows the closer, their rule state the rules (the
// next Snapshot deletes it from the store). The kept partitions' windows, the watermark and the
// rule state stay; a dropped partition that comes back is replayed (ClusterRuntime::Poll).
Status PipelineRun::DropMergedPartitions(const std::set<uint32_t>& partitions) {
  RETURN_IF_ERROR(FinishWrite());
  StateStore::Commit drop = store_->NewCommit();
  uint64_t windows = 0;
  RETURN_IF_ERROR(store_->ScanBrandWindows(cluster_->StoredBrandsOf(partitions, *brands_),
                                           [&](const WindowKey& key, const WindowMetrics&) {
    if (!partitions.contains(cluster_->PartitionOfBrand(key.brand_id))) return;
    drop.DeleteWindow(key);
    ++windows;
  }));
  for (uint32_t partition : partitions) {
    drop.DeleteRuleState(ClusterRuntime::kMergeStateName, fmt::format("p/{}", partition));
  }
  if (dedup_merger_) dedup_merger_->DropBrands(cluster_->BrandsOf(partitions), drop);  // dedup
  RETURN_IF_ERROR(store_->Write(drop));
  std::set<uint32_t> brands;
  for (uint32_t brand = 0; brand < brands_->brand_count(); ++brand) {
    if (partitions.contains(cluster_->PartitionOfBrand(brands_->brand_info(brand).id))) {
      brands.insert(brand);
    }
  }
  closer_->ForgetBrands(brands);
  rules_->ClearBrands(cluster_->BrandsOf(partitions));  // e.g. held inquiries: never fired here
  rules_->ClearPartialsPartitions(partitions);  // viral_post's held growth copies (no brand)
  std::string text;
  for (uint32_t partition : partitions) text += fmt::format("{}{}", text.empty() ? "" : ",", partition);
  Notice(fmt::format("cluster: merged state of partials partition(s) [{}] dropped: {} window(s) "
                     "of {} brand(s)",
                     text, windows, brands.size()));
  return Status::Ok();
}

// In Commit(), after ClusterEpoch (issue 11, docs/cluster.md "Inquiries across instances"): the
// inquiry events of the epochs merged since the last commit go to the rules that published
// them, which hold them and apply those the merged watermark passed, in event-time order
// (everything at the global end). Their observations become merged window counters under the
// previous merged watermark, as the batches' do in one process (none of these windows is final:
// each event is newer than that watermark, or was held until now).
//
// A partials partition replayed beside kept ones (docs/cluster.md, "Restore from local state"):
// its brands' events are released by its own watermark (CatchUpWatermark, what their windows
// close by) and their windows are final only through their own closed-through, as ClusterEpoch
// judges their deltas; the kept brands lose nothing by the lower bound, since every event of
// theirs before the merged watermark was released before the gain, and the merged watermark
// waits.
Status PipelineRun::ClusterInquiries(WindowDeltaMap& deltas, bool end_of_input) {
  std::vector<InquiryEvent> events = cluster_->TakeMergedInquiries();
  if (!rules_->WatchesBatches()) return Status::Ok();
  const int64_t previous = cluster_committed_watermark_.value_or(kNoWatermark);
  int64_t release_before = end_of_input ? INT64_MAX : cluster_->Watermark().value_or(INT64_MIN);
  if (!end_of_input) {
    if (std::optional<int64_t> behind = cluster_->CatchUpWatermark()) {
      release_before = std::min(release_before, *behind);
    }
  }
  if (end_of_input && !cluster_->owns_partials()) release_before = INT64_MIN;
  // The watermark an observation of this brand is judged by (its windows final through it).
  const bool replaying = closer_->replaying();
  auto final_through = [&](uint32_t brand_index) {
    return replaying ? std::min(previous, closer_->ClosedThrough(brand_index)) : previous;
  };
  // A brandless copy (viral_post's growth events) is judged by its partition's brands; one of a
  // partition without brands counts for nothing (a replay of it brings only old copies). What
  // the rule records an inquiry as opened under: the lowest of the brands' (for a kept brand's
  // event, newer than both, it changes nothing that is counted).
  std::map<uint32_t, int64_t> partition_through;
  int64_t lowest = previous;
  for (uint32_t brand = 0; replaying && brand < brands_->brand_count(); ++brand) {
    const int64_t through = final_through(brand);
    const uint32_t partition = cluster_->PartitionOfBrand(brands_->brand_info(brand).id);
    auto [entry, fresh] = partition_through.try_emplace(partition, through);
    if (!fresh) entry->second = std::min(entry->second, through);
    lowest = std::min(lowest, through);
  }
  for (const InquiryEvent& event : events) {
    int64_t through = previous;
    if (replaying) {
      if (std::optional<uint32_t> brand = brands_->FindBrand(event.brand_id)) {
        through = final_through(*brand);
      } else if (event.brand_id.empty()) {
        auto partition = partition_through.find(event.partials_partition);
        through = partition != partition_through.end() ? partition->second : INT64_MIN;
      }
    }
    if (event.event_time_ms < through) ++cluster_late_inquiry_events_;
  }
  const size_t first = inquiries_.size();
  RuleContext context{*brands_, lowest, fired_, end_of_input, &inquiries_};
  RETURN_IF_ERROR(rules_->OnInquiryEvents(events, release_before, context));
  const std::span<const InquiryObservation> observed = std::span(inquiries_).subspan(first);
  if (!replaying) {
    AddInquiryWindowDeltas(observed, closer_->layout(), spec_.allowed_lateness_ms, previous,
                           spec_.retention_ms, deltas);
    return Status::Ok();
  }
  for (size_t index = 0; index < observed.size(); ++index) {
    AddInquiryWindowDeltas(observed.subspan(index, 1), closer_->layout(),
                           spec_.allowed_lateness_ms, final_through(observed[index].brand_index),
                           spec_.retention_ms, deltas);
  }
  return Status::Ok();
}

// Between batches: the merge consumer's records, a reset after its assignment changed, and a
// commit of merged windows (or of a merged watermark that moved) when the input is quiet.
Status PipelineRun::ClusterPoll() {
  ClusterRuntime::MergeChange change;
  RETURN_IF_ERROR(cluster_->Poll(0, change));
  RETURN_IF_ERROR(ApplyMergeChange(change));
  if (const bool ready = cluster_->merge_restored(); ready != metrics_->ready()) {
    metrics_->SetReady(ready);  // /readyz: the merged state is restored
  }
  if (epoch_records_ == 0 && clock_.NowMs() - last_commit_ms_ >= spec_.commit_interval_ms &&
      (cluster_->has_merged() || cluster_->Watermark() != cluster_committed_watermark_ ||
       cluster_->snapshot_due())) {
    RETURN_IF_ERROR(Commit(false));
  }
  return Status::Ok();
}

// In Commit(): publishes this epoch's deltas (an abandoned epoch's partitions are read again
// from where it started) and replaces them with the windows merged since the last commit.
Status PipelineRun::ClusterEpoch(WindowDeltaMap& deltas, StateStore::Commit& commit) {
  if (!deltas.empty() || epoch_records_ > 0 || cluster_->EndChanged(positions_)) {
    ASSIGN_OR_RETURN(std::optional<PositionMap> back,
                     cluster_->PublishEpoch(deltas, *brands_, positions_,
                                            static_cast<uint64_t>(epoch_records_)));
    if (back) {
      for (const auto& [partition, position] : *back) {
        positions_[partition] = position;
        watermarks_.Forget(partition);
        RETURN_IF_ERROR(source_->Seek(partition, position));
      }
    }
  }
  deltas = cluster_->TakeMerged(*brands_);
  // The merge logs as of these windows, in their WriteBatch (restore from local state).
  cluster_->SnapshotMergeState(commit);
  // A delta for a window this merger already closed (input more disordered than the allowed
  // lateness) is late: left out, as a late post is in one process, and counted.
  if (cluster_committed_watermark_) {
    for (auto it = deltas.begin(); it != deltas.end();) {
      const int64_t size_ms = closer_->layout().shapes[it->first.shape_index].size_ms;
      // (a replayed brand's windows are final only as far as its own catch-up closed them)
      const int64_t final_through =
          closer_->replaying() ? std::min(*cluster_committed_watermark_,
                                          closer_->ClosedThrough(it->first.brand_index))
                               : *cluster_committed_watermark_;
      if (WindowCloseTime(it->first.start_ms, size_ms, spec_.allowed_lateness_ms) <=
          final_through) {
        ++cluster_late_deltas_;
        it = deltas.erase(it);
      } else {
        ++it;
      }
    }
  }
  return Status::Ok();
}

// The source is at its end (stop_at_end): the run ends once its last epoch is published and
// every partials partition it owns is read to its end and says every source partition is at its
// end; until then `end_of_input` is cleared and the loop goes on.
Status PipelineRun::ClusterEnd(bool& end_of_input) {
  if (epoch_records_ > 0 || cluster_->EndChanged(positions_)) RETURN_IF_ERROR(Commit(false));
  ClusterRuntime::MergeChange change;
  RETURN_IF_ERROR(cluster_->Poll(50, change));
  RETURN_IF_ERROR(ApplyMergeChange(change));
  if (const bool ready = cluster_->merge_restored(); ready != metrics_->ready()) {
    metrics_->SetReady(ready);  // /readyz: the merged state is restored
  }
  if (cluster_end_wait_started_ms_ == INT64_MIN) cluster_end_wait_started_ms_ = clock_.NowMs();
  // The merge group may not have assigned anything yet (joins take seconds): wait for it.
  const bool assigned = cluster_->owns_partials() || cluster_->assignment_seen() ||
                        clock_.NowMs() - cluster_end_wait_started_ms_ > 30000;
  ASSIGN_OR_RETURN(bool ready, cluster_->ReadyToClose());
  end_of_input = assigned && ready;
  if (end_of_input && !cluster_->owns_partials() && cluster_->holds_stored_state()) {
    // Never assigned a partials partition in this run: the merged state of the last one goes.
    cluster_->DiscardStored();
    RETURN_IF_ERROR(ResetMergedState());
  }
  if (end_of_input && cluster_->owns_partials()) {
    Notice("cluster: global end reached; closing every window");
  }
  return Status::Ok();
}

// ---- Issue 11: `dedup` across instances (operators/dedup.h, docs/cluster.md "De-duplication
// across instances") ----
// Where posts are read the transform publishes the posts it would decide on; the merger owning
// the brand decides (DedupMerger) and adds what counts to its merged windows.
Status PipelineRun::StartClusterDedup() {
  for (const auto& transform : spec_.transforms) {
    std::optional<DedupOptions> options = DedupOptionsOf(*transform);
    if (!options) continue;
    run_objects_.emplace(std::string(kDedupClusterMode), nullptr);
    dedup_merger_ = std::make_unique<DedupMerger>(*options, closer_->layout(),
                                                  spec_.allowed_lateness_ms);
    // The set the last merge commit wrote with the merged state (reset with it: ResetMergedState).
    return dedup_merger_->Load(*store_);
  }
  return Status::Ok();
}

// In Commit(), before ClusterEpoch: this epoch's post events go to the cluster (published with
// its partials), and those of the epochs merged since the last commit are decided, in the
// partials log's order, under the previous merged watermark (what the windows were closed by);
// what counts joins the merged windows (ClusterEpoch takes them with the applied epochs', under
// its lateness check), the set's changes this commit's WriteBatch.
Status PipelineRun::ClusterDedup(StateStore::Commit& commit) {
  cluster_->AddEpochPosts(TakeDedupPostEvents(run_objects_));
  if (!dedup_merger_) return Status::Ok();
  std::vector<PostEvent> events = cluster_->TakeMergedPosts();
  if (events.empty()) return Status::Ok();
  const DedupMerger::Stats before = dedup_merger_->stats();
  std::vector<PartialWindow> counted;
  // A brand being replayed beside kept ones (s24-restore) has closed its windows only through its
  // own catch-up: its edits and horizon are judged by that (as ClusterEpoch's lateness check).
  const int64_t merged = cluster_committed_watermark_.value_or(kNoWatermark);
  dedup_merger_->Apply(
      std::move(events),
      [&](const std::string& brand_id) {
        if (brand_id.empty() || !closer_->replaying()) return merged;
        std::optional<uint32_t> index = brands_->FindBrand(brand_id);
        return index ? std::min(merged, closer_->ClosedThrough(*index)) : merged;
      },
      counted);
  dedup_merger_->WriteChanges(commit);
  const DedupMerger::Stats& after = dedup_merger_->stats();
  summary_.duplicates_dropped += after.duplicates - before.duplicates;
  summary_.edits_applied += after.edits_applied - before.edits_applied;
  summary_.edits_late += after.edits_late - before.edits_late;
  cluster_->AddMergedWindows(std::move(counted));
  return Status::Ok();
}

}  // namespace

Result<RunSummary> RunPipeline(const PipelineSpec& spec, const RunOptions& options) {
  PipelineRun run(spec, options);
  return run.Run();
}

}  // namespace brandpulse
