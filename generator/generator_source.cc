#include "generator/generator_source.h"

#include <fmt/format.h>

namespace brandpulse {
namespace {

class GeneratorSource final : public Source {
 public:
  GeneratorSource(GeneratorSpec spec, std::unique_ptr<FirehoseGenerator> generator)
      : id_(fmt::format("generator:{}", spec.seed)),
        spec_(std::move(spec)),
        generator_(std::move(generator)) {}

  const std::string& id() const override { return id_; }

  Status Seek(uint32_t partition, uint64_t position) override {
    if (partition != 0) return Status::InvalidArgument(fmt::format("{} has one partition", id_));
    ASSIGN_OR_RETURN(generator_, FirehoseGenerator::Make(spec_));
    for (uint64_t skipped = 0; skipped < position; ++skipped) {
      record_.clear();
      if (!generator_->Next(record_)) break;
    }
    return Status::Ok();
  }

  Result<SourceRead> Fill(Batch& batch, size_t max_records) override {
    while (batch.size() < max_records) {
      record_.clear();
      if (!generator_->Next(record_)) {
        batch.PadInput();
        return SourceRead::kEndOfInput;
      }
      batch.AddRecord(record_, generator_->produced());
    }
    batch.PadInput();
    return SourceRead::kHaveData;
  }

 private:
  std::string id_;
  GeneratorSpec spec_;
  std::unique_ptr<FirehoseGenerator> generator_;
  std::string record_;
};

}  // namespace

Result<std::unique_ptr<Source>> MakeGeneratorSource(const GeneratorSpec& spec) {
  ASSIGN_OR_RETURN(std::unique_ptr<FirehoseGenerator> generator, FirehoseGenerator::Make(spec));
  return std::unique_ptr<Source>(std::make_unique<GeneratorSource>(spec, std::move(generator)));
}

std::vector<GeneratedBrand> GeneratedBrandsFrom(const WatchlistSpec& watchlist) {
  std::vector<GeneratedBrand> brands;
  for (const BrandSpec& brand : watchlist.brands) {
    GeneratedBrand generated{brand.id, brand.terms};
    for (const std::string& handle : brand.handles) {
      generated.terms.push_back(handle.starts_with('@') ? handle : "@" + handle);
    }
    for (const std::string& hashtag : brand.hashtags) {
      generated.terms.push_back(hashtag.starts_with('#') ? hashtag : "#" + hashtag);
    }
    brands.push_back(std::move(generated));
  }
  return brands;
}

Result<std::unique_ptr<SourceSpec>> ReadGeneratorSource(YamlMap& map,
                                                        const ConfigContext& context) {
  GeneratorSpec generator;
  if (auto format_name = map.Choice(
          "format", {"twitter-v1", "twitter-v2", "jetstream", "mastodon", "json"})) {
    generator.format = *ParseFirehoseFormat(*format_name);
  }
  if (auto value = map.Integer("count", 0, INT64_MAX)) generator.count = *value;
  if (auto value = map.Integer("seed", 0, INT64_MAX)) generator.seed = *value;
  if (auto value = map.Number("mention_share", 0, 1)) generator.mention_share = *value;
  if (auto value = map.Number("malformed_share", 0, 1)) generator.malformed_share = *value;
  if (auto value = map.Number("zipf_exponent", 0, 10)) generator.zipf_exponent = *value;
  if (auto value = map.StringList("languages")) generator.languages = *value;
  if (auto value = map.Integer("authors", 1, INT64_MAX)) generator.author_count = *value;
  if (auto value = map.Number("posts_per_second", 0.001, 1e9)) generator.posts_per_second = *value;
  if (auto value = map.DurationMs("max_disorder")) generator.max_disorder_ms = *value;
  RETURN_IF_ERROR(map.Finish());
  generator.brands = GeneratedBrandsFrom(context.watchlist);
  return SourceSpecOf("generator", [generator = std::move(generator)](const SourceBuildContext&) {
    return MakeGeneratorSource(generator);
  });
}

void RegisterGeneratorOperators(OperatorRegistry& registry) {
  registry.AddSource("generator", ReadGeneratorSource);
}

}  // namespace brandpulse
