// The synthetic firehose: deterministic, honest about its shares, valid JSON with each format's
// fields, and readable by the decoder in every format (the generator's ground truth checked
// against decode + match).
#include "generator/firehose_generator.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "engine/event_time.h"
#include "engine/hash.h"
#include "engine/json_writer.h"
#include "operators/hyperscan_match.h"
#include "operators/json_decode.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;

constexpr FirehoseFormat kAllFormats[] = {FirehoseFormat::kTwitterV1, FirehoseFormat::kTwitterV2,
                                          FirehoseFormat::kJetstream, FirehoseFormat::kMastodon,
                                          FirehoseFormat::kJson};

GeneratorSpec BaseSpec(FirehoseFormat format) {
  GeneratorSpec spec;
  spec.format = format;
  spec.seed = 99;
  spec.count = 20000;
  spec.mention_share = 0.1;
  spec.malformed_share = 0.01;
  spec.brands = {{"alpha", {"alphacom"}},
                 {"beta", {"betanet", "@betanet_no"}},
                 {"gamma", {"gammatel", "#gammatel"}},
                 {"delta", {"deltafon", "delta fon"}}};
  return spec;
}

// Everything a run produced, record by record.
struct Generated {
  std::vector<std::string> records;
  std::vector<std::vector<std::string>> brands;
  std::vector<bool> malformed;
  std::vector<bool> post;
  std::vector<bool> reply;
  std::vector<int64_t> event_ms;
  std::vector<int64_t> nominal_ms;
  size_t malformed_count = 0;
};

Generated Generate(const GeneratorSpec& spec) {
  Generated generated;
  auto generator = FirehoseGenerator::Make(spec);
  EXPECT_TRUE(generator.ok()) << generator.status().ToString();
  if (!generator.ok()) return generated;
  std::string record;
  while (true) {
    record.clear();
    if (!(*generator)->Next(record)) break;
    const FirehoseGenerator& made = **generator;
    generated.records.push_back(record);
    generated.brands.push_back(made.last_inserted_brands());
    generated.malformed.push_back(made.last_was_malformed());
    generated.post.push_back(made.last_was_post());
    generated.reply.push_back(made.last_was_reply());
    generated.event_ms.push_back(made.last_event_time_ms());
    generated.nominal_ms.push_back(made.last_nominal_time_ms());
    generated.malformed_count += made.last_was_malformed();
  }
  return generated;
}

// Lowercases ASCII and the Latin-1 capitals À..Þ (the letters the generator capitalizes).
std::string Lowercase(std::string_view text) {
  std::string lower(text);
  for (size_t i = 0; i < lower.size(); ++i) {
    const auto byte = static_cast<unsigned char>(lower[i]);
    if (byte >= 'A' && byte <= 'Z') {
      lower[i] = static_cast<char>(byte - 'A' + 'a');
    } else if (byte == 0xC3 && i + 1 < lower.size()) {
      const auto second = static_cast<unsigned char>(lower[i + 1]);
      if (second >= 0x80 && second <= 0x9E && second != 0x97) lower[i + 1] = static_cast<char>(second + 0x20);
      ++i;
    }
  }
  return lower;
}

// Where each format keeps the post's text.
std::string_view TextPointer(FirehoseFormat format) {
  switch (format) {
    case FirehoseFormat::kTwitterV2: return "/data/0/text";
    case FirehoseFormat::kJetstream: return "/commit/record/text";
    case FirehoseFormat::kMastodon: return "/content";
    default: return "/text";
  }
}

enum class FieldType { kString, kNumber, kStringOrNull, kArray, kObject };

struct RequiredField {
  std::string_view pointer;
  FieldType type;
};

std::vector<RequiredField> RequiredFields(FirehoseFormat format, bool post) {
  using enum FieldType;
  switch (format) {
    case FirehoseFormat::kTwitterV1:
      return {{"/created_at", kString}, {"/id", kNumber}, {"/id_str", kString}, {"/text", kString},
              {"/lang", kString}, {"/in_reply_to_status_id_str", kStringOrNull},
              {"/in_reply_to_user_id_str", kStringOrNull}, {"/in_reply_to_screen_name", kStringOrNull},
              {"/user/id", kNumber}, {"/user/id_str", kString}, {"/user/screen_name", kString},
              {"/user/name", kString}, {"/user/followers_count", kNumber},
              {"/entities/hashtags", kArray}, {"/entities/user_mentions", kArray},
              {"/retweet_count", kNumber}, {"/favorite_count", kNumber}};
    case FirehoseFormat::kTwitterV2:
      return {{"/data/0/id", kString}, {"/data/0/text", kString}, {"/data/0/author_id", kString},
              {"/data/0/created_at", kString}, {"/data/0/lang", kString},
              {"/data/0/conversation_id", kString}, {"/data/0/public_metrics", kObject},
              {"/includes/users/0/id", kString}, {"/includes/users/0/username", kString},
              {"/includes/users/0/name", kString},
              {"/includes/users/0/public_metrics/followers_count", kNumber}};
    case FirehoseFormat::kJetstream:
      if (!post) return {{"/did", kString}, {"/time_us", kNumber}, {"/kind", kString}};
      return {{"/did", kString}, {"/time_us", kNumber}, {"/kind", kString}, {"/commit/rev", kString},
              {"/commit/operation", kString}, {"/commit/collection", kString},
              {"/commit/rkey", kString}, {"/commit/record/$type", kString},
              {"/commit/record/createdAt", kString}, {"/commit/record/langs/0", kString},
              {"/commit/record/text", kString}, {"/commit/cid", kString}};
    case FirehoseFormat::kMastodon:
      return {{"/id", kString}, {"/created_at", kString}, {"/content", kString},
              {"/language", kString}, {"/in_reply_to_id", kStringOrNull},
              {"/in_reply_to_account_id", kStringOrNull}, {"/visibility", kString}, {"/url", kString},
              {"/account/id", kString}, {"/account/username", kString}, {"/account/acct", kString},
              {"/account/followers_count", kNumber}};
    case FirehoseFormat::kJson:
      return {{"/id", kString}, {"/text", kString}, {"/author", kString}, {"/followers", kNumber},
              {"/ts", kNumber}, {"/lang", kString}};
  }
  return {};
}

