#include "operators/dedup.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

#include "engine/hash.h"
#include "engine/state_store.h"
#include "engine/varint.h"
#include "engine/window_metric_registry.h"
#include "engine/window_types.h"
#include "operators/compiled_watchlist.h"
#include "operators/window_aggregate.h"

namespace brandpulse {

// ---- DedupTable -------------------------------------------------------------------------------

uint64_t DedupTable::BytesFor(uint64_t bytes) {
  uint64_t slots = 16;
  while (slots * 2 * sizeof(Entry) <= bytes) slots *= 2;
  return slots * sizeof(Entry);
}

DedupTable::DedupTable(uint64_t bytes) {
  const size_t slots = BytesFor(bytes) / sizeof(Entry);
  slots_.assign(slots, Entry{});
  mask_ = slots - 1;
}

std::optional<size_t> DedupTable::Find(uint64_t hash) const {
  for (size_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
    if (slots_[slot].hash == hash) return slot;
    if (slots_[slot].hash == 0) return std::nullopt;
  }
}

void DedupTable::Insert(uint64_t hash, int64_t event_ms) {
  size_t slot = hash & mask_;
  while (slots_[slot].hash != 0) slot = (slot + 1) & mask_;
  slots_[slot] = Entry{hash, event_ms};
  ++size_;
}

// Knuth's algorithm R: later entries of the probe run move back into the hole when their home
// slot does not lie strictly between the hole and them.
void DedupTable::EraseSlot(size_t hole) {
  size_t next = hole;
  for (;;) {
    next = (next + 1) & mask_;
    if (slots_[next].hash == 0) break;
    const size_t home = slots_[next].hash & mask_;
    const bool home_between = hole <= next ? (hole < home && home <= next)
                                           : (hole < home || home <= next);
    if (home_between) continue;
    slots_[hole] = slots_[next];
    hole = next;
  }
  slots_[hole] = Entry{};
  --size_;
}

int64_t DedupTable::EventTimeRank(size_t count) const {
  int64_t low = INT64_MAX;
  int64_t high = INT64_MIN;
  for (const Entry& entry : slots_) {
    if (entry.hash == 0) continue;
    low = std::min(low, entry.event_ms);
    high = std::max(high, entry.event_ms);
  }
  // Binary search over time for the smallest t with count(event_ms <= t) >= count.
  while (low < high) {
    const int64_t middle = low + static_cast<int64_t>((static_cast<uint64_t>(high) -
                                                       static_cast<uint64_t>(low)) / 2);
    size_t at_or_before = 0;
    for (const Entry& entry : slots_) at_or_before += entry.hash != 0 && entry.event_ms <= middle;
    if (at_or_before >= count) {
      high = middle;
    } else {
      low = middle + 1;
    }
  }
  return low;
}

namespace {

constexpr std::string_view kRunObjectKey = "dedup";
constexpr uint8_t kContributionVersion = 1;
constexpr size_t kTurnFlags = 1024;  // > batches in flight (2 per worker + 2, at most 256 workers)

// The set a run keeps, shared by every worker's transform and by the transforms built again
// after a watchlist reload.
struct DedupSet {
  explicit DedupSet(uint64_t bytes) : table(bytes) {}

  std::mutex mutex;
  std::condition_variable turn_changed;
  // Batches pass in sequence order: next_sequence is the first that has not passed; passed[]
  // flags later ones that had nothing to decide and went on without waiting.
  uint64_t next_sequence = 0;  // GUARDED_BY(mutex)
  std::array<bool, kTurnFlags> passed{};

