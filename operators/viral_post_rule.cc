#include "operators/viral_post_rule.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "engine/hash.h"
#include "engine/json_writer.h"
#include "engine/log.h"
#include "engine/social_entities.h"
#include "engine/varint.h"
#include "operators/public_metrics.h"

namespace brandpulse {
namespace {

void PutString(std::string& out, std::string_view text) {
  AppendVarint(out, text.size());
  out.append(text);
}

bool TakeString(std::string_view& in, std::string& text) {
  uint64_t size = 0;
  if (!ReadVarint(in, size) || size > in.size()) return false;
  text.assign(in.substr(0, size));
  in.remove_prefix(size);
  return true;
}

// The payload's public counts of a record (-1: not carried), in the order likes, reposts,
// replies, quotes.
struct PayloadCounts {
  int64_t likes = -1, reposts = -1, replies = -1, quotes = -1;
  void EncodeTo(std::string& out) const {
    for (int64_t count : {likes, reposts, replies, quotes}) {
      AppendVarint(out, static_cast<uint64_t>(count + 1));
    }
  }
  bool DecodeFrom(std::string_view& in) {
    for (int64_t* count : {&likes, &reposts, &replies, &quotes}) {
      uint64_t value = 0;
      if (!ReadVarint(in, value)) return false;
      *count = static_cast<int64_t>(value) - 1;
    }
    return true;
  }
};

// Growth event payloads (s25, `cluster:`): the first byte says what the post is to its target.
constexpr char kGrowthReply = 'r';          // a reply, without evidence (evidence <= 1)
constexpr char kGrowthReplyEvidence = 'R';  // a reply, then its EvidencePost
constexpr char kGrowthRepost = 'p';         // a repost, then its PayloadCounts
constexpr char kGrowthQuote = 'q';          // a quote

std::string FormatMinutes(int64_t ms) {
  if (ms < 60000) return fmt::format("{} s", ms / 1000);
  if (ms < 3600000) return fmt::format("{} min", ms / 60000);
  return fmt::format("{:.1f} h", static_cast<double>(ms) / 3600000.0);
}

// A post being watched, and what its replies did so far.
struct Tracked {
  EvidencePost post;
  int64_t author_followers = 0;
  std::vector<std::string> brand_ids;  // the enabled brands it names (non-own mentions)
  bool fired = false;
  uint64_t total_replies = 0;
  std::vector<int64_t> reply_times;     // sorted; those within `within` of the newest
  std::vector<EvidencePost> replies;    // the newest few, newest first
  // Issue 12: reposts and quotes seen in the stream (times as reply_times), and the most the
  // payloads reported in records read within `within` of the post (-1: none reported).
  uint64_t total_reposts = 0, total_quotes = 0;
  std::vector<int64_t> repost_times, quote_times;
  int64_t payload_likes = -1, payload_reposts = -1, payload_replies = -1, payload_quotes = -1;

  static void PutTimes(std::string& out, const std::vector<int64_t>& times) {
    AppendVarint(out, times.size());
    for (int64_t time : times) AppendVarint(out, static_cast<uint64_t>(time));
  }
  static bool TakeTimes(std::string_view& in, std::vector<int64_t>& times) {
    uint64_t count = 0;
    if (!ReadVarint(in, count) || count > in.size()) return false;
    times.resize(count);
    for (int64_t& time : times) {
      uint64_t value = 0;
      if (!ReadVarint(in, value)) return false;
      time = static_cast<int64_t>(value);
    }
    return true;
  }

  std::string Encode() const {
    std::string out;
    post.EncodeTo(out);
    AppendVarint(out, static_cast<uint64_t>(author_followers));
    AppendVarint(out, brand_ids.size());
    for (const std::string& id : brand_ids) PutString(out, id);
    AppendVarint(out, fired ? 1 : 0);
    AppendVarint(out, total_replies);
    AppendVarint(out, reply_times.size());
    for (int64_t time : reply_times) AppendVarint(out, static_cast<uint64_t>(time));
    AppendVarint(out, replies.size());
    for (const EvidencePost& reply : replies) reply.EncodeTo(out);
    // Tail (issue 12); state written before it decodes with none of it.
    AppendVarint(out, 1);
    AppendVarint(out, total_reposts);
    AppendVarint(out, total_quotes);
    PutTimes(out, repost_times);
    PutTimes(out, quote_times);
    for (int64_t count : {payload_likes, payload_reposts, payload_replies, payload_quotes}) {
      AppendVarint(out, static_cast<uint64_t>(count + 1));
    }
    return out;
  }
  bool Decode(std::string_view in) {
    uint64_t followers = 0, count = 0, flag = 0;
    if (!post.DecodeFrom(in) || !ReadVarint(in, followers) || !ReadVarint(in, count)) return false;
    author_followers = static_cast<int64_t>(followers);
    brand_ids.resize(count);
    for (std::string& id : brand_ids) {
      if (!TakeString(in, id)) return false;
    }
    if (!ReadVarint(in, flag) || !ReadVarint(in, total_replies) || !ReadVarint(in, count)) {
      return false;
    }
    fired = flag != 0;
    reply_times.resize(count);
    for (int64_t& time : reply_times) {
      uint64_t value = 0;
      if (!ReadVarint(in, value)) return false;
      time = static_cast<int64_t>(value);
    }
    if (!ReadVarint(in, count)) return false;
    replies.resize(count);
    for (EvidencePost& reply : replies) {
      if (!reply.DecodeFrom(in)) return false;
    }
    if (in.empty()) return true;
    uint64_t version = 0;
    if (!ReadVarint(in, version) || version != 1 || !ReadVarint(in, total_reposts) ||
        !ReadVarint(in, total_quotes) || !TakeTimes(in, repost_times) || !TakeTimes(in, quote_times)) {
      return false;
    }
    for (int64_t* count : {&payload_likes, &payload_reposts, &payload_replies, &payload_quotes}) {
      uint64_t value = 0;
      if (!ReadVarint(in, value)) return false;
      *count = static_cast<int64_t>(value) - 1;
    }
    return in.empty();
  }
};

// s25, at a merger (`cluster:`): an event held until the merged watermark passes it, keyed by
// (event time, kind: tracked before growth, arrival sequence). No copy collapses: one process
// counts a reply read twice twice, and the merge log applies each epoch once.
using HeldKey = std::tuple<int64_t, uint8_t, uint64_t>;
struct Held {
  std::string brand_id;  // empty for growth
  uint32_t partials_partition = 0;
  std::string payload;
  bool stored = false;  // in the store (restored or snapshotted): its release deletes it there
};

class ViralPostRule final : public AlertRule {
 public:
  ViralPostRule(ViralPostRuleOptions options, const RuleBuildContext& context)
      : options_(std::move(options)), filter_(options_.common.brands),
        slots_(RegisterPublicMetricFields()) {
    filter_.Reset(*context.brands);
  }

