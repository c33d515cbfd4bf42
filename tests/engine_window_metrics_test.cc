// WindowMetrics: mentions, reach and distinct authors add up under Merge in any order, and the
// versioned encoding round-trips and refuses damaged bytes.
#include "engine/window_metrics.h"

#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/hash.h"

namespace brandpulse {
namespace {

using namespace std::string_literals;

std::string Encoded(const WindowMetrics& metrics) {
  std::string out;
  metrics.EncodeTo(out);
  return out;
}

WindowMetrics MentionsBy(const std::vector<std::string>& authors, int64_t followers) {
  WindowMetrics metrics;
  for (const std::string& author : authors) metrics.AddMention(HashBytes(author), followers);
  return metrics;
}

TEST(WindowMetricsTest, AddMentionCountsMentionsReachAndAuthors) {
  WindowMetrics metrics;
  EXPECT_TRUE(metrics.empty());
  metrics.AddMention(HashBytes("alice"), 100);
  metrics.AddMention(HashBytes("alice"), 100);  // a second mention by the same author
  metrics.AddMention(HashBytes("bob"), 0);
  metrics.AddMention(HashBytes("carol"), -1);  // unknown followers add no reach
  EXPECT_EQ(metrics.mentions, 4u);
  EXPECT_EQ(metrics.reach, 200u);
  EXPECT_EQ(metrics.authors.Estimate(), 3u);
  EXPECT_FALSE(metrics.empty());
}

TEST(WindowMetricsTest, MergeIsAssociativeAndCommutative) {
  WindowMetrics a = MentionsBy({"alice", "bob"}, 10);
  WindowMetrics b = MentionsBy({"alice", "carol", "dave"}, 7);
  WindowMetrics c;
  for (int i = 0; i < 1000; ++i) c.AddMention(HashBytes(fmt::format("crowd{}", i)), 1);

  WindowMetrics ab_c = a;
  ab_c.Merge(b);
  ab_c.Merge(c);
  WindowMetrics c_ba = c;
  WindowMetrics ba = b;
  ba.Merge(a);
  c_ba.Merge(ba);
  EXPECT_TRUE(ab_c == c_ba);
  EXPECT_EQ(Encoded(ab_c), Encoded(c_ba));
  EXPECT_EQ(ab_c.mentions, 1005u);
  EXPECT_EQ(ab_c.reach, 2u * 10 + 3u * 7 + 1000u);
  EXPECT_NEAR(static_cast<double>(ab_c.authors.Estimate()), 1004.0, 1004 * 0.05);

  WindowMetrics with_empty = a;
  with_empty.Merge(WindowMetrics{});
  EXPECT_TRUE(with_empty == a);
}

TEST(WindowMetricsTest, EncodingIsVersionedAndRoundTrips) {
  WindowMetrics metrics = MentionsBy({"alice", "bob"}, 150);
  std::string encoded = Encoded(metrics);
  // version 2, mentions 2, reach 300 (varint ac 02), replies 0, questions 0, no term capacity,
  // then the sparse sketch of two registers
  ASSERT_GE(encoded.size(), 9u);
  EXPECT_EQ(encoded.substr(0, 9), "\x02\x02\xac\x02\x00\x00\x00\x00\x02"s);

  for (WindowMetrics value : {WindowMetrics{}, metrics, MentionsBy({}, 0)}) {
    Result<WindowMetrics> decoded = WindowMetrics::Decode(Encoded(value));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_TRUE(*decoded == value);
  }
  WindowMetrics dense;
  for (int i = 0; i < 20000; ++i) dense.AddMention(HashBytes(fmt::format("a{}", i)), 1u << 30);
  Result<WindowMetrics> decoded = WindowMetrics::Decode(Encoded(dense));
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(*decoded == dense);
  EXPECT_EQ(decoded->reach, 20000ull << 30);
  // version, five zero counters, empty sparse sketch, two empty term summaries
  EXPECT_EQ(Encoded(WindowMetrics{}), "\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"s);

  WindowMetrics full = MentionsBy({"alice", "bob"}, 10);
  full.replies = 3;
  full.questions = 1;
  full.term_capacity = 8;
  full.hashtags.Add("#fiber", 5);
  full.terms.Add("outage", 2);
  full.terms.Add("støy", 1);
  decoded = WindowMetrics::Decode(Encoded(full));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_TRUE(*decoded == full);
  EXPECT_EQ(decoded->terms.Top(1), (std::vector<std::pair<std::string, uint64_t>>{{"outage", 2}}));
}

TEST(WindowMetricsTest, DecodesVersionOneValues) {
  // Written by brandpulse 0.1 before replies, questions and terms existed.
  Result<WindowMetrics> decoded = WindowMetrics::Decode("\x01\x02\xac\x02\x00\x00"s);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->mentions, 2u);
  EXPECT_EQ(decoded->reach, 300u);
  EXPECT_EQ(decoded->replies, 0u);
  EXPECT_TRUE(decoded->terms.empty());
}

TEST(WindowMetricsTest, DecodeRejectsEveryTruncationAndDamage) {
  std::string encoded = Encoded(MentionsBy({"alice", "bob", "carol"}, 1000));
  for (size_t length = 0; length < encoded.size(); ++length) {
    Result<WindowMetrics> decoded = WindowMetrics::Decode(encoded.substr(0, length));
    EXPECT_FALSE(decoded.ok()) << "prefix of " << length << " bytes";
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
    }
  }
  EXPECT_EQ(WindowMetrics::Decode(encoded + "x").status().code(), StatusCode::kCorruption);
  std::string other_version = encoded;
  other_version[0] = 3;
  EXPECT_EQ(WindowMetrics::Decode(other_version).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(WindowMetrics::Decode("\x01\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01\x00\x00\x00"s)
                .status()
                .code(),
            StatusCode::kCorruption);  // an 11-byte varint
  EXPECT_EQ(WindowMetrics::Decode("\x01\x01\x01\x07junk"s).status().code(),
            StatusCode::kCorruption);  // unknown sketch layout
}

}  // namespace
}  // namespace brandpulse
