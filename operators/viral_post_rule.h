// The viral-post rule (`type: viral_post`): one post about a brand (a non-own mention of an
// enabled brand) that takes off. What the decoders give today: the replies seen in the stream
// (a post whose reply_to_post_id is the tracked post's id, in every input format) and the
// author's reach (followers). It fires when
//   - `replies`: the post got at least that many replies within any `within` of event time
//     (the replies' own event times, so out-of-order input counts the same), or
//   - `reach`: its author has at least that many followers (fires when the post is read).
// One post, one alert per brand it names: id "<rule>/<brand id>/<post id>". The alert carries the
// post and its newest replies as evidence, the hashtags of both as top terms, the counts and
// the post's age when it tipped.
//
// State: the tracked posts (the post, the brands, the recent reply times, counts, whether it
// fired), keyed by post id in the `rules` column family, committed with the epoch: exact across
// restarts. A post is tracked for `track_for` of event time after it was written; bounded by
// `max_tracked` per rule (past it the oldest post is forgotten and counted in the log).
// Replies read before the post they answer are not counted (the post is not tracked yet).
//
// Not read yet: the payloads' public metrics (like/repost/quote counts in X v2 `public_metrics`,
// Mastodon `reblogs_count`) and quotes/reposts seen in the stream — the decoders do not put
// them in Post (docs/alerts.md).
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