  DedupTable table;  // GUARDED_BY(mutex)
  // The epoch's changes, in order, for the commit: puts of counted versions, deletes of
  // evicted ids, range deletions of expired ones.
  struct Op {
    enum class Kind : uint8_t { kPut, kDelete, kDeleteBefore };
    Kind kind = Kind::kPut;
    int64_t event_ms = 0;
    uint64_t hash = 0;
    uint32_t offset = 0;  // kPut: the value in `values`
    uint32_t length = 0;
  };
  std::vector<Op> ops;  // GUARDED_BY(mutex)
  std::string values;   // GUARDED_BY(mutex)
  int64_t swept_before = INT64_MIN;  // entries older than this are out of the table
  // Cluster mode (kDedupClusterMode): the posts left to the brands' mergers, in batch order.
  std::vector<PostEvent> published;  // GUARDED_BY(mutex)
};

// Cluster mode: a post's windows are computed at once (no window is late where posts are read).
const std::atomic<int64_t> kNoWatermarkHere{INT64_MIN};

// Store keys sort by event time, so expiry is one range deletion.
using StoreKey = std::array<char, 16>;
StoreKey MakeStoreKey(int64_t event_ms, uint64_t hash) {
  StoreKey key;
  const uint64_t time = static_cast<uint64_t>(event_ms) ^ (uint64_t{1} << 63);
  for (int i = 0; i < 8; ++i) key[i] = static_cast<char>(time >> (56 - 8 * i));
  for (int i = 0; i < 8; ++i) key[8 + i] = static_cast<char>(hash >> (56 - 8 * i));
  return key;
}
std::string_view View(const StoreKey& key) { return std::string_view(key.data(), key.size()); }
bool ParseStoreKey(std::string_view bytes, int64_t& event_ms, uint64_t& hash) {
  if (bytes.size() != 16) return false;
  uint64_t time = 0;
  hash = 0;
  for (int i = 0; i < 8; ++i) time = (time << 8) | static_cast<uint8_t>(bytes[i]);
  for (int i = 0; i < 8; ++i) hash = (hash << 8) | static_cast<uint8_t>(bytes[8 + i]);
  event_ms = static_cast<int64_t>(time ^ (uint64_t{1} << 63));
  return true;
}

// Every version of a post has one key: its platform and the first version's id.
uint64_t KeyHash(const Post& post) {
  const std::string_view id = post.edit_of.empty() ? post.id : post.edit_of;
  const uint64_t hash = HashBytes(id, 0x6465647570000000ULL ^ static_cast<uint64_t>(post.platform));
  return hash == 0 ? 1 : hash;
}

bool TextAsks(std::string_view text) {  // as window aggregation counts questions
  return text.find('?') != std::string_view::npos ||
         text.find("\xC2\xBF") != std::string_view::npos;
}


struct DedupWorker final : public TransformState {
  std::vector<uint8_t> drop;  // by post index: its mentions leave the batch
  std::string read_buffer;    // an earlier version read from the store
  // Cluster mode: one post and one brand's mentions of it, its window deltas, the batch's events.
  Batch one;
  std::unique_ptr<TransformState> window_state;
  WindowDeltaMap deltas;
  std::vector<PostEvent> events;
};

class Dedup final : public Transform {
 public:
  Dedup(DedupOptions options, std::shared_ptr<DedupSet> set, const TransformBuildContext& context)
      : options_(options),
        set_(std::move(set)),
        watchlist_(context.watchlist),
        watermark_(context.watermark),
        store_(context.store),
        layout_(*context.layout),
        allowed_lateness_ms_(context.windows != nullptr ? context.windows->allowed_lateness_ms : 0),
        counters_(WindowCounters()),
        publish_(context.run_objects != nullptr && context.run_objects->contains(kDedupClusterMode)) {
    if (publish_ && context.windows != nullptr) {
      // The same aggregation as the pipeline's `window` transform (builtin_operators.cc), so a
      // post counted at its merger adds exactly what it would add here.
      WindowAggregate::Options options;
      options.layout = layout_;
      options.allowed_lateness_ms = context.windows->allowed_lateness_ms;
      options.term_capacity = TermCapacityFor(context.windows->top_k);
      options.co_terms = context.windows->co_terms;
      if (!options.layout.shape_of_window.empty()) {
        options.term_shape = options.layout.shape_of_window[context.windows->top_k_window];
      }
      window_ = std::make_unique<WindowAggregate>(std::move(options), &kNoWatermarkHere);
    }
    // The dimensions windows are cut by, other than author (own posts are kept apart by flag).
    for (const WindowShape& shape : layout_.shapes) {
      for (Dimension dimension : shape.dimensions) {
        if (dimension == Dimension::kAuthor) continue;
        const DimensionDefinition* definition = &DimensionOf(dimension);
        if (std::find(dimensions_.begin(), dimensions_.end(), definition) == dimensions_.end()) {
          dimensions_.push_back(definition);
        }
      }
    }
  }

  std::string_view name() const override { return "dedup"; }

  Result<std::unique_ptr<TransformState>> MakeState() const override {
    auto worker = std::make_unique<DedupWorker>();
    if (window_) {
      ASSIGN_OR_RETURN(worker->window_state, window_->MakeState());
    }
    return std::unique_ptr<TransformState>(std::move(worker));
  }

  Status Process(Batch& batch, TransformState& state) const override;
  Status HandOver(TransformState& state, EpochHandOver& epoch) const override;
  // An edit's earlier version is read from the store (Earlier()).
  bool ReadsCommittedState() const override { return store_ != nullptr && !publish_; }

 private:
  int64_t Cutoff(int64_t watermark) const {
    if (watermark == INT64_MIN || watermark < INT64_MIN + options_.horizon_ms) return INT64_MIN;
    return watermark - options_.horizon_ms;
  }
  // True when every window that holds `event_ms` has closed at `watermark`.
  bool AllWindowsClosed(int64_t event_ms, int64_t watermark) const {
    for (const WindowShape& shape : layout_.shapes) {
      const int64_t step = shape.slide_ms > 0 ? shape.slide_ms : shape.size_ms;
      const int64_t last_start = WindowStart(event_ms, step);
      // The newest window holding the post closes last.
      if (WindowCloseTime(last_start, shape.size_ms, allowed_lateness_ms_) > watermark) return false;
    }
    return true;
  }
  // Waits until `batch` may decide (the batches before it have); false after a long wait (a
  // batch before it never came: a worker failed).
  bool AwaitTurn(const Batch& batch, std::unique_lock<std::mutex>& lock) const;
  void PassTurn(const Batch& batch) const;
  void Encode(const Batch& batch, const Post& post, size_t first_mention, size_t end_mention,
              int64_t event_ms) const;
  void Put(int64_t event_ms, uint64_t hash, size_t value_offset) const;
  std::optional<std::string_view> Earlier(int64_t event_ms, uint64_t hash, DedupWorker& worker,
                                          Status& error) const;
  void Retract(Batch& batch, std::string_view value, int64_t event_ms) const;
  void MakeRoom(Batch& batch, int64_t cutoff) const;
  // Cluster mode: the batch's posts that would enter the set become PostEvents.
  Status Publish(Batch& batch, DedupWorker& worker) const;

