// HyperLogLog: accuracy against exact counts, determinism under any order and merge grouping,
// the sparse/dense encoding and its validation, and memory while sparse.
#include "engine/hyperloglog.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/hash.h"

namespace brandpulse {
namespace {

const double kStandardError = 1.04 / std::sqrt(4096.0);

uint64_t AuthorHash(uint64_t sketch, uint64_t author) {
  return HashBytes(fmt::format("sketch{}/author{}", sketch, author));
}

HyperLogLog SketchOf(const std::vector<uint64_t>& hashes) {
  HyperLogLog sketch;
  for (uint64_t hash : hashes) sketch.AddHash(hash);
  return sketch;
}

std::string Encoded(const HyperLogLog& sketch) {
  std::string out;
  sketch.EncodeTo(out);
  return out;
}

TEST(HyperLogLogTest, ErrorWithinThreeStandardErrors) {
  for (uint64_t distinct : {1000ull, 10000ull, 100000ull, 1000000ull}) {
    HyperLogLog sketch;
    for (uint64_t author = 0; author < distinct; ++author) sketch.AddHash(AuthorHash(0, author));
    double error = (static_cast<double>(sketch.Estimate()) - distinct) / distinct;
    EXPECT_LT(std::abs(error), 3 * kStandardError)
        << distinct << " distinct, estimate " << sketch.Estimate();
  }
}

// The classic estimator (linear counting below 2.5 m = 10240, raw estimate above) overestimates
// by ~1.8% on average right above the switch; averaged over 40 sketches the noise is ~0.2%, so a
// mean error under 0.6% means no bias bump around the switch.
TEST(HyperLogLogTest, NoBiasAroundTheSmallRangeSwitch) {
  for (uint64_t distinct : {2000ull, 8000ull, 10000ull, 11000ull, 12000ull, 15000ull, 40000ull}) {
    double error_sum = 0;
    constexpr int kSketches = 40;
    for (int sketch_number = 0; sketch_number < kSketches; ++sketch_number) {
      HyperLogLog sketch;
      for (uint64_t author = 0; author < distinct; ++author) {
        sketch.AddHash(AuthorHash(sketch_number + 1, author));
      }
      error_sum += (static_cast<double>(sketch.Estimate()) - distinct) / distinct;
    }
    EXPECT_LT(std::abs(error_sum / kSketches), 0.006) << distinct << " distinct";
  }
}

TEST(HyperLogLogTest, SmallCountsAreNearlyExact) {
  HyperLogLog sketch;
  EXPECT_TRUE(sketch.empty());
  EXPECT_EQ(sketch.Estimate(), 0u);
  for (uint64_t author = 1; author <= 200; ++author) {
    sketch.AddHash(AuthorHash(7, author));
    sketch.AddHash(AuthorHash(7, author));  // a repeated author does not count again
    uint64_t estimate = sketch.Estimate();
    // Off by one only when two authors share a register (about n²/8192 expected collisions).
    EXPECT_LE(estimate > author ? estimate - author : author - estimate, author / 50 + 1)
        << author << " authors";
    if (author <= 10) {
      EXPECT_EQ(estimate, author);
    }
  }
  EXPECT_FALSE(sketch.empty());
}

TEST(HyperLogLogTest, OrderAndGroupingDoNotChangeRegisters) {
  std::vector<uint64_t> hashes;
  for (uint64_t i = 0; i < 30000; ++i) hashes.push_back(AuthorHash(1, i % 9000));  // repeats
  HyperLogLog in_order = SketchOf(hashes);

  std::mt19937_64 random(20240611);  // fixed seed: the test is deterministic
  for (int trial = 0; trial < 5; ++trial) {
    std::vector<uint64_t> shuffled = hashes;
    std::shuffle(shuffled.begin(), shuffled.end(), random);
    EXPECT_TRUE(SketchOf(shuffled) == in_order) << "trial " << trial;

    // Split into parts of very different sizes (some stay sparse, some turn dense) and merge
    // them left to right, right to left, and pairwise.
    std::vector<HyperLogLog> parts(6);
    for (size_t i = 0; i < shuffled.size(); ++i) {
      size_t part = i < 5 ? 0 : i < 150 ? 1 : i < 400 ? 2 : 3 + random() % 3;
      parts[part].AddHash(shuffled[i]);
    }
    HyperLogLog left_to_right;
    for (const HyperLogLog& part : parts) left_to_right.Merge(part);
    HyperLogLog right_to_left;
    for (auto part = parts.rbegin(); part != parts.rend(); ++part) right_to_left.Merge(*part);
    std::vector<HyperLogLog> level = parts;
    while (level.size() > 1) {
      std::vector<HyperLogLog> next;
      for (size_t i = 0; i < level.size(); i += 2) {
        next.push_back(level[i]);
        if (i + 1 < level.size()) next.back().Merge(level[i + 1]);
      }
      level = std::move(next);
    }
    for (const HyperLogLog* merged : {&left_to_right, &right_to_left, &level[0]}) {
      EXPECT_TRUE(*merged == in_order) << "trial " << trial;
      EXPECT_EQ(Encoded(*merged), Encoded(in_order)) << "trial " << trial;
    }
  }
}

TEST(HyperLogLogTest, SparseMergesMatchAddingDirectly) {
  // Two sparse sketches whose union crosses the sparse limit, and one that stays below it.
  for (uint64_t per_side : {20ull, 200ull}) {
    std::vector<uint64_t> first, second, both;
    for (uint64_t i = 0; i < per_side; ++i) {
      first.push_back(AuthorHash(2, i));
      second.push_back(AuthorHash(2, i + per_side / 2));  // overlaps half of `first`
    }
    both = first;
    both.insert(both.end(), second.begin(), second.end());
    HyperLogLog merged = SketchOf(first);
    merged.Merge(SketchOf(second));
    EXPECT_TRUE(merged == SketchOf(both)) << per_side;
    EXPECT_EQ(Encoded(merged), Encoded(SketchOf(both))) << per_side;
    HyperLogLog idempotent = merged;
    idempotent.Merge(merged);
    EXPECT_TRUE(idempotent == merged);
  }
}

TEST(HyperLogLogTest, EncodingRoundTripsSparseAndDense) {
  for (uint64_t count : {0ull, 1ull, 3ull, 200ull, 256ull, 300ull, 5000ull, 50000ull}) {
    std::vector<uint64_t> hashes;
    for (uint64_t i = 0; i < count; ++i) hashes.push_back(AuthorHash(3, i));
    HyperLogLog sketch = SketchOf(hashes);
    std::string encoded = Encoded(sketch);
    bool dense = encoded[0] == 1;
    if (count <= 256) {
      EXPECT_FALSE(dense) << count << " hashes set at most 256 registers";
      EXPECT_LE(encoded.size(), 2 + 3 * count) << count;
    }
    if (count >= 5000) {
      EXPECT_TRUE(dense) << count;
      EXPECT_EQ(encoded.size(), 1 + HyperLogLog::kRegisterCount);
    }
    std::string_view view = encoded;
    std::optional<HyperLogLog> decoded = HyperLogLog::DecodeFrom(view);
    ASSERT_TRUE(decoded.has_value()) << count;
    EXPECT_TRUE(view.empty());
    EXPECT_TRUE(*decoded == sketch);
    EXPECT_EQ(decoded->Estimate(), sketch.Estimate());
    EXPECT_EQ(Encoded(*decoded), encoded);
  }
}

TEST(HyperLogLogTest, EncodingOfKnownRegisters) {
  HyperLogLog sketch;
  EXPECT_EQ(Encoded(sketch), std::string("\x00\x00", 2));
  // Top 12 bits pick the register; the rank is the position of the first 1 bit after them.
  sketch.AddHash((uint64_t{5} << 52) | (uint64_t{1} << 49));  // register 5, rank 3
  sketch.AddHash((uint64_t{300} << 52) | 1);                  // register 300, rank 52
  sketch.AddHash(uint64_t{300} << 52);                        // register 300, rank 53 (all 0)
  sketch.AddHash((uint64_t{5} << 52) | (uint64_t{1} << 51));  // register 5, rank 1: no change
  // sparse, 2 entries, index 5 rank 3, index delta 295 (varint a7 02) rank 53
  EXPECT_EQ(Encoded(sketch), std::string("\x00\x02\x05\x03\xa7\x02\x35", 7));
}

TEST(HyperLogLogTest, DenseEncodingOfFewRegistersDecodesToTheCanonicalForm) {
  HyperLogLog sketch;
  sketch.AddHash((uint64_t{5} << 52) | (uint64_t{1} << 49));    // register 5, rank 3
  sketch.AddHash((uint64_t{100} << 52) | (uint64_t{1} << 45));  // register 100, rank 7
  std::string sparse = Encoded(sketch);
  EXPECT_EQ(sparse, std::string("\x00\x02\x05\x03\x5f\x07", 6));
  std::string dense(1 + HyperLogLog::kRegisterCount, '\0');
  dense[0] = 1;
  dense[1 + 5] = 3;
  dense[1 + 100] = 7;
  std::string_view view = dense;
  std::optional<HyperLogLog> decoded = HyperLogLog::DecodeFrom(view);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(*decoded == sketch);
  EXPECT_EQ(Encoded(*decoded), sparse);  // equal registers, equal bytes
  EXPECT_LE(decoded->allocated_bytes(), 32u);
}

TEST(HyperLogLogTest, DecodeAdvancesPastOneSketch) {
  HyperLogLog small = SketchOf({AuthorHash(5, 1)});
  HyperLogLog large;
  for (uint64_t i = 0; i < 3000; ++i) large.AddHash(AuthorHash(5, i));
  std::string both = Encoded(large) + Encoded(small) + "tail";
  std::string_view view = both;
  std::optional<HyperLogLog> first = HyperLogLog::DecodeFrom(view);
  std::optional<HyperLogLog> second = HyperLogLog::DecodeFrom(view);
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_TRUE(*first == large);
  EXPECT_TRUE(*second == small);
  EXPECT_EQ(view, "tail");
}

TEST(HyperLogLogTest, DecodeRejectsMalformedBytes) {
  auto decodes = [](std::string bytes) {
    std::string_view view = bytes;
    return HyperLogLog::DecodeFrom(view).has_value();
  };
  using namespace std::string_literals;
  EXPECT_TRUE(decodes("\x00\x01\x05\x03"s));
  EXPECT_FALSE(decodes(""));
  EXPECT_FALSE(decodes("\x02"s));                            // unknown layout
  EXPECT_FALSE(decodes("\x00"s));                            // no count
  EXPECT_FALSE(decodes("\x00\x01\x05"s));                    // entry without rank
  EXPECT_FALSE(decodes("\x00\x01\x05\x00"s));                // rank 0 in a sparse entry
  EXPECT_FALSE(decodes("\x00\x01\x05\x36"s));                // rank 54 > 53
  EXPECT_FALSE(decodes("\x00\x02\x05\x03\x00\x04"s));        // index not increasing
  EXPECT_FALSE(decodes("\x00\x01\x80\x20\x01"s));            // index 4096
  EXPECT_FALSE(decodes("\x00\x02\xff\x1f\x01\x01\x01"s));    // 4095 then 4096
  EXPECT_FALSE(decodes("\x00\x81\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"s));  // overlong count
  EXPECT_FALSE(decodes("\x00\xff\x7f\x01\x01"s));            // count beyond the input
  EXPECT_FALSE(decodes("\x01"s + std::string(4095, '\x01')));  // truncated dense
  EXPECT_FALSE(decodes("\x01"s + std::string(4095, '\x01') + "\x36"s));  // dense rank 54
  EXPECT_TRUE(decodes("\x01"s + std::string(4096, '\x35')));
}

TEST(HyperLogLogTest, FewAuthorsCostLittleMemory) {
  HyperLogLog sketch = SketchOf({AuthorHash(6, 1), AuthorHash(6, 2), AuthorHash(6, 3)});
  EXPECT_LE(sketch.allocated_bytes(), 32u);
  for (uint64_t i = 0; i < 5000; ++i) sketch.AddHash(AuthorHash(6, i));
  EXPECT_EQ(sketch.allocated_bytes(), HyperLogLog::kRegisterCount);
  EXPECT_EQ(HyperLogLog().allocated_bytes(), 0u);
}

}  // namespace
}  // namespace brandpulse
