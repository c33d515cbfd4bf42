#include "engine/yaml_reader.h"

#include <cstdlib>

#include <gtest/gtest.h>

namespace brandpulse {
namespace {

TEST(YamlReaderTest, UnknownKeySuggestsClosest) {
  Diagnostics diagnostics;
  auto node = LoadYamlText("workers: 2\nwindoes: []\n", "p.yaml", diagnostics);
  ASSERT_TRUE(node.has_value());
  YamlMap map(*node, "p.yaml", "pipeline", diagnostics);
  EXPECT_EQ(map.Integer("workers", 0, 64), 2);
  map.Child("windows");
  map.CheckNoUnknownKeys();
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics.items()[0].ToString(),
            "p.yaml:2:1: error: unknown key 'windoes' in pipeline (hint: did you mean 'windows'?)");
}

TEST(YamlReaderTest, SyntaxErrorHasLineAndColumn) {
  Diagnostics diagnostics;
  auto node = LoadYamlText("a: 1\nb: [1, 2\n", "bad.yaml", diagnostics);
  EXPECT_FALSE(node.has_value());
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics.items()[0].location.file, "bad.yaml");
  EXPECT_GE(diagnostics.items()[0].location.line, 2);
}

TEST(YamlReaderTest, EnvironmentSubstitution) {
  setenv("BRANDPULSE_TEST_SECRET", "s3cret", 1);
  unsetenv("BRANDPULSE_TEST_UNSET");
  Diagnostics diagnostics;
  SourceLocation here{"x.yaml", 3, 7};
  EXPECT_EQ(SubstituteEnvironment("a-${BRANDPULSE_TEST_SECRET}-b", here, diagnostics), "a-s3cret-b");
  EXPECT_EQ(SubstituteEnvironment("${BRANDPULSE_TEST_UNSET:-fallback}", here, diagnostics),
            "fallback");
  EXPECT_TRUE(diagnostics.empty());
  SubstituteEnvironment("${BRANDPULSE_TEST_UNSET}", here, diagnostics);
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics.items()[0].location.line, 3);
}

TEST(YamlReaderTest, Durations) {
  EXPECT_EQ(ParseDurationMs("250ms"), 250);
  EXPECT_EQ(ParseDurationMs("30s"), 30000);
  EXPECT_EQ(ParseDurationMs("5m"), 300000);
  EXPECT_EQ(ParseDurationMs("1h"), 3600000);
  EXPECT_EQ(ParseDurationMs("2"), 2000);
  EXPECT_FALSE(ParseDurationMs("5x").has_value());
  EXPECT_FALSE(ParseDurationMs("").has_value());
}

TEST(YamlReaderTest, WrongTypeIsReported) {
  Diagnostics diagnostics;
  auto node = LoadYamlText("workers: many\nfollow: maybe\n", "p.yaml", diagnostics);
  YamlMap map(*node, "p.yaml", "pipeline", diagnostics);
  EXPECT_FALSE(map.Integer("workers", 0, 64).has_value());
  EXPECT_FALSE(map.Boolean("follow").has_value());
  ASSERT_EQ(diagnostics.size(), 2u);
  EXPECT_EQ(diagnostics.items()[0].location.line, 1);
  EXPECT_EQ(diagnostics.items()[0].location.column, 10);
  EXPECT_EQ(diagnostics.items()[1].location.line, 2);
}

}  // namespace
}  // namespace brandpulse