  DedupOptions options_;
  std::shared_ptr<DedupSet> set_;
  std::shared_ptr<const CompiledWatchlist> watchlist_;
  const std::atomic<int64_t>* watermark_;
  StateStore* store_;
  WindowLayout layout_;
  int64_t allowed_lateness_ms_;
  std::vector<const WindowMetricDefinition*> counters_;
  std::vector<const DimensionDefinition*> dimensions_;
  bool publish_ = false;
  std::unique_ptr<WindowAggregate> window_;
};

bool Dedup::AwaitTurn(const Batch& batch, std::unique_lock<std::mutex>& lock) const {
  DedupSet& set = *set_;
  // Sequences at or below one that passed (a chain driven outside the runner, where every batch
  // is sequence 0) decide at once.
  for (int waited = 0; batch.sequence > set.next_sequence; ++waited) {
    if (waited == 600) return false;
    set.turn_changed.wait_for(lock, std::chrono::milliseconds(200));
  }
  return true;
}

void Dedup::PassTurn(const Batch& batch) const {
  DedupSet& set = *set_;
  if (batch.sequence < set.next_sequence) return;
  if (batch.sequence > set.next_sequence) {  // nothing to decide: go on, flag it
    set.passed[batch.sequence % kTurnFlags] = true;
    return;
  }
  ++set.next_sequence;
  while (set.passed[set.next_sequence % kTurnFlags]) {
    set.passed[set.next_sequence % kTurnFlags] = false;
    ++set.next_sequence;
  }
  set.turn_changed.notify_all();
}

// Value: version byte, text hash (8 bytes), zigzag varint followers, flags (1 reply, 2 asks),
// varint brand count, then per brand: varint id length, id, own byte, varint dimension count,
// (dimension byte, varint payload)..., varint counter count, (varint id, varint value)...
void Dedup::Encode(const Batch& batch, const Post& post, size_t first_mention, size_t end_mention,
                   int64_t event_ms) const {
  std::string& out = set_->values;
  out.push_back(static_cast<char>(kContributionVersion));
  const uint64_t text_hash = HashBytes(post.text);
  char bytes[8];
  std::memcpy(bytes, &text_hash, 8);
  out.append(bytes, 8);
  AppendVarint(out, ZigZag(post.author_followers));
  const bool reply = !post.reply_to_post_id.empty() || !post.reply_to_handle.empty();
  out.push_back(static_cast<char>((reply ? 1 : 0) | (TextAsks(post.text) ? 2 : 0)));
  AppendVarint(out, end_mention - first_mention);
  for (size_t index = first_mention; index < end_mention; ++index) {
    const Mention& mention = batch.mentions[index];
    const std::string& id = watchlist_->brand(mention.brand_index).id;
    AppendVarint(out, id.size());
    out.append(id);
    out.push_back(static_cast<char>(mention.own_post ? 1 : 0));
    uint64_t payloads[16];
    uint8_t ids[16];
    size_t count = 0;
    for (const DimensionDefinition* dimension : dimensions_) {
      uint64_t payload = 0;
      if (count < 16 && dimension->value_of(post, mention, payload)) {
        ids[count] = static_cast<uint8_t>(dimension->id);
        payloads[count++] = payload;
      }
    }
    AppendVarint(out, count);
    for (size_t i = 0; i < count; ++i) {
      out.push_back(static_cast<char>(ids[i]));
      AppendVarint(out, payloads[i]);
    }
    const size_t counter_count_at = out.size();
    out.push_back('\0');  // patched below (fewer than 128 counters)
    uint8_t counters = 0;
    for (const WindowMetricDefinition* counter : counters_) {
      if (uint64_t value = counter->count(post, mention); value != 0 && counters < 127) {
        AppendVarint(out, counter->counter_id);
        AppendVarint(out, value);
        ++counters;
      }
    }
    out[counter_count_at] = static_cast<char>(counters);
  }
  (void)event_ms;
}

void Dedup::Put(int64_t event_ms, uint64_t hash, size_t value_offset) const {
  DedupSet& set = *set_;
  set.ops.push_back(DedupSet::Op{DedupSet::Op::Kind::kPut, event_ms, hash,
                                 static_cast<uint32_t>(value_offset),
                                 static_cast<uint32_t>(set.values.size() - value_offset)});
}

// The counted version of (event_ms, hash): this epoch's latest change of it, else the store.
std::optional<std::string_view> Dedup::Earlier(int64_t event_ms, uint64_t hash,
                                               DedupWorker& worker, Status& error) const {
  const DedupSet& set = *set_;
  for (size_t index = set.ops.size(); index-- > 0;) {
    const DedupSet::Op& op = set.ops[index];
    if (op.kind == DedupSet::Op::Kind::kDeleteBefore) {
      if (event_ms < op.event_ms) return std::nullopt;
      continue;
    }
    if (op.hash != hash || op.event_ms != event_ms) continue;
    if (op.kind == DedupSet::Op::Kind::kDelete) return std::nullopt;
    return std::string_view(set.values).substr(op.offset, op.length);
  }
  if (store_ == nullptr) return std::nullopt;
  Result<std::optional<std::string>> read =
      store_->ReadRuleState(kDedupStateOwner, View(MakeStoreKey(event_ms, hash)));
  if (!read.ok()) {
    error = read.status();
    return std::nullopt;
  }
  if (!read->has_value()) return std::nullopt;
  worker.read_buffer = std::move(**read);
  return std::string_view(worker.read_buffer);
}

// Adds the earlier version's contribution to batch.retractions (brands that left the watchlist
// have nothing left to take back).
void Dedup::Retract(Batch& batch, std::string_view value, int64_t event_ms) const {
  uint64_t number = 0;
  if (value.size() < 10 || static_cast<uint8_t>(value[0]) != kContributionVersion) return;
  value.remove_prefix(9);
  if (!ReadVarint(value, number) || value.empty()) return;
  const int64_t followers = UnZigZag(number);
  const uint8_t flags = static_cast<uint8_t>(value[0]);
  value.remove_prefix(1);
  uint64_t brands = 0;
  if (!ReadVarint(value, brands)) return;
  for (uint64_t brand = 0; brand < brands; ++brand) {
    uint64_t length = 0;
    if (!ReadVarint(value, length) || value.size() < length + 1) return;
    const std::string_view id = value.substr(0, length);
    value.remove_prefix(length);
    Retraction retraction;
    retraction.own_post = value[0] != 0;
    value.remove_prefix(1);
    retraction.reply = (flags & 1) != 0;
    retraction.question = (flags & 2) != 0;
    retraction.event_time_ms = event_ms;
    retraction.followers = followers;
    uint64_t count = 0;
    if (!ReadVarint(value, count) || count > 16) return;
    auto* dimensions = static_cast<RetractedDimension*>(batch.arena.AllocateAligned(
        sizeof(RetractedDimension) * (count + 1), alignof(RetractedDimension)));
    for (uint64_t i = 0; i < count; ++i) {
      if (value.empty()) return;
      dimensions[i].dimension = static_cast<uint8_t>(value[0]);
      value.remove_prefix(1);
      if (!ReadVarint(value, dimensions[i].payload)) return;
    }
    retraction.dimensions = dimensions;
    retraction.dimension_count = static_cast<uint32_t>(count);
    if (!ReadVarint(value, count) || count > 127) return;
    auto* counters = static_cast<RetractedCounter*>(batch.arena.AllocateAligned(
        sizeof(RetractedCounter) * (count + 1), alignof(RetractedCounter)));
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t counter_id = 0;
      if (!ReadVarint(value, counter_id) || !ReadVarint(value, counters[i].value)) return;
      counters[i].id = static_cast<uint32_t>(counter_id);
    }
    retraction.counters = counters;
    retraction.counter_count = static_cast<uint32_t>(count);
    if (std::optional<uint32_t> index = watchlist_->FindBrand(id)) {
      retraction.brand_index = *index;
      batch.retractions.push_back(retraction);
    }
  }
}

// The table is full: forget what is past the horizon, and if that is not enough, the oldest
// eighth of the ids by event time (all ids of the cut-off time go together).
void Dedup::MakeRoom(Batch& batch, int64_t cutoff) const {
  DedupSet& set = *set_;
  DedupTable& table = set.table;
  if (cutoff != INT64_MIN &&
      table.EraseIf([&](const DedupTable::Entry& entry) { return entry.event_ms < cutoff; },
                    [](const DedupTable::Entry&) {}) > 0) {
    set.ops.push_back(DedupSet::Op{DedupSet::Op::Kind::kDeleteBefore, cutoff, 0, 0, 0});
  }
  if (table.size() < table.limit()) return;
  const int64_t oldest = table.EventTimeRank(std::max<size_t>(1, table.limit() / 8));
  batch.dedup_evicted += static_cast<uint32_t>(table.EraseIf(
      [&](const DedupTable::Entry& entry) { return entry.event_ms <= oldest; },
      [&](const DedupTable::Entry& entry) {
        set.ops.push_back(DedupSet::Op{DedupSet::Op::Kind::kDelete, entry.event_ms, entry.hash, 0, 0});
      }));
}

Status Dedup::Process(Batch& batch, TransformState& state) const {
  auto& worker = static_cast<DedupWorker&>(state);
  DedupSet& set = *set_;
  bool work = !batch.mentions.empty();
  for (size_t index = 0; !work && index < batch.posts.size(); ++index) {
    work = !batch.posts[index].edit_of.empty();
  }
  if (work && publish_) return Publish(batch, worker);
  std::unique_lock lock(set.mutex);
  if (!work) {
    PassTurn(batch);
    return Status::Ok();
  }
  if (!AwaitTurn(batch, lock)) {
    return Status::Internal(fmt::format("batch {} waited too long for the batches before it",
                                        batch.sequence));
  }
  const int64_t watermark = watermark_->load(std::memory_order_acquire);
  const int64_t cutoff = Cutoff(watermark);
  DedupTable& table = set.table;
  worker.drop.assign(batch.posts.size(), 0);
  bool dropped_any = false;
  Status error;
  size_t mention = 0;  // mentions come grouped by post, in post order (the matcher emits them so)
  for (uint32_t post_index = 0; post_index < batch.posts.size(); ++post_index) {
    Post& post = batch.posts[post_index];
    const size_t first = mention;
    while (mention < batch.mentions.size() && batch.mentions[mention].post_index == post_index) {
      ++mention;
    }
    const bool mentioned = mention > first;
    const bool edit = !post.edit_of.empty();
    if ((!mentioned && !edit) || (post.id.empty() && post.edit_of.empty())) continue;
    const uint64_t hash = KeyHash(post);
    std::optional<size_t> slot = table.Find(hash);
    if (!slot || table.at(*slot).event_ms < cutoff) {
      // Not counted within the horizon: this version counts (if it mentions anything).
      if (!mentioned || post.event_time_ms < cutoff) continue;
      if (slot) {  // an expired entry of the same id, not swept yet
        set.ops.push_back(DedupSet::Op{DedupSet::Op::Kind::kDelete, table.at(*slot).event_ms, hash, 0, 0});
        table.at(*slot).event_ms = post.event_time_ms;
      } else {
        if (table.size() >= table.limit()) MakeRoom(batch, cutoff);
        table.Insert(hash, post.event_time_ms);
      }
      const size_t offset = set.values.size();
      Encode(batch, post, first, mention, post.event_time_ms);
      Put(post.event_time_ms, hash, offset);
      continue;
    }
    const int64_t counted_ms = table.at(*slot).event_ms;
    if (!edit) {
      worker.drop[post_index] = 1;
      dropped_any = true;
      if (mentioned) ++batch.duplicates_dropped;
      continue;
    }
    std::optional<std::string_view> earlier = Earlier(counted_ms, hash, worker, error);
    if (!error.ok()) break;
    uint64_t earlier_text = 0;
    if (earlier && earlier->size() >= 9) std::memcpy(&earlier_text, earlier->data() + 1, 8);
    if (!earlier || earlier_text == HashBytes(post.text)) {  // a replay of the counted version
      worker.drop[post_index] = 1;
      dropped_any = true;
      if (mentioned) ++batch.duplicates_dropped;
      continue;
    }
    if (AllWindowsClosed(counted_ms, watermark)) {
      worker.drop[post_index] = 1;
      dropped_any = true;
      batch.late_post_indices.push_back(post_index);
      ++batch.edits_late;
      continue;
    }
    // Replaces the counted version where it was counted.
    Retract(batch, *earlier, counted_ms);
    post.event_time_ms = counted_ms;
    const size_t offset = set.values.size();
    Encode(batch, post, first, mention, counted_ms);
    Put(counted_ms, hash, offset);
    ++batch.edits_applied;
  }
  PassTurn(batch);
  lock.unlock();
  if (!error.ok()) return error;
  if (dropped_any) {
    std::erase_if(batch.mentions,
                  [&](const Mention& item) { return worker.drop[item.post_index] != 0; });
  }
  return Status::Ok();
}

Status Dedup::Publish(Batch& batch, DedupWorker& worker) const {
  if (!window_) return Status::Internal("dedup in cluster mode without the window settings");
  worker.events.clear();
  size_t mention = 0;
  for (uint32_t post_index = 0; post_index < batch.posts.size(); ++post_index) {
    const Post& post = batch.posts[post_index];
    const size_t first = mention;
    while (mention < batch.mentions.size() && batch.mentions[mention].post_index == post_index) {
      ++mention;
    }
    // Only posts that mention a brand enter the set (an edit that mentions none retracts
    // nothing across instances: docs/cluster.md).
    if (mention == first || (post.id.empty() && post.edit_of.empty())) continue;
    const uint64_t hash = KeyHash(post);
    const uint64_t text_hash = HashBytes(post.text);
    for (size_t index = first; index < mention; ++index) {
      const uint32_t brand = batch.mentions[index].brand_index;
      bool done = false;
      for (size_t before = first; before < index && !done; ++before) {
        done = batch.mentions[before].brand_index == brand;
      }
      if (done) continue;
      Batch& one = worker.one;
      one.Reset();
      one.posts.push_back(post);
      for (size_t of_brand = index; of_brand < mention; ++of_brand) {
        if (batch.mentions[of_brand].brand_index != brand) continue;
        Mention copy = batch.mentions[of_brand];
        copy.post_index = 0;
        copy.per_post = false;
        one.mentions.push_back(copy);
      }
      RETURN_IF_ERROR(window_->Process(one, *worker.window_state));
      worker.deltas.clear();
      EpochHandOver handed{&worker.deltas, nullptr};
      RETURN_IF_ERROR(window_->HandOver(*worker.window_state, handed));
      PostEvent& event = worker.events.emplace_back();
      event.brand_id = watchlist_->brand(brand).id;
      event.key_hash = hash;
      event.event_time_ms = post.event_time_ms;
      event.text_hash = text_hash;
      event.edit = !post.edit_of.empty();
      for (auto& [key, metrics] : worker.deltas) {
        event.windows.push_back(
            PartialWindow{std::string(), key.shape_index, key.dimension, key.start_ms, std::move(metrics)});
      }
      std::sort(event.windows.begin(), event.windows.end(),
                [](const PartialWindow& a, const PartialWindow& b) {
                  return std::tie(a.shape_index, a.dimension, a.start_ms) <
                         std::tie(b.shape_index, b.dimension, b.start_ms);
                });
    }
    for (size_t index = first; index < mention; ++index) batch.mentions[index].per_post = true;
  }
  // In batch order, so an edit read after its first version stays after it.
  DedupSet& set = *set_;
  std::unique_lock lock(set.mutex);
  if (!AwaitTurn(batch, lock)) {
    return Status::Internal(fmt::format("batch {} waited too long for the batches before it",
                                        batch.sequence));
  }
  for (PostEvent& event : worker.events) set.published.push_back(std::move(event));
  worker.events.clear();
  PassTurn(batch);
  return Status::Ok();
}

Status Dedup::HandOver(TransformState&, EpochHandOver& epoch) const {
  DedupSet& set = *set_;
  if (publish_) return Status::Ok();  // nothing decided here: the mergers keep the set
  std::lock_guard lock(set.mutex);
  // Expiry: at most 16 sweeps per horizon (a sweep walks the whole table). Lookups ignore
  // expired entries anyway, so when a sweep runs changes nothing but memory.
  const int64_t cutoff = Cutoff(watermark_->load(std::memory_order_acquire));
  if (cutoff != INT64_MIN && cutoff > set.swept_before &&
      (set.swept_before == INT64_MIN || cutoff - set.swept_before >= options_.horizon_ms / 16)) {
    set.table.EraseIf([&](const DedupTable::Entry& entry) { return entry.event_ms < cutoff; },
                      [](const DedupTable::Entry&) {});
    set.ops.push_back(DedupSet::Op{DedupSet::Op::Kind::kDeleteBefore, cutoff, 0, 0, 0});
    set.swept_before = cutoff;
  }
  if (epoch.commit != nullptr) {
    StateStore::Commit& commit = *epoch.commit;
    for (const DedupSet::Op& op : set.ops) {
      switch (op.kind) {
        case DedupSet::Op::Kind::kPut:
          commit.PutRuleState(kDedupStateOwner, View(MakeStoreKey(op.event_ms, op.hash)),
                              std::string_view(set.values).substr(op.offset, op.length));
          break;
        case DedupSet::Op::Kind::kDelete:
          commit.DeleteRuleState(kDedupStateOwner, View(MakeStoreKey(op.event_ms, op.hash)));
          break;
        case DedupSet::Op::Kind::kDeleteBefore:
          commit.DeleteRuleStateRange(kDedupStateOwner, View(MakeStoreKey(INT64_MIN, 0)),
                                      View(MakeStoreKey(op.event_ms, 0)));
          break;
      }
    }
  }
  set.ops.clear();
  set.values.clear();
  return Status::Ok();
}

// Reads the committed set back (a start or a restart after a crash): ids past the horizon stay
// out; a set bigger than the table (memory_mb lowered) keeps its newest ids.
Status LoadSet(DedupSet& set, StateStore& store, int64_t cutoff) {
  Status bad_key;
  RETURN_IF_ERROR(store.ScanRuleState(kDedupStateOwner, [&](std::string_view key, std::string_view) {
    int64_t event_ms = 0;
    uint64_t hash = 0;
    if (!ParseStoreKey(key, event_ms, hash) || hash == 0) {
      if (bad_key.ok()) bad_key = Status::Corruption("malformed de-duplication key");
      return;
    }
    if (event_ms < cutoff) return;
    DedupTable& table = set.table;
    if (table.size() >= table.limit()) {
      const int64_t oldest = table.EventTimeRank(std::max<size_t>(1, table.limit() / 8));
      table.EraseIf([&](const DedupTable::Entry& entry) { return entry.event_ms <= oldest; },
                    [&](const DedupTable::Entry& entry) {
                      set.ops.push_back(DedupSet::Op{DedupSet::Op::Kind::kDelete, entry.event_ms,
                                                     entry.hash, 0, 0});
                    });
    }
    if (!table.Find(hash)) table.Insert(hash, event_ms);
  }));
  return bad_key;
}

}  // namespace