bool HasType(simdjson::dom::element element, FieldType type) {
  switch (type) {
    case FieldType::kString: return element.is_string();
    case FieldType::kNumber: return element.is_int64() || element.is_uint64();
    case FieldType::kStringOrNull: return element.is_string() || element.is_null();
    case FieldType::kArray: return element.is_array();
    case FieldType::kObject: return element.is_object();
  }
  return false;
}

std::string_view StringAt(simdjson::dom::element document, std::string_view pointer) {
  std::string_view value;
  if (document.at_pointer(pointer).get(value) != simdjson::SUCCESS) return {};
  return value;
}

TEST(FirehoseGeneratorTest, FormatNamesRoundTrip) {
  for (FirehoseFormat format : kAllFormats) {
    EXPECT_EQ(ParseFirehoseFormat(FirehoseFormatName(format)), format);
  }
  EXPECT_EQ(ParseFirehoseFormat("twitter-v2"), FirehoseFormat::kTwitterV2);
  EXPECT_EQ(ParseFirehoseFormat("Twitter-V2"), std::nullopt);
  EXPECT_EQ(ParseFirehoseFormat("bluesky"), std::nullopt);
}

TEST(FirehoseGeneratorTest, SameSeedSameBytesOtherSeedOtherBytes) {
  for (FirehoseFormat format : kAllFormats) {
    SCOPED_TRACE(std::string(FirehoseFormatName(format)));
    GeneratorSpec spec = BaseSpec(format);
    spec.count = 2000;
    spec.malformed_share = 0.05;
    const Generated first = Generate(spec);
    ASSERT_EQ(first.records.size(), 2000u);
    const Generated again = Generate(spec);
    EXPECT_EQ(again.records, first.records);
    EXPECT_EQ(again.brands, first.brands);
    EXPECT_EQ(again.malformed, first.malformed);
    spec.seed = 100;
    const Generated other = Generate(spec);
    ASSERT_EQ(other.records.size(), 2000u);
    size_t identical = 0;
    for (size_t i = 0; i < other.records.size(); ++i) identical += other.records[i] == first.records[i];
    EXPECT_EQ(identical, 0u);
  }
}

// Small word lists written by the test, so pinned output does not depend on the machine's.
class TemporaryDictionary {
 public:
  TemporaryDictionary() : directory_(fs::temp_directory_path() / ("brandpulse-dict-" + std::to_string(::getpid()))) {
    fs::create_directories(directory_);
  }
  ~TemporaryDictionary() { fs::remove_all(directory_); }
  void Write(const std::string& name, std::string_view bytes) const {
    std::ofstream(directory_ / name, std::ios::binary) << bytes;
  }
  std::string path() const { return directory_.string(); }

 private:
  fs::path directory_;
};

// The bytes of a fixed spec over fixed word lists, pinned: a change here changes every demo and
// benchmark input, so it must be deliberate. It also catches platform-dependent output: the
// generator uses no std:: distributions, no unordered iteration, no floating point per record.
TEST(FirehoseGeneratorTest, OutputIsPinned) {
  TemporaryDictionary dictionary;
  dictionary.Write("american-english", "apple\nbrave\ncloud\ndance\neagle\nfable\ngiant\nhoney\n");
  dictionary.Write("bokmaal", "bl\xE5" "b\xE6r\nfjord\nhytte\nkatt\nl\xF8ype\nsn\xF8\n");  // ISO-8859-1
  dictionary.Write("spanish", "árbol\ncamino\nniño\nplaya\nsueño\n");
  const std::pair<FirehoseFormat, uint64_t> pins[] = {
      {FirehoseFormat::kTwitterV1, 0x3c47719f21cdb059}, {FirehoseFormat::kTwitterV2, 0x1e3a5919d9bda034},
      {FirehoseFormat::kJetstream, 0xd17634dd5928c095}, {FirehoseFormat::kMastodon, 0x956408b8b8c6ace4},
      {FirehoseFormat::kJson, 0x3d58f208347490d2},
  };
  for (const auto& [format, pin] : pins) {
    GeneratorSpec spec = BaseSpec(format);
    spec.dictionary_directory = dictionary.path();
    spec.count = 500;
    spec.author_count = 300;
    spec.malformed_share = 0.05;
    std::string all;
    for (const std::string& record : Generate(spec).records) all += record + "\n";
    const uint64_t hash = HashBytes(all);
    EXPECT_EQ(hash, pin) << FirehoseFormatName(format) << std::hex << ": 0x" << hash;
  }
}