  const std::string& name() const override { return options_.common.name; }
  AlertNoiseOptions noise() const override { return options_.common.noise; }
  bool WatchesBatches() const override { return true; }

  Status Restore(StateStore& store, const BrandDirectory&) override {
    bool bad = false;
    RETURN_IF_ERROR(store.ScanRuleState(name(), [&](std::string_view key, std::string_view value) {
      if (key.starts_with("h/")) {
        std::optional<HeldKey> held = ParseHeldKey(key.substr(2));
        Held event;
        uint64_t partition = 0;
        if (!held || !ReadVarint(value, partition) || partition > UINT32_MAX ||
            !TakeString(value, event.brand_id)) {
          bad = true;
          return;
        }
        event.partials_partition = static_cast<uint32_t>(partition);
        event.payload.assign(value);
        held_seq_ = std::max(held_seq_, std::get<2>(*held) + 1);
        event.stored = true;
        held_.emplace(*held, std::move(event));
        return;
      }
      if (!key.starts_with("t/")) return;
      std::string post_id(key.substr(2));
      Tracked tracked;
      if (!tracked.Decode(value)) {
        bad = true;
        return;
      }
      by_time_.insert({tracked.post.event_time_ms, post_id});
      tracked_.emplace(std::move(post_id), std::move(tracked));
    }));
    if (bad) {
      return Status::Corruption(fmt::format("alert rule '{}': stored tracked post does not decode", name()));
    }
    return Status::Ok();
  }

  // Issue 11, snapshots. At a merger, tracked posts are keyed "t/<partials partition>\x1f<post
  // id>" (MergerKey: the partition whose log tracked them) and held events carry their partition
  // in the value; one process's "t/<post id>" keys name none (not merger state).
  std::optional<RuleStateScope> ScopeOfState(std::string_view key,
                                             std::string_view value) const override {
    uint64_t partition = 0;
    if (key.starts_with("h/")) {
      if (!ReadVarint(value, partition) || partition > UINT32_MAX) return std::nullopt;
      return RuleStateScope{{}, static_cast<uint32_t>(partition)};
    }
    if (!key.starts_with("t/")) return std::nullopt;
    key.remove_prefix(2);
    const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), partition);
    if (error != std::errc() || end == key.data() + key.size() || *end != '\x1f' ||
        partition > UINT32_MAX) {
      return std::nullopt;
    }
    return RuleStateScope{{}, static_cast<uint32_t>(partition)};
  }
  // The partitions were cleared (ClearBrands, ClearPartialsPartitions). Tracked posts keep their
  // keys (they name the partition). Held events get fresh arrival numbers, in their order: the
  // writer's numbers may be taken here by a kept partition's events (same time and kind: the
  // order between partitions does not matter, each partition's copies count for its own posts).
  Status LoadState(std::span<const std::pair<std::string, std::string>> entries,
                   StateStore::Commit& write) override {
    std::map<HeldKey, Held> held;
    for (const auto& [key, value] : entries) {
      if (key.starts_with("h/")) {
        std::optional<HeldKey> at = ParseHeldKey(std::string_view(key).substr(2));
        std::string_view in = value;
        uint64_t partition = 0;
        Held event;
        if (!at || !ReadVarint(in, partition) || partition > UINT32_MAX ||
            !TakeString(in, event.brand_id)) {
          return Status::Corruption(fmt::format("alert rule '{}': held event '{}' does not decode",
                                                name(), key));
        }
        event.partials_partition = static_cast<uint32_t>(partition);
        event.payload.assign(in);
        held.emplace(*at, std::move(event));
        continue;
      }
      if (!key.starts_with("t/")) continue;
      Tracked tracked;
      if (!tracked.Decode(value)) {
        return Status::Corruption(fmt::format("alert rule '{}': stored tracked post does not decode",
                                              name()));
      }
      std::string post_id = key.substr(2);
      write.PutRuleState(name(), key, value);
      dirty_.insert(post_id);  // (after the delete ClearBrands left in forgotten_)
      if (auto old = tracked_.find(post_id); old != tracked_.end()) {
        by_time_.erase({old->second.post.event_time_ms, post_id});
        tracked_.erase(old);
      }
      by_time_.insert({tracked.post.event_time_ms, post_id});
      tracked_.emplace(std::move(post_id), std::move(tracked));
    }
    for (auto& [at, event] : held) {
      const HeldKey key{std::get<0>(at), std::get<1>(at), held_seq_++};
      std::string value;
      AppendVarint(value, event.partials_partition);
      PutString(value, event.brand_id);
      value += event.payload;
      write.PutRuleState(name(), HeldStateKey(key), value);
      event.stored = true;
      held_dirty_.erase(key);
      held_.emplace(key, std::move(event));
    }
    return Status::Ok();
  }

