// HashBytes: values fixed across runs and machines (sketches merge across processes), and the
// empty input, whose view may have a null data() (a default Post's author_id), hashed without
// touching memory. Under UndefinedBehaviorSanitizer (make test-asan) the old memcpy from null
// failed here.
#include "engine/hash.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace brandpulse {
namespace {

TEST(HashBytesTest, EmptyViewWithNullDataHashesLikeAnEmptyString) {
  std::string_view null_view;
  ASSERT_EQ(null_view.data(), nullptr);
  EXPECT_EQ(HashBytes(null_view), HashBytes(std::string_view("", 0)));
  EXPECT_EQ(HashBytes(null_view, 7), HashBytes(std::string(), 7));
}

TEST(HashBytesTest, TailBytesAndLengthBothCount) {
  // Every length from 0 to 24 (whole words, tails, both) gives a different hash of the same bytes.
  const std::string text = "abcdefghijklmnopqrstuvwx";
  std::set<uint64_t> seen;
  for (size_t length = 0; length <= text.size(); ++length) {
    EXPECT_TRUE(seen.insert(HashBytes(std::string_view(text).substr(0, length))).second) << length;
  }
  EXPECT_NE(HashBytes(std::string("a\0", 2)), HashBytes("a"));
}

TEST(HashBytesTest, ValuesAreStable) {
  // Sketches written by older runs must still merge: these values never change.
  EXPECT_EQ(HashBytes(""), MixBits(0x9e3779b97f4a7c15ULL));
  EXPECT_EQ(HashBytes("telenor"), 0xb419c2d5341be067ULL);
  EXPECT_EQ(HashBytes("Telefónica sube 5G", 42), 0x429d296c587ed8caULL);
  EXPECT_NE(HashBytes("telenor"), HashBytes("telenor", 1));
}

}  // namespace
}  // namespace brandpulse
