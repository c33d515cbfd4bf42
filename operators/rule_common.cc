#include "operators/rule_common.h"

#include <algorithm>
#include <bit>
#include <charconv>

#include <fmt/format.h>

#include "engine/varint.h"
#include "engine/window_metric_registry.h"
#include "operators/response_times.h"

namespace brandpulse {

void ReadRuleCommon(const std::string& name, YamlMap& section, const ConfigContext& context,
                    RuleCommonOptions& options) {
  Diagnostics& diagnostics = section.diagnostics();
  options.name = name;
  if (auto brands = section.StringList("brands")) {
    options.brands = *brands;
    std::vector<std::string> brand_ids;
    for (const BrandSpec& brand : context.watchlist.brands) brand_ids.push_back(brand.id);
    if (!brand_ids.empty()) {
      for (const std::string& brand : options.brands) {
        if (std::find(brand_ids.begin(), brand_ids.end(), brand) != brand_ids.end()) continue;
        diagnostics.Add(section.LocationOf("brands"),
                        fmt::format("alert rule '{}' names brand '{}', which the watchlist lacks",
                                    name, brand),
                        DidYouMean(brand, brand_ids, "add it to the watchlist"));
      }
    }
  }
  if (auto evidence = section.Integer("evidence", 0, 20)) {
    options.evidence = static_cast<uint32_t>(*evidence);
  }
  if (auto cooldown = section.DurationMs("cooldown")) options.noise.cooldown_ms = *cooldown;
  if (auto interval = section.DurationMs("group_interval")) {
    options.noise.group_interval_ms = *interval;
  }
}

std::optional<uint32_t> ReadRuleWindow(YamlMap& section, const ConfigContext& context,
                                       bool required) {
  std::vector<std::string> window_names;
  for (const WindowSpec& window : context.windows) window_names.push_back(window.name);
  auto window = section.String("window", required);
  if (!window) return std::nullopt;
  auto found = std::find(window_names.begin(), window_names.end(), *window);
  if (found == window_names.end()) {
    section.diagnostics().Add(section.LocationOf("window"),
                              fmt::format("no window named '{}'", *window),
                              DidYouMean(*window, window_names, "define it under windows:"));
    return std::nullopt;
  }
  return static_cast<uint32_t>(found - window_names.begin());
}

const WindowMetricDefinition* ReadRuleMetric(YamlMap& section, std::string_view key) {
  auto metric = section.String(key);
  if (!metric) return nullptr;
  const WindowMetricDefinition* definition = FindWindowMetric(*metric);
  if (definition == nullptr) {
    const std::vector<std::string> metrics = WindowMetricNames();
    section.diagnostics().Add(
        section.LocationOf(key), fmt::format("unknown metric '{}'", *metric),
        DidYouMean(*metric, metrics, fmt::format("metrics are {}", fmt::join(metrics, ", "))));
  } else if (CompleteAfterWindowCloses(definition->name)) {
    section.diagnostics().Add(
        section.LocationOf(key),
        fmt::format("metric '{}' cannot be read by a window rule: an inquiry counts as unanswered "
                    "only `within` after it was written, after its window has closed",
                    *metric),
        "alert on unanswered inquiries with the unanswered rule (group_interval: 1h sends them as "
        "one message per hour); query the metric with `brandpulse query`");
    return nullptr;
  }
  return definition;
}

void BrandFilter::Reset(const BrandDirectory& brands) {
  enabled_.assign(brands.brand_count(), ids_.empty());
  for (const std::string& id : ids_) {
    if (auto index = brands.FindBrand(id)) enabled_[*index] = true;
  }
}

void EvidenceKeeper::AddBatch(const Batch& batch, const BrandFilter& filter) {
  if (per_bucket_ == 0) return;
  // The batch's newest posts per brand and bucket first (indices only), so at most per_bucket_
  // posts per brand and bucket are copied per batch, however many mention the brand.
  std::map<std::pair<uint32_t, int64_t>, std::vector<uint32_t>> newest;
  for (const Mention& mention : batch.mentions) {
    if (mention.own_post || !filter.enabled(mention.brand_index)) continue;
    if (sentiment_filter_ != 0 && mention.sentiment != sentiment_filter_) continue;
    const Post& post = batch.posts[mention.post_index];
    const int64_t bucket =
        post.event_time_ms - ((post.event_time_ms % bucket_ms_) + bucket_ms_) % bucket_ms_;
    std::vector<uint32_t>& kept = newest[{mention.brand_index, bucket}];
    if (kept.size() < per_bucket_) {
      kept.push_back(mention.post_index);
      continue;
    }
    auto oldest = std::min_element(kept.begin(), kept.end(), [&](uint32_t a, uint32_t b) {
      return batch.posts[a].event_time_ms < batch.posts[b].event_time_ms;
    });
    if (post.event_time_ms >= batch.posts[*oldest].event_time_ms) *oldest = mention.post_index;
  }
  for (const auto& [key, post_indices] : newest) {
    std::vector<EvidencePost>& kept = posts_[key.first][key.second];
    dirty_.insert(key);
    for (uint32_t post_index : post_indices) {
      const Post& post = batch.posts[post_index];
      if (kept.size() < per_bucket_) {
        kept.push_back(EvidencePost::Of(post, batch.ingest_time_ms));
        continue;
      }
      auto oldest = std::min_element(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
        return a.event_time_ms < b.event_time_ms;
      });
      if (post.event_time_ms >= oldest->event_time_ms) {
        *oldest = EvidencePost::Of(post, batch.ingest_time_ms);
      }
    }
  }
}