TEST(FirehoseGeneratorTest, CountIsHonouredAndRecordsAreAppended) {
  GeneratorSpec spec = BaseSpec(FirehoseFormat::kTwitterV2);
  spec.count = 0;
  auto empty = FirehoseGenerator::Make(spec);
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  std::string out = "unchanged";
  EXPECT_FALSE((*empty)->Next(out));
  EXPECT_EQ(out, "unchanged");
  EXPECT_EQ((*empty)->produced(), 0u);

  spec.count = 1234;
  auto generator = FirehoseGenerator::Make(spec);
  ASSERT_TRUE(generator.ok());
  out = "prefix";
  ASSERT_TRUE((*generator)->Next(out));
  EXPECT_TRUE(out.starts_with("prefix{\"data\":[{")) << out.substr(0, 40);
  uint64_t produced = 1;
  while (true) {
    out.clear();
    if (!(*generator)->Next(out)) break;
    EXPECT_FALSE(out.empty());
    EXPECT_EQ(out.find('\n'), std::string::npos) << "one record per line: no raw newline";
    ++produced;
  }
  EXPECT_EQ(produced, 1234u);
  EXPECT_EQ((*generator)->produced(), 1234u);
  out = "after";
  EXPECT_FALSE((*generator)->Next(out));
  EXPECT_EQ(out, "after");
}

TEST(FirehoseGeneratorTest, MentionShareAndZipfOrderHold) {
  GeneratorSpec spec = BaseSpec(FirehoseFormat::kJson);
  spec.count = 100000;
  const Generated generated = Generate(spec);
  size_t posts = 0, mentioning = 0, two_brands = 0;
  std::map<std::string, size_t> per_brand;
  for (size_t i = 0; i < generated.records.size(); ++i) {
    if (generated.malformed[i]) {
      EXPECT_TRUE(generated.brands[i].empty()) << "a broken record mentions nothing";
      continue;
    }
    ++posts;
    mentioning += !generated.brands[i].empty();
    two_brands += generated.brands[i].size() == 2;
    for (const std::string& brand : generated.brands[i]) ++per_brand[brand];
  }
  const double share = static_cast<double>(mentioning) / static_cast<double>(posts);
  EXPECT_NEAR(share, 0.1, 0.005);  // binomial sd ~0.001
  EXPECT_GT(two_brands, mentioning / 20) << "some posts mention two brands";
  EXPECT_LT(two_brands, mentioning / 4);
  ASSERT_EQ(per_brand.size(), 4u);
  EXPECT_GT(per_brand["alpha"], per_brand["beta"]);
  EXPECT_GT(per_brand["beta"], per_brand["gamma"]);
  EXPECT_GT(per_brand["gamma"], per_brand["delta"]);
  // Zipf with s = 1: brand 1 is about twice brand 2 and four times brand 4.
  EXPECT_NEAR(static_cast<double>(per_brand["alpha"]) / per_brand["beta"], 2.0, 0.2);
  EXPECT_NEAR(static_cast<double>(per_brand["alpha"]) / per_brand["delta"], 4.0, 0.5);

  // s = 0: every brand equally likely.
  spec.zipf_exponent = 0;
  spec.count = 40000;
  std::map<std::string, size_t> flat;
  size_t total = 0;
  for (const auto& brands : Generate(spec).brands) {
    for (const std::string& brand : brands) ++flat[brand], ++total;
  }
  for (const auto& [brand, count] : flat) {
    EXPECT_NEAR(static_cast<double>(count) / total, 0.25, 0.03) << brand;
  }
}

TEST(FirehoseGeneratorTest, NoBrandsOrZeroShareMeansNoMentions) {
  GeneratorSpec spec = BaseSpec(FirehoseFormat::kTwitterV2);
  spec.count = 3000;
  spec.brands.clear();
  for (const auto& brands : Generate(spec).brands) EXPECT_TRUE(brands.empty());
  spec = BaseSpec(FirehoseFormat::kTwitterV2);
  spec.count = 3000;
  spec.mention_share = 0;
  for (const auto& brands : Generate(spec).brands) EXPECT_TRUE(brands.empty());
  spec.mention_share = 1;
  spec.malformed_share = 0;
  for (const auto& brands : Generate(spec).brands) EXPECT_FALSE(brands.empty());
}

// The 10,000-brand watchlist of the benchmarks (`brandpulse_bench watchlist --brands-file
// bench/data/brands.txt --count 10000`, bench/brandpulse_bench.cc): each simple-icons title, then
// again with a suffix per round. Many titles are everyday words ("Just", "NOW", "Tide", "Delta").
std::vector<GeneratedBrand> BenchBrands(size_t count) {
  static constexpr std::string_view kVariantSuffixes[] = {
      "Labs", "Cloud", "Pay", "Studio", "Mobile", "Group", "Energy", "Bank", "Air", "Foods",
      "Motors", "Health", "Games", "Media", "Travel", "Home", "Sport", "Finance", "Connect",
      "Direct", "Express", "Nordic", "Iberia", "Global", "Plus", "One", "Pro", "Max", "Go", "Hub",
      "Works", "Systems", "Logistics", "Insurance"};
  std::ifstream file(std::string(BRANDPULSE_SOURCE_DIR) + "/bench/data/brands.txt");
  std::vector<std::string> titles;
  for (std::string line; std::getline(file, line);) {
    if (!line.empty() && line[0] != '#') titles.push_back(line);
  }
  std::vector<GeneratedBrand> brands;
  if (titles.empty()) return brands;
  for (size_t i = 0; i < count; ++i) {
    std::string term = titles[i % titles.size()];
    if (const size_t round = i / titles.size(); round > 0) {
      term += " " + std::string(kVariantSuffixes[round - 1]);
    }
    brands.push_back({"b" + std::to_string(i), {term}});
  }
  return brands;
}