Result<std::unique_ptr<Transform>> MakeDedup(const DedupOptions& options,
                                             const TransformBuildContext& context) {
  if (context.watchlist == nullptr || context.layout == nullptr || context.watermark == nullptr) {
    return Status::InvalidArgument("dedup needs the watchlist, the windows and the watermark");
  }
  std::shared_ptr<DedupSet> set;
  if (context.run_objects != nullptr) {
    auto found = context.run_objects->find(kRunObjectKey);
    if (found != context.run_objects->end()) set = std::static_pointer_cast<DedupSet>(found->second);
  }
  const bool publish =
      context.run_objects != nullptr && context.run_objects->contains(kDedupClusterMode);
  if (set == nullptr) {
    set = std::make_shared<DedupSet>(publish ? 0 : options.memory_bytes);
    if (context.store != nullptr && !publish) {
      const int64_t watermark = context.watermark->load();
      const int64_t cutoff = watermark == INT64_MIN || watermark < INT64_MIN + options.horizon_ms
                                 ? INT64_MIN
                                 : watermark - options.horizon_ms;
      RETURN_IF_ERROR(LoadSet(*set, *context.store, cutoff));
    }
    if (context.run_objects != nullptr) {
      context.run_objects->emplace(std::string(kRunObjectKey), set);
    }
  }
  return std::unique_ptr<Transform>(std::make_unique<Dedup>(options, std::move(set), context));
}

