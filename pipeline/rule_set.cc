#include "pipeline/rule_set.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "engine/varint.h"
#include "operators/alert_json.h"

namespace brandpulse {
namespace {

constexpr std::string_view kNoiseState = "~noise";
// De-duplication ids: "<alert id>" -> event ms, one key each, written incrementally.
constexpr std::string_view kNoiseIdsState = "~noise-ids";
// De-duplication remembers ids this long (event time) and at most this many.
constexpr int64_t kRecentIdsMs = 24 * 3600 * 1000LL;
constexpr size_t kRecentIdsLimit = 100000;

int64_t IntervalStart(int64_t time_ms, int64_t interval_ms) {
  return time_ms - ((time_ms % interval_ms) + interval_ms) % interval_ms;
}

void AppendBytes(std::string& out, std::string_view bytes) {
  AppendVarint(out, bytes.size());
  out.append(bytes);
}
bool ReadBytes(std::string_view& in, std::string& bytes) {
  uint64_t length = 0;
  if (!ReadVarint(in, length) || length > in.size()) return false;
  bytes.assign(in.substr(0, length));
  in.remove_prefix(length);
  return true;
}
std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

Result<RuleSet> RuleSet::Make(const std::vector<std::shared_ptr<const AlertRuleSpec>>& specs,
                              const std::vector<WindowSpec>& windows,
                              const BrandDirectory& brands, int64_t allowed_lateness_ms) {
  RuleSet set;
  set.watched_windows_.assign(windows.size(), false);
  RuleBuildContext context{&windows, &brands, allowed_lateness_ms};
  for (const std::shared_ptr<const AlertRuleSpec>& spec : specs) {
    Result<std::unique_ptr<AlertRule>> rule = spec->Make(context);
    if (!rule.ok()) return rule.status().WithContext(fmt::format("alert rule '{}'", spec->name()));
    for (uint32_t index = 0; index < windows.size(); ++index) {
      if ((*rule)->WatchesWindow(index)) set.watched_windows_[index] = true;
    }
    set.watches_batches_ = set.watches_batches_ || (*rule)->WatchesBatches();
    set.longest_cooldown_ms_ = std::max(set.longest_cooldown_ms_, (*rule)->noise().cooldown_ms);
    set.rules_.push_back(std::move(*rule));
  }
  return set;
}

// Noise state keys: "last/<rule>\x1f<brand>" -> event ms; ("id/<alert id>" -> event ms: the
// earlier layout, read and moved to kNoiseIdsState);
// "group/<interval>/<start>/<brand>" -> brand name and the held alerts.
Status RuleSet::Restore(StateStore& store, const BrandDirectory& brands) {
  for (auto& rule : rules_) RETURN_IF_ERROR(rule->Restore(store, brands).WithContext(rule->name()));
  Status bad;
  RETURN_IF_ERROR(store.ScanRuleState(kNoiseIdsState, [&](std::string_view key,
                                                           std::string_view value) {
    if (auto time = ParseInt(value)) recent_ids_[std::string(key)] = *time;
  }));
  RETURN_IF_ERROR(store.ScanRuleState(kNoiseState, [&](std::string_view key,
                                                        std::string_view value) {
    if (key.starts_with("last/")) {
      if (auto time = ParseInt(value)) last_fired_[std::string(key.substr(5))] = *time;
    } else if (key.starts_with("id/")) {  // the earlier layout: moved to kNoiseIdsState
      if (auto time = ParseInt(value)) {
        recent_ids_[std::string(key.substr(3))] = *time;
        ids_put_.insert(std::string(key.substr(3)));
      }
    } else if (key.starts_with("group/")) {
      std::string_view rest = key.substr(6);
      const size_t slash1 = rest.find('/');
      const size_t slash2 = rest.find('/', slash1 + 1);
      if (slash1 == std::string_view::npos || slash2 == std::string_view::npos) return;
      auto interval = ParseInt(rest.substr(0, slash1));
      auto start = ParseInt(rest.substr(slash1 + 1, slash2 - slash1 - 1));
      if (!interval || !start) return;
      HeldGroup group;
      group.brand_id = std::string(rest.substr(slash2 + 1));
      std::string_view in = value;
      uint64_t count = 0;
      if (!ReadBytes(in, group.brand_name) || !ReadVarint(in, count)) return;
      std::optional<uint32_t> brand_index = brands.FindBrand(group.brand_id);
      for (uint64_t index = 0; index < count; ++index) {
        FiredAlert alert;
        uint64_t severity = 0, event = 0, ingest = 0;
        if (!ReadBytes(in, alert.id) || !ReadBytes(in, alert.payload) ||
            !ReadVarint(in, severity) || !ReadVarint(in, event) || !ReadVarint(in, ingest)) {
          bad = Status::Corruption(fmt::format("held alert group '{}' does not decode", key));
          return;
        }
        alert.severity = static_cast<AlertSeverity>(std::min<uint64_t>(severity, 2));
        alert.event_time_ms = static_cast<int64_t>(event);
        alert.ingest_time_ms = static_cast<int64_t>(ingest);
        alert.brand_index = brand_index.value_or(0);
        group.alerts.push_back(std::move(alert));
      }
      groups_[{*interval, *start, group.brand_id}] = std::move(group);
    }
  }));
  return bad;
}

Status RuleSet::OnBatch(const Batch& batch, RuleContext& context) {
  for (size_t index = 0; index < rules_.size(); ++index) {
    if (!rules_[index]->WatchesBatches()) continue;
    const size_t first = context.fired.size();
    RETURN_IF_ERROR(rules_[index]->OnBatch(batch, context));
    Filter(index, first, context);
  }
  return Status::Ok();
}

Status RuleSet::OnInquiryEvents(std::span<InquiryEvent> events, int64_t release_before_ms,
                                RuleContext& context) {
  // Each rule's events moved to the front of what is left, in their order: a span per rule
  // instead of a per-rule copy (s26: a replay held every copy three times). stable_partition
  // moves nothing and allocates nothing when the events are one rule's (the usual case).
  auto rest = events.begin();
  for (size_t index = 0; index < rules_.size(); ++index) {
    if (!rules_[index]->WatchesBatches()) continue;
    const std::string& name = rules_[index]->name();
    auto end = std::stable_partition(rest, events.end(),
                                     [&](const InquiryEvent& event) { return event.rule == name; });
    const std::span<const InquiryEvent> mine(rest, end);
    rest = end;
    const size_t first = context.fired.size();
    RETURN_IF_ERROR(rules_[index]->OnInquiryEvents(mine, release_before_ms, context));
    Filter(index, first, context);
  }
  return Status::Ok();
}

std::map<std::string, std::vector<std::string>> RuleSet::CoveredBrands(
    const BrandDirectory& brands) const {
  std::map<std::string, std::vector<std::string>> covered;
  for (const auto& rule : rules_) {
    if (!rule->WatchesBatches()) continue;
    std::vector<std::string>& ids = covered[rule->name()];
    for (uint32_t brand = 0; brand < brands.brand_count(); ++brand) {
      if (rule->CoversBrand(brand)) ids.emplace_back(brands.brand_info(brand).id);
    }
  }
  return covered;
}

void RuleSet::ClearPartialsPartitions(const std::set<uint32_t>& partials_partitions) {
  for (const auto& rule : rules_) rule->ClearPartialsPartitions(partials_partitions);
}

void RuleSet::ClearBrands(const std::vector<std::string>& brand_ids) {
  for (const auto& rule : rules_) rule->ClearBrands(brand_ids);
  // Their cooldowns start over too (a replay fires their alerts again; ids stay de-duplicated).
  const std::set<std::string_view> ids(brand_ids.begin(), brand_ids.end());
  noise_changed_ = std::erase_if(last_fired_, [&](const auto& entry) {
    const size_t separator = entry.first.rfind('\x1f');
    return separator != std::string::npos &&
           ids.contains(std::string_view(entry.first).substr(separator + 1));
  }) > 0 || noise_changed_;
}

Status RuleSet::ScanBrandState(StateStore& store, const StateVisitor& visit) const {
  for (const auto& rule : rules_) {
    RETURN_IF_ERROR(store.ScanRuleState(rule->name(), [&](std::string_view key,
                                                          std::string_view value) {
      if (std::optional<RuleStateScope> scope = rule->ScopeOfState(key, value)) {
        visit(rule->name(), key, value, *scope);
      }
    }));
  }
  return Status::Ok();
}

Status RuleSet::LoadBrandState(
    const std::map<std::string, std::vector<std::pair<std::string, std::string>>, std::less<>>&
        by_owner,
    StateStore::Commit& write) {
  for (const auto& rule : rules_) {
    auto entries = by_owner.find(rule->name());
    if (entries == by_owner.end()) continue;
    RETURN_IF_ERROR(rule->LoadState(entries->second, write).WithContext(rule->name()));
  }
  return Status::Ok();
}

Status RuleSet::OnWindowClosed(const ClosedWindow& window, RuleContext& context) {
  for (size_t index = 0; index < rules_.size(); ++index) {
    if (!rules_[index]->WatchesWindow(window.window_index)) continue;
    const size_t first = context.fired.size();
    RETURN_IF_ERROR(rules_[index]->OnWindowClosed(window, context));
    Filter(index, first, context);
  }
  return Status::Ok();
}

Status RuleSet::OnWatermark(RuleContext& context) {
  for (size_t index = 0; index < rules_.size(); ++index) {
    const size_t first = context.fired.size();
    RETURN_IF_ERROR(rules_[index]->OnWatermark(context));
    Filter(index, first, context);
  }
  // Groups whose interval the watermark passed leave as one message each.
  for (auto group = groups_.begin(); group != groups_.end();) {
    const auto& [interval, start, brand_id] = group->first;
    if (start + interval > context.watermark_ms && !context.end_of_input) {
      ++group;
      continue;
    }
    HeldGroup& held = group->second;
    if (held.alerts.size() == 1) {
      context.fired.push_back(std::move(held.alerts.front()));  // a group of one is the alert
    } else {
      noise_stats_.grouped += held.alerts.size();
      context.fired.push_back(
          MakeAlertGroup(held.brand_id, held.brand_name, start, interval, held.alerts));
    }
    group = groups_.erase(group);
    noise_changed_ = true;
  }
  // De-duplication forgets ids older than its horizon.
  for (auto id = recent_ids_.begin(); id != recent_ids_.end();) {
    if (id->second + kRecentIdsMs < context.watermark_ms) {
      ids_put_.erase(id->first);
      ids_deleted_.insert(id->first);
      id = recent_ids_.erase(id);
      noise_changed_ = true;
    } else {
      ++id;
    }
  }
  return Status::Ok();
}

void RuleSet::Filter(size_t rule_index, size_t first, RuleContext& context) {
  if (context.fired.size() == first) return;
  const AlertRule& rule = *rules_[rule_index];
  const AlertNoiseOptions noise = rule.noise();
  size_t kept = first;
  for (size_t index = first; index < context.fired.size(); ++index) {
    FiredAlert& alert = context.fired[index];
    if (owns_brand_ && !owns_brand_(context.brands.brand_info(alert.brand_index))) {
      ++noise_stats_.not_owned;
      continue;
    }
    noise_changed_ = true;
    if (!recent_ids_.emplace(alert.id, alert.event_time_ms).second) {
      ++noise_stats_.duplicates;
      continue;
    }
    ids_put_.insert(alert.id);
    ids_deleted_.erase(alert.id);
    if (recent_ids_.size() > kRecentIdsLimit) {
      // Forget the oldest id (by event time) to stay bounded.
      auto oldest = std::min_element(recent_ids_.begin(), recent_ids_.end(),
                                     [](const auto& a, const auto& b) { return a.second < b.second; });
      ids_put_.erase(oldest->first);
      ids_deleted_.insert(oldest->first);
      recent_ids_.erase(oldest);
    }
    const BrandInfo brand = context.brands.brand_info(alert.brand_index);
    if (noise.cooldown_ms > 0) {
      const std::string key = fmt::format("{}\x1f{}", rule.name(), brand.id);
      auto last = last_fired_.find(key);
      if (last != last_fired_.end() && alert.event_time_ms >= last->second &&
          alert.event_time_ms - last->second < noise.cooldown_ms) {
        ++noise_stats_.cooled_down;
        continue;
      }
      last_fired_[key] = alert.event_time_ms;
    }
    if (noise.group_interval_ms > 0) {
      const int64_t start = IntervalStart(alert.event_time_ms, noise.group_interval_ms);
      HeldGroup& group = groups_[{noise.group_interval_ms, start, std::string(brand.id)}];
      group.brand_id = std::string(brand.id);
      group.brand_name = std::string(brand.name);
      group.alerts.push_back(std::move(alert));
      continue;
    }
    if (kept != index) context.fired[kept] = std::move(alert);
    ++kept;
  }
  context.fired.resize(kept);
}

Status RuleSet::Snapshot(StateStore::Commit& commit) {
  for (auto& rule : rules_) RETURN_IF_ERROR(rule->Snapshot(commit));
  for (const std::string& id : ids_deleted_) commit.DeleteRuleState(kNoiseIdsState, id);
  for (const std::string& id : ids_put_) {
    auto found = recent_ids_.find(id);
    if (found != recent_ids_.end()) commit.PutRuleState(kNoiseIdsState, id, std::to_string(found->second));
  }
  ids_deleted_.clear();
  ids_put_.clear();
  if (!noise_changed_) return Status::Ok();
  noise_changed_ = false;
  // Small (bounded above): rewritten whole when it changed.
  commit.DeleteAllRuleState(kNoiseState);
  for (const auto& [key, time] : last_fired_) {
    commit.PutRuleState(kNoiseState, "last/" + key, std::to_string(time));
  }
  for (const auto& [key, group] : groups_) {
    const auto& [interval, start, brand_id] = key;
    std::string value;
    AppendBytes(value, group.brand_name);
    AppendVarint(value, group.alerts.size());
    for (const FiredAlert& alert : group.alerts) {
      AppendBytes(value, alert.id);
      AppendBytes(value, alert.payload);
      AppendVarint(value, static_cast<uint64_t>(alert.severity));
      AppendVarint(value, static_cast<uint64_t>(alert.event_time_ms));
      AppendVarint(value, static_cast<uint64_t>(alert.ingest_time_ms));
    }
    commit.PutRuleState(kNoiseState, fmt::format("group/{}/{}/{}", interval, start, brand_id),
                        value);
  }
  return Status::Ok();
}

Status RuleSet::OnBrandsChanged(const BrandDirectory& before, const BrandDirectory& after) {
  for (auto& rule : rules_) RETURN_IF_ERROR(rule->OnBrandsChanged(before, after));
  for (auto& [key, group] : groups_) {
    std::optional<uint32_t> index = after.FindBrand(group.brand_id);
    for (FiredAlert& alert : group.alerts) alert.brand_index = index.value_or(0);
  }
  return Status::Ok();
}

}  // namespace brandpulse