// `mention_share` is the share of posts the matcher finds a brand in, also with a big watchlist
// of common words: the words around the inserted brands name no brand. (The generator used to
// draw "just", "now", "tide", "the mighty" ... as filler, and 16% of the posts without an
// inserted brand matched one of these 10,000 brands: asked 5%, matched 20.6%.)
TEST(FirehoseGeneratorTest, MatchedShareIsTheMentionShareAtTenThousandBrands) {
  WatchlistSpec watchlist;
  GeneratorSpec spec;
  spec.format = FirehoseFormat::kTwitterV2;
  spec.seed = 7;
  spec.count = 20000;
  spec.malformed_share = 0;
  spec.brands = BenchBrands(10000);
  ASSERT_EQ(spec.brands.size(), 10000u) << "bench/data/brands.txt is missing";
  for (const GeneratedBrand& generated : spec.brands) {
    BrandSpec brand;
    brand.id = generated.id;
    brand.terms = generated.terms;
    watchlist.brands.push_back(brand);
  }
  auto compiled = CompiledWatchlist::Make(watchlist);
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  auto scanner = (*compiled)->MakeScanner();
  ASSERT_TRUE(scanner.ok());
  auto decode = MakeJsonDecode(DecodeSpec{DecodeFormat::kTwitterV2, {}, {}});
  ASSERT_TRUE(decode.ok());
  for (const double share : {0.05, 0.20}) {
    SCOPED_TRACE(share);
    spec.mention_share = share;
    const Generated generated = Generate(spec);
    Batch batch;
    for (size_t i = 0; i < generated.records.size(); ++i) batch.AddRecord(generated.records[i], i + 1);
    batch.PadInput();
    auto state = (*decode)->MakeState().value();
    ASSERT_TRUE((*decode)->Process(batch, *state).ok());
    ASSERT_EQ(batch.posts.size(), spec.count);
    size_t matched = 0, by_chance = 0;
    std::map<std::string, size_t> chance_brands;  // the terms the filler named, for the message
    std::vector<MatchedBrand> matches;
    for (const Post& post : batch.posts) {
      matches.clear();
      (*compiled)->MatchText(post.text, **scanner, matches);
      matched += !matches.empty();
      if (!matches.empty() && generated.brands[post.record_index].empty()) {
        ++by_chance;
        for (const MatchedBrand& match : matches) {
          ++chance_brands[(*compiled)->brand(match.brand_index).terms[0]];
        }
      }
    }
    std::vector<std::pair<size_t, std::string>> most;
    for (const auto& [term, count] : chance_brands) most.emplace_back(count, term);
    std::sort(most.rbegin(), most.rend());
    std::string named;
    for (size_t i = 0; i < most.size() && i < 20; ++i) {
      named += " \"" + most[i].second + "\"×" + std::to_string(most[i].first);
    }
    const double matched_share = static_cast<double>(matched) / static_cast<double>(spec.count);
    EXPECT_NEAR(matched_share, share, 0.015) << by_chance << " posts matched without an inserted brand:"
                                             << named;
  }
}

// Every well-formed record is valid JSON (simdjson validates UTF-8 too) with the format's
// fields; every broken one fails to parse or has no text string; all four kinds of breakage occur.
TEST(FirehoseGeneratorTest, MalformedShareHoldsAndEveryOtherRecordHasTheFormatsFields) {
  simdjson::dom::parser parser;
  for (FirehoseFormat format : kAllFormats) {
    SCOPED_TRACE(std::string(FirehoseFormatName(format)));
    GeneratorSpec spec = BaseSpec(format);
    spec.malformed_share = 0.05;
    const Generated generated = Generate(spec);
    ASSERT_EQ(generated.records.size(), spec.count);
    EXPECT_NEAR(static_cast<double>(generated.malformed_count) / spec.count, 0.05, 0.01);
    std::map<std::string, size_t> breakage;
    for (size_t i = 0; i < generated.records.size(); ++i) {
      const std::string& record = generated.records[i];
      simdjson::dom::element document;
      const simdjson::error_code error = parser.parse(record).get(document);
      if (generated.malformed[i]) {
        if (error == simdjson::UTF8_ERROR) {
          ++breakage["invalid utf-8"];
          continue;
        }
        if (error != simdjson::SUCCESS) {
          ++breakage["truncated"];
          continue;
        }
        simdjson::dom::element text;
        if (document.at_pointer(TextPointer(format)).get(text) != simdjson::SUCCESS) {
          ++breakage["missing text"];
        } else if (text.is_number()) {
          ++breakage["number text"];
        } else {
          ADD_FAILURE() << "record " << i << " is marked malformed but is fine: " << record;
        }
        continue;
      }
      ASSERT_EQ(error, simdjson::SUCCESS) << "record " << i << ": " << record;
      EXPECT_TRUE(IsValidUtf8(record));
      for (const RequiredField& field : RequiredFields(format, generated.post[i])) {
        simdjson::dom::element value;
        ASSERT_EQ(document.at_pointer(field.pointer).get(value), simdjson::SUCCESS)
            << field.pointer << " missing in record " << i << ": " << record;
        EXPECT_TRUE(HasType(value, field.type)) << field.pointer << " in " << record;
      }
      if (format == FirehoseFormat::kTwitterV2) {
        simdjson::dom::array data;
        ASSERT_EQ(document.at_pointer("/data").get(data), simdjson::SUCCESS);
        EXPECT_EQ(data.size(), 1u) << "one tweet per page";
        EXPECT_EQ(StringAt(document, "/includes/users/0/id"), StringAt(document, "/data/0/author_id"));
      }
    }
    for (const char* kind : {"truncated", "invalid utf-8", "missing text", "number text"}) {
      EXPECT_GT(breakage[kind], generated.malformed_count / 10) << kind;
    }
  }
}