  Status OnBatch(const Batch& batch, RuleContext& context) override {
    if (context.inquiry_events != nullptr) return Publish(batch, context);
    if (ReachOnly()) return FireOnReach(batch, context);
    // Posts about an enabled brand start being tracked.
    for (const Mention& mention : batch.mentions) {
      if (mention.own_post || !filter_.enabled(mention.brand_index)) continue;
      const Post& post = batch.posts[mention.post_index];
      if (post.id.empty() || post.event_time_ms + options_.track_for_ms <= context.watermark_ms) {
        continue;
      }
      if (!PublicText(post, slots_.repost_of).empty()) continue;  // counts for what it reposts
      const std::string_view brand_id = context.brands.brand_info(mention.brand_index).id;
      auto found = tracked_.find(post.id);
      if (found == tracked_.end()) {
        Tracked fresh;
        fresh.post = EvidencePost::Of(post, batch.ingest_time_ms);
        fresh.author_followers = post.author_followers;
        found = tracked_.emplace(std::string(post.id), std::move(fresh)).first;
        by_time_.insert({post.event_time_ms, found->first});
        Evict();
        found = tracked_.find(post.id);
        if (found == tracked_.end()) continue;  // older than everything kept at capacity
      }
      Tracked& tracked = found->second;
      if (std::find(tracked.brand_ids.begin(), tracked.brand_ids.end(), brand_id) !=
          tracked.brand_ids.end()) {
        continue;
      }
      tracked.brand_ids.emplace_back(brand_id);
      dirty_.insert(found->first);
      // Reach is the author's, known at first sight: one alert for each brand the post names,
      // when the brand is first seen on it (not only for the first brand).
      if (options_.reach && tracked.author_followers >= *options_.reach) {
        tracked.fired = true;
        Tracked for_brand = tracked;  // rare: a copy naming only this brand
        for_brand.brand_ids.assign(1, std::string(brand_id));
        Fire(tracked.post.post_id, for_brand, "reach", static_cast<double>(tracked.author_followers),
             static_cast<double>(*options_.reach), tracked.post.event_time_ms, context);
      }
      // The post's own record: its payload's counts, read as of when it was written (checked
      // once every brand it names is known).
      ObservePayload(found->first, tracked, CountsOf(post), post.event_time_ms);
      own_records_.emplace_back(found->first, post.event_time_ms);
    }
    for (const auto& [post_id, at_ms] : own_records_) {
      auto found = tracked_.find(post_id);
      if (found != tracked_.end()) Check(found->first, found->second, at_ms, context);
    }
    own_records_.clear();
    // Replies, reposts and quotes of tracked posts.
    if (tracked_.empty()) return Status::Ok();
    for (const Post& post : batch.posts) {
      if (!post.reply_to_post_id.empty() && post.reply_to_post_id != post.id) {
        auto found = tracked_.find(post.reply_to_post_id);
        if (found != tracked_.end()) {
          std::optional<EvidencePost> kept;
          if (!found->second.fired && options_.common.evidence > 1) {
            kept = EvidencePost::Of(post, batch.ingest_time_ms);
          }
          GrowReply(found->first, found->second, post.event_time_ms, kept ? &*kept : nullptr,
                    context);
        }
      }
      const std::string_view repost_of = PublicText(post, slots_.repost_of);
      if (!repost_of.empty() && repost_of != post.id) {
        auto found = tracked_.find(repost_of);
        if (found != tracked_.end()) {
          GrowRepost(found->first, found->second, post.event_time_ms, CountsOf(post), context);
        }
      }
      const std::string_view quote_of = PublicText(post, slots_.quote_of);
      if (!quote_of.empty() && quote_of != post.id) {
        auto found = tracked_.find(quote_of);
        if (found != tracked_.end()) {
          GrowQuote(found->first, found->second, post.event_time_ms, context);
        }
      }
    }
    return Status::Ok();
  }

  Status OnWatermark(RuleContext& context) override {
    while (!by_time_.empty() &&
           by_time_.begin()->first + options_.track_for_ms <= context.watermark_ms) {
      Forget(by_time_.begin()->second);
    }
    return Status::Ok();
  }

  Status Snapshot(StateStore::Commit& commit) override {
    for (const HeldKey& key : held_dirty_) {
      const std::string state_key = HeldStateKey(key);
      auto found = held_.find(key);
      if (found == held_.end()) {
        commit.DeleteRuleState(name(), state_key);
      } else {
        std::string value;
        AppendVarint(value, found->second.partials_partition);
        PutString(value, found->second.brand_id);
        value += found->second.payload;
        commit.PutRuleState(name(), state_key, value);
        found->second.stored = true;
      }
    }
    held_dirty_.clear();
    for (const std::string& post_id : forgotten_) commit.DeleteRuleState(name(), "t/" + post_id);
    forgotten_.clear();
    for (const std::string& post_id : dirty_) {
      auto found = tracked_.find(post_id);
      if (found != tracked_.end()) commit.PutRuleState(name(), "t/" + post_id, found->second.Encode());
    }
    dirty_.clear();
    return Status::Ok();
  }

