// FirehoseGenerator: a deterministic (seeded) synthetic firehose in every input format the
// decoder reads, for tests, benchmarks and the demo (`brandpulse generate`).
//
// Posts are built from real word lists (Debian's wamerican, wnorwegian, wspanish), mention
// brands with a configurable share (Zipf over brands), come from a skewed population of authors
// whose handle and followers are fixed per author, carry event times with bounded disorder, reply
// to recent posts of the same stream, and a configurable share of lines is broken on purpose.
//
// Determinism: the same spec (and the same word list files) gives byte-identical output on any
// machine. Every per-record decision uses integer arithmetic on our own xoshiro256** generator;
// floating point is used only in Make() to turn shares and Zipf weights into integer thresholds.
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

// "twitter-v1", "twitter-v2", "jetstream", "mastodon", "json"; nullopt for anything else.
std::optional<FirehoseFormat> ParseFirehoseFormat(std::string_view name);
// The inverse of ParseFirehoseFormat.
std::string_view FirehoseFormatName(FirehoseFormat format);

struct GeneratedBrand {
  std::string id;
  // Inserted as written: "telenor" (plain terms are sometimes Capitalized or UPPERCASED),
  // "@telenor_norge", "#telenor". Must be non-empty valid UTF-8.
  std::vector<std::string> terms;
};

struct GeneratorSpec {
  FirehoseFormat format = FirehoseFormat::kTwitterV2;
  uint64_t seed = 1;
  uint64_t count = 100000;       // records to produce (Jetstream: posts and other events)
  // Share of posts that mention at least one brand, in [0, 1]; the other posts name none: words
  // that would spell a brand's term are left out of the filler (see last_inserted_brands()).
  double mention_share = 0.05;
  double zipf_exponent = 1.0;    // brand k (1-based, in `brands` order) has weight 1 / k^s
  // Share of lines broken on purpose, in [0, 1]: truncated JSON, an invalid UTF-8 byte in the
  // text, the text field missing, or the text field a number.
  double malformed_share = 0.0;
  // Each post's language is drawn uniformly from these: "en" (american-english), "no" or "nb"
  // (bokmaal), "es" (spanish).
  std::vector<std::string> languages = {"en", "no", "es"};
  // Distinct authors, at most kMaxGeneratorAuthors. Author k is chosen with the Zipf-Mandelbrot
  // weight 1 / (k + 10): a few authors post a lot, none dominates.
  uint64_t author_count = 50000;
  int64_t start_time_ms = 1767225600000;  // 2026-01-01T00:00:00Z: nominal time of record 0
  double posts_per_second = 200.0;        // of event time: record i is nominal at start + i / rate
  int64_t max_disorder_ms = 10000;        // event time = nominal - uniform [0, max_disorder_ms]
  std::vector<GeneratedBrand> brands;
  std::string dictionary_directory = "/usr/share/dict";
  int reply_share_percent = 10;  // share of posts replying to a recent post, 0..100
};

// The largest author_count: the author table holds one 8-byte threshold per author (128 MiB).
inline constexpr uint64_t kMaxGeneratorAuthors = uint64_t{1} << 24;

// Produces records one at a time. Not thread-safe; one generator per thread.
class FirehoseGenerator {
 public:
  // Validates the spec and loads the word lists (UTF-8 or ISO-8859-1, detected; converted to
  // UTF-8). Errors: InvalidArgument for a bad spec; NotFound naming the missing word list file
  // and the Debian package that provides it.
  static Result<std::unique_ptr<FirehoseGenerator>> Make(const GeneratorSpec& spec);
  ~FirehoseGenerator();
  FirehoseGenerator(const FirehoseGenerator&) = delete;
  FirehoseGenerator& operator=(const FirehoseGenerator&) = delete;

  // Appends the next record (one JSON document, no trailing newline) to `out`. Returns false,
  // leaving `out` unchanged, once `count` records have been produced. Allocates nothing per
  // record once its buffers are warm, apart from `out` growing and copies of brand ids longer
  // than std::string's inline buffer.
  bool Next(std::string& out);

  // Ground truth of the record just produced (REQUIRES: Next() returned true at least once).
  // The ids of the brands deliberately inserted, sorted and unique; empty if none, for records
  // that are not posts, and for malformed records (a decoder sees no post there). The text
  // around them names no other brand: a dictionary or function word that is, ignoring case and
  // accents, a one-word term of a brand ("just", "now", "tide"), and one word of each term of
  // several words the vocabulary could spell ("the mighty"), is never drawn. Brands' queries
  // are not seen here (GeneratedBrand has terms only): a query can still match filler.
  const std::vector<std::string>& last_inserted_brands() const;
  bool last_was_malformed() const;
  // False for Jetstream's non-post events (likes, reposts, follows, identity, account).
  bool last_was_post() const;
  bool last_was_reply() const;
  // The event time written into the record, and the nominal time it was disordered from:
  // nominal - max_disorder_ms <= event <= nominal.
  int64_t last_event_time_ms() const;
  int64_t last_nominal_time_ms() const;
  // Records produced so far.
  uint64_t produced() const;

 private:
  class Implementation;
  explicit FirehoseGenerator(std::unique_ptr<Implementation> implementation);
  std::unique_ptr<Implementation> implementation_;
};

}  // namespace brandpulse