TEST(FirehoseGeneratorTest, LanguagesComeInEqualSharesWithTheirOwnLetters) {
  GeneratorSpec spec = BaseSpec(FirehoseFormat::kJson);
  spec.count = 30000;
  spec.malformed_share = 0;
  const Generated generated = Generate(spec);
  simdjson::dom::parser parser;
  std::map<std::string, size_t> per_language, with_own_letters;
  for (const std::string& record : generated.records) {
    simdjson::dom::element document;
    ASSERT_EQ(parser.parse(record).get(document), simdjson::SUCCESS);
    const std::string language(StringAt(document, "/lang"));
    const std::string_view text = StringAt(document, "/text");
    ++per_language[language];
    if (language == "no") {
      with_own_letters[language] += text.find("å") != text.npos || text.find("ø") != text.npos ||
                                    text.find("æ") != text.npos;
    } else if (language == "es") {
      with_own_letters[language] += text.find("ñ") != text.npos || text.find("á") != text.npos ||
                                    text.find("é") != text.npos || text.find("ó") != text.npos ||
                                    text.find("í") != text.npos;
    }
  }
  ASSERT_EQ(per_language.size(), 3u);
  for (const auto& [language, count] : per_language) {
    EXPECT_NEAR(static_cast<double>(count) / spec.count, 1.0 / 3, 0.02) << language;
  }
  // Bokmaal is ISO-8859-1 on disk: its æøå arrive as UTF-8 (the document parsed).
  EXPECT_GT(with_own_letters["no"], per_language["no"] / 4);
  EXPECT_GT(with_own_letters["es"], per_language["es"] / 4);

  spec.languages = {"es"};
  spec.count = 500;
  for (const std::string& record : Generate(spec).records) {
    EXPECT_NE(record.find("\"lang\":\"es\""), std::string::npos) << record;
  }
}

// The time each format writes, in epoch ms (v1 created_at has whole seconds).
int64_t EventTimeOf(FirehoseFormat format, simdjson::dom::element document) {
  switch (format) {
    case FirehoseFormat::kTwitterV1:
      return ParseTwitterTimestampMs(StringAt(document, "/created_at")).value_or(-1);
    case FirehoseFormat::kTwitterV2:
      return ParseIso8601Ms(StringAt(document, "/data/0/created_at")).value_or(-1);
    case FirehoseFormat::kJetstream: {
      std::string_view created = StringAt(document, "/commit/record/createdAt");
      if (created.empty()) created = StringAt(document, "/identity/time");
      if (created.empty()) created = StringAt(document, "/account/time");
      return ParseIso8601Ms(created).value_or(-1);
    }
    case FirehoseFormat::kMastodon:
      return ParseIso8601Ms(StringAt(document, "/created_at")).value_or(-1);
    case FirehoseFormat::kJson: {
      int64_t time = -1;
      if (document.at_pointer("/ts").get(time) != simdjson::SUCCESS) return -1;
      return time;
    }
  }
  return -1;
}

TEST(FirehoseGeneratorTest, EventTimesHaveBoundedDisorder) {
  simdjson::dom::parser parser;
  for (FirehoseFormat format : kAllFormats) {
    SCOPED_TRACE(std::string(FirehoseFormatName(format)));
    GeneratorSpec spec = BaseSpec(format);
    spec.malformed_share = 0;
    spec.count = 5000;
    spec.posts_per_second = 100;
    spec.max_disorder_ms = 3000;
    const Generated generated = Generate(spec);
    int64_t largest_disorder = 0;
    int64_t previous_time_us = 0;
    for (size_t i = 0; i < generated.records.size(); ++i) {
      const int64_t nominal = spec.start_time_ms + static_cast<int64_t>(i) * 10;
      ASSERT_EQ(generated.nominal_ms[i], nominal);
      simdjson::dom::element document;
      ASSERT_EQ(parser.parse(generated.records[i]).get(document), simdjson::SUCCESS);
      const int64_t written = EventTimeOf(format, document);
      const int64_t expected = generated.event_ms[i];
      EXPECT_EQ(written, format == FirehoseFormat::kTwitterV1 ? expected / 1000 * 1000 : expected) << i;
      EXPECT_LE(expected, nominal) << i;
      EXPECT_GE(expected, nominal - 3000) << i;
      largest_disorder = std::max(largest_disorder, nominal - expected);
      if (format == FirehoseFormat::kJetstream) {
        // time_us is Jetstream's arrival time: in order, unlike createdAt.
        int64_t time_us = 0;
        ASSERT_EQ(document.at_pointer("/time_us").get(time_us), simdjson::SUCCESS);
        EXPECT_EQ(time_us, nominal * 1000);
        EXPECT_GE(time_us, previous_time_us);
        previous_time_us = time_us;
      }
    }
    EXPECT_GT(largest_disorder, 2900) << "the disorder should use its whole range";
  }
}

