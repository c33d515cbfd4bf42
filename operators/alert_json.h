// The one writer of alerts (schema brandpulse.alert/1, docs/schemas.md) and of grouped alert
// messages (brandpulse.alert_group/1). Rules describe an alert in an AlertContent; MakeAlert
// turns it into the FiredAlert the runner puts in the outbox.
//
// Thread safety: free functions over their arguments.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/alert_rule.h"
#include "engine/brand_directory.h"
#include "engine/post.h"

namespace brandpulse {

inline constexpr std::string_view kAlertSchema = "brandpulse.alert/1";
inline constexpr std::string_view kAlertGroupSchema = "brandpulse.alert_group/1";

// A post shown as evidence: copied out of its batch, so a rule may keep it across batches.
struct EvidencePost {
  std::string post_id;
  std::string text;
  std::string author_id;
  std::string author_handle;
  std::string link;  // empty: the platform gives none (written as null)
  int64_t event_time_ms = 0;
  int64_t ingest_time_ms = 0;  // wall clock; 0 unknown

  static EvidencePost Of(const Post& post, int64_t ingest_time_ms);
  // Compact encoding for rule state (unanswered keeps its open inquiries' posts).
  void EncodeTo(std::string& out) const;
  bool DecodeFrom(std::string_view& in);
};

struct AlertContent {
  std::string_view rule;
  std::string_view type;
  BrandInfo brand;
  AlertSeverity severity = AlertSeverity::kWarning;
  std::string summary;
  // The window the alert is about; none for per-post rules (written as null).
  bool has_window = false;
  std::string_view window_name;
  int64_t window_start_ms = 0;
  int64_t window_end_ms = 0;
  std::string_view metric;
  double observed = 0;
  double expected = 0;
  std::string details_json = "{}";  // one JSON object: rule-specific facts
  std::vector<EvidencePost> evidence;  // newest first
  std::vector<std::pair<std::string, uint64_t>> top_terms;
  // For a rule without evidence posts (silence): the event time the alert is about.
  int64_t event_time_ms = 0;
};

// "info", "warning", "critical".
std::string_view SeverityName(AlertSeverity severity);

// The alert with id `id` (the caller makes it: "<rule>/<brand>/<key>"), its payload written now
// (emitted_at = the wall clock). The newest evidence post gives the alert's event and ingest times.
FiredAlert MakeAlert(std::string id, uint32_t brand_index, const AlertContent& content);

// The grouped message of `alerts` (same brand, one interval), as brandpulse.alert_group/1.
FiredAlert MakeAlertGroup(std::string_view brand_id, std::string_view brand_name,
                          int64_t interval_start_ms, int64_t interval_ms,
                          std::span<const FiredAlert> alerts);

// Formats a number for JSON: integers without a fraction, others with up to 4 decimals.
std::string JsonNumber(double value);

}  // namespace brandpulse
