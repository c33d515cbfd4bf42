// The synthetic firehose: deterministic, honest about its shares, and readable by the decoder in
// every format (ground truth from the generator checked against decode + match).
#include "operators/firehose_generator.h"

#include <map>

#include <gtest/gtest.h>

#include "engine/json_writer.h"
#include "operators/hyperscan_match.h"
#include "operators/json_decode.h"

namespace brandpulse {
namespace {

GeneratorSpec BaseSpec(FirehoseFormat format) {
  GeneratorSpec spec;
  spec.format = format;
  spec.seed = 99;
  spec.count = 20000;
  spec.mention_share = 0.1;
  spec.malformed_share = 0.01;
  spec.brands = {{"alpha", {"alphacom"}}, {"beta", {"betanet", "@betanet_no"}},
                 {"gamma", {"gammatel", "#gammatel"}}, {"delta", {"deltafon"}}};
  return spec;
}

std::vector<std::string> Generate(const GeneratorSpec& spec, std::vector<std::vector<std::string>>* truth = nullptr,
                                  std::vector<bool>* malformed = nullptr) {
  auto generator = FirehoseGenerator::Make(spec);
  EXPECT_TRUE(generator.ok()) << generator.status().ToString();
  std::vector<std::string> records;
  std::string record;
  while (true) {
    record.clear();
    if (!(*generator)->Next(record)) break;
    records.push_back(record);
    if (truth) truth->push_back((*generator)->last_inserted_brands());
    if (malformed) malformed->push_back((*generator)->last_was_malformed());
  }
  return records;
}

TEST(FirehoseGeneratorTest, SameSeedSameBytesOtherSeedOtherBytes) {
  GeneratorSpec spec = BaseSpec(FirehoseFormat::kTwitterV2);
  spec.count = 2000;
  std::vector<std::string> first = Generate(spec);
  EXPECT_EQ(first.size(), 2000u);
  EXPECT_EQ(Generate(spec), first);
  spec.seed = 100;
  EXPECT_NE(Generate(spec), first);
}

TEST(FirehoseGeneratorTest, SharesAndZipfOrderHold) {
  GeneratorSpec spec = BaseSpec(FirehoseFormat::kJson);
  spec.count = 100000;
  std::vector<std::vector<std::string>> truth;
  std::vector<bool> malformed;
  std::vector<std::string> records = Generate(spec, &truth, &malformed);
  size_t mentioning = 0, broken = 0;
  std::map<std::string, size_t> per_brand;
  std::map<std::string, size_t> per_language;
  for (size_t i = 0; i < records.size(); ++i) {
    broken += malformed[i];
    if (malformed[i]) continue;
    mentioning += !truth[i].empty();
    for (const std::string& brand : truth[i]) ++per_brand[brand];
    for (const char* language : {"en", "no", "es"}) {
      if (records[i].find(fmt::format("\"lang\":\"{}\"", language)) != std::string::npos) ++per_language[language];
    }
  }
  EXPECT_NEAR(mentioning / 100000.0, 0.1 * 0.99, 0.01);
  EXPECT_NEAR(broken / 100000.0, 0.01, 0.002);
  EXPECT_GT(per_brand["alpha"], per_brand["beta"]);
  EXPECT_GT(per_brand["beta"], per_brand["gamma"]);
  EXPECT_GT(per_brand["gamma"], per_brand["delta"]);
  for (const auto& [language, count] : per_language) {
    EXPECT_NEAR(count / 99000.0, 1.0 / 3, 0.02) << language;
  }
}

TEST(FirehoseGeneratorTest, EventTimesHaveBoundedDisorder) {
  GeneratorSpec spec = BaseSpec(FirehoseFormat::kJson);
  spec.malformed_share = 0;
  spec.count = 5000;
  spec.posts_per_second = 100;
  spec.max_disorder_ms = 3000;
  std::vector<std::string> records = Generate(spec);
  for (size_t i = 0; i < records.size(); ++i) {
    size_t at = records[i].find("\"ts\":") + 5;
    int64_t time = std::stoll(records[i].substr(at));
    int64_t nominal = spec.start_time_ms + static_cast<int64_t>(i * 10);
    EXPECT_LE(time, nominal) << i;
    EXPECT_GE(time, nominal - 3000) << i;
  }
}

struct FormatCase {
  FirehoseFormat generated;
  DecodeSpec decode;
};

// Every format the generator writes decodes, with the brands it inserted found by the matcher.
TEST(FirehoseGeneratorTest, EveryFormatDecodesAndGroundTruthIsFound) {
  DecodeSpec json;
  json.format = DecodeFormat::kJson;
  json.field_pointers = {{"id", "/id"}, {"text", "/text"}, {"author_id", "/author"},
                         {"author_followers", "/followers"}, {"event_time", "/ts"}, {"language", "/lang"}};
  std::vector<FormatCase> cases = {
      {FirehoseFormat::kTwitterV1, DecodeSpec{DecodeFormat::kTwitterV1, {}, {}}},
      {FirehoseFormat::kTwitterV2, DecodeSpec{DecodeFormat::kTwitterV2, {}, {}}},
      {FirehoseFormat::kJetstream, DecodeSpec{DecodeFormat::kJetstream, {}, {}}},
      {FirehoseFormat::kMastodon, DecodeSpec{DecodeFormat::kMastodon, {}, {}}},
      {FirehoseFormat::kJson, json},
  };
  WatchlistSpec watchlist;
  GeneratorSpec base = BaseSpec(FirehoseFormat::kJson);
  for (const GeneratedBrand& generated : base.brands) {
    BrandSpec brand;
    brand.id = generated.id;
    for (const std::string& term : generated.terms) {
      if (term[0] == '@') brand.handles.push_back(term);
      else if (term[0] == '#') brand.hashtags.push_back(term);
      else brand.terms.push_back(term);
    }
    watchlist.brands.push_back(brand);
  }
  auto compiled = CompiledWatchlist::Make(watchlist);
  ASSERT_TRUE(compiled.ok());
  auto scanner = (*compiled)->MakeScanner();
  ASSERT_TRUE(scanner.ok());
  for (const FormatCase& format_case : cases) {
    GeneratorSpec spec = BaseSpec(format_case.generated);
    spec.count = 3000;
    std::vector<std::vector<std::string>> truth;
    std::vector<bool> malformed;
    std::vector<std::string> records = Generate(spec, &truth, &malformed);
    SCOPED_TRACE(std::string(DecodeFormatName(format_case.decode.format)));
    auto decode = MakeJsonDecode(format_case.decode);
    ASSERT_TRUE(decode.ok());
    Batch batch;
    for (size_t i = 0; i < records.size(); ++i) batch.AddRecord(records[i], i + 1);
    batch.PadInput();
    auto state = (*decode)->MakeState();
    ASSERT_TRUE((*decode)->Process(batch, *state).ok());
    std::vector<bool> dead(records.size(), false);
    for (const DeadLetter& letter : batch.dead_letters) dead[letter.record_index] = true;
    size_t broken = 0;
    for (size_t i = 0; i < records.size(); ++i) {
      broken += malformed[i];
      EXPECT_EQ(dead[i], malformed[i]) << "record " << i << ": " << records[i].substr(0, 300);
    }
    EXPECT_GT(broken, 0u);
    EXPECT_GT(batch.posts.size(), records.size() * 8 / 10);
    size_t checked = 0;
    for (const Post& post : batch.posts) {
      EXPECT_TRUE(IsValidUtf8(post.text));
      EXPECT_FALSE(post.author_id.empty());
      EXPECT_GE(post.event_time_ms, spec.start_time_ms - spec.max_disorder_ms);
      std::vector<MatchedBrand> matched;
      (*compiled)->MatchText(post.text, **scanner, matched);
      for (const std::string& brand : truth[post.record_index]) {
        bool found = false;
        for (const MatchedBrand& m : matched) found |= (*compiled)->brand(m.brand_index).id == brand;
        EXPECT_TRUE(found) << brand << " in: " << post.text;
        ++checked;
      }
    }
    EXPECT_GT(checked, 100u);
  }
}

TEST(FirehoseGeneratorTest, MissingWordListIsAClearError) {
  GeneratorSpec spec = BaseSpec(FirehoseFormat::kJson);
  spec.dictionary_directory = "/nonexistent";
  auto generator = FirehoseGenerator::Make(spec);
  ASSERT_FALSE(generator.ok());
  EXPECT_NE(generator.status().message().find("wamerican"), std::string::npos) << generator.status().message();
}

}  // namespace
}  // namespace brandpulse
