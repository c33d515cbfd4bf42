#include "operators/enrich_model.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

namespace brandpulse::enrich_model {

namespace {
constexpr int kDenseRows = kDense * (1 + kLanguages);
}

uint32_t TokenHash(std::string_view token, uint8_t language) {
  // FNV-1a over the bytes, the language folded in first: the same spelling in two languages
  // ("no" in English and Spanish) is two features.
  uint64_t hash = 0xcbf29ce484222325ull ^ (language + 1u);
  hash *= 0x100000001b3ull;
  for (char c : token) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ull;
  }
  return static_cast<uint32_t>(hash ^ (hash >> 32));
}

uint32_t RuleSentimentIntents(const Features& features, int sentiment) {
  // Cue classes in enrichment_cues::Cue order: question, complaint, praise, purchase, churn,
  // support, sarcasm.
  const float* cue = features.dense + kCueFirst;
  const bool complaint_cue = cue[1] != 0 || cue[6] != 0;
  const bool churn_only = cue[4] != 0 && !complaint_cue;
  uint32_t bits = 0;
  if (sentiment == 0 && !churn_only) bits |= 2u;
  if (sentiment == 2 && (cue[2] != 0 || features.dense[kRuleCompound] >= 0.4f)) bits |= 4u;
  return bits;
}

Model::Model(uint32_t buckets)
    : buckets_(buckets),
      bucket_mask_(buckets == 0 ? 0 : buckets - 1),
      dense_(static_cast<size_t>(kDenseRows) * kHeads, 0.0f),
      hashed_(static_cast<size_t>(buckets) * kHeads, 0.0f) {
  CombineRows();
}

void Model::CombineRows() {
  combined_.assign(static_cast<size_t>(kLanguages) * kDense * kHeads, 0.0f);
  for (int language = 0; language < kLanguages; ++language) {
    for (int f = 0; f < kDense; ++f) {
      const float* shared = dense_.data() + static_cast<size_t>(f) * kHeads;
      const float* own = dense_.data() + static_cast<size_t>(kDense * (1 + language) + f) * kHeads;
      float* sum = combined_.data() + (static_cast<size_t>(language) * kDense + f) * kHeads;
      for (int h = 0; h < kHeads; ++h) sum[h] = shared[h] + own[h];
    }
  }
}

void Model::Score(const Features& features, float out[kHeads]) const {
  for (int h = 0; h < kHeads; ++h) out[h] = 0;
  // The shared row plus the language's own, summed once at load (the same float sum as here).
  const float* rows = combined_.data() + static_cast<size_t>(features.language) * kDense * kHeads;
  for (int f = 0; f < kDense; ++f) {
    const float value = features.dense[f];
    if (value == 0) continue;
    const float* row = rows + static_cast<size_t>(f) * kHeads;
    for (int h = 0; h < kHeads; ++h) out[h] += value * row[h];
  }
  if (buckets_ == 0) return;
  for (uint32_t hash : features.hashes) {
    const float* row = hashed_.data() + static_cast<size_t>(hash & bucket_mask_) * kHeads;
    for (int h = 0; h < kHeads; ++h) out[h] += row[h];
  }
}