namespace {

class DedupSpec final : public TransformSpec {
 public:
  explicit DedupSpec(DedupOptions options) : options_(options) {}
  std::string_view type() const override { return "dedup"; }
  // Brand indexes key the retractions it makes: built again with the watchlist (the set
  // itself survives in the run's objects).
  bool uses_watchlist() const override { return true; }
  std::vector<std::string_view> needs_before() const override { return {"match"}; }
  Result<std::unique_ptr<Transform>> Make(const TransformBuildContext& context) const override {
    return MakeDedup(options_, context);
  }
  uint64_t memory_bytes() const override { return DedupTable::BytesFor(options_.memory_bytes); }
  const DedupOptions& options() const { return options_; }

 private:
  DedupOptions options_;
};

}  // namespace

Result<std::unique_ptr<TransformSpec>> ReadDedup(YamlMap& section, const ConfigContext& context) {
  DedupOptions options;
  if (auto horizon = section.DurationMs("horizon")) {
    int64_t largest = 0;
    std::string largest_name;
    for (const WindowSpec& window : context.windows) {
      if (window.size_ms > largest) {
        largest = window.size_ms;
        largest_name = window.name;
      }
    }
    if (*horizon <= 0) {
      section.diagnostics().Add(section.LocationOf("horizon"), "horizon must be more than 0",
                                "e.g. horizon: 48h");
    } else if (*horizon < largest) {
      section.diagnostics().Add(
          section.LocationOf("horizon"),
          fmt::format("horizon {}ms is shorter than window '{}' ({}ms): a replay after the horizon "
                      "would be counted again in a window that is still open",
                      *horizon, largest_name, largest),
          "make the horizon at least the largest window plus time.allowed_lateness, e.g. 48h");
    } else {
      options.horizon_ms = *horizon;
    }
  }
  if (auto megabytes = section.Integer("memory_mb", 1, 65536)) {
    options.memory_bytes = static_cast<uint64_t>(*megabytes) << 20;
  }
  RETURN_IF_ERROR(section.Finish());
  return std::unique_ptr<TransformSpec>(std::make_unique<DedupSpec>(options));
}