  Status OnBrandsChanged(const BrandDirectory&, const BrandDirectory& after) override {
    filter_.Reset(after);  // tracked posts keep brand ids, which do not change
    return Status::Ok();
  }
  // s26: growth copies count only for posts tracked for an enabled brand (Publish), on its
  // partials partition.
  bool CoversBrand(uint32_t brand_index) const override { return filter_.enabled(brand_index); }

  // s25, at the merger of the brands (`cluster:`, docs/cluster.md "viral_post across
  // instances"): the readers' tracked and growth events are held (state) and applied once the
  // merged watermark passed them, in event-time order (tracked posts before growth at one
  // instant, else in the order they arrived), so what is counted does not depend on which
  // instance read which post nor on the order epochs arrive in. A growth event names a post,
  // not a brand: every partials partition carries a copy, and the copy of partition p counts
  // only for the posts tracked from p's log (keys "<p>\x1f<post id>").
  Status OnInquiryEvents(std::span<const InquiryEvent> events, int64_t release_before_ms,
                         RuleContext& context) override {
    for (const InquiryEvent& event : events) {
      if (event.kind != InquiryEvent::Kind::kViralTracked &&
          event.kind != InquiryEvent::Kind::kViralGrowth) {
        continue;
      }
      HeldKey key{event.event_time_ms, static_cast<uint8_t>(event.kind), held_seq_++};
      held_.emplace(key, Held{event.brand_id, event.partials_partition, event.payload});
      held_dirty_.insert(key);
    }
    while (!held_.empty() && std::get<0>(held_.begin()->first) < release_before_ms) {
      auto node = held_.extract(held_.begin());
      ForgetHeld(node.key(), node.mapped());
      const auto [time, kind, seq] = node.key();
      if (kind == static_cast<uint8_t>(InquiryEvent::Kind::kViralTracked)) {
        // Checked once every brand of the instant is known, as one process checks a batch's
        // posts after its mentions.
        if (!pending_checks_.empty() && pending_checks_.back().second != time) {
          CheckPending(context);
        }
        ApplyTracked(node.mapped(), context);
      } else {
        CheckPending(context);
        ApplyGrowth(node.mapped(), time, context);
      }
    }
    CheckPending(context);
    return Status::Ok();
  }