// The decoder reads every format; it dead-letters exactly the malformed records, skips exactly
// Jetstream's non-post events, and the matcher finds every brand the generator inserted.
TEST(FirehoseGeneratorTest, EveryFormatDecodesAndGroundTruthIsFound) {
  DecodeSpec json;
  json.format = DecodeFormat::kJson;
  json.field_pointers = {{"id", "/id"}, {"text", "/text"}, {"author_id", "/author"},
                         {"author_followers", "/followers"}, {"event_time", "/ts"},
                         {"language", "/lang"}, {"reply_to_post_id", "/reply_to"},
                         {"reply_to_author_id", "/reply_to_author"}};
  const std::pair<FirehoseFormat, DecodeSpec> cases[] = {
      {FirehoseFormat::kTwitterV1, DecodeSpec{DecodeFormat::kTwitterV1, {}, {}}},
      {FirehoseFormat::kTwitterV2, DecodeSpec{DecodeFormat::kTwitterV2, {}, {}}},
      {FirehoseFormat::kJetstream, DecodeSpec{DecodeFormat::kJetstream, {}, {}}},
      {FirehoseFormat::kMastodon, DecodeSpec{DecodeFormat::kMastodon, {}, {}}},
      {FirehoseFormat::kJson, json},
  };
  WatchlistSpec watchlist;
  const GeneratorSpec base = BaseSpec(FirehoseFormat::kJson);
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
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  auto scanner = (*compiled)->MakeScanner();
  ASSERT_TRUE(scanner.ok());
  for (const auto& [format, decode_spec] : cases) {
    SCOPED_TRACE(std::string(FirehoseFormatName(format)));
    GeneratorSpec spec = BaseSpec(format);
    spec.count = 4000;
    spec.malformed_share = 0.02;
    const Generated generated = Generate(spec);
    auto decode = MakeJsonDecode(decode_spec);
    ASSERT_TRUE(decode.ok());
    Batch batch;
    for (size_t i = 0; i < generated.records.size(); ++i) batch.AddRecord(generated.records[i], i + 1);
    batch.PadInput();
    auto state = (*decode)->MakeState().value();
    ASSERT_TRUE((*decode)->Process(batch, *state).ok());
    std::vector<bool> dead(generated.records.size(), false);
    for (const DeadLetter& letter : batch.dead_letters) dead[letter.record_index] = true;
    size_t expected_posts = 0, expected_skipped = 0, replies = 0;
    for (size_t i = 0; i < generated.records.size(); ++i) {
      EXPECT_EQ(dead[i], generated.malformed[i]) << "record " << i << ": " << generated.records[i].substr(0, 300);
      expected_posts += !generated.malformed[i] && generated.post[i];
      expected_skipped += !generated.malformed[i] && !generated.post[i];
    }
    EXPECT_GT(generated.malformed_count, 0u);
    EXPECT_EQ(batch.posts.size(), expected_posts);
    EXPECT_EQ(batch.skipped_records, expected_skipped);
    size_t checked = 0;
    std::set<std::string_view> ids;
    for (const Post& post : batch.posts) {
      EXPECT_TRUE(IsValidUtf8(post.text));
      EXPECT_FALSE(post.text.empty());
      EXPECT_FALSE(post.id.empty());
      EXPECT_TRUE(ids.insert(post.id).second) << "duplicate post id " << post.id;
      EXPECT_FALSE(post.author_id.empty());
      EXPECT_FALSE(post.language.empty());
      const int64_t event_ms = generated.event_ms[post.record_index];
      EXPECT_EQ(post.event_time_ms, format == FirehoseFormat::kTwitterV1 ? event_ms / 1000 * 1000 : event_ms);
      if (format != FirehoseFormat::kJetstream) {
        EXPECT_GT(post.author_followers, 0);
      }
      EXPECT_EQ(!post.reply_to_post_id.empty(), static_cast<bool>(generated.reply[post.record_index]));
      EXPECT_EQ(!post.reply_to_author_id.empty(), static_cast<bool>(generated.reply[post.record_index]));
      replies += !post.reply_to_post_id.empty();
      std::vector<MatchedBrand> matched;
      (*compiled)->MatchText(post.text, **scanner, matched);
      for (const std::string& brand : generated.brands[post.record_index]) {
        bool found = false;
        for (const MatchedBrand& match : matched) found |= (*compiled)->brand(match.brand_index).id == brand;
        EXPECT_TRUE(found) << brand << " in: " << post.text;
        ++checked;
      }
    }
    EXPECT_GT(checked, 300u);
    EXPECT_NEAR(static_cast<double>(replies) / batch.posts.size(), 0.1, 0.02);
  }
}

// Quotes, backslashes, control characters and non-ASCII in a term survive JSON escaping; the
// generated text itself exercises quotes, a backslash (¯\_(ツ)_/¯) and line breaks.
TEST(FirehoseGeneratorTest, JsonEscapingRoundTrips) {
  const std::string term = "say \"hi\" back\\slash\ttab\x01 café";
  GeneratorSpec spec = BaseSpec(FirehoseFormat::kJson);
  spec.count = 20000;
  spec.malformed_share = 0;
  spec.mention_share = 0.05;
  spec.brands = {{"tricky", {term}}};
  const Generated generated = Generate(spec);
  simdjson::dom::parser parser;
  size_t with_term = 0, quotes = 0, backslashes = 0, newlines = 0;
  for (size_t i = 0; i < generated.records.size(); ++i) {
    const std::string& record = generated.records[i];
    simdjson::dom::element document;
    ASSERT_EQ(parser.parse(record).get(document), simdjson::SUCCESS) << record;
    const std::string_view text = StringAt(document, "/text");
    quotes += text.find('"') != text.npos;
    backslashes += text.find('\\') != text.npos;
    newlines += text.find('\n') != text.npos;
    if (generated.brands[i].empty()) continue;
    ++with_term;
    // Capitalization varies; compare ASCII-lowercased. Non-ASCII stays raw UTF-8, not \u00e9.
    EXPECT_NE(Lowercase(text).find(Lowercase(term)), std::string::npos) << text;
    EXPECT_NE(record.find("\\u0001"), std::string::npos) << record;
    EXPECT_NE(Lowercase(record).find("café"), std::string::npos) << record;
  }
  EXPECT_GT(with_term, 700u);
  EXPECT_GT(quotes, 100u);
  EXPECT_GT(backslashes, 50u);
  EXPECT_GT(newlines, 500u);
}

