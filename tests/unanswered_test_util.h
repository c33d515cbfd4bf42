// What the tests of the `unanswered` rule share (tests/operators_unanswered_rule_test.cc,
// tests/cluster_inquiry_test.cc, tests/cluster_ownpost_test.cc and
// tests/cluster_snapshot_state_test.cc): the brands customers ask and the rule as they build it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "operators/unanswered_rule.h"
#include "operators/watchlist_brands.h"
#include "engine/alert_rule.h"
#include "engine/post.h"
#include "tests/cluster_test_util.h"

namespace brandpulse::unanswered_test {

// Telenor (term "telenor") with its two handles and the support profile's handle.
inline BrandSpec TelenorWithSupport() {
  BrandSpec telenor = cluster_test::TermBrand("telenor", "Telenor");
  telenor.handles = {"@telenor_norge", "@TelenorSupport"};
  telenor.profiles = {{"support", "@TelenorSupport"}};
  return telenor;
}

// Telia (term "telia", handle "@telia_norge") under the id `id`.
inline BrandSpec Telia(std::string id = "telia") {
  BrandSpec telia = cluster_test::TermBrand(std::move(id), "Telia");
  telia.terms = {"telia"};
  telia.handles = {"@telia_norge"};
  return telia;
}

// The post a test's `Said` (id, author, text, reply_to_handle, reply_to_post, time_ms) stands
// for; its views point into `said`, which must outlive it.
template <typename Said>
Post PostOf(const Said& said) {
  Post post;
  post.id = said.id;
  post.author_handle = said.author;
  post.text = said.text;
  post.reply_to_handle = said.reply_to_handle;
  post.reply_to_post_id = said.reply_to_post;
  post.event_time_ms = said.time_ms;
  return post;
}

// The events `reader` publishes for `batch` (context.inquiry_events set: `cluster:`); a reader
// opens, closes and fires nothing itself.
inline std::vector<InquiryEvent> ReaderEvents(AlertRule& reader, const WatchlistBrands& brands,
                                              const Batch& batch) {
  std::vector<FiredAlert> fired;
  std::vector<InquiryObservation> observations;
  std::vector<InquiryEvent> events;
  RuleContext context{brands, INT64_MIN, fired, false, &observations};
  context.inquiry_events = &events;
  EXPECT_TRUE(reader.OnBatch(batch, context).ok());
  EXPECT_TRUE(fired.empty());
  EXPECT_TRUE(observations.empty());  // a reader opens and closes nothing itself
  return events;
}

// The `unanswered` rule "sla" (an inquiry is answered within 10 minutes) over `brands`.
inline std::unique_ptr<AlertRule> SlaRule(const WatchlistBrands* brands) {
  UnansweredRuleOptions options;
  options.common.name = "sla";
  options.within_ms = 10 * cluster_test::kMinute;
  RuleBuildContext context;
  context.brands = brands;
  Result<std::unique_ptr<AlertRule>> rule = MakeUnansweredRule(options, context);
  EXPECT_TRUE(rule.ok());
  return std::move(*rule);
}

}  // namespace brandpulse::unanswered_test
