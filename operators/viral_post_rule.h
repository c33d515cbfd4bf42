// The viral-post rule (`type: viral_post`): one post about a brand (a non-own mention of an
// enabled brand) that takes off. It fires when, for one tracked post,
//   - `replies`, `reposts`, `quotes`: at least that many replies / reposts / quotes within any
//     `within` of event time, seen in the stream (posts whose reply_to_post_id, repost_of or
//     quote_of is the tracked post's id, each by its own event time, so out-of-order input counts
//     the same) — or reported by the payload's public metrics (operators/public_metrics.h) in a
//     record read within `within` of the post being written (the post's own record, or a repost
//     carrying the original's counts);
//   - `likes`: the payload reports at least that many likes within `within` of the post;
//   - `reach`: its author has at least that many followers (fires when the post is read).
// One post, one alert per brand it names: id "<rule>/<brand id>/<post id>". The alert carries the
// post and its newest replies as evidence, the hashtags of both as top terms, the counts and
// the post's age when it tipped. Reposts are not tracked as posts of their own (they count for
// the post they repost).
//
// State: the tracked posts (the post, the brands, the recent reply/repost/quote times, counts,
// the payload's counts, whether it fired), keyed by post id in the `rules` column family,
// committed with the epoch: exact across restarts. A post is tracked for `track_for` of event time
// after it was written; bounded by `max_tracked` per rule (past it the oldest post is forgotten
// and counted in the log). Replies, reposts and quotes read before the post are not counted (the
// post is not tracked yet).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "operators/registry.h"
#include "operators/rule_common.h"

namespace brandpulse {

struct ViralPostRuleOptions {
  RuleCommonOptions common;
  std::optional<uint64_t> replies;
  std::optional<uint64_t> reposts;  // issue 12: public metrics and reposts seen in the stream
  std::optional<uint64_t> quotes;
  std::optional<uint64_t> likes;
  int64_t within_ms = 10 * 60 * 1000;
  std::optional<int64_t> reach;
  int64_t track_for_ms = 24 * 3600 * 1000LL;
  uint64_t max_tracked = 100000;
};

Result<std::unique_ptr<AlertRuleSpec>> ReadViralPostRule(const std::string& name, YamlMap& section,
                                                         const ConfigContext& context);
Result<std::unique_ptr<AlertRule>> MakeViralPostRule(const ViralPostRuleOptions& options,
                                                     const RuleBuildContext& context);

}  // namespace brandpulse
