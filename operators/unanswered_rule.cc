#include "operators/unanswered_rule.h"

#include <algorithm>
#include <charconv>
#include <deque>
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "engine/enrichment_fields.h"
#include "engine/json_writer.h"
#include "engine/varint.h"
#include "operators/watchlist_brands.h"

namespace brandpulse {
namespace {

constexpr uint32_t kQuestionBit = enrichment::kIntentQuestion;
constexpr uint32_t kComplaintBit = enrichment::kIntentComplaint;

// Lower-cases ASCII letters into `out` (reused); other bytes are kept.
void FoldAscii(std::string_view text, std::string& out) {
  out.assign(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

std::string FoldHandle(std::string_view handle) {
  if (handle.starts_with("@")) handle.remove_prefix(1);
  std::string folded;
  FoldAscii(handle, folded);
  return folded;
}

// '@handle' in folded text, not followed by a handle character.
bool NamesHandle(std::string_view folded_text, std::string_view folded_handle) {
  size_t at = 0;
  while ((at = folded_text.find(folded_handle, at)) != std::string_view::npos) {
    const size_t end = at + folded_handle.size();
    const bool after_ok = end == folded_text.size() ||
                          !(std::isalnum(static_cast<unsigned char>(folded_text[end])) ||
                            folded_text[end] == '_');
    if (at > 0 && folded_text[at - 1] == '@' && after_ok) return true;
    at = end;
  }
  return false;
}

void PutString(std::string& out, std::string_view text) {
  AppendVarint(out, text.size());
  out.append(text);
}
bool GetString(std::string_view& in, std::string& text) {
  uint64_t length = 0;
  if (!ReadVarint(in, length) || length > in.size()) return false;
  text.assign(in.substr(0, length));
  in.remove_prefix(length);
  return true;
}

std::string FormatMinutes(int64_t ms) {
  if (ms % 3600000 == 0) return fmt::format("{} h", ms / 3600000);
  if (ms % 60000 == 0) return fmt::format("{} min", ms / 60000);
  return fmt::format("{} s", ms / 1000);
}

class UnansweredRule final : public AlertRule {
 public:
  UnansweredRule(UnansweredRuleOptions options, const BrandDirectory& brands)
      : options_(std::move(options)), filter_(options_.common.brands) {
    if (const PostFieldDefinition* intents = FindPostField(enrichment::kIntentsField)) {
      intents_slot_ = intents->slot;
    }
    IndexBrands(brands);
  }

  const std::string& name() const override { return options_.common.name; }
  AlertNoiseOptions noise() const override { return options_.common.noise; }
  bool WatchesBatches() const override { return true; }

  Status Restore(StateStore& store, const BrandDirectory&) override {
    Status bad;
    RETURN_IF_ERROR(store.ScanRuleState(name(), [&](std::string_view key, std::string_view value) {
      if (Status read = ReadEntry(key, value, /*dirty=*/false); bad.ok()) bad = read;
    }));
    SortOwnPosts();
    return bad;
  }

  // Issue 11, snapshots: every key names the brand first ("held/<brand>\x1f...",
  // "open/<brand>\x1f<post>", "own/<brand>\x1f..."), except a held candidate copy's, which has
  // no brand and belongs to the partials partition its id is stamped with.
  std::optional<RuleStateScope> ScopeOfState(std::string_view key, std::string_view) const override {
    if (key.starts_with("held/")) {
      std::optional<HeldKey> held = ParseHeldKey(key.substr(5));
      if (!held) return std::nullopt;
      const auto& [time_ms, kind, brand_id, id] = *held;
      if (brand_id.empty() && kind == static_cast<uint8_t>(InquiryEvent::Kind::kInquiryCandidate)) {
        return RuleStateScope{std::string(), StampOf(id)};
      }
      return RuleStateScope{brand_id, std::nullopt};
    }
    if (key.starts_with("open/")) {
      key.remove_prefix(5);
    } else if (key.starts_with("own/")) {
      key.remove_prefix(4);
    } else {
      return std::nullopt;
    }
    const size_t separator = key.find('\x1f');
    if (separator == std::string_view::npos) return std::nullopt;
    return RuleStateScope{std::string(key.substr(0, separator)), std::nullopt};
  }
  // Their brands were cleared (ClearBrands): no kept key collides. Dirty as well, so the next
  // Snapshot puts them again after the deletes ClearBrands left for it.
  Status LoadState(std::span<const std::pair<std::string, std::string>> entries,
                   StateStore::Commit& write) override {
    for (const auto& [key, value] : entries) {
      RETURN_IF_ERROR(ReadEntry(key, value, /*dirty=*/true));
      write.PutRuleState(name(), key, value);
    }
    SortOwnPosts();
    return Status::Ok();
  }

  // One stored entry (Restore, LoadState).
  Status ReadEntry(std::string_view key, std::string_view value, bool dirty) {
    if (key.starts_with("held/")) {
      std::optional<HeldKey> held = ParseHeldKey(key.substr(5));
      if (!held) return Status::Corruption(fmt::format("held inquiry event '{}' does not decode", key));
      held_[*held] = std::string(value);
      if (dirty) held_dirty_.insert(*held);
      return Status::Ok();
    }
    if (key.starts_with("own/")) {  // issue 11: the brands' own posts (RestoreOwnPost)
      std::optional<std::string> memory_key = RestoreOwnPost(key.substr(4), value);
      if (!memory_key) return Status::Corruption(fmt::format("own post '{}' does not decode", key));
      if (dirty) MarkOwnPost(*memory_key, &own_posts_.at(*memory_key));
      return Status::Ok();
    }
    if (!key.starts_with("open/")) return Status::Ok();
    key.remove_prefix(5);
    const size_t separator = key.find('\x1f');
    if (separator == std::string_view::npos) return Status::Ok();
    Inquiry inquiry;
    if (!Decode(value, inquiry)) {
      return Status::Corruption(fmt::format("open inquiry '{}' does not decode", key));
    }
    Key id{std::string(key.substr(0, separator)), std::string(key.substr(separator + 1))};
    Open(id, std::move(inquiry), dirty);
    return Status::Ok();
  }

  Status OnBatch(const Batch& batch, RuleContext& context) override {
    size_t mention = 0;
    for (uint32_t post_index = 0; post_index < batch.posts.size(); ++post_index) {
      const Post& post = batch.posts[post_index];
      const size_t first_mention = mention;
      while (mention < batch.mentions.size() && batch.mentions[mention].post_index == post_index) {
        ++mention;
      }
      if (CloseAnswered(post, context)) continue;  // a brand profile's post is not an inquiry
      // With `cluster:` the brands' own posts are known at their mergers only: a reply that
      // names no handle is a candidate, resolved there (ResolveCandidate).
      const bool publish = context.inquiry_events != nullptr;
      const bool candidate = publish && post.reply_to_handle.empty() &&
                             !post.reply_to_post_id.empty() && !post.id.empty();
      addressed_.clear();
      if (!post.reply_to_handle.empty()) {
        auto owners = handles_.find(FoldHandle(post.reply_to_handle));
        if (owners != handles_.end()) {
          for (const Profile& profile : owners->second) addressed_.push_back(profile);
        }
      }
      if (!publish && !post.reply_to_post_id.empty()) {
        if (std::optional<Profile> own = OwnPostProfile(post.reply_to_post_id, context.brands)) {
          addressed_.push_back(std::move(*own));
        }
      }
      if (mention > first_mention) {
        FoldAscii(post.text, folded_text_);
        for (size_t m = first_mention; m < mention; ++m) {
          const uint32_t brand = batch.mentions[m].brand_index;
          bool found = false;
          if (brand < brand_profiles_.size()) {
            for (const Profile& profile : brand_profiles_[brand]) {
              if (NamesHandle(folded_text_, profile.folded)) {
                addressed_.push_back(profile);
                found = true;
                break;
              }
            }
          }
          if (!found && options_.include_named) addressed_.push_back(Profile{brand, "", "", ""});
        }
      }
      if (addressed_.empty() && !candidate) continue;
      const uint32_t cue = CueOf(post);
      if (!Wanted(cue)) continue;
      if (candidate) PublishCandidate(post, batch.ingest_time_ms, cue, context);
      for (const Profile& profile : addressed_) {
        if (!filter_.enabled(profile.brand_index)) continue;
        Key key{std::string(context.brands.brand_info(profile.brand_index).id),
                std::string(post.id)};
        if (post.id.empty()) continue;
        // With `cluster:` (context.inquiry_events) the merger of the brand keeps the inquiries:
        // it decides whether one is open already (OnInquiryEvents).
        if (!publish && open_.count(key) != 0) continue;  // one inquiry per brand and post
        Inquiry inquiry;
        inquiry.post = EvidencePost::Of(post, batch.ingest_time_ms);
        inquiry.handle = profile.handle;
        inquiry.profile = profile.profile;
        inquiry.cue = cue;
        inquiry.deadline_ms = post.event_time_ms + options_.within_ms;
        inquiry.author_handle = FoldHandle(post.author_handle);
        if (publish) {
          InquiryEvent event{InquiryEvent::Kind::kOpened, name(), key.first, post.event_time_ms, {}};
          PutString(event.payload, key.second);
          Encode(inquiry, event.payload);
          context.inquiry_events->push_back(std::move(event));
          continue;
        }
        inquiry.opened_under_ms = context.watermark_ms;
        if (context.inquiries != nullptr) {
          InquiryObservation opened{InquiryObservation::Kind::kOpened, profile.brand_index,
                                    ProfileLabel(inquiry), 0};
          opened.event_time_ms = post.event_time_ms;
          context.inquiries->push_back(std::move(opened));
        }
        Open(key, std::move(inquiry), true);
      }
      Bound(context);
    }
    return Status::Ok();
  }

  // Issue 11, at the merger of the brands (`cluster:`): the events the readers published are
  // held (state, keyed by brand) and applied in event-time order once the merged watermark
  // passed them, openings before replies at the same time: what opens or closes an inquiry
  // does not depend on which instance read which post or where epochs ended.
  Status OnInquiryEvents(std::span<const InquiryEvent> events, int64_t release_before_ms,
                         RuleContext& context) override {
    for (const InquiryEvent& event : events) {
      std::string_view payload = event.payload;
      std::string id;
      if (event.kind == InquiryEvent::Kind::kOpened) {
        if (!GetString(payload, id)) continue;
      } else if (event.kind == InquiryEvent::Kind::kOwnPost ||
                 event.kind == InquiryEvent::Kind::kInquiryCandidate) {
        // s26: which partials partition's copy it is, then the post: copies of one partition
        // collapse, another partition's copy is its own (ResolveCandidate).
        if (!GetString(payload, id)) continue;
        id = fmt::format("{}\x1e{}", event.partials_partition, id);
      } else if (event.kind == InquiryEvent::Kind::kReply) {
        std::string replied_post;
        std::string replied_author;
        if (!GetString(payload, replied_post) || !GetString(payload, replied_author) ||
            !GetString(payload, id)) {
          continue;
        }
        id = fmt::format("{}\x1e{}\x1e{}", id, replied_post, replied_author);
      } else {
        continue;  // not this rule's kind
      }
      HeldKey key{event.event_time_ms, static_cast<uint8_t>(event.kind), event.brand_id, id};
      if (held_.emplace(key, event.payload).second) held_dirty_.insert(std::move(key));
    }
    while (!held_.empty() && std::get<0>(held_.begin()->first) < release_before_ms) {
      auto node = held_.extract(held_.begin());
      held_dirty_.insert(node.key());
      Release(node.key(), node.mapped(), context);
    }
    return Status::Ok();
  }

  void ClearBrands(const std::vector<std::string>& brand_ids) override {
    const std::set<std::string, std::less<>> brands(brand_ids.begin(), brand_ids.end());
    std::vector<Key> keys;
    for (const auto& [key, inquiry] : open_) {
      if (brands.contains(key.first)) keys.push_back(key);
    }
    for (const Key& key : keys) Take(key);
    for (auto it = own_posts_.begin(); it != own_posts_.end();) {  // issue 11: own posts
      if (brands.contains(it->second.brand_id)) {
        MarkOwnPost(it->first, nullptr);
        it = own_posts_.erase(it);
      } else {
        ++it;
      }
    }
    std::erase_if(own_post_order_, [&](const std::string& key) { return !own_posts_.contains(key); });
    for (auto it = held_.begin(); it != held_.end();) {
      if (brands.contains(std::get<2>(it->first))) {
        held_dirty_.insert(it->first);
        it = held_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // s26: the held candidate copies of these partials partitions go (a replay brings them
  // again); their brands' own posts go with ClearBrands.
  void ClearPartialsPartitions(const std::set<uint32_t>& partials_partitions) override {
    for (auto it = held_.begin(); it != held_.end();) {
      const auto& [time_ms, kind, brand_id, id] = it->first;
      if (kind == static_cast<uint8_t>(InquiryEvent::Kind::kInquiryCandidate) &&
          partials_partitions.contains(StampOf(id))) {
        held_dirty_.insert(it->first);
        it = held_.erase(it);
      } else {
        ++it;
      }
    }
  }

  Status OnWatermark(RuleContext& context) override {
    while (!deadlines_.empty() && deadlines_.begin()->first <= context.watermark_ms) {
      Fire(deadlines_.begin()->second, "deadline", context);
    }
    // Past the answer horizon an alerted inquiry's answer is no longer measured.
    while (!horizons_.empty() && horizons_.begin()->first <= context.watermark_ms) {
      Take(horizons_.begin()->second);
    }
    return Status::Ok();
  }

  Status Snapshot(StateStore::Commit& commit) override {
    for (auto& [state_key, value] : own_dirty_) {
      if (value) {
        commit.PutRuleState(name(), state_key, *value);
      } else {
        commit.DeleteRuleState(name(), state_key);
      }
    }
    own_dirty_.clear();
    for (const HeldKey& key : held_dirty_) {
      const std::string state_key = HeldStateKey(key);
      auto found = held_.find(key);
      if (found == held_.end()) {
        commit.DeleteRuleState(name(), state_key);
      } else {
        commit.PutRuleState(name(), state_key, found->second);
      }
    }
    held_dirty_.clear();
    for (const Key& key : dirty_) {
      const std::string state_key = fmt::format("open/{}\x1f{}", key.first, key.second);
      auto found = open_.find(key);
      if (found == open_.end()) {
        commit.DeleteRuleState(name(), state_key);
      } else {
        std::string value;
        Encode(found->second, value);
        commit.PutRuleState(name(), state_key, value);
      }
    }
    dirty_.clear();
    return Status::Ok();
  }

  Status OnBrandsChanged(const BrandDirectory&, const BrandDirectory& after) override {
    IndexBrands(after);
    return Status::Ok();
  }
  // s26: a candidate opens an inquiry only for an enabled brand whose own post its partition's
  // log brought (ResolveCandidate).
  bool CoversBrand(uint32_t brand_index) const override { return filter_.enabled(brand_index); }

 private:
  using Key = std::pair<std::string, std::string>;  // brand id, post id
  // An inquiry event held at the merger: event time, kind (openings first), brand id, and an id
  // that makes a copy of the same event (the same post read twice) collapse.
  using HeldKey = std::tuple<int64_t, uint8_t, std::string, std::string>;
  // The order held events are applied in: event time, then own posts, candidates, openings,
  // replies (s26: a reply to an own post of the same instant finds it; a candidate addresses
  // through the post before a kOpened of the same post through a handle, as one process does).
  struct HeldOrder {
    static int Rank(uint8_t kind) {
      switch (static_cast<InquiryEvent::Kind>(kind)) {
        case InquiryEvent::Kind::kOwnPost: return 0;
        case InquiryEvent::Kind::kInquiryCandidate: return 1;
        case InquiryEvent::Kind::kOpened: return 2;
        case InquiryEvent::Kind::kReply: return 3;
        default: return 4;
      }
    }
    bool operator()(const HeldKey& a, const HeldKey& b) const {
      const auto& [a_time, a_kind, a_brand, a_id] = a;
      const auto& [b_time, b_kind, b_brand, b_id] = b;
      const int a_rank = Rank(a_kind);
      const int b_rank = Rank(b_kind);
      return std::tie(a_time, a_rank, a_brand, a_id, a_kind) <
             std::tie(b_time, b_rank, b_brand, b_id, b_kind);
    }
  };

  // "held/<brand>\x1f<time>\x1f<kind>\x1f<id>": by brand first, so a brand's can be dropped.
  static std::string HeldStateKey(const HeldKey& key) {
    return fmt::format("held/{}\x1f{}\x1f{}\x1f{}", std::get<2>(key), std::get<0>(key),
                       std::get<1>(key), std::get<3>(key));
  }
  static std::optional<HeldKey> ParseHeldKey(std::string_view text) {
    std::string_view parts[3];
    for (std::string_view& part : parts) {
      const size_t separator = text.find('\x1f');
      if (separator == std::string_view::npos) return std::nullopt;
      part = text.substr(0, separator);
      text.remove_prefix(separator + 1);
    }
    int64_t time = 0;
    unsigned kind = 0;
    auto [time_end, time_error] =
        std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), time);
    auto [kind_end, kind_error] =
        std::from_chars(parts[2].data(), parts[2].data() + parts[2].size(), kind);
    if (time_error != std::errc() || kind_error != std::errc() ||
        time_end != parts[1].data() + parts[1].size() ||
        kind_end != parts[2].data() + parts[2].size() ||
        (kind != 1 && kind != 2 && kind != 5 && kind != 6)) {
      return std::nullopt;
    }
    return HeldKey{time, static_cast<uint8_t>(kind), std::string(parts[0]), std::string(text)};
  }
  struct Profile {
    uint32_t brand_index = 0;
    std::string folded;   // handle without '@', lower case
    std::string handle;   // as in the watchlist, with '@'
    std::string profile;  // the profile's name (`profiles:`), or ""
  };
  struct Inquiry {
    EvidencePost post;
    std::string handle;
    std::string profile;
    uint32_t cue = 0;
    int64_t deadline_ms = 0;
    std::string author_handle;  // folded
    // Its alert fired: tracked only to measure a late answer, until horizon_ms.
    bool alerted = false;
    int64_t horizon_ms = 0;
    // The watermark it was read under: the response-time windows final then did not count it.
    int64_t opened_under_ms = INT64_MIN;
  };

  static void Encode(const Inquiry& inquiry, std::string& out) {
    inquiry.post.EncodeTo(out);
    PutString(out, inquiry.handle);
    PutString(out, inquiry.profile);
    AppendVarint(out, inquiry.cue);
    AppendVarint(out, static_cast<uint64_t>(inquiry.deadline_ms));
    PutString(out, inquiry.author_handle);
    // Optional tagged tail: state written before a tag existed decodes without it.
    if (inquiry.alerted) {
      out.push_back('\x01');
      AppendVarint(out, static_cast<uint64_t>(inquiry.horizon_ms));
    }
    if (inquiry.opened_under_ms != INT64_MIN) {
      out.push_back('\x02');
      const auto value = static_cast<uint64_t>(inquiry.opened_under_ms);
      AppendVarint(out, (value << 1) ^ static_cast<uint64_t>(inquiry.opened_under_ms >> 63));
    }
  }
  static bool Decode(std::string_view in, Inquiry& inquiry) {
    uint64_t cue = 0;
    uint64_t deadline = 0;
    if (!inquiry.post.DecodeFrom(in) || !GetString(in, inquiry.handle) ||
        !GetString(in, inquiry.profile) || !ReadVarint(in, cue) || !ReadVarint(in, deadline) ||
        !GetString(in, inquiry.author_handle)) {
      return false;
    }
    while (!in.empty()) {
      const char tag = in[0];
      in.remove_prefix(1);
      uint64_t value = 0;
      if ((tag != '\x01' && tag != '\x02') || !ReadVarint(in, value)) return false;
      if (tag == '\x01') {
        inquiry.alerted = true;
        inquiry.horizon_ms = static_cast<int64_t>(value);
      } else {
        inquiry.opened_under_ms = static_cast<int64_t>((value >> 1) ^ (~(value & 1) + 1));
      }
    }
    inquiry.cue = static_cast<uint32_t>(cue);
    inquiry.deadline_ms = static_cast<int64_t>(deadline);
    return true;
  }

  void IndexBrands(const BrandDirectory& brands) {
    filter_.Reset(brands);
    handles_.clear();
    brand_profiles_.assign(brands.brand_count(), {});
    const auto* watchlist = dynamic_cast<const WatchlistBrands*>(&brands);
    if (watchlist == nullptr) return;  // a directory without handles: replies to own posts only
    const CompiledWatchlist& compiled = *watchlist->compiled();
    for (uint32_t brand = 0; brand < compiled.brand_count(); ++brand) {
      const BrandSpec& spec = compiled.brand(brand);
      for (const std::string& handle : spec.handles) {
        Profile profile{brand, FoldHandle(handle), handle, ""};
        for (const auto& [profile_name, profile_handle] : spec.profiles) {
          if (FoldHandle(profile_handle) == profile.folded) profile.profile = profile_name;
        }
        handles_[profile.folded].push_back(profile);
        brand_profiles_[brand].push_back(std::move(profile));
      }
    }
  }

  uint32_t CueOf(const Post& post) const {
    if (intents_slot_) {
      if (const PostFieldValue* intents = FieldOf(post, *intents_slot_)) {
        return static_cast<uint32_t>(intents->number) & (kQuestionBit | kComplaintBit);
      }
    }
    return CheapInquiryCue(post.text);
  }

  bool Wanted(uint32_t cue) const {
    switch (options_.cue) {
      case InquiryCue::kAny:
        return true;
      case InquiryCue::kQuestion:
        return (cue & kQuestionBit) != 0;
      case InquiryCue::kComplaint:
        return (cue & kComplaintBit) != 0;
      case InquiryCue::kQuestionOrComplaint:
        return cue != 0;
    }
    return false;
  }

  // A post by one of a brand's handles: remembered (a reply to it addresses the brand), and it
  // closes the brand's open inquiries it replies to (the post itself, or its author's).
  bool CloseAnswered(const Post& post, RuleContext& context) {
    if (post.author_handle.empty()) return false;
    auto owners = handles_.find(FoldHandle(post.author_handle));
    if (owners == handles_.end()) return false;
    if (context.inquiry_events != nullptr && !post.id.empty()) {
      // `cluster:` (s26): the brand's merger remembers it (the handle's first brand, as below).
      const Profile& first = owners->second.front();
      InquiryEvent event{InquiryEvent::Kind::kOwnPost, name(),
                         std::string(context.brands.brand_info(first.brand_index).id),
                         post.event_time_ms, {}};
      PutString(event.payload, post.id);
      PutString(event.payload, first.folded);
      context.inquiry_events->push_back(std::move(event));
    }
    for (const Profile& profile : owners->second) {
      if (!post.id.empty() && context.inquiry_events == nullptr) {
        RememberOwnPost(std::string(post.id),
                        std::string(context.brands.brand_info(profile.brand_index).id),
                        profile.folded, post.event_time_ms);
      }
      if (!filter_.enabled(profile.brand_index)) continue;  // (it has no inquiries open)
      const std::string brand_id(context.brands.brand_info(profile.brand_index).id);
      const std::string replied_author =
          post.reply_to_handle.empty() ? std::string() : FoldHandle(post.reply_to_handle);
      if (context.inquiry_events != nullptr) {  // `cluster:`: the brand's merger closes them
        if (post.reply_to_post_id.empty() && replied_author.empty()) continue;
        InquiryEvent event{InquiryEvent::Kind::kReply, name(), brand_id, post.event_time_ms, {}};
        PutString(event.payload, post.reply_to_post_id);
        PutString(event.payload, replied_author);
        PutString(event.payload, post.id);
        context.inquiry_events->push_back(std::move(event));
        continue;
      }
      CloseReplied(brand_id, profile.brand_index, post.reply_to_post_id, replied_author,
                   post.event_time_ms, context);
    }
    return true;
  }

  // A reply of one of the brand's profiles at `answer_ms`: closes the inquiry it replies to
  // and the open inquiries of the author it replies to.
  void CloseReplied(const std::string& brand_id, uint32_t brand_index,
                    std::string_view replied_post, const std::string& replied_author,
                    int64_t answer_ms, RuleContext& context) {
    if (!replied_post.empty()) {
      Close({brand_id, std::string(replied_post)}, brand_index, answer_ms, context);
    }
    if (!replied_author.empty()) {
      auto [begin, end] = by_author_.equal_range({brand_id, replied_author});
      std::vector<std::string> post_ids;
      for (auto it = begin; it != end; ++it) post_ids.push_back(it->second);
      for (const std::string& post_id : post_ids) {
        Close({brand_id, post_id}, brand_index, answer_ms, context);
      }
    }
  }

  // Past max_open, the earliest deadline fires now. Inquiries only tracked for their answer's
  // time after their alert go first.
  void Bound(RuleContext& context) {
    while (open_.size() > options_.max_open) {
      if (!horizons_.empty()) {
        Take(horizons_.begin()->second);
      } else {
        Fire(deadlines_.begin()->second, "capacity", context);
      }
    }
  }

  // OnInquiryEvents: one held event, now that the merged watermark passed it.
  void Release(const HeldKey& key, std::string_view payload, RuleContext& context) {
    const auto& [time_ms, kind, brand_id, id] = key;
    std::optional<uint32_t> brand_index = context.brands.FindBrand(brand_id);
    if (kind == static_cast<uint8_t>(InquiryEvent::Kind::kInquiryCandidate)) {
      ResolveCandidate(time_ms, StampOf(id), payload, context);
      return;
    }
    if (kind == static_cast<uint8_t>(InquiryEvent::Kind::kOwnPost)) {
      std::string post_id;
      std::string folded;
      if (!GetString(payload, post_id) || !GetString(payload, folded)) return;
      RememberOwnPost(fmt::format("{}\x1f{}", StampOf(id), post_id), brand_id, std::move(folded),
                      time_ms);
      return;
    }
    if (!brand_index) return;  // the brand left the watchlist
    if (kind == static_cast<uint8_t>(InquiryEvent::Kind::kReply)) {
      std::string replied_post;
      std::string replied_author;
      if (!GetString(payload, replied_post) || !GetString(payload, replied_author)) return;
      CloseReplied(brand_id, *brand_index, replied_post, replied_author, time_ms, context);
      return;
    }
    std::string post_id;
    Inquiry inquiry;
    if (!GetString(payload, post_id) || !Decode(payload, inquiry)) return;
    Key open_key{brand_id, post_id};
    if (open_.count(open_key) != 0) return;  // one inquiry per brand and post
    inquiry.opened_under_ms = context.watermark_ms;
    if (context.inquiries != nullptr) {
      InquiryObservation opened{InquiryObservation::Kind::kOpened, *brand_index,
                                ProfileLabel(inquiry), 0};
      opened.event_time_ms = inquiry.post.event_time_ms;
      context.inquiries->push_back(std::move(opened));
    }
    Open(open_key, std::move(inquiry), true);
    Bound(context);
  }

  // --- own posts across instances (`cluster:`, s26) ---
  // The partials partition a held own-post or candidate copy came from ("<stamp>\x1e<post id>").
  static uint32_t StampOf(std::string_view id) {
    uint32_t stamp = 0;
    std::from_chars(id.data(), id.data() + id.size(), stamp);
    return stamp;
  }

  // A reader's question or complaint that replies to a post and names no handle: whether it
  // addresses a brand depends on the brands' own posts, which their mergers hold. The inquiry
  // as kOpened carries it (post id, inquiry), without handle and profile, plus the replied-to
  // post id; brand empty, so a copy goes to every partials partition.
  void PublishCandidate(const Post& post, int64_t ingest_time_ms, uint32_t cue,
                        RuleContext& context) {
    Inquiry inquiry;
    inquiry.post = EvidencePost::Of(post, ingest_time_ms);
    inquiry.cue = cue;
    inquiry.deadline_ms = post.event_time_ms + options_.within_ms;
    inquiry.author_handle = FoldHandle(post.author_handle);
    InquiryEvent event{InquiryEvent::Kind::kInquiryCandidate, name(), "", post.event_time_ms, {}};
    PutString(event.payload, post.id);
    PutString(event.payload, post.reply_to_post_id);
    Encode(inquiry, event.payload);
    context.inquiry_events->push_back(std::move(event));
  }

  // At the merger, in event-time order after the own posts of the same instant: the copy of
  // partials partition `stamp` opens an inquiry if it replies to an own post that partition's
  // log brought (so a merger of several partitions opens it once, for the brand that wrote it),
  // as one process does for a reply to a remembered own post. Before the kOpened events of the
  // same instant: a reply to the brand's post that also names a handle of the brand is addressed
  // through the post, as in one process.
  void ResolveCandidate(int64_t time_ms, uint32_t stamp, std::string_view payload,
                        RuleContext& context) {
    std::string post_id;
    std::string replied_post;
    Inquiry inquiry;
    if (!GetString(payload, post_id) || !GetString(payload, replied_post) ||
        !Decode(payload, inquiry)) {
      return;
    }
    std::optional<Profile> profile =
        OwnPostProfile(fmt::format("{}\x1f{}", stamp, replied_post), context.brands);
    if (!profile || !filter_.enabled(profile->brand_index)) return;
    Key key{std::string(context.brands.brand_info(profile->brand_index).id), post_id};
    if (open_.count(key) != 0) return;  // one inquiry per brand and post
    inquiry.handle = profile->handle;
    inquiry.profile = profile->profile;
    inquiry.opened_under_ms = context.watermark_ms;
    if (context.inquiries != nullptr) {
      InquiryObservation opened{InquiryObservation::Kind::kOpened, profile->brand_index,
                                ProfileLabel(inquiry), 0};
      opened.event_time_ms = time_ms;
      context.inquiries->push_back(std::move(opened));
    }
    Open(key, std::move(inquiry), true);
    Bound(context);
  }

  // --- the brands' own posts (issue 11) ---
  // A post by one of a brand's handles: a reply to it addresses the brand (the first brand of
  // the handle, as before). Rule state "own/<brand id>\x1f<post id>" -> varint sequence,
  // folded handle, zigzag event time; kept for the kOwnPostBound most recently remembered
  // (read order), as the memory was before it was stored.
  struct OwnPost {
    std::string brand_id;
    std::string folded;  // the author's handle, folded: which of the brand's profiles
    uint64_t sequence = 0;
    int64_t event_time_ms = 0;
  };
  static constexpr size_t kOwnPostBound = 100000;

  static std::string OwnPostStateKey(const std::string& brand_id, const std::string& memory_key) {
    return fmt::format("own/{}\x1f{}", brand_id, memory_key);
  }

  void RememberOwnPost(std::string memory_key, std::string brand_id, std::string folded,
                       int64_t event_time_ms) {
    auto [entry, fresh] = own_posts_.try_emplace(std::move(memory_key));
    if (!fresh) return;  // the first brand and the first read win, as before
    entry->second = OwnPost{std::move(brand_id), std::move(folded), next_own_sequence_++,
                            event_time_ms};
    own_post_order_.push_back(entry->first);
    MarkOwnPost(entry->first, &entry->second);
    while (own_post_order_.size() > kOwnPostBound) {
      auto oldest = own_posts_.find(own_post_order_.front());
      if (oldest != own_posts_.end()) {
        MarkOwnPost(oldest->first, nullptr);
        own_posts_.erase(oldest);
      }
      own_post_order_.pop_front();
    }
  }

  // What the next Snapshot writes for an own post: its value, or a delete (`own` null).
  void MarkOwnPost(const std::string& memory_key, const OwnPost* own) {
    if (own == nullptr) {
      auto found = own_posts_.find(memory_key);
      if (found == own_posts_.end()) return;
      own_dirty_[OwnPostStateKey(found->second.brand_id, memory_key)].reset();
      return;
    }
    std::string value;
    AppendVarint(value, own->sequence);
    PutString(value, own->folded);
    const auto time = static_cast<uint64_t>(own->event_time_ms);
    AppendVarint(value, (time << 1) ^ static_cast<uint64_t>(own->event_time_ms >> 63));
    own_dirty_[OwnPostStateKey(own->brand_id, memory_key)] = std::move(value);
  }

  // Restore, LoadState: one stored own post ("<brand id>\x1f<memory key>" after "own/"); its
  // memory key, or nullopt when it does not decode. SortOwnPosts orders them once all are read.
  std::optional<std::string> RestoreOwnPost(std::string_view key, std::string_view value) {
    const size_t separator = key.find('\x1f');
    if (separator == std::string_view::npos) return std::nullopt;
    OwnPost own;
    own.brand_id = std::string(key.substr(0, separator));
    uint64_t time = 0;
    if (!ReadVarint(value, own.sequence) || !GetString(value, own.folded) ||
        !ReadVarint(value, time) || !value.empty()) {
      return std::nullopt;
    }
    own.event_time_ms = static_cast<int64_t>((time >> 1) ^ (~(time & 1) + 1));
    next_own_sequence_ = std::max(next_own_sequence_, own.sequence + 1);
    std::string memory_key(key.substr(separator + 1));
    own_posts_.insert_or_assign(memory_key, std::move(own));
    return memory_key;
  }
  void SortOwnPosts() {
    std::vector<std::pair<uint64_t, std::string>> order;
    order.reserve(own_posts_.size());
    for (const auto& [memory_key, own] : own_posts_) order.emplace_back(own.sequence, memory_key);
    std::sort(order.begin(), order.end());
    own_post_order_.clear();
    for (auto& [sequence, memory_key] : order) own_post_order_.push_back(std::move(memory_key));
  }

  // The profile a reply to `memory_key` addresses, if that is a remembered own post of a brand
  // still in the watchlist with that handle.
  std::optional<Profile> OwnPostProfile(std::string_view memory_key,
                                        const BrandDirectory& brands) {
    own_lookup_.assign(memory_key);
    auto own = own_posts_.find(own_lookup_);
    if (own == own_posts_.end()) return std::nullopt;
    std::optional<uint32_t> brand = brands.FindBrand(own->second.brand_id);
    if (!brand || *brand >= brand_profiles_.size()) return std::nullopt;
    for (const Profile& profile : brand_profiles_[*brand]) {
      if (profile.folded == own->second.folded) return profile;
    }
    return std::nullopt;
  }

  void Open(const Key& key, Inquiry inquiry, bool dirty) {
    if (inquiry.alerted) {
      horizons_.insert({inquiry.horizon_ms, key});
    } else {
      deadlines_.insert({inquiry.deadline_ms, key});
    }
    by_author_.insert({{key.first, inquiry.author_handle}, key.second});
    open_[key] = std::move(inquiry);
    if (dirty) dirty_.insert(key);
  }

  // Removes an open inquiry; returns it (nullopt when it was not open).
  std::optional<Inquiry> Take(const Key& key) {
    auto found = open_.find(key);
    if (found == open_.end()) return std::nullopt;
    Inquiry inquiry = std::move(found->second);
    open_.erase(found);
    if (inquiry.alerted) {
      horizons_.erase({inquiry.horizon_ms, key});
    } else {
      deadlines_.erase({inquiry.deadline_ms, key});
    }
    auto [begin, end] = by_author_.equal_range({key.first, inquiry.author_handle});
    for (auto it = begin; it != end; ++it) {
      if (it->second == key.second) {
        by_author_.erase(it);
        break;
      }
    }
    dirty_.insert(key);
    return inquiry;
  }

  // An answer from one of the brand's profiles: the inquiry closes, and its response time is
  // observed (the answer's event time minus the question's).
  // An answer written after the deadline does not take back the alert, whether or not the
  // watermark had reached the deadline when the answer was read: the alert fires first (same
  // alert, same id, whatever the batch and commit boundaries), then the late answer is measured.
  // A reply written before the inquiry does not answer it (a brand answering an author's earlier
  // question does not close a newer one read before the answer): with event times only, one
  // process and a cluster's merger (which applies events in event-time order) agree.
  void Close(const Key& key, uint32_t brand_index, int64_t answer_ms, RuleContext& context) {
    auto open = open_.find(key);
    if (open == open_.end()) return;
    if (answer_ms < open->second.post.event_time_ms) return;
    if (!open->second.alerted && answer_ms > open->second.deadline_ms) {
      Fire(key, "deadline", context);
    }
    std::optional<Inquiry> inquiry = Take(key);
    if (!inquiry || context.inquiries == nullptr) return;
    if (inquiry->alerted && answer_ms > inquiry->horizon_ms) return;  // past the horizon
    InquiryObservation answered{InquiryObservation::Kind::kAnswered, brand_index,
                                ProfileLabel(*inquiry),
                                std::max<int64_t>(0, answer_ms - inquiry->post.event_time_ms)};
    answered.event_time_ms = answer_ms;
    answered.after_deadline = inquiry->alerted;
    context.inquiries->push_back(std::move(answered));
  }

  static std::string ProfileLabel(const Inquiry& inquiry) {
    return !inquiry.profile.empty() ? inquiry.profile : inquiry.handle;
  }

  void Fire(Key key, std::string_view reason, RuleContext& context) {
    std::optional<Inquiry> inquiry = Take(key);
    if (!inquiry) return;
    std::optional<uint32_t> brand_index = context.brands.FindBrand(key.first);
    if (!brand_index) return;  // the brand left the watchlist: no alerts for it
    if (context.inquiries != nullptr) {
      InquiryObservation unanswered{InquiryObservation::Kind::kUnanswered, *brand_index,
                                    ProfileLabel(*inquiry), 0};
      unanswered.event_time_ms = inquiry->post.event_time_ms;  // counts in the inquiry's window
      unanswered.opened_under_watermark_ms = inquiry->opened_under_ms;
      context.inquiries->push_back(std::move(unanswered));
    }
    const int64_t age_ms = reason == "deadline"
                               ? options_.within_ms
                               : std::max<int64_t>(0, context.watermark_ms - inquiry->post.event_time_ms);
    AlertContent content;
    content.rule = name();
    content.type = "unanswered";
    content.brand = context.brands.brand_info(*brand_index);
    const bool complaint = (inquiry->cue & kComplaintBit) != 0;
    content.severity = complaint ? AlertSeverity::kCritical : AlertSeverity::kWarning;
    const std::string who = inquiry->post.author_handle.empty()
                                ? fmt::format("author {}", inquiry->post.author_id)
                                : "@" + inquiry->post.author_handle;
    const std::string asked = complaint ? "complained to" : "asked";
    content.summary = fmt::format(
        "{} {} {} {} ago and no {} profile answered", who, asked,
        inquiry->handle.empty() ? std::string(content.brand.name) : inquiry->handle,
        FormatMinutes(age_ms), content.brand.name);
    content.metric = "age_seconds";
    content.observed = static_cast<double>(age_ms / 1000);
    content.expected = static_cast<double>(options_.within_ms / 1000);
    std::string& details = content.details_json;
    details = "{";
    AppendJsonKey(details, "post_id", true);
    AppendJsonString(details, inquiry->post.post_id);
    AppendJsonKey(details, "author_id");
    AppendJsonString(details, inquiry->post.author_id);
    AppendJsonKey(details, "author_handle");
    AppendJsonString(details, inquiry->post.author_handle);
    AppendJsonKey(details, "asked_at");
    AppendJsonString(details, FormatIsoTime(inquiry->post.event_time_ms));
    details += fmt::format(",\"age_seconds\":{}", age_ms / 1000);
    AppendJsonKey(details, "addressed_profile");
    AppendJsonString(details, inquiry->profile);
    AppendJsonKey(details, "addressed_handle");
    AppendJsonString(details, inquiry->handle);
    AppendJsonKey(details, "cue");
    AppendJsonString(details, (inquiry->cue & kQuestionBit) != 0 && complaint ? "question,complaint"
                              : complaint                                      ? "complaint"
                              : (inquiry->cue & kQuestionBit) != 0             ? "question"
                                                                               : "none");
    AppendJsonKey(details, "reason");
    AppendJsonString(details, reason);
    details.push_back('}');
    content.evidence.push_back(inquiry->post);
    context.fired.push_back(
        MakeAlert(fmt::format("{}/{}/{}", name(), key.first, key.second), *brand_index, content));
    // Still tracked, so an answer after the deadline is measured (not alerted again).
    const int64_t horizon_ms = inquiry->post.event_time_ms + options_.answer_horizon_ms;
    if (reason == "deadline" && options_.answer_horizon_ms > options_.within_ms) {
      inquiry->alerted = true;
      inquiry->horizon_ms = horizon_ms;
      Open(key, std::move(*inquiry), true);
    }
  }

  UnansweredRuleOptions options_;
  BrandFilter filter_;
  std::optional<uint32_t> intents_slot_;
  std::unordered_map<std::string, std::vector<Profile>> handles_;  // folded handle -> owners
  std::vector<std::vector<Profile>> brand_profiles_;               // by brand index
  // Issue 11: the brands' recent own posts by post id (rule state "own/..."), oldest first in
  // own_post_order_, and what the next Snapshot writes of them (a value, or nullopt: a delete).
  std::unordered_map<std::string, OwnPost> own_posts_;
  std::deque<std::string> own_post_order_;
  uint64_t next_own_sequence_ = 0;
  std::map<std::string, std::optional<std::string>> own_dirty_;
  std::string own_lookup_;  // scratch
  std::map<Key, Inquiry> open_;
  std::set<std::pair<int64_t, Key>> deadlines_;  // not yet alerted: the alert's timer
  std::set<std::pair<int64_t, Key>> horizons_;   // alerted: when their answer stops counting
  std::multimap<std::pair<std::string, std::string>, std::string> by_author_;  // (brand, author) -> post
  std::set<Key> dirty_;
  std::map<HeldKey, std::string, HeldOrder> held_;  // issue 11: events waiting for the merged watermark
  std::set<HeldKey> held_dirty_;
  std::vector<Profile> addressed_;  // scratch
  std::string folded_text_;         // scratch
};

}  // namespace

uint32_t CheapInquiryCue(std::string_view text) {
  uint32_t cue = 0;
  if (text.find('?') != std::string_view::npos || text.find("\xC2\xBF") != std::string_view::npos) {
    cue |= kQuestionBit;
  }
  static constexpr std::string_view kComplaints[] = {
      "not working",  "doesn't work", "does not work", "isn't working", "still waiting",
      "no answer",    "no response",  "unacceptable",  "worst",         "terrible",
      "outage",       "refund",       "complaint",     "fungerer ikke", "virker ikke",
      "no funciona",  "reclamaci",    "queja"};
  std::string folded;
  FoldAscii(text, folded);
  for (std::string_view phrase : kComplaints) {
    if (folded.find(phrase) != std::string::npos) {
      cue |= kComplaintBit;
      break;
    }
  }
  return cue;
}

Result<std::unique_ptr<AlertRuleSpec>> ReadUnansweredRule(const std::string& name,
                                                          YamlMap& section,
                                                          const ConfigContext& context) {
  UnansweredRuleOptions options;
  ReadRuleCommon(name, section, context, options.common);
  if (auto within = section.DurationMs("within", true)) {
    options.within_ms = *within;
    if (*within <= 0) {
      section.diagnostics().Add(section.LocationOf("within"), "within must be positive",
                                "e.g. within: 30m");
    }
  }
  if (auto cue = section.Choice("cue", {"question_or_complaint", "question", "complaint", "any"})) {
    options.cue = *cue == "question"    ? InquiryCue::kQuestion
                  : *cue == "complaint" ? InquiryCue::kComplaint
                  : *cue == "any"       ? InquiryCue::kAny
                                        : InquiryCue::kQuestionOrComplaint;
  }
  if (auto named = section.Boolean("include_named")) options.include_named = *named;
  if (auto limit = section.Integer("max_open", 1, 100000000)) {
    options.max_open = static_cast<uint64_t>(*limit);
  }
  if (auto horizon = section.DurationMs("answer_horizon")) {
    options.answer_horizon_ms = *horizon;
    options.horizon_set = true;
    if (*horizon < options.within_ms) {
      section.diagnostics().Add(section.LocationOf("answer_horizon"),
                                "answer_horizon must be at least within",
                                "e.g. answer_horizon: 24h (answers are measured until then)");
    }
  }
  if (!options.horizon_set) options.answer_horizon_ms = std::max(options.answer_horizon_ms, options.within_ms);
  RETURN_IF_ERROR(section.Finish());
  return AlertRuleSpecOf(name, "unanswered", [options](const RuleBuildContext& context) {
    return MakeUnansweredRule(options, context);
  });
}

Result<std::unique_ptr<AlertRule>> MakeUnansweredRule(const UnansweredRuleOptions& options,
                                                      const RuleBuildContext& context) {
  if (context.brands == nullptr) {
    return Status::InvalidArgument(
        fmt::format("alert rule '{}' cannot be built", options.common.name));
  }
  return std::unique_ptr<AlertRule>(std::make_unique<UnansweredRule>(options, *context.brands));
}

}  // namespace brandpulse
