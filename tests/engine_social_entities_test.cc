// Hashtags and cashtags against twitter-text's own conformance suite (every case of its
// hashtag and cashtag sections, copied into tests/fixtures/twitter-text/ with its licence).
#include "engine/social_entities.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/unicode.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;

const fs::path kSuite = fs::path(BRANDPULSE_SOURCE_DIR) / "tests" / "fixtures" / "twitter-text" /
                        "extract.yml";

struct Found {
  std::string text;  // without the sign
  uint32_t begin_utf16;
  uint32_t end_utf16;
};

uint32_t Utf16Length(std::string_view text) {
  uint32_t units = 0;
  for (size_t at = 0; at < text.size();) {
    DecodedCodePoint point = DecodeCodePointAt(text, at);
    units += point.code_point >= 0x10000 ? 2 : 1;
    at += point.length;
  }
  return units;
}

std::vector<Found> Extract(const std::string& text, bool cashtags) {
  std::vector<SocialEntity> entities;
  ExtractSocialEntities(text, entities);
  std::vector<Found> found;
  for (const SocialEntity& entity : entities) {
    if (entity.cashtag != cashtags) continue;
    std::string_view whole = std::string_view(text).substr(entity.begin, entity.end - entity.begin);
    size_t sign = DecodeCodePointAt(whole, 0).length;
    found.push_back(Found{std::string(whole.substr(sign)),
                          Utf16Length(std::string_view(text).substr(0, entity.begin)),
                          Utf16Length(std::string_view(text).substr(0, entity.end))});
  }
  return found;
}

size_t RunSection(const YAML::Node& tests, const std::string& section, bool cashtags,
                  bool with_indices) {
  size_t cases = 0;
  for (const YAML::Node& test : tests[section]) {
    const std::string text = test["text"].as<std::string>();
    SCOPED_TRACE(section + ": " + test["description"].as<std::string>() + "\ntext: " + text);
    std::vector<Found> found = Extract(text, cashtags);
    std::vector<std::string> names;
    for (const Found& entity : found) names.push_back(entity.text);
    std::vector<std::string> expected;
    for (const YAML::Node& item : test["expected"]) {
      if (!with_indices) {
        expected.push_back(item.as<std::string>());
        continue;
      }
      expected.push_back(item[cashtags ? "cashtag" : "hashtag"].as<std::string>());
      size_t index = expected.size() - 1;
      if (index < found.size()) {
        EXPECT_EQ(found[index].begin_utf16, item["indices"][0].as<uint32_t>());
        EXPECT_EQ(found[index].end_utf16, item["indices"][1].as<uint32_t>());
      }
    }
    EXPECT_EQ(names, expected);
    ++cases;
  }
  return cases;
}

TEST(SocialEntitiesTest, PassesEveryTwitterTextHashtagAndCashtagCase) {
  YAML::Node suite = YAML::LoadFile(kSuite.string());
  const YAML::Node tests = suite["tests"];
  size_t cases = 0;
  cases += RunSection(tests, "hashtags", false, false);
  cases += RunSection(tests, "hashtags_from_astral", false, false);
  cases += RunSection(tests, "hashtags_with_indices", false, true);
  cases += RunSection(tests, "cashtags", true, false);
  cases += RunSection(tests, "cashtags_with_indices", true, true);
  EXPECT_EQ(cases, 86u) << "the suite's hashtag and cashtag sections";
}

TEST(SocialEntitiesTest, TheCasesTheIssueNamed) {
  auto names = [](const std::string& text) {
    std::vector<SocialEntity> entities;
    ExtractSocialEntities(text, entities);
    std::string joined;
    for (const SocialEntity& entity : entities) {
      joined += (joined.empty() ? "" : " ") + text.substr(entity.begin, entity.end - entity.begin);
    }
    return joined;
  };
  EXPECT_EQ(names("#1 #2024 #5g"), "#5g") << "all-digit hashtags are not hashtags";
  EXPECT_EQ(names("$10 off $AAPL $株 x$MSFT"), "$AAPL");
  EXPECT_EQ(names("＃テレノール"), "＃テレノール") << "fullwidth number sign";
  EXPECT_EQ(names("#می‌خواهم"), "#می‌خواهم") << "ZWNJ joins";
  EXPECT_EQ(names("#il·lusió"), "#il·lusió");
  EXPECT_EQ(names("AT&#amp"), "") << "not after '&'";
}

}  // namespace
}  // namespace brandpulse