  // Drops the tracked posts and held tracked events of these brands (their partials partition
  // moved away or is replayed). Held growth copies have no brand: ClearPartialsPartitions drops
  // those of the partition, which come with it.
  void ClearBrands(const std::vector<std::string>& brand_ids) override {
    const std::set<std::string, std::less<>> brands(brand_ids.begin(), brand_ids.end());
    std::vector<std::string> emptied;
    for (auto& [key, tracked] : tracked_) {
      const size_t before = tracked.brand_ids.size();
      std::erase_if(tracked.brand_ids, [&](const std::string& id) { return brands.contains(id); });
      if (tracked.brand_ids.empty()) {
        emptied.push_back(key);
      } else if (tracked.brand_ids.size() != before) {
        dirty_.insert(key);
      }
    }
    for (std::string& key : emptied) Forget(std::move(key));
    for (auto it = held_.begin(); it != held_.end();) {
      if (!it->second.brand_id.empty() && brands.contains(it->second.brand_id)) {
        ForgetHeld(it->first, it->second);
        it = held_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // The held copies stamped with these partials partitions go (growth copies, and any tracked
  // event left): a replay of the partition brings them again, so kept ones would count twice.
  // The posts tracked from these partitions' logs (keys "<p>\x1f<post id>") go too; their brands'
  // ClearBrands already took them, this also covers a brand no longer in the watchlist.
  void ClearPartialsPartitions(const std::set<uint32_t>& partials_partitions) override {
    for (auto it = held_.begin(); it != held_.end();) {
      if (partials_partitions.contains(it->second.partials_partition)) {
        ForgetHeld(it->first, it->second);
        it = held_.erase(it);
      } else {
        ++it;
      }
    }
    std::vector<std::string> emptied;
    for (const auto& [key, tracked] : tracked_) {
      uint32_t partition = 0;
      const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), partition);
      if (error == std::errc() && end != key.data() + key.size() && *end == '\x1f' &&
          partials_partitions.contains(partition)) {
        emptied.push_back(key);
      }
    }
    for (std::string& key : emptied) Forget(std::move(key));
  }

 private:
  // s25, a reader with `cluster:`: what one process would track or count, as events for the
  // mergers (engine/alert_rule.h). Tracked: one per (post, brand), to the brand's partials
  // partition. Growth: one per reply, repost and quote, to every partials partition.
  Status Publish(const Batch& batch, RuleContext& context) {
    std::vector<InquiryEvent>& events = *context.inquiry_events;
    for (const Mention& mention : batch.mentions) {
      if (mention.own_post || !filter_.enabled(mention.brand_index)) continue;
      const Post& post = batch.posts[mention.post_index];
      if (post.id.empty() || !PublicText(post, slots_.repost_of).empty()) continue;
      if (ReachOnly() && post.author_followers < *options_.reach) continue;  // nothing to track
      InquiryEvent event{InquiryEvent::Kind::kViralTracked, name(),
                         std::string(context.brands.brand_info(mention.brand_index).id),
                         post.event_time_ms, {}};
      EvidencePost::Of(post, batch.ingest_time_ms).EncodeTo(event.payload);
      AppendVarint(event.payload, static_cast<uint64_t>(post.author_followers));
      CountsOf(post).EncodeTo(event.payload);
      events.push_back(std::move(event));
    }
    if (ReachOnly()) return Status::Ok();  // growth counts for nothing then
    auto growth = [&](const Post& post, char what, std::string_view target) -> std::string& {
      InquiryEvent& event = events.emplace_back();
      event.kind = InquiryEvent::Kind::kViralGrowth;
      event.rule = name();
      event.event_time_ms = post.event_time_ms;
      event.payload.push_back(what);
      PutString(event.payload, target);
      return event.payload;
    };
    for (const Post& post : batch.posts) {
      if (!post.reply_to_post_id.empty() && post.reply_to_post_id != post.id) {
        if (options_.common.evidence > 1) {
          EvidencePost::Of(post, batch.ingest_time_ms)
              .EncodeTo(growth(post, kGrowthReplyEvidence, post.reply_to_post_id));
        } else {
          growth(post, kGrowthReply, post.reply_to_post_id);
        }
      }
      const std::string_view repost_of = PublicText(post, slots_.repost_of);
      if (!repost_of.empty() && repost_of != post.id) {
        CountsOf(post).EncodeTo(growth(post, kGrowthRepost, repost_of));
      }
      const std::string_view quote_of = PublicText(post, slots_.quote_of);
      if (!quote_of.empty() && quote_of != post.id) growth(post, kGrowthQuote, quote_of);
    }
    return Status::Ok();
  }

  static std::string MergerKey(uint32_t partials_partition, std::string_view post_id) {
    return fmt::format("{}\x1f{}", partials_partition, post_id);
  }

  // A released tracked event: as OnBatch's mention loop does for one mention.
  void ApplyTracked(const Held& event, RuleContext& context) {
    std::string_view in = event.payload;
    Tracked fresh;
    uint64_t followers = 0;
    PayloadCounts counts;
    if (!fresh.post.DecodeFrom(in) || !ReadVarint(in, followers) || !counts.DecodeFrom(in) ||
        !in.empty()) {
      Undecodable();
      return;
    }
    fresh.author_followers = static_cast<int64_t>(followers);
    if (fresh.post.event_time_ms + options_.track_for_ms <= context.watermark_ms) return;
    if (ReachOnly()) {
      if (fresh.author_followers < *options_.reach) return;
      fresh.brand_ids.assign(1, event.brand_id);
      fresh.fired = true;
      Fire(fresh.post.post_id, fresh, "reach", static_cast<double>(fresh.author_followers),
           static_cast<double>(*options_.reach), fresh.post.event_time_ms, context);
      return;
    }
    const std::string key = MergerKey(event.partials_partition, fresh.post.post_id);
    auto found = tracked_.find(key);
    if (found == tracked_.end()) {
      const int64_t time = fresh.post.event_time_ms;
      found = tracked_.emplace(key, std::move(fresh)).first;
      by_time_.insert({time, key});
      Evict();
      found = tracked_.find(key);
      if (found == tracked_.end()) return;  // older than everything kept at capacity
    }
    Tracked& tracked = found->second;
    if (std::find(tracked.brand_ids.begin(), tracked.brand_ids.end(), event.brand_id) !=
        tracked.brand_ids.end()) {
      return;
    }
    tracked.brand_ids.push_back(event.brand_id);
    dirty_.insert(key);
    if (options_.reach && tracked.author_followers >= *options_.reach) {
      tracked.fired = true;
      Tracked for_brand = tracked;
      for_brand.brand_ids.assign(1, event.brand_id);
      Fire(tracked.post.post_id, for_brand, "reach", static_cast<double>(tracked.author_followers),
           static_cast<double>(*options_.reach), tracked.post.event_time_ms, context);
    }
    ObservePayload(key, tracked, counts, tracked.post.event_time_ms);
    pending_checks_.emplace_back(key, tracked.post.event_time_ms);
  }

  // A held event leaves: a delete for the store only if a snapshot put it there (one released
  // in the commit that merged it, as in a replay behind the merged watermark, costs no write).
  void ForgetHeld(const HeldKey& key, const Held& event) {
    if (event.stored) {
      held_dirty_.insert(key);
    } else {
      held_dirty_.erase(key);
    }
  }

  // An event that does not decode (a reader of another version?) is skipped and logged.
  void Undecodable() {
    if (++undecodable_events_ == 1 || undecodable_events_ % 10000 == 0) {
      LogWarn("viral_post rule: a merged event does not decode; skipped",
              {{"rule", name()}, {"skipped", std::to_string(undecodable_events_)}});
    }
  }

  void CheckPending(RuleContext& context) {
    for (const auto& [key, at_ms] : pending_checks_) {
      auto found = tracked_.find(key);
      if (found != tracked_.end()) Check(found->first, found->second, at_ms, context);
    }
    pending_checks_.clear();
  }

  // A released growth event: counts for the post tracked from the same partials partition.
  void ApplyGrowth(const Held& event, int64_t time, RuleContext& context) {
    std::string_view in = event.payload;
    std::string target;
    if (in.empty()) {
      Undecodable();
      return;
    }
    const char what = in.front();
    in.remove_prefix(1);
    if (!TakeString(in, target)) {
      Undecodable();
      return;
    }
    auto found = tracked_.find(MergerKey(event.partials_partition, target));
    const bool tracked = found != tracked_.end();
    switch (what) {
      case kGrowthReply:
        if (!in.empty()) break;
        if (tracked) GrowReply(found->first, found->second, time, nullptr, context);
        return;
      case kGrowthReplyEvidence: {
        EvidencePost reply;
        if (!reply.DecodeFrom(in) || !in.empty()) break;
        // (evidence may have been lowered since the reader wrote it)
        const bool keep = options_.common.evidence > 1;
        if (tracked) GrowReply(found->first, found->second, time, keep ? &reply : nullptr, context);
        return;
      }
      case kGrowthRepost: {
        PayloadCounts counts;
        if (!counts.DecodeFrom(in) || !in.empty()) break;
        if (tracked) GrowRepost(found->first, found->second, time, counts, context);
        return;
      }
      case kGrowthQuote:
        if (!in.empty()) break;
        if (tracked) GrowQuote(found->first, found->second, time, context);
        return;
      default:
        break;
    }
    Undecodable();
  }

  static std::string HeldStateKey(const HeldKey& key) {
    return fmt::format("h/{}\x1f{}\x1f{}", std::get<0>(key), std::get<1>(key), std::get<2>(key));
  }
  static std::optional<HeldKey> ParseHeldKey(std::string_view text) {
    int64_t time = 0;
    unsigned kind = 0;
    uint64_t seq = 0;
    const char* end = text.data() + text.size();
    auto [time_end, time_error] = std::from_chars(text.data(), end, time);
    if (time_error != std::errc() || time_end == end || *time_end != '\x1f') return std::nullopt;
    auto [kind_end, kind_error] = std::from_chars(time_end + 1, end, kind);
    if (kind_error != std::errc() || kind_end == end || *kind_end != '\x1f' || kind > 255) {
      return std::nullopt;
    }
    auto [seq_end, seq_error] = std::from_chars(kind_end + 1, end, seq);
    if (seq_error != std::errc() || seq_end != end) return std::nullopt;
    return HeldKey{time, static_cast<uint8_t>(kind), seq};
  }

  // Only `reach`: the alert is decided when the post is read, so nothing is tracked or stored
  // (tracking every post about a brand, with a state write and delete each, was most of the
  // rule's cost in bench/alert-latency.sh). Same alerts as the tracking path: one per brand
  // named; a post read again gives the same id (the rule set's de-duplication drops it).
  bool ReachOnly() const {
    return options_.reach && !options_.replies && !options_.reposts && !options_.quotes &&
           !options_.likes;
  }
  Status FireOnReach(const Batch& batch, RuleContext& context) {
    for (const Mention& mention : batch.mentions) {
      if (mention.own_post || !filter_.enabled(mention.brand_index)) continue;
      const Post& post = batch.posts[mention.post_index];
      if (post.id.empty() || post.author_followers < *options_.reach ||
          post.event_time_ms + options_.track_for_ms <= context.watermark_ms ||
          !PublicText(post, slots_.repost_of).empty()) {
        continue;
      }
      Tracked one;
      one.post = EvidencePost::Of(post, batch.ingest_time_ms);
      one.author_followers = post.author_followers;
      one.brand_ids.emplace_back(context.brands.brand_info(mention.brand_index).id);
      one.fired = true;
      Fire(std::string(post.id), one, "reach", static_cast<double>(post.author_followers),
           static_cast<double>(*options_.reach), post.event_time_ms, context);
    }
    return Status::Ok();
  }

  void AddTime(std::vector<int64_t>& times, int64_t time) const {
    times.insert(std::upper_bound(times.begin(), times.end(), time), time);
    // Only times within `within` of the newest can still make a burst with later ones.
    const int64_t oldest_useful = times.back() - options_.within_ms;
    times.erase(times.begin(), std::lower_bound(times.begin(), times.end(), oldest_useful));
  }

  // A record carrying the tracked post's public metrics, read at `observed_at` (event time):
  // counted when that is within `within` of the post being written.
  void ObservePayload(const std::string& key, Tracked& tracked, const PayloadCounts& counts,
                      int64_t observed_at) {
    if (observed_at - tracked.post.event_time_ms > options_.within_ms) return;
    auto keep = [&](int64_t& most, int64_t count) {
      if (count > most) {
        most = count;
        dirty_.insert(key);
      }
    };
    keep(tracked.payload_likes, counts.likes);
    keep(tracked.payload_reposts, counts.reposts);
    keep(tracked.payload_replies, counts.replies);
    keep(tracked.payload_quotes, counts.quotes);
  }

  PayloadCounts CountsOf(const Post& record) const {
    return {PublicCount(record, slots_.likes), PublicCount(record, slots_.reposts),
            PublicCount(record, slots_.replies), PublicCount(record, slots_.quotes)};
  }

  // A reply / repost / quote of a tracked post, at its event time (read here, or released at the
  // merger). `reply` is its evidence when the rule keeps replies as evidence.
  void GrowReply(const std::string& key, Tracked& tracked, int64_t time, const EvidencePost* reply,
                 RuleContext& context) {
    ++tracked.total_replies;
    dirty_.insert(key);
    if (tracked.fired) return;
    AddTime(tracked.reply_times, time);
    if (reply != nullptr) AddReplyEvidence(tracked, *reply);
    Check(key, tracked, time, context);
  }
  void GrowRepost(const std::string& key, Tracked& tracked, int64_t time,
                  const PayloadCounts& counts, RuleContext& context) {
    ++tracked.total_reposts;
    dirty_.insert(key);
    if (tracked.fired) return;
    AddTime(tracked.repost_times, time);
    ObservePayload(key, tracked, counts, time);  // the original's counts
    Check(key, tracked, time, context);
  }
  void GrowQuote(const std::string& key, Tracked& tracked, int64_t time, RuleContext& context) {
    ++tracked.total_quotes;
    dirty_.insert(key);
    if (tracked.fired) return;
    AddTime(tracked.quote_times, time);
    Check(key, tracked, time, context);
  }

  // Fires the first limit reached, in the order replies, reposts, quotes, likes: the stream's
  // count within any `within`, or the payload's count when larger.
  void Check(const std::string& key, Tracked& tracked, int64_t at_ms, RuleContext& context) {
    if (tracked.fired) return;
    struct Limit {
      const std::optional<uint64_t>& limit;
      std::string_view reason;
      uint64_t seen;
      int64_t payload;
    };
    const Limit limits[] = {
        {options_.replies, "replies", MostRepliesWithin(tracked.reply_times), tracked.payload_replies},
        {options_.reposts, "reposts", MostRepliesWithin(tracked.repost_times), tracked.payload_reposts},
        {options_.quotes, "quotes", MostRepliesWithin(tracked.quote_times), tracked.payload_quotes},
        {options_.likes, "likes", 0, tracked.payload_likes}};
    for (const Limit& limit : limits) {
      if (!limit.limit) continue;
      const uint64_t value = std::max<uint64_t>(limit.seen, static_cast<uint64_t>(std::max<int64_t>(0, limit.payload)));
      if (value < *limit.limit) continue;
      tracked.fired = true;
      dirty_.insert(key);
      Fire(tracked.post.post_id, tracked, limit.reason, static_cast<double>(value),
           static_cast<double>(*limit.limit), at_ms, context);
      return;
    }
  }

  // The newest `evidence - 1` replies, newest first (called only with evidence > 1).
  void AddReplyEvidence(Tracked& tracked, const EvidencePost& kept) {
    auto place = std::find_if(tracked.replies.begin(), tracked.replies.end(), [&](const auto& other) {
      return other.event_time_ms < kept.event_time_ms;
    });
    tracked.replies.insert(place, kept);
    if (tracked.replies.size() > options_.common.evidence - 1) {
      tracked.replies.resize(options_.common.evidence - 1);
    }
  }

  // The most reply times in any span [t, t + within] (times sorted).
  uint64_t MostRepliesWithin(const std::vector<int64_t>& times) const {
    uint64_t most = 0;
    size_t first = 0;
    for (size_t last = 0; last < times.size(); ++last) {
      while (times[last] - times[first] > options_.within_ms) ++first;
      most = std::max<uint64_t>(most, last - first + 1);
    }
    return most;
  }

  void Evict() {
    while (tracked_.size() > options_.max_tracked && !by_time_.empty()) {
      ++evicted_;
      if (evicted_ == 1 || evicted_ % 10000 == 0) {
        const std::string count = std::to_string(evicted_);
        LogWarn("viral_post rule at max_tracked: oldest tracked posts forgotten",
                {{"rule", name()}, {"forgotten", count}});
      }
      Forget(by_time_.begin()->second);
    }
  }

  void Forget(std::string post_id) {
    auto found = tracked_.find(post_id);
    if (found != tracked_.end()) {
      by_time_.erase({found->second.post.event_time_ms, post_id});
      tracked_.erase(found);
    }
    dirty_.erase(post_id);
    forgotten_.push_back(std::move(post_id));
  }

  void Fire(const std::string& post_id, const Tracked& tracked, std::string_view reason,
            double observed, double limit, int64_t tipped_at_ms, RuleContext& context) {
    // Hashtags of the post and its kept replies: what the conversation is about.
    std::map<std::string, uint64_t> tags;
    std::vector<SocialEntity> entities;
    auto count_tags = [&](const EvidencePost& post) {
      entities.clear();
      ExtractSocialEntities(post.text, entities);
      for (const SocialEntity& entity : entities) {
        ++tags[std::string(post.text.substr(entity.begin, entity.end - entity.begin))];
      }
    };
    count_tags(tracked.post);
    for (const EvidencePost& reply : tracked.replies) count_tags(reply);
    std::vector<std::pair<std::string, uint64_t>> top(tags.begin(), tags.end());
    std::stable_sort(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    if (top.size() > 5) top.resize(5);

    const int64_t age_ms = std::max<int64_t>(0, tipped_at_ms - tracked.post.event_time_ms);
    const std::string who = tracked.post.author_handle.empty()
                                ? fmt::format("author {}", tracked.post.author_id)
                                : "@" + tracked.post.author_handle;
    for (const std::string& brand_id : tracked.brand_ids) {
      std::optional<uint32_t> brand = context.brands.FindBrand(brand_id);
      if (!brand || !filter_.enabled(*brand)) continue;
      AlertContent content;
      content.rule = name();
      content.type = "viral_post";
      content.brand = context.brands.brand_info(*brand);
      content.metric = reason;  // a literal: replies, reposts, quotes, likes, reach
      content.observed = observed;
      content.expected = limit;
      content.severity = observed >= 2 * limit ? AlertSeverity::kCritical : AlertSeverity::kWarning;
      content.event_time_ms = tipped_at_ms;
      content.summary =
          reason != "reach"
              ? fmt::format("A post by {} about {} got {} {} within {} ({} after it was "
                            "written; limit {})",
                            who, content.brand.name, observed, reason,
                            FormatMinutes(options_.within_ms), FormatMinutes(age_ms), limit)
              : fmt::format("{} ({} followers, limit {}) wrote about {}", who, observed, limit,
                            content.brand.name);
      if (options_.common.evidence > 0) {
        content.evidence.push_back(tracked.post);
        for (const EvidencePost& reply : tracked.replies) content.evidence.push_back(reply);
      }
      content.top_terms = top;
      std::string& details = content.details_json;
      details = "{";
      AppendJsonKey(details, "reason", true);
      AppendJsonString(details, reason);
      AppendJsonKey(details, "post_id");
      AppendJsonString(details, post_id);
      AppendJsonKey(details, "author_id");
      AppendJsonString(details, tracked.post.author_id);
      AppendJsonKey(details, "author_handle");
      AppendJsonString(details, tracked.post.author_handle);
      AppendJsonKey(details, "link");
      if (tracked.post.link.empty()) {
        details += "null";
      } else {
        AppendJsonString(details, tracked.post.link);
      }
      AppendJsonKey(details, "posted_at");
      AppendJsonString(details, FormatIsoTime(tracked.post.event_time_ms));
      AppendJsonKey(details, "age_seconds");
      details += std::to_string(age_ms / 1000);
      AppendJsonKey(details, "replies_seen");
      details += std::to_string(tracked.total_replies);
      AppendJsonKey(details, "within_seconds");
      details += std::to_string(options_.within_ms / 1000);
      AppendJsonKey(details, "author_followers");
      details += std::to_string(tracked.author_followers);
      // Issue 12: reposts and quotes seen in the stream; the payload's counts when it had some.
      details += fmt::format(",\"reposts_seen\":{},\"quotes_seen\":{}", tracked.total_reposts,
                             tracked.total_quotes);
      if (tracked.payload_likes >= 0 || tracked.payload_reposts >= 0 ||
          tracked.payload_replies >= 0 || tracked.payload_quotes >= 0) {
        details += ",\"public_metrics\":{";
        bool first = true;
        for (auto [key, count] : {std::pair<std::string_view, int64_t>{"likes", tracked.payload_likes},
                                  {"reposts", tracked.payload_reposts},
                                  {"replies", tracked.payload_replies},
                                  {"quotes", tracked.payload_quotes}}) {
          if (count < 0) continue;
          details += fmt::format("{}\"{}\":{}", first ? "" : ",", key, count);
          first = false;
        }
        details += "}";
      }
      details += "}";
      context.fired.push_back(
          MakeAlert(fmt::format("{}/{}/{}", name(), brand_id, post_id), *brand, content));
    }
  }

  ViralPostRuleOptions options_;
  BrandFilter filter_;
  const PublicMetricSlots& slots_;
  std::vector<std::pair<std::string, int64_t>> own_records_;  // scratch: tracked posts read now
  std::unordered_map<std::string, Tracked, TransparentStringHash, std::equal_to<>> tracked_;   // by post id
  std::set<std::pair<int64_t, std::string>> by_time_;  // (post event time, post id)
  std::set<std::string> dirty_;
  std::vector<std::string> forgotten_;
  uint64_t evicted_ = 0;
  // s25, `cluster:` (OnInquiryEvents): events waiting for the merged watermark, and tracked
  // posts applied at the current instant that are checked before the next growth event.
  std::map<HeldKey, Held> held_;
  std::set<HeldKey> held_dirty_;
  uint64_t held_seq_ = 0;
  std::vector<std::pair<std::string, int64_t>> pending_checks_;
  uint64_t undecodable_events_ = 0;
};

}  // namespace

Result<std::unique_ptr<AlertRuleSpec>> ReadViralPostRule(const std::string& name, YamlMap& section,
                                                         const ConfigContext& context) {
  ViralPostRuleOptions options;
  ReadRuleCommon(name, section, context, options.common);
  if (auto replies = section.Integer("replies", 1, INT64_MAX)) options.replies = *replies;
  if (auto reposts = section.Integer("reposts", 1, INT64_MAX)) options.reposts = *reposts;
  if (auto quotes = section.Integer("quotes", 1, INT64_MAX)) options.quotes = *quotes;
  if (auto likes = section.Integer("likes", 1, INT64_MAX)) options.likes = *likes;
  if (auto within = section.DurationMs("within")) options.within_ms = *within;
  if (auto reach = section.Integer("reach", 1, INT64_MAX)) options.reach = *reach;
  if (auto track_for = section.DurationMs("track_for")) options.track_for_ms = *track_for;
  if (auto max_tracked = section.Integer("max_tracked", 1, 100000000)) {
    options.max_tracked = static_cast<uint64_t>(*max_tracked);
  }
  if (!section.Has("replies") && !section.Has("reach") && !section.Has("reposts") &&
      !section.Has("quotes") && !section.Has("likes")) {
    section.diagnostics().Add(
        section.Location(),
        fmt::format("alert rule '{}' needs replies, reposts, quotes, likes or reach", name),
        "e.g. replies: 50 with within: 10m (fires when one post gets 50 replies in 10 minutes) "
        "or reach: 1000000 (an author with a million followers)");
  }
  if (options.within_ms <= 0) {
    section.diagnostics().Add(section.LocationOf("within"), "within must be positive", "e.g. within: 10m");
  }
  if (options.track_for_ms < options.within_ms) {
    section.diagnostics().Add(section.LocationOf("track_for"),
                              "track_for is shorter than within",
                              "a post must be tracked at least as long as one burst lasts");
  }
  RETURN_IF_ERROR(section.Finish());
  return AlertRuleSpecOf(name, "viral_post", [options](const RuleBuildContext& context) {
    return MakeViralPostRule(options, context);
  });
}

Result<std::unique_ptr<AlertRule>> MakeViralPostRule(const ViralPostRuleOptions& options,
                                                     const RuleBuildContext& context) {
  if (context.brands == nullptr) {
    return Status::InvalidArgument(fmt::format("alert rule '{}' cannot be built", options.common.name));
  }
  return std::unique_ptr<AlertRule>(std::make_unique<ViralPostRule>(options, context));
}

}  // namespace brandpulse