std::vector<EvidencePost> EvidenceKeeper::Newest(uint32_t brand_index, int64_t from_ms,
                                                 int64_t to_ms, size_t count) const {
  std::vector<EvidencePost> found;
  auto brand = posts_.find(brand_index);
  if (brand == posts_.end() || count == 0) return found;
  for (auto bucket = brand->second.lower_bound(from_ms - bucket_ms_ + 1);
       bucket != brand->second.end() && bucket->first < to_ms; ++bucket) {
    for (const EvidencePost& post : bucket->second) {
      if (post.event_time_ms >= from_ms && post.event_time_ms < to_ms) found.push_back(post);
    }
  }
  std::sort(found.begin(), found.end(), [](const EvidencePost& a, const EvidencePost& b) {
    if (a.event_time_ms != b.event_time_ms) return a.event_time_ms > b.event_time_ms;
    return a.post_id < b.post_id;
  });
  if (found.size() > count) found.resize(count);
  return found;
}

void EvidenceKeeper::DropBefore(int64_t time_ms, const BrandDirectory& brands) {
  for (auto& [brand, buckets] : posts_) {
    while (!buckets.empty() && buckets.begin()->first + bucket_ms_ <= time_ms) {
      if (brand < brands.brand_count()) {
        dropped_.emplace_back(std::string(brands.brand_info(brand).id), buckets.begin()->first);
      }
      dirty_.erase({brand, buckets.begin()->first});
      buckets.erase(buckets.begin());
    }
  }
}

void EvidenceKeeper::Snapshot(std::string_view rule, const BrandDirectory& brands,
                              StateStore::Commit& commit) {
  for (const auto& [brand_id, bucket] : dropped_) {
    commit.DeleteRuleState(rule, fmt::format("ev/{}\x1f{}", brand_id, bucket));
  }
  dropped_.clear();
  for (const auto& [brand, bucket] : dirty_) {
    auto found = posts_.find(brand);
    if (found == posts_.end() || brand >= brands.brand_count()) continue;
    auto posts = found->second.find(bucket);
    if (posts == found->second.end()) continue;
    std::string value;
    for (const EvidencePost& post : posts->second) post.EncodeTo(value);
    commit.PutRuleState(rule, fmt::format("ev/{}\x1f{}", brands.brand_info(brand).id, bucket),
                        value);
  }
  dirty_.clear();
}

bool EvidenceKeeper::Restore(std::string_view key, std::string_view value,
                             const BrandDirectory& brands) {
  const size_t separator = key.find('\x1f');
  if (separator == std::string_view::npos) return false;
  std::optional<uint32_t> brand = brands.FindBrand(key.substr(0, separator));
  int64_t bucket = 0;
  std::string_view start = key.substr(separator + 1);
  if (std::from_chars(start.data(), start.data() + start.size(), bucket).ec != std::errc()) {
    return false;
  }
  std::vector<EvidencePost> posts;
  while (!value.empty()) {
    EvidencePost post;
    if (!post.DecodeFrom(value)) return false;
    posts.push_back(std::move(post));
  }
  if (brand) posts_[*brand][bucket] = std::move(posts);
  return true;
}

void EvidenceKeeper::Remap(const BrandDirectory& before, const BrandDirectory& after) {
  std::map<uint32_t, std::map<int64_t, std::vector<EvidencePost>>> moved;
  for (auto& [index, buckets] : posts_) {
    if (index >= before.brand_count()) continue;
    if (auto now = after.FindBrand(before.brand_info(index).id)) moved[*now] = std::move(buckets);
  }
  posts_ = std::move(moved);
  std::set<std::pair<uint32_t, int64_t>> dirty;
  for (const auto& [index, bucket] : dirty_) {
    if (index >= before.brand_count()) continue;
    if (auto now = after.FindBrand(before.brand_info(index).id)) dirty.insert({*now, bucket});
  }
  dirty_ = std::move(dirty);
}

