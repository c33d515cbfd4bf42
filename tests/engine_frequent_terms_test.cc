// FrequentTerms: Misra–Gries guarantees against exact counts on skewed streams, under any
// grouping of merges, and canonical encodings.
#include "engine/frequent_terms.h"

#include <cmath>
#include <map>
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace brandpulse {
namespace {

// A Zipf-like stream of `n` terms over `distinct` values.
std::vector<std::string> ZipfStream(size_t n, size_t distinct, uint32_t seed) {
  std::vector<double> weights;
  for (size_t i = 1; i <= distinct; ++i) weights.push_back(1.0 / std::pow(static_cast<double>(i), 1.1));
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  std::mt19937 random(seed);
  std::vector<std::string> stream;
  for (size_t i = 0; i < n; ++i) stream.push_back(fmt::format("term{}", pick(random)));
  return stream;
}

void ExpectMisraGriesBounds(const FrequentTerms& summary, const std::map<std::string, uint64_t>& exact,
                            size_t capacity, uint64_t total) {
  EXPECT_EQ(summary.total(), total);
  EXPECT_LE(summary.size(), capacity);
  EXPECT_LE(summary.error(), total / (capacity + 1)) << "error beyond N/(C+1)";
  std::map<std::string, uint64_t> estimates;
  for (const auto& [term, count] : summary.Top(summary.size())) estimates[term] = count;
  for (const auto& [term, count] : exact) {
    uint64_t estimate = estimates.count(term) ? estimates[term] : 0;
    EXPECT_LE(estimate, count) << term;                      // never overcounts
    EXPECT_LE(count - estimate, summary.error()) << term;    // undercounts by at most error()
  }
}

TEST(FrequentTermsTest, ExactBelowCapacity) {
  FrequentTerms terms;
  terms.Add("b", 2);
  terms.Add("a", 2);
  terms.Add("c");
  terms.Shrink(3);
  EXPECT_EQ(terms.error(), 0u);
  EXPECT_EQ(terms.Top(5), (std::vector<std::pair<std::string, uint64_t>>{{"a", 2}, {"b", 2}, {"c", 1}}));
  EXPECT_EQ(terms.Top(1).size(), 1u);
}

TEST(FrequentTermsTest, ShrinkKeepsTheBoundsOnASkewedStream) {
  for (size_t capacity : {8u, 32u, 128u}) {
    std::vector<std::string> stream = ZipfStream(20000, 2000, 7);
    std::map<std::string, uint64_t> exact;
    FrequentTerms summary;
    // Commits of 500 terms, each an exact delta merged then shrunk: the store's left fold.
    for (size_t begin = 0; begin < stream.size(); begin += 500) {
      FrequentTerms delta;
      for (size_t i = begin; i < begin + 500; ++i) {
        delta.Add(stream[i]);
        ++exact[stream[i]];
      }
      summary.MergeExact(delta);
      summary.Shrink(capacity);
    }
    ExpectMisraGriesBounds(summary, exact, capacity, stream.size());
    // The heaviest term survives with a close count.
    auto top = summary.Top(1);
    ASSERT_EQ(top.size(), 1u);
    EXPECT_EQ(top[0].first, "term0");
  }
}

TEST(FrequentTermsTest, AnyMergeTreeKeepsTheBounds) {
  std::vector<std::string> stream = ZipfStream(8000, 500, 11);
  std::map<std::string, uint64_t> exact;
  for (const std::string& term : stream) ++exact[term];
  const size_t capacity = 16;
  // Eight shards summarised independently, then merged pairwise (a tree, not a fold).
  std::vector<FrequentTerms> shards(8);
  for (size_t i = 0; i < stream.size(); ++i) shards[i % 8].Add(stream[i]);
  for (FrequentTerms& shard : shards) shard.Shrink(capacity);
  while (shards.size() > 1) {
    std::vector<FrequentTerms> next;
    for (size_t i = 0; i + 1 < shards.size(); i += 2) {
      FrequentTerms merged = shards[i];
      merged.MergeExact(shards[i + 1]);
      merged.Shrink(capacity);
      next.push_back(std::move(merged));
    }
    shards = std::move(next);
  }
  ExpectMisraGriesBounds(shards[0], exact, capacity, stream.size());
}

TEST(FrequentTermsTest, SameOperandSequenceGivesIdenticalBytes) {
  std::vector<std::string> stream = ZipfStream(5000, 800, 3);
  auto fold = [&](size_t workers) {
    FrequentTerms stored;
    for (size_t begin = 0; begin < stream.size(); begin += 1000) {
      // Workers count their share exactly; the coordinator merges them exactly.
      std::vector<FrequentTerms> parts(workers);
      for (size_t i = begin; i < begin + 1000; ++i) parts[i % workers].Add(stream[i]);
      FrequentTerms delta;
      for (const FrequentTerms& part : parts) delta.MergeExact(part);
      stored.MergeExact(delta);
      stored.Shrink(24);
    }
    std::string bytes;
    stored.EncodeTo(bytes);
    return bytes;
  };
  EXPECT_EQ(fold(1), fold(2));
  EXPECT_EQ(fold(1), fold(7));
}

TEST(FrequentTermsTest, EncodingRoundTripsAndRejectsDamage) {
  FrequentTerms terms;
  terms.Add("#fiber", 3);
  terms.Add("outage", 9);
  terms.Add("støy", 1);
  terms.Shrink(2);
  std::string bytes;
  terms.EncodeTo(bytes);
  FrequentTerms decoded;
  std::string_view in = bytes;
  ASSERT_TRUE(decoded.DecodeFrom(in));
  EXPECT_TRUE(in.empty());
  EXPECT_TRUE(decoded == terms);
  for (size_t length = 0; length < bytes.size(); ++length) {
    std::string_view prefix = std::string_view(bytes).substr(0, length);
    FrequentTerms partial;
    EXPECT_FALSE(partial.DecodeFrom(prefix)) << length;
  }
  // Terms out of order are not canonical.
  std::string unordered = "\x02\x00\x02\x01z\x01\x01" "a\x01";
  std::string_view unordered_in = unordered;
  FrequentTerms rejected;
  EXPECT_FALSE(rejected.DecodeFrom(unordered_in));
}

}  // namespace
}  // namespace brandpulse
