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

}  // namespace brandpulse