TEST(FirehoseGeneratorTest, MastodonContentIsEscapedHtmlWithLinks) {
  GeneratorSpec spec = BaseSpec(FirehoseFormat::kMastodon);
  spec.count = 5000;
  spec.malformed_share = 0;
  spec.mention_share = 0.5;
  spec.brands = {{"att", {"at&t"}}, {"gamma", {"#gammatel"}}, {"beta", {"@betanet_no"}}};
  const Generated generated = Generate(spec);
  simdjson::dom::parser parser;
  size_t escaped_ampersands = 0, hashtag_links = 0, mention_links = 0;
  for (const std::string& record : generated.records) {
    simdjson::dom::element document;
    ASSERT_EQ(parser.parse(record).get(document), simdjson::SUCCESS);
    const std::string_view content = StringAt(document, "/content");
    EXPECT_TRUE(content.starts_with("<p>") && content.ends_with("</p>")) << content;
    for (size_t at = content.find('&'); at != content.npos; at = content.find('&', at + 1)) {
      const std::string_view rest = content.substr(at);
      EXPECT_TRUE(rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;") ||
                  rest.starts_with("&quot;") || rest.starts_with("&#39;"))
          << content;
    }
    escaped_ampersands += Lowercase(content).find("at&amp;t") != content.npos;
    hashtag_links += content.find("class=\"mention hashtag\" rel=\"tag\">#<span>") != content.npos;
    mention_links += content.find("class=\"u-url mention\">@<span>betanet_no</span>") != content.npos;
  }
  EXPECT_GT(escaped_ampersands, 300u);
  EXPECT_GT(hashtag_links, 300u);
  EXPECT_GT(mention_links, 200u);
}

// Replies point at posts the stream already carried, with the right author and thread root.
TEST(FirehoseGeneratorTest, RepliesPointAtEarlierPosts) {
  GeneratorSpec spec = BaseSpec(FirehoseFormat::kTwitterV2);
  spec.malformed_share = 0;
  spec.reply_share_percent = 30;
  const Generated generated = Generate(spec);
  simdjson::dom::parser parser;
  std::map<std::string, std::pair<std::string, std::string>> seen;  // id -> author, conversation
  size_t replies = 0;
  for (size_t i = 0; i < generated.records.size(); ++i) {
    simdjson::dom::element document;
    ASSERT_EQ(parser.parse(generated.records[i]).get(document), simdjson::SUCCESS);
    const std::string id(StringAt(document, "/data/0/id"));
    const std::string author(StringAt(document, "/data/0/author_id"));
    const std::string conversation(StringAt(document, "/data/0/conversation_id"));
    const std::string_view parent = StringAt(document, "/data/0/referenced_tweets/0/id");
    EXPECT_EQ(!parent.empty(), static_cast<bool>(generated.reply[i]));
    if (parent.empty()) {
      EXPECT_EQ(conversation, id);
    } else {
      ++replies;
      EXPECT_EQ(StringAt(document, "/data/0/referenced_tweets/0/type"), "replied_to");
      auto found = seen.find(std::string(parent));
      ASSERT_NE(found, seen.end()) << "reply to an unseen post: " << generated.records[i];
      EXPECT_EQ(StringAt(document, "/data/0/in_reply_to_user_id"), found->second.first);
      EXPECT_EQ(conversation, found->second.second) << "a reply joins its parent's conversation";
    }
    seen[id] = {author, conversation};
  }
  EXPECT_NEAR(static_cast<double>(replies) / spec.count, 0.3, 0.02);
}

// Authors are a skewed population; each author's handle, name and followers never change.
TEST(FirehoseGeneratorTest, AuthorsAreSkewedAndStable) {
  GeneratorSpec spec = BaseSpec(FirehoseFormat::kTwitterV2);
  spec.count = 50000;
  spec.malformed_share = 0;
  spec.author_count = 5000;
  const Generated generated = Generate(spec);
  simdjson::dom::parser parser;
  std::map<std::string, size_t> posts_per_author;
  std::map<std::string, std::string> profile;
  std::set<std::string> handles;
  for (const std::string& record : generated.records) {
    simdjson::dom::element document;
    ASSERT_EQ(parser.parse(record).get(document), simdjson::SUCCESS);
    const std::string author(StringAt(document, "/data/0/author_id"));
    int64_t followers = -1;
    ASSERT_EQ(document.at_pointer("/includes/users/0/public_metrics/followers_count").get(followers),
              simdjson::SUCCESS);
    const std::string handle(StringAt(document, "/includes/users/0/username"));
    const std::string description =
        handle + "|" + std::string(StringAt(document, "/includes/users/0/name")) + "|" + std::to_string(followers);
    auto [it, inserted] = profile.emplace(author, description);
    EXPECT_EQ(it->second, description) << "author " << author << " changed";
    if (inserted) {
      EXPECT_TRUE(handles.insert(handle).second) << "handle " << handle << " reused";
    }
    EXPECT_LE(handle.size(), 15u) << handle;
    ++posts_per_author[author];
  }
  EXPECT_LE(posts_per_author.size(), 5000u);
  EXPECT_GT(posts_per_author.size(), 3000u);
  size_t most = 0;
  for (const auto& [author, posts] : posts_per_author) most = std::max(most, posts);
  // Weight 1 / (k + 10) over 5000 authors: the top one has ~1.4% of posts, the median ~0.01%.
  EXPECT_GT(most, spec.count / 200);
  EXPECT_LT(most, spec.count / 25);
}