void Model::Train(const std::vector<Sample>& samples, const TrainOptions& options) {
  std::fill(dense_.begin(), dense_.end(), 0.0f);
  std::fill(hashed_.begin(), hashed_.end(), 0.0f);
  if (samples.empty()) {
    CombineRows();
    return;
  }
  // Double precision while learning; the model keeps floats.
  std::vector<double> dense(dense_.size(), 0.0), hashed(hashed_.size(), 0.0);
  std::vector<double> dense_gradient(dense.size()), hashed_gradient(hashed.size());
  std::vector<double> dense_square(dense.size(), 0.0), hashed_square(hashed.size(), 0.0);
  const double scale = 1.0 / static_cast<double>(samples.size());
  double class_weight[3] = {1, 1, 1};
  if (options.balance_classes) {
    int count[3] = {};
    for (const Sample& sample : samples) ++count[sample.sentiment];
    for (int c = 0; c < 3; ++c) {
      class_weight[c] = count[c] == 0 ? 1.0 : static_cast<double>(samples.size()) / (3.0 * count[c]);
    }
  }
  for (int iteration = 0; iteration < options.iterations; ++iteration) {
    std::fill(dense_gradient.begin(), dense_gradient.end(), 0.0);
    std::fill(hashed_gradient.begin(), hashed_gradient.end(), 0.0);
    for (const Sample& sample : samples) {
      const Features& features = *sample.features;
      const int language_row = kDense * (1 + features.language);
      double logits[kHeads] = {};
      for (int f = 0; f < kDense; ++f) {
        const double value = features.dense[f];
        if (value == 0) continue;
        for (int h = 0; h < kHeads; ++h) {
          logits[h] += value * (dense[static_cast<size_t>(f) * kHeads + h] +
                                dense[static_cast<size_t>(language_row + f) * kHeads + h]);
        }
      }
      for (uint32_t hash : features.hashes) {
        if (buckets_ == 0) break;
        const size_t row = static_cast<size_t>(hash & bucket_mask_) * kHeads;
        for (int h = 0; h < kHeads; ++h) logits[h] += hashed[row + h];
      }
      // d(loss)/d(logit): softmax for the sentiment, sigmoid for each intent.
      double error[kHeads];
      const double top = std::max({logits[0], logits[1], logits[2]});
      double total = 0;
      for (int c = 0; c < 3; ++c) total += std::exp(logits[c] - top);
      for (int c = 0; c < 3; ++c) {
        error[c] = std::exp(logits[c] - top) / total - (c == sample.sentiment ? 1.0 : 0.0);
      }
      for (int c = 0; c < 3; ++c) error[c] *= class_weight[sample.sentiment];
      for (int i = 0; i < kHeads - kIntentHead; ++i) {
        const double probability = 1.0 / (1.0 + std::exp(-logits[kIntentHead + i]));
        error[kIntentHead + i] = probability - ((sample.intents >> i) & 1u);
      }
      for (int f = 0; f < kDense; ++f) {
        const double value = features.dense[f];
        if (value == 0) continue;
        for (int h = 0; h < kHeads; ++h) {
          dense_gradient[static_cast<size_t>(f) * kHeads + h] += value * error[h];
          dense_gradient[static_cast<size_t>(language_row + f) * kHeads + h] += value * error[h];
        }
      }
      for (uint32_t hash : features.hashes) {
        if (buckets_ == 0) break;
        const size_t row = static_cast<size_t>(hash & bucket_mask_) * kHeads;
        for (int h = 0; h < kHeads; ++h) hashed_gradient[row + h] += error[h];
      }
    }
    auto step = [&](std::vector<double>& weights, std::vector<double>& gradient,
                    std::vector<double>& square, size_t unregularised_end) {
      for (size_t k = 0; k < weights.size(); ++k) {
        double g = gradient[k] * scale;
        if (k >= unregularised_end) g += options.l2 * weights[k];
        if (g == 0) continue;
        square[k] += g * g;
        weights[k] -= options.learning_rate * g / (std::sqrt(square[k]) + 1e-8);
      }
    };
    step(dense, dense_gradient, dense_square, kHeads);  // the shared bias row is not shrunk
    step(hashed, hashed_gradient, hashed_square, 0);
  }
  for (size_t k = 0; k < dense.size(); ++k) dense_[k] = static_cast<float>(dense[k]);
  CombineRows();
  for (size_t k = 0; k < hashed.size(); ++k) hashed_[k] = static_cast<float>(hashed[k]);
}