std::optional<DedupOptions> DedupOptionsOf(const TransformSpec& spec) {
  const auto* dedup = dynamic_cast<const DedupSpec*>(&spec);
  if (dedup == nullptr) return std::nullopt;
  return dedup->options();
}

std::vector<PostEvent> TakeDedupPostEvents(
    std::map<std::string, std::shared_ptr<void>, std::less<>>& run_objects) {
  auto found = run_objects.find(kRunObjectKey);
  if (found == run_objects.end() || found->second == nullptr) return {};
  DedupSet& set = *std::static_pointer_cast<DedupSet>(found->second);
  std::lock_guard lock(set.mutex);
  std::vector<PostEvent> events = std::move(set.published);
  set.published.clear();
  return events;
}

// ---- DedupMerger (issue 11) -------------------------------------------------------------------

namespace {

// About what an entry holds in memory (key, entry, a handful of windows); memory_mb bounds the
// number of entries with it.
constexpr uint64_t kMergerEntryBytes = 512;

std::string MergerStoreKey(const std::string& brand_id, uint64_t hash) {
  std::string key = brand_id;
  key.push_back('\x1f');
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(hash >> shift));
  return key;
}

// The entry's windows as a prepared record's post event carries them (partials_codec.h).
void EncodeMergerValue(int64_t event_ms, uint64_t text_hash,
                       const std::vector<PartialWindow>& windows, std::string& out) {
  AppendVarint(out, ZigZag(event_ms));
  AppendU64(out, text_hash);
  AppendPostWindows(windows, out);
}