TEST(FirehoseGeneratorTest, JetstreamCarriesEventsThatAreNotPosts) {
  GeneratorSpec spec = BaseSpec(FirehoseFormat::kJetstream);
  spec.malformed_share = 0;
  const Generated generated = Generate(spec);
  simdjson::dom::parser parser;
  std::map<std::string, size_t> kinds;
  size_t others = 0;
  for (size_t i = 0; i < generated.records.size(); ++i) {
    simdjson::dom::element document;
    ASSERT_EQ(parser.parse(generated.records[i]).get(document), simdjson::SUCCESS);
    const std::string_view did = StringAt(document, "/did");
    EXPECT_TRUE(did.starts_with("did:plc:") && did.size() == 32) << did;
    std::string kind(StringAt(document, "/kind"));
    if (kind == "commit") kind = StringAt(document, "/commit/collection");
    ++kinds[kind];
    if (generated.post[i]) {
      EXPECT_EQ(kind, "app.bsky.feed.post");
      EXPECT_EQ(StringAt(document, "/commit/rkey").size(), 13u);
      EXPECT_TRUE(StringAt(document, "/commit/cid").starts_with("bafyrei"));
    } else {
      ++others;
      EXPECT_NE(kind, "app.bsky.feed.post");
      EXPECT_TRUE(generated.brands[i].empty());
    }
  }
  EXPECT_NEAR(static_cast<double>(others) / spec.count, 0.1, 0.015);
  for (const char* kind : {"identity", "account", "app.bsky.feed.like", "app.bsky.feed.repost",
                           "app.bsky.graph.follow"}) {
    EXPECT_GT(kinds[kind], 20u) << kind;
  }
}

TEST(FirehoseGeneratorTest, SpecErrorsAreClear) {
  GeneratorSpec spec = BaseSpec(FirehoseFormat::kJson);
  spec.dictionary_directory = "/nonexistent";
  auto missing = FirehoseGenerator::Make(spec);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/american-english"), std::string::npos)
      << missing.status().message();
  EXPECT_NE(missing.status().message().find("wamerican"), std::string::npos) << missing.status().message();

  const std::pair<std::function<void(GeneratorSpec&)>, std::string_view> bad[] = {
      {[](GeneratorSpec& s) { s.languages = {"en", "fr"}; }, "'fr'"},
      {[](GeneratorSpec& s) { s.languages.clear(); }, "languages"},
      {[](GeneratorSpec& s) { s.mention_share = 1.5; }, "1.5"},
      {[](GeneratorSpec& s) { s.malformed_share = -0.1; }, "-0.1"},
      {[](GeneratorSpec& s) { s.posts_per_second = 0; }, "posts_per_second"},
      {[](GeneratorSpec& s) { s.author_count = 0; }, "author_count"},
      {[](GeneratorSpec& s) { s.max_disorder_ms = -1; }, "max_disorder_ms"},
      {[](GeneratorSpec& s) { s.reply_share_percent = 101; }, "reply_share_percent"},
      {[](GeneratorSpec& s) { s.brands.push_back({"empty", {}}); }, "'empty'"},
  };
  for (const auto& [change, expected] : bad) {
    GeneratorSpec changed = BaseSpec(FirehoseFormat::kJson);
    change(changed);
    auto made = FirehoseGenerator::Make(changed);
    ASSERT_FALSE(made.ok()) << expected;
    EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(made.status().message().find(expected), std::string::npos) << made.status().message();
  }
}

// Word lists are read as UTF-8 when they are, else as ISO-8859-1 (wnorwegian's encoding).
TEST(FirehoseGeneratorTest, Latin1WordListsBecomeUtf8) {
  TemporaryDictionary dictionary;
  dictionary.Write("bokmaal", "bl\xE5" "b\xE6r\nkatt\nhund\n\xF8ksa\nNorge\nvel's\n");
  dictionary.Write("american-english", "cats\ndogs\n");
  GeneratorSpec spec = BaseSpec(FirehoseFormat::kJson);
  spec.dictionary_directory = dictionary.path();
  spec.languages = {"no", "en"};
  spec.count = 2000;
  spec.malformed_share = 0;
  const Generated generated = Generate(spec);
  ASSERT_EQ(generated.records.size(), 2000u);
  size_t blueberries = 0, axes = 0;
  for (const std::string& record : generated.records) {
    ASSERT_TRUE(IsValidUtf8(record)) << record;
    blueberries += record.find("blåbær") != std::string::npos || record.find("Blåbær") != std::string::npos;
    axes += record.find("øksa") != std::string::npos || record.find("Øksa") != std::string::npos;
    EXPECT_EQ(record.find("Norge"), std::string::npos) << "names are left out";
    EXPECT_EQ(record.find("vel's"), std::string::npos) << "possessives are left out";
  }
  EXPECT_GT(blueberries, 100u);
  EXPECT_GT(axes, 100u);
}

// Not a pass/fail benchmark (machines differ); prints records/s and bytes/s per format so a
// regression is visible in the test log. The floor only catches pathological slowness.
}  // namespace
}  // namespace brandpulse