std::string Model::Serialize(std::string_view header_comment) const {
  std::string out(header_comment);
  out += fmt::format("brandpulse-enrichment-model {}\nbuckets {}\n", kFormatVersion, buckets());
  for (int language = 0; language < kLanguages; ++language) {
    out += fmt::format("use {} {}\n", language, use_[language]);
  }
  auto row_line = [&](char kind, size_t index, const float* row) {
    bool any = false;
    for (int h = 0; h < kHeads; ++h) any = any || std::fabs(row[h]) >= 5e-5f;
    if (!any) return;
    out += fmt::format("{} {}", kind, index);
    for (int h = 0; h < kHeads; ++h) out += fmt::format(" {:.4g}", row[h]);
    out += '\n';
  };
  for (int row = 0; row < kDenseRows; ++row) {
    row_line('d', row, dense_.data() + static_cast<size_t>(row) * kHeads);
  }
  for (uint32_t bucket = 0; bucket < buckets(); ++bucket) {
    row_line('h', bucket, hashed_.data() + static_cast<size_t>(bucket) * kHeads);
  }
  return out;
}

Result<Model> Model::Parse(std::string_view text) {
  Model model(1);
  bool have_version = false, have_buckets = false;
  size_t position = 0;
  int line_number = 0;
  while (position < text.size()) {
    size_t end = text.find('\n', position);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(position, end - position);
    position = end + 1;
    ++line_number;
    // Comments, and the C++ raw-string wrapper of the shipped .inc file.
    if (line.empty() || line[0] == '#' || line.starts_with("//") || line.starts_with("R\"MODEL(") ||
        line.starts_with(")MODEL\"")) {
      continue;
    }
    auto error = [&](std::string_view what) {
      return Status::InvalidArgument(
          fmt::format("enrichment model line {}: {}: \"{}\"", line_number, what, line));
    };
    // Whitespace-separated fields.
    std::string_view fields[2 + kHeads];
    size_t count = 0;
    for (size_t i = 0; i < line.size() && count < std::size(fields);) {
      while (i < line.size() && line[i] == ' ') ++i;
      const size_t start = i;
      while (i < line.size() && line[i] != ' ') ++i;
      if (i > start) fields[count++] = line.substr(start, i - start);
    }
    auto number = [](std::string_view field, double& value) {
      const std::string copy(field);
      char* end = nullptr;
      value = std::strtod(copy.c_str(), &end);
      return end == copy.c_str() + copy.size() && !copy.empty();
    };
    double first = 0;
    if (count < 2 || !number(fields[1], first)) return error("expected a keyword and a number");
    if (fields[0] == "brandpulse-enrichment-model") {
      if (first != kFormatVersion) return error(fmt::format("format version {} expected", kFormatVersion));
      have_version = true;
    } else if (fields[0] == "buckets") {
      const auto buckets = static_cast<uint32_t>(first);
      if ((buckets & (buckets - 1)) != 0 || buckets > (1u << 20)) {
        return error("buckets must be 0 or a power of two up to 2^20");
      }
      model = Model(buckets);
      have_buckets = true;
    } else if (fields[0] == "use") {
      double mask = 0;
      if (count != 3 || first < 0 || first >= kLanguages || !number(fields[2], mask)) {
        return error("expected use LANGUAGE MASK");
      }
      model.use_[static_cast<int>(first)] = static_cast<uint32_t>(mask);
    } else if (fields[0] == "d" || fields[0] == "h") {
      if (!have_buckets) return error("weights before the buckets line");
      const bool is_dense = fields[0] == "d";
      if (count != 2 + kHeads || first < 0 || first >= (is_dense ? kDenseRows : model.buckets())) {
        return error(fmt::format("expected {} ROW and {} weights", fields[0], kHeads));
      }
      float* row = is_dense ? model.DenseRow(static_cast<int>(first))
                            : model.HashedRow(static_cast<uint32_t>(first));
      for (int h = 0; h < kHeads; ++h) {
        double weight = 0;
        if (!number(fields[2 + h], weight)) return error("a weight is not a number");
        row[h] = static_cast<float>(weight);
      }
    } else {
      return error("unknown keyword");
    }
  }
  if (!have_version || !have_buckets) {
    return Status::InvalidArgument("enrichment model: no version or buckets line");
  }
  model.CombineRows();
  return model;
}

}  // namespace brandpulse::enrich_model