bool DecodeMergerValue(std::string_view in, int64_t& event_ms, uint64_t& text_hash,
                       std::vector<PartialWindow>& windows) {
  uint64_t number = 0;
  if (!ReadVarint(in, number) || !ReadU64(in, text_hash)) return false;
  event_ms = UnZigZag(number);
  return ReadPostWindows(in, windows) && in.empty();
}

// What WindowAggregate::Retract takes back of a counted version: mentions, reach, replies,
// questions and counters (unique authors and term summaries cannot be taken back).
WindowMetrics Negated(const WindowMetrics& metrics) {
  WindowMetrics negated;
  negated.mentions = 0 - metrics.mentions;
  negated.reach = 0 - metrics.reach;
  negated.replies = 0 - metrics.replies;
  negated.questions = 0 - metrics.questions;
  for (const WindowCounter& counter : metrics.counters) negated.AddCounter(counter.id, 0 - counter.value);
  return negated;
}

}  // namespace

DedupMerger::DedupMerger(DedupOptions options, WindowLayout layout, int64_t allowed_lateness_ms)
    : options_(options),
      layout_(std::move(layout)),
      allowed_lateness_ms_(allowed_lateness_ms),
      limit_(std::max<uint64_t>(16, options.memory_bytes / kMergerEntryBytes)) {}

int64_t DedupMerger::Cutoff(int64_t watermark) const {
  if (watermark == INT64_MIN || watermark < INT64_MIN + options_.horizon_ms) return INT64_MIN;
  return watermark - options_.horizon_ms;
}

bool DedupMerger::AllWindowsClosed(int64_t event_ms, int64_t watermark) const {
  for (const WindowShape& shape : layout_.shapes) {
    const int64_t step = shape.slide_ms > 0 ? shape.slide_ms : shape.size_ms;
    if (WindowCloseTime(WindowStart(event_ms, step), shape.size_ms, allowed_lateness_ms_) > watermark) {
      return false;
    }
  }
  return true;
}

void DedupMerger::Erase(std::map<Key, Entry>::iterator entry) {
  changed_[entry->first] = false;
  entries_.erase(entry);
}

// Full: the oldest eighth of the entries by event time goes (all of the cut-off time together,
// as the single-process table evicts).
void DedupMerger::MakeRoom() {
  std::vector<int64_t> times;
  times.reserve(entries_.size());
  for (const auto& [key, entry] : entries_) times.push_back(entry.event_ms);
  const size_t count = std::max<size_t>(1, limit_ / 8);
  std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(count - 1), times.end());
  const int64_t oldest = times[count - 1];
  for (auto entry = entries_.begin(); entry != entries_.end();) {
    if (entry->second.event_ms <= oldest) {
      ++stats_.evicted;
      Erase(entry++);
    } else {
      ++entry;
    }
  }
}