std::vector<std::pair<std::string, uint64_t>> TopTermsOf(const WindowMetrics& metrics, size_t k) {
  std::vector<std::pair<std::string, uint64_t>> terms = metrics.hashtags.Top(k);
  for (auto& term : metrics.terms.Top(k)) terms.push_back(std::move(term));
  std::stable_sort(terms.begin(), terms.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (terms.size() > k) terms.resize(k);
  return terms;
}

WindowSeries::WindowSeries(const WindowSpec& window, int64_t allowed_lateness_ms)
    : size_ms_(window.size_ms),
      step_ms_(window.type == WindowType::kTumbling ? window.size_ms : window.slide_ms),
      lateness_ms_(allowed_lateness_ms) {
  if (step_ms_ <= 0) step_ms_ = size_ms_ > 0 ? size_ms_ : 1;
}

void WindowSeries::Add(const ClosedWindow& closed) {
  if (const Cohort* cohort = CohortOf(closed.brand_index)) {
    // A replayed brand: final only before its cohort's own next start.
    if (cohort->next_start_ms != INT64_MIN && closed.start_ms < cohort->next_start_ms) return;
  } else if (next_start_ms_ != INT64_MIN && closed.start_ms < next_start_ms_) {
    return;  // already final
  }
  pending_[closed.start_ms][closed.brand_index] = *closed.metrics;
}

const WindowSeries::Cohort* WindowSeries::CohortOf(uint32_t brand_index) const {
  for (const Cohort& cohort : cohorts_) {
    if (cohort.brands.contains(brand_index)) return &cohort;
  }
  return nullptr;
}

void WindowSeries::Replay(const std::set<uint32_t>& brand_indexes) {
  if (brand_indexes.empty()) return;
  for (Cohort& cohort : cohorts_) {
    for (uint32_t brand : brand_indexes) cohort.brands.erase(brand);
  }
  std::erase_if(cohorts_, [](const Cohort& cohort) { return cohort.brands.empty(); });
  for (auto it = pending_.begin(); it != pending_.end();) {
    for (uint32_t brand : brand_indexes) it->second.erase(brand);
    it = it->second.empty() ? pending_.erase(it) : std::next(it);
  }
  // A series that has handed out nothing yet starts with them anyway.
  if (next_start_ms_ != INT64_MIN) cohorts_.push_back(Cohort{brand_indexes, INT64_MIN});
}

// The replayed cohorts' windows, each cohort from its own next start up to the series' next start
// (then it joins the series). The windows of a cohort are those of one partials partition (a
// competitor group is never split), so a share sees its whole group.
Status WindowSeries::TakeCohorts(int64_t watermark_ms,
                                 const std::function<Status(const Final&)>& visit) {
  static const std::map<uint32_t, WindowMetrics> kNone;
  for (auto cohort = cohorts_.begin(); cohort != cohorts_.end();) {
    if (cohort->next_start_ms == INT64_MIN) {
      for (const auto& [start, brands] : pending_) {
        if (start >= next_start_ms_) break;
        bool theirs = false;
        for (const auto& [brand, metrics] : brands) theirs = theirs || cohort->brands.contains(brand);
        if (theirs) {
          cohort->next_start_ms = start;
          break;
        }
      }
    }
    if (cohort->next_start_ms == INT64_MIN) {
      // Nothing of theirs closed before the series' next start: they join it once it moves.
      if (WindowCloseTime(next_start_ms_, size_ms_, lateness_ms_) <= watermark_ms) {
        cohort = cohorts_.erase(cohort);
      } else {
        ++cohort;
      }
      continue;
    }
    while (cohort->next_start_ms < next_start_ms_ &&
           WindowCloseTime(cohort->next_start_ms, size_ms_, lateness_ms_) <= watermark_ms) {
      auto found = pending_.find(cohort->next_start_ms);
      Final final{cohort->next_start_ms, cohort->next_start_ms + size_ms_,
                  found == pending_.end() ? &kNone : &found->second};
      final.only = &cohort->brands;
      RETURN_IF_ERROR(visit(final));
      if (found != pending_.end()) {
        for (uint32_t brand : cohort->brands) found->second.erase(brand);
        if (found->second.empty()) pending_.erase(found);
      }
      cohort->next_start_ms += step_ms_;
    }
    if (cohort->next_start_ms >= next_start_ms_) {
      cohort = cohorts_.erase(cohort);  // caught up: the series hands out its next windows
    } else {
      ++cohort;
    }
  }
  return Status::Ok();
}

Status WindowSeries::TakeFinal(int64_t watermark_ms,
                               const std::function<Status(const Final&)>& visit) {
  if (next_start_ms_ == INT64_MIN) {
    if (pending_.empty()) return Status::Ok();
    next_start_ms_ = pending_.begin()->first;
  }
  static const std::map<uint32_t, WindowMetrics> kNone;
  if (!cohorts_.empty()) RETURN_IF_ERROR(TakeCohorts(watermark_ms, visit));
  std::set<uint32_t> behind;  // brands of cohorts still catching up: not in the series' windows
  for (const Cohort& cohort : cohorts_) behind.insert(cohort.brands.begin(), cohort.brands.end());
  while (WindowCloseTime(next_start_ms_, size_ms_, lateness_ms_) <= watermark_ms) {
    auto found = pending_.find(next_start_ms_);
    Final final{next_start_ms_, next_start_ms_ + size_ms_,
                found == pending_.end() ? &kNone : &found->second};
    if (!behind.empty()) final.skip = &behind;
    RETURN_IF_ERROR(visit(final));
    if (found != pending_.end()) pending_.erase(found);
    next_start_ms_ += step_ms_;
    // A long quiet stretch (a restart after days): skip ahead to the next window with data
    // rather than visiting every empty window one by one, but visit at most 10000 empty ones.
    if (pending_.empty()) {
      const int64_t last_final = watermark_ms - lateness_ms_ - size_ms_;
      if (last_final - next_start_ms_ > 10000 * step_ms_) {
        next_start_ms_ = last_final - ((last_final - next_start_ms_) % step_ms_);
      }
    }
  }
  return Status::Ok();
}

void WindowSeries::Remap(const BrandDirectory& before, const BrandDirectory& after) {
  for (Cohort& cohort : cohorts_) {
    std::set<uint32_t> moved;
    for (uint32_t index : cohort.brands) {
      if (index >= before.brand_count()) continue;
      if (auto now = after.FindBrand(before.brand_info(index).id)) moved.insert(*now);
    }
    cohort.brands = std::move(moved);
  }
  std::erase_if(cohorts_, [](const Cohort& cohort) { return cohort.brands.empty(); });
  for (auto& [start, brands] : pending_) {
    std::map<uint32_t, WindowMetrics> moved;
    for (auto& [index, metrics] : brands) {
      if (index >= before.brand_count()) continue;
      if (auto now = after.FindBrand(before.brand_info(index).id)) moved[*now] = std::move(metrics);
    }
    brands = std::move(moved);
  }
}

std::string PointsBaseline::Encode() const {
  std::string value;
  AppendVarint(value, windows);
  AppendVarint(value, std::bit_cast<uint64_t>(mean));
  AppendVarint(value, in_episode ? 1 : 0);
  return value;
}

bool PointsBaseline::Decode(std::string_view value) {
  uint64_t mean_bits = 0, episode = 0;
  if (!ReadVarint(value, windows) || !ReadVarint(value, mean_bits) || !ReadVarint(value, episode)) {
    return false;
  }
  mean = std::bit_cast<double>(mean_bits);
  in_episode = episode != 0;
  return true;
}

WindowRule::WindowRule(RuleCommonOptions common, std::string_view type, uint32_t window_index,
                       const std::vector<WindowSpec>& windows, int64_t allowed_lateness_ms,
                       const BrandDirectory& brands)
    : common_(std::move(common)),
      type_(type),
      window_index_(window_index),
      window_(windows[window_index]),
      filter_(common_.brands),
      evidence_(common_.evidence,
                window_.type == WindowType::kTumbling ? window_.size_ms : window_.slide_ms),
      series_(window_, allowed_lateness_ms),
      brands_(&brands) {
  filter_.Reset(brands);
}

Status WindowRule::Restore(StateStore& store, const BrandDirectory& brands) {
  bool bad_evidence = false;
  RETURN_IF_ERROR(store.ScanRuleState(common_.name, [&](std::string_view key,
                                                         std::string_view value) {
    if (key.starts_with("ev/")) {
      if (!evidence_.Restore(key.substr(3), value, brands)) bad_evidence = true;
      return;
    }
    if (key != kSeriesStateKey) return;
    int64_t start = 0;
    if (std::from_chars(value.data(), value.data() + value.size(), start).ec == std::errc()) {
      series_.set_next_start_ms(start);
    }
  }));
  if (bad_evidence) {
    return Status::Corruption(fmt::format("alert rule '{}': stored evidence does not decode",
                                          common_.name));
  }
  brands_ = &brands;
  return RestoreMore(store, brands);
}

Status WindowRule::OnBatch(const Batch& batch, RuleContext&) {
  evidence_.AddBatch(batch, filter_);
  return Status::Ok();
}

Status WindowRule::OnWindowClosed(const ClosedWindow& closed, RuleContext&) {
  if (filter_.enabled(closed.brand_index)) series_.Add(closed);
  return Status::Ok();
}

Status WindowRule::OnWatermark(RuleContext& context) {
  const int64_t before = series_.next_start_ms();
  RETURN_IF_ERROR(series_.TakeFinal(context.watermark_ms, [&](const WindowSeries::Final& final) {
    return EvaluateWindow(final, context);
  }));
  if (series_.next_start_ms() != before) {
    series_changed_ = true;
    evidence_.DropBefore(series_.next_start_ms(), context.brands);
  }
  return Status::Ok();
}

Status WindowRule::Snapshot(StateStore::Commit& commit) {
  if (series_changed_) {
    commit.PutRuleState(common_.name, kSeriesStateKey, std::to_string(series_.next_start_ms()));
    series_changed_ = false;
  }
  if (brands_ != nullptr) evidence_.Snapshot(common_.name, *brands_, commit);
  SnapshotMore(commit);
  return Status::Ok();
}

void WindowRule::ClearBrands(const std::vector<std::string>& brand_ids) {
  std::set<uint32_t> indexes;
  for (const std::string& id : brand_ids) {
    if (std::optional<uint32_t> index = brands_->FindBrand(id)) indexes.insert(*index);
  }
  series_.Replay(indexes);
  ClearMore(brand_ids);
}

Status WindowRule::OnBrandsChanged(const BrandDirectory& before, const BrandDirectory& after) {
  brands_ = &after;
  filter_.Reset(after);
  evidence_.Remap(before, after);
  series_.Remap(before, after);
  BrandsChangedMore(before, after);
  return Status::Ok();
}

AlertContent WindowRule::WindowAlert(const WindowSeries::Final& final, uint32_t brand_index,
                                     const BrandDirectory& brands) const {
  AlertContent content;
  content.rule = common_.name;
  content.type = type_;
  content.brand = brands.brand_info(brand_index);
  content.has_window = true;
  content.window_name = window_.name;
  content.window_start_ms = final.start_ms;
  content.window_end_ms = final.end_ms;
  content.event_time_ms = final.end_ms;
  content.evidence = evidence_.Newest(brand_index, final.start_ms, final.end_ms, common_.evidence);
  if (const WindowMetrics* metrics = final.Of(brand_index)) {
    content.top_terms = TopTermsOf(*metrics, 5);
  }
  return content;
}

std::string WindowRule::WindowAlertId(const BrandDirectory& brands, uint32_t brand_index,
                                      int64_t start_ms) const {
  return fmt::format("{}/{}/{}", common_.name, brands.brand_info(brand_index).id, start_ms);
}

PointsBaseline& BrandPointsBaselines::Update(const std::string& brand_id) {
  dirty_.insert(brand_id);
  return baselines_[brand_id];
}

Status BrandPointsBaselines::Restore(StateStore& store, std::string_view rule_name) {
  bool bad = false;
  RETURN_IF_ERROR(store.ScanRuleState(rule_name, [&](std::string_view key, std::string_view value) {
    if (key.starts_with("p/") && !baselines_[std::string(key.substr(2))].Decode(value)) bad = true;
  }));
  if (bad) {
    return Status::Corruption(fmt::format("alert rule '{}': stored baseline does not decode", rule_name));
  }
  return Status::Ok();
}

void BrandPointsBaselines::Clear(const std::vector<std::string>& brand_ids) {
  for (const std::string& id : brand_ids) {
    if (baselines_.erase(id) > 0 || dirty_.contains(id)) cleared_.insert(id);
    dirty_.erase(id);
  }
}

void BrandPointsBaselines::Snapshot(StateStore::Commit& commit, std::string_view rule_name) {
  for (const std::string& brand_id : cleared_) {
    if (!dirty_.contains(brand_id)) commit.DeleteRuleState(rule_name, "p/" + brand_id);
  }
  cleared_.clear();
  for (const std::string& brand_id : dirty_) {
    commit.PutRuleState(rule_name, "p/" + brand_id, baselines_[brand_id].Encode());
  }
  dirty_.clear();
}

}  // namespace brandpulse
