// What the tests of the `unanswered` rule share (tests/operators_unanswered_rule_test.cc,
// tests/cluster_inquiry_test.cc, tests/cluster_ownpost_test.cc and
// tests/cluster_snapshot_state_test.cc): the brands customers ask and the rule as they build it.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "operators/unanswered_rule.h"
#include "operators/watchlist_brands.h"
#include "engine/alert_rule.h"
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
