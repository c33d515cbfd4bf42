// The unanswered rule (`type: unanswered`): a question or complaint addressed to a brand — a
// reply to one of its handles or profiles, a reply to one of its posts, or a post that names one
// of its handles with '@' — that no profile of the brand answers within `within` of event time
// fires one alert carrying the post, its author, its age and the profile it was addressed to.
// A post by any of the brand's handles or profiles that replies to the inquiry, or to its author,
// closes it. With `include_named: true`, questions and complaints that name the brand without
// addressing it are inquiries too.
//
// Question or complaint: the enrichment's `intents` field (engine/enrichment_fields.h) when the
// post has one; without enrichment, a cheap cue of its own (a '?' or '¿', or one of a few
// complaint phrases, docs/alerts.md).
//
// State: the open inquiries, keyed by brand id and post id, each with its deadline (an
// event-time timer fired by the watermark), in the `rules` column family, committed with the
// epoch: exact across restarts. Bounded by `max_open` per rule; past it the inquiry with the
// earliest deadline fires early (marked "capacity": nothing is dropped silently). Also the
// brands' own posts (a reply to one addresses its brand; issue 11): the 100,000 read most
// recently (by count, over all brands), stored likewise, so a restart forgets none of them.
// With `cluster:` the brand's merger holds them, and a reply that names no handle is published
// as a candidate to every merger (docs/cluster.md, "Replies to a brand's own posts").
//
// Response times (operators/response_times.h): every inquiry opened and every first answer is
// reported through RuleContext::inquiries with its event time. An inquiry whose alert fired stays
// tracked (no second alert) until `answer_horizon` after it was written, so a late answer is still
// measured; past max_open these tracked-after-alert inquiries are forgotten first (oldest first).
#pragma once

#include <memory>
#include <string>

#include "operators/registry.h"
#include "operators/rule_common.h"

namespace brandpulse {

enum class InquiryCue : uint8_t { kQuestionOrComplaint, kQuestion, kComplaint, kAny };

struct UnansweredRuleOptions {
  RuleCommonOptions common;
  int64_t within_ms = 30 * 60 * 1000;
  InquiryCue cue = InquiryCue::kQuestionOrComplaint;
  bool include_named = false;
  uint64_t max_open = 100000;
  // How long after an inquiry its first answer is still measured (the response-time metrics),
  // also after its alert fired; at least within_ms. Default 24 h.
  int64_t answer_horizon_ms = 24 * 3600 * 1000;
  bool horizon_set = false;  // `answer_horizon` given (else it is max(24 h, within))
};

Result<std::unique_ptr<AlertRuleSpec>> ReadUnansweredRule(const std::string& name,
                                                          YamlMap& section,
                                                          const ConfigContext& context);
Result<std::unique_ptr<AlertRule>> MakeUnansweredRule(const UnansweredRuleOptions& options,
                                                      const RuleBuildContext& context);

// The built-in cue, for a post without the enrichment's intents: bit 0 question, bit 1
// complaint (enrichment::kIntentQuestion / kIntentComplaint).
uint32_t CheapInquiryCue(std::string_view text);

}  // namespace brandpulse
