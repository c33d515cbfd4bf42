// FirehoseGenerator: a deterministic (seeded) synthetic firehose in every input format, for
// tests, benchmarks and the demo. Posts are built from real word lists (Debian's wamerican,
// wnorwegian, wspanish), mention brands with a configurable share (Zipf over brands), come from a
// skewed population of authors, carry event times with bounded disorder, and a configurable
// share of lines is broken on purpose.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace brandpulse {

enum class FirehoseFormat { kTwitterV1, kTwitterV2, kJetstream, kMastodon, kJson };
std::optional<FirehoseFormat> ParseFirehoseFormat(std::string_view name);

struct GeneratedBrand {
  std::string id;
  std::vector<std::string> terms;  // as inserted: "telenor", "@telenor_norge", "#telenor"
};

struct GeneratorSpec {
  FirehoseFormat format = FirehoseFormat::kTwitterV2;
  uint64_t seed = 1;
  uint64_t count = 100000;
  double mention_share = 0.05;   // share of posts that mention at least one brand
  double zipf_exponent = 1.0;    // brand k is chosen with weight 1 / k^s
  double malformed_share = 0.0;  // truncated JSON, a bad UTF-8 byte, missing or wrongly typed text
  std::vector<std::string> languages = {"en", "no", "es"};
  uint64_t author_count = 50000;
  int64_t start_time_ms = 1767225600000;  // 2026-01-01T00:00:00Z
  double posts_per_second = 200.0;        // of event time
  int64_t max_disorder_ms = 10000;        // event time = nominal − uniform [0, max_disorder]
  std::vector<GeneratedBrand> brands;
  std::string dictionary_directory = "/usr/share/dict";
  int reply_share_percent = 10;
};

// Same spec → byte-identical output (own PRNG; no unordered iteration). Not thread-safe.
class FirehoseGenerator {
 public:
  // Loads the word lists; an error names a missing dictionary file.
  static Result<std::unique_ptr<FirehoseGenerator>> Make(const GeneratorSpec& spec);

  // Appends the next record (one JSON document, no newline) to `out`; false after `count`.
  bool Next(std::string& out);

  // Ground truth of the record just produced.
  const std::vector<std::string>& last_inserted_brands() const { return last_brands_; }
  bool last_was_malformed() const { return last_malformed_; }
  uint64_t produced() const { return produced_; }

 private:
  struct Author {
    std::string id;
    std::string handle;
    int64_t followers;
  };
  explicit FirehoseGenerator(GeneratorSpec spec) : spec_(std::move(spec)) {}
  uint64_t NextRandom();
  double NextUnit();  // [0, 1)
  uint64_t Below(uint64_t bound);
  void BuildText(size_t language);
  Author AuthorAt(uint64_t index) const;
  void WriteRecord(std::string& out, const Author& author, int64_t event_time_ms,
                   size_t language, bool reply, const Author& reply_to);

  GeneratorSpec spec_;
  std::vector<std::vector<std::string>> words_;  // per language in spec_.languages
  std::vector<double> brand_cumulative_;         // Zipf weights, cumulative, normalized
  uint64_t state_[4] = {};
  uint64_t produced_ = 0;
  std::string text_;
  std::string post_id_;
  std::vector<std::string> last_brands_;
  bool last_malformed_ = false;
};

}  // namespace brandpulse
