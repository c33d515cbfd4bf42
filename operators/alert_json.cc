#include "operators/alert_json.h"

#include <cmath>

#include <fmt/format.h>

#include "engine/clock.h"
#include "engine/json_writer.h"
#include "engine/varint.h"
#include "operators/mention_json.h"

namespace brandpulse {
namespace {

void AppendString(std::string& out, std::string_view text) {
  AppendVarint(out, text.size());
  out.append(text);
}

bool ReadString(std::string_view& in, std::string& text) {
  uint64_t length = 0;
  if (!ReadVarint(in, length) || length > in.size()) return false;
  text.assign(in.substr(0, length));
  in.remove_prefix(length);
  return true;
}


void AppendTimeOrNull(std::string& out, std::string_view key, int64_t epoch_ms, bool known) {
  AppendJsonKey(out, key);
  if (known) {
    AppendJsonString(out, FormatIsoTime(epoch_ms));
  } else {
    out += "null";
  }
}

}  // namespace

EvidencePost EvidencePost::Of(const Post& post, int64_t ingest_time_ms) {
  EvidencePost evidence;
  evidence.post_id = std::string(post.id);
  evidence.text = std::string(post.text);
  evidence.author_id = std::string(post.author_id);
  evidence.author_handle = std::string(post.author_handle);
  AppendPostLink(post, evidence.link);
  evidence.event_time_ms = post.event_time_ms;
  evidence.ingest_time_ms = ingest_time_ms;
  return evidence;
}

void EvidencePost::EncodeTo(std::string& out) const {
  AppendString(out, post_id);
  AppendString(out, text);
  AppendString(out, author_id);
  AppendString(out, author_handle);
  AppendString(out, link);
  AppendVarint(out, ZigZag(event_time_ms));
  AppendVarint(out, ZigZag(ingest_time_ms));
}

bool EvidencePost::DecodeFrom(std::string_view& in) {
  uint64_t event = 0;
  uint64_t ingest = 0;
  if (!ReadString(in, post_id) || !ReadString(in, text) || !ReadString(in, author_id) ||
      !ReadString(in, author_handle) || !ReadString(in, link) || !ReadVarint(in, event) ||
      !ReadVarint(in, ingest)) {
    return false;
  }
  event_time_ms = UnZigZag(event);
  ingest_time_ms = UnZigZag(ingest);
  return true;
}

std::string_view SeverityName(AlertSeverity severity) {
  switch (severity) {
    case AlertSeverity::kInfo:
      return "info";
    case AlertSeverity::kWarning:
      return "warning";
    case AlertSeverity::kCritical:
      return "critical";
  }
  return "warning";
}

std::string JsonNumber(double value) {
  if (!std::isfinite(value)) return "null";
  if (value == std::floor(value) && std::fabs(value) < 9e15) {
    return fmt::format("{}", static_cast<int64_t>(value));
  }
  std::string text = fmt::format("{:.4f}", value);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

FiredAlert MakeAlert(std::string id, uint32_t brand_index, const AlertContent& content) {
  FiredAlert alert;
  alert.id = std::move(id);
  alert.brand_index = brand_index;
  alert.severity = content.severity;
  const EvidencePost* newest = content.evidence.empty() ? nullptr : &content.evidence.front();
  for (const EvidencePost& post : content.evidence) {
    if (post.event_time_ms > newest->event_time_ms) newest = &post;
  }
  alert.event_time_ms = newest != nullptr ? newest->event_time_ms : content.event_time_ms;
  alert.ingest_time_ms = newest != nullptr ? newest->ingest_time_ms : 0;

  std::string& json = alert.payload;
  json.push_back('{');
  AppendJsonKey(json, "schema", true);
  AppendJsonString(json, kAlertSchema);
  AppendJsonKey(json, "alert_id");
  AppendJsonString(json, alert.id);
  AppendJsonKey(json, "rule");
  AppendJsonString(json, content.rule);
  AppendJsonKey(json, "type");
  AppendJsonString(json, content.type);
  AppendJsonKey(json, "brand");
  AppendJsonString(json, content.brand.id);
  AppendJsonKey(json, "brand_name");
  AppendJsonString(json, content.brand.name);
  AppendJsonKey(json, "group");
  AppendJsonString(json, content.brand.group);
  AppendJsonKey(json, "severity");
  AppendJsonString(json, SeverityName(content.severity));
  AppendJsonKey(json, "summary");
  AppendJsonString(json, content.summary);
  AppendJsonKey(json, "window");
  if (content.has_window) {
    json.push_back('{');
    AppendJsonKey(json, "name", true);
    AppendJsonString(json, content.window_name);
    AppendJsonKey(json, "start");
    AppendJsonString(json, FormatIsoTime(content.window_start_ms));
    AppendJsonKey(json, "end");
    AppendJsonString(json, FormatIsoTime(content.window_end_ms));
    json.push_back('}');
  } else {
    json += "null";
  }
  AppendJsonKey(json, "metric");
  AppendJsonString(json, content.metric);
  json += ",\"observed\":";
  json += JsonNumber(content.observed);
  json += ",\"expected\":";
  json += JsonNumber(content.expected);
  json += ",\"details\":";
  json += content.details_json;
  AppendJsonKey(json, "evidence");
  json.push_back('[');
  for (size_t index = 0; index < content.evidence.size(); ++index) {
    const EvidencePost& post = content.evidence[index];
    if (index > 0) json.push_back(',');
    json.push_back('{');
    AppendJsonKey(json, "post_id", true);
    AppendJsonString(json, post.post_id);
    AppendJsonKey(json, "text");
    AppendJsonString(json, post.text);
    AppendJsonKey(json, "author_id");
    AppendJsonString(json, post.author_id);
    AppendJsonKey(json, "author_handle");
    AppendJsonString(json, post.author_handle);
    AppendJsonKey(json, "link");
    if (post.link.empty()) {
      json += "null";
    } else {
      AppendJsonString(json, post.link);
    }
    AppendJsonKey(json, "event_time");
    AppendJsonString(json, FormatIsoTime(post.event_time_ms));
    json.push_back('}');
  }
  json.push_back(']');
  AppendJsonKey(json, "top_terms");
  json.push_back('[');
  for (size_t index = 0; index < content.top_terms.size(); ++index) {
    if (index > 0) json.push_back(',');
    json.push_back('{');
    AppendJsonKey(json, "term", true);
    AppendJsonString(json, content.top_terms[index].first);
    fmt::format_to(std::back_inserter(json), ",\"count\":{}}}", content.top_terms[index].second);
  }
  json.push_back(']');
  AppendTimeOrNull(json, "newest_post_event_time", alert.event_time_ms, newest != nullptr);
  AppendTimeOrNull(json, "newest_post_ingest_time", alert.ingest_time_ms,
                   newest != nullptr && alert.ingest_time_ms != 0);
  AppendJsonKey(json, "emitted_at");
  AppendJsonString(json, FormatIsoTime(WallClockMs()));
  json.push_back('}');
  return alert;
}

FiredAlert MakeAlertGroup(std::string_view brand_id, std::string_view brand_name,
                          int64_t interval_start_ms, int64_t interval_ms,
                          std::span<const FiredAlert> alerts) {
  FiredAlert group;
  group.id = fmt::format("{}/{}", brand_id, interval_start_ms);
  group.severity = AlertSeverity::kInfo;
  group.event_time_ms = interval_start_ms;
  for (const FiredAlert& alert : alerts) {
    group.brand_index = alert.brand_index;
    if (alert.severity > group.severity) group.severity = alert.severity;
    if (alert.event_time_ms >= group.event_time_ms) {
      group.event_time_ms = alert.event_time_ms;
      group.ingest_time_ms = std::max(group.ingest_time_ms, alert.ingest_time_ms);
    }
  }
  std::string& json = group.payload;
  json.push_back('{');
  AppendJsonKey(json, "schema", true);
  AppendJsonString(json, kAlertGroupSchema);
  AppendJsonKey(json, "group_id");
  AppendJsonString(json, group.id);
  AppendJsonKey(json, "brand");
  AppendJsonString(json, brand_id);
  AppendJsonKey(json, "brand_name");
  AppendJsonString(json, brand_name);
  AppendJsonKey(json, "interval_start");
  AppendJsonString(json, FormatIsoTime(interval_start_ms));
  AppendJsonKey(json, "interval_end");
  AppendJsonString(json, FormatIsoTime(interval_start_ms + interval_ms));
  AppendJsonKey(json, "severity");
  AppendJsonString(json, SeverityName(group.severity));
  fmt::format_to(std::back_inserter(json), ",\"count\":{},\"alerts\":[", alerts.size());
  for (size_t index = 0; index < alerts.size(); ++index) {
    if (index > 0) json.push_back(',');
    json += alerts[index].payload;
  }
  json += "]}";
  return group;
}

}  // namespace brandpulse