void DedupMerger::Apply(std::vector<PostEvent> events, const WatermarkOf& watermark_of,
                        std::vector<PartialWindow>& counted) {
  // Expiry, at most 16 sweeps per horizon (lookups ignore expired entries anyway), each entry by
  // its brand's watermark.
  const int64_t sweep = Cutoff(watermark_of(std::string()));
  if (sweep != INT64_MIN && sweep > swept_before_ &&
      (swept_before_ == INT64_MIN || sweep - swept_before_ >= options_.horizon_ms / 16)) {
    std::string brand;
    int64_t brand_cutoff = INT64_MIN;
    for (auto entry = entries_.begin(); entry != entries_.end();) {
      if (entry->first.first != brand || entry == entries_.begin()) {
        brand = entry->first.first;
        brand_cutoff = Cutoff(watermark_of(brand));
      }
      if (entry->second.event_ms < brand_cutoff) {
        Erase(entry++);
      } else {
        ++entry;
      }
    }
    swept_before_ = sweep;
  }
  auto count = [&](const std::string& brand_id, const std::vector<PartialWindow>& windows) {
    for (const PartialWindow& window : windows) {
      PartialWindow& out = counted.emplace_back(window);
      out.brand_id = brand_id;
    }
  };
  for (PostEvent& event : events) {
    ++stats_.events;
    const int64_t watermark = watermark_of(event.brand_id);
    const int64_t cutoff = Cutoff(watermark);
    Key key{event.brand_id, event.key_hash};
    auto found = entries_.find(key);
    if (found == entries_.end() || found->second.event_ms < cutoff) {
      // Not counted within the horizon: this version counts.
      ++stats_.counted;
      count(event.brand_id, event.windows);
      if (event.event_time_ms < cutoff) continue;  // too old to be remembered (as in one process)
      if (found == entries_.end()) {
        if (entries_.size() >= limit_) MakeRoom();
        found = entries_.try_emplace(key).first;
      }
      found->second = Entry{event.event_time_ms, event.text_hash, std::move(event.windows)};
      changed_[key] = true;
      continue;
    }
    Entry& entry = found->second;
    if (!event.edit || event.text_hash == entry.text_hash) {
      ++stats_.duplicates;  // a copy, or a replay of the counted version
      continue;
    }
    if (AllWindowsClosed(entry.event_ms, watermark)) {
      ++stats_.edits_late;
      continue;
    }
    // The edit replaces the counted version, at the counted version's event time: its windows
    // move from the edit's time to that one (a post's windows per shape are consecutive).
    for (const PartialWindow& window : entry.windows) {
      PartialWindow& out = counted.emplace_back();
      out.brand_id = event.brand_id;
      out.shape_index = window.shape_index;
      out.dimension = window.dimension;
      out.start_ms = window.start_ms;
      out.metrics = Negated(window.metrics);
    }
    for (PartialWindow& window : event.windows) {
      const WindowShape& shape = layout_.shapes[window.shape_index];
      const int64_t step = shape.slide_ms > 0 ? shape.slide_ms : shape.size_ms;
      window.start_ms += WindowStart(entry.event_ms, step) - WindowStart(event.event_time_ms, step);
    }
    count(event.brand_id, event.windows);
    entry.text_hash = event.text_hash;
    entry.windows = std::move(event.windows);
    changed_[key] = true;
    ++stats_.edits_applied;
  }
}

void DedupMerger::WriteChanges(StateStore::Commit& commit) {
  std::string value;
  for (const auto& [key, put] : changed_) {
    const std::string store_key = MergerStoreKey(key.first, key.second);
    auto entry = entries_.find(key);
    if (!put || entry == entries_.end()) {
      commit.DeleteRuleState(kDedupMergeOwner, store_key);
      continue;
    }
    value.clear();
    EncodeMergerValue(entry->second.event_ms, entry->second.text_hash, entry->second.windows, value);
    commit.PutRuleState(kDedupMergeOwner, store_key, value);
  }
  changed_.clear();
}

// Keys: brand id, 0x1f, key hash (8 bytes BE).
std::optional<std::string_view> DedupMerger::BrandOfStateKey(std::string_view key) {
  if (key.size() < 9 || key[key.size() - 9] != '\x1f') return std::nullopt;
  return key.substr(0, key.size() - 9);
}

bool DedupMerger::ReadEntry(std::string_view key, std::string_view value) {
  std::optional<std::string_view> brand = BrandOfStateKey(key);
  Entry entry;
  if (!brand || !DecodeMergerValue(value, entry.event_ms, entry.text_hash, entry.windows)) {
    return false;
  }
  uint64_t hash = 0;
  for (size_t index = brand->size() + 1; index < key.size(); ++index) {
    hash = (hash << 8) | static_cast<uint8_t>(key[index]);
  }
  entries_[Key{std::string(*brand), hash}] = std::move(entry);
  return true;
}

Status DedupMerger::Load(StateStore& store) {
  entries_.clear();
  changed_.clear();
  Status bad;
  RETURN_IF_ERROR(store.ScanRuleState(kDedupMergeOwner, [&](std::string_view key, std::string_view value) {
    if (!ReadEntry(key, value) && bad.ok()) {
      bad = Status::Corruption("malformed de-duplication merge entry");
    }
  }));
  return bad;
}

Status DedupMerger::LoadEntries(std::span<const std::pair<std::string, std::string>> entries,
                                StateStore::Commit& write) {
  for (const auto& [key, value] : entries) {
    if (!ReadEntry(key, value)) return Status::Corruption("malformed de-duplication merge entry");
    write.PutRuleState(kDedupMergeOwner, key, value);
  }
  return Status::Ok();
}

void DedupMerger::Clear() {
  entries_.clear();
  changed_.clear();
  swept_before_ = INT64_MIN;
}

void DedupMerger::DropBrands(const std::vector<std::string>& brand_ids, StateStore::Commit& commit) {
  for (const std::string& brand : brand_ids) {
    for (auto entry = entries_.lower_bound(Key{brand, 0});
         entry != entries_.end() && entry->first.first == brand;) {
      commit.DeleteRuleState(kDedupMergeOwner, MergerStoreKey(brand, entry->first.second));
      changed_.erase(entry->first);
      entry = entries_.erase(entry);
    }
  }
}

}  // namespace brandpulse
