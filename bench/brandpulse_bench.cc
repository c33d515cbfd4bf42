// brandpulse_bench: brandpulse and its baselines side by side, on one generated firehose and one
// watchlist, in one run. Every engine runs in its own forked child (so its peak RSS is its own),
// reports posts, seconds and per-post match sets through a pipe, and the parent checks every
// engine's matches against brandpulse's before it prints any figure. A mismatch exits 3.
//
//   brandpulse_bench watchlist --brands-file F --count N --out W.yaml [--realistic 1]
//       N brands from the plain list F (one title a line); past its end, deterministic synthetic
//       variants "<title> <suffix>" (see bench/README.md). --realistic 1: with accents, queries,
//       NEAR, wildcards, exclusions, hashtags and handles (RealisticBrand()).
//   brandpulse_bench compare --watchlist W.yaml --input I.jsonl --format twitter-v2
//       [--engines all|a,b,...] [--budget SECONDS] [--repeat 3] [--texts-out T] [--patterns-out P]
//       [--expected-out E] [--work-dir D] [--label L]
//       Prints one TSV line per engine (see kHeader) to stdout; progress to stderr.
//
// Engines: read, decode, hs-scan, match, re2-set, match-folded, pcre2-alt, re2-per-brand,
// naive-std-regex, e2e-1, e2e-2 (hs-scan, pcre2-alt, re2-per-brand and naive-std-regex only on a
// watchlist of one plain term per brand). Engines marked "sampled" run on a prefix of the posts sized to --budget seconds
// and are checked on that prefix.
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define START_INSTRUMENTATION() CALLGRIND_START_INSTRUMENTATION
#else
#define START_INSTRUMENTATION() (void)0
#endif
#include <fcntl.h>
#include <hs/hs.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "engine/batch.h"
#include "engine/diagnostics.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"
#include "engine/unicode.h"
#include "operators/hyperscan_match.h"
#include "operators/json_decode.h"
#include "operators/watchlist.h"

namespace brandpulse::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "brandpulse_bench: %s\n", message.c_str());
  std::exit(2);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die("cannot read " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) Die("cannot write " + path);
}

std::map<std::string, std::string> ParseFlags(int argc, char** argv, int first) {
  std::map<std::string, std::string> flags;
  for (int i = first; i < argc; ++i) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || i + 1 >= argc) Die("bad argument " + key);
    flags[key.substr(2)] = argv[++i];
  }
  return flags;
}

std::string Flag(const std::map<std::string, std::string>& flags, const std::string& key,
                 const std::string& fallback = "") {
  auto it = flags.find(key);
  if (it != flags.end()) return it->second;
  if (fallback.empty()) Die("missing --" + key);
  return fallback;
}

// ---------------------------------------------------------------------------------------------
// watchlist: N brands from the simple-icons titles, then synthetic variants.

constexpr const char* kVariantSuffixes[] = {
    "Labs", "Cloud", "Pay", "Studio", "Mobile", "Group", "Energy", "Bank", "Air", "Foods",
    "Motors", "Health", "Games", "Media", "Travel", "Home", "Sport", "Finance", "Connect",
    "Direct", "Express", "Nordic", "Iberia", "Global", "Plus", "One", "Pro", "Max", "Go", "Hub",
    "Works", "Systems", "Logistics", "Insurance"};

std::string YamlQuote(std::string_view text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

// --realistic 1: the shapes real watchlists have, deterministically from the brand index.
// A third of the brands are written with accents (accent-exact: "Ábbott" does not find
// "abbott"); every fourth has a boolean query, every fifth a NEAR, every sixth a '*' or '?'
// wildcard, every seventh exclusions, every ninth a hashtag and a handle. Every brand keeps
// its name in terms: so the generator can insert it. Names with characters a query would read
// as syntax get terms only.
std::string Accented(const std::string& name, size_t index) {
  // The first vowel or 'n' gets an accent; which one depends on the index.
  static const char* const kA[] = {"á", "à", "â", "ä", "å"};
  static const char* const kE[] = {"é", "è", "ê", "ë"};
  static const char* const kO[] = {"ó", "ò", "ô", "ö"};
  static const char* const kU[] = {"ú", "ü"};
  static const char* const kI[] = {"í", "ï"};
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    std::string accent;
    switch (c) {
      case 'a': accent = kA[index % std::size(kA)]; break;
      case 'e': accent = kE[index % std::size(kE)]; break;
      case 'o': accent = kO[index % std::size(kO)]; break;
      case 'u': accent = kU[index % std::size(kU)]; break;
      case 'i': accent = kI[index % std::size(kI)]; break;
      case 'n': accent = "ñ"; break;
      default: break;
    }
    if (!accent.empty()) return name.substr(0, i) + accent + name.substr(i + 1);
  }
  return name;
}

bool QuerySafe(const std::string& name) {
  if (name.size() < 4) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ';
    if (!ok) return false;
  }
  return name.front() != ' ' && name.back() != ' ';
}

std::string FirstWord(const std::string& name) { return name.substr(0, name.find(' ')); }

std::string RealisticBrand(const std::string& name, size_t i) {
  std::string yaml;
  const bool accented = i % 3 == 0 && Accented(name, i) != name;
  const std::string term = accented ? Accented(name, i) : name;
  yaml += "    terms: [" + YamlQuote(term) + "]\n";
  const std::string word = FirstWord(name);
  if (QuerySafe(name)) {
    std::string query;
    if (i % 4 == 1) {
      query = "\"" + name + " store\" OR (\"" + name + "\" AND (price OR buy OR precio OR pris)) OR "
              "(\"" + name + "\" AND NOT (job OR jobs OR hiring))";
    } else if (i % 5 == 2) {
      query = "(\"" + name + "\" NEAR/3 (app OR service OR servicio OR tjeneste)) OR \"" + name + " support\"";
    } else if (i % 6 == 3 && word.size() >= 4) {
      if (i % 12 == 3) {
        query = word + "* AND (new OR nueva OR ny)";
      } else {
        std::string wild = word;
        wild[wild.size() / 2] = '?';
        query = "\"" + name + "\" OR (" + wild + " AND (review OR opinión OR anmeldelse))";
      }
    }
    if (!query.empty()) yaml += "    query: " + YamlQuote(query) + "\n";
  }
  if (i % 7 == 4) {
    yaml += "    exclude: [" + YamlQuote(name + " jobs") + ", " + YamlQuote(name + " careers") + "]\n";
  }
  if (i % 9 == 5 && QuerySafe(word)) {
    std::string tag;
    for (char c : word) tag.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    yaml += "    hashtags: [" + YamlQuote("#" + tag + "fans") + "]\n";
    yaml += "    handles: [" + YamlQuote("@" + tag + "_official") + "]\n";
  }
  return yaml;
}

int WatchlistCommand(const std::map<std::string, std::string>& flags) {
  std::vector<std::string> titles;
  std::istringstream lines(ReadFile(Flag(flags, "brands-file")));
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line[0] != '#') titles.push_back(line);
  }
  size_t count = std::stoul(Flag(flags, "count"));
  const bool realistic = Flag(flags, "realistic", "0") == "1";
  size_t variants = std::size(kVariantSuffixes) + 1;
  if (count > titles.size() * variants) Die("too many brands for the list and its variants");
  std::string yaml = "# Generated by brandpulse_bench watchlist from bench/data/brands.txt\nbrands:\n";
  for (size_t i = 0; i < count; ++i) {
    size_t round = i / titles.size();
    std::string term = titles[i % titles.size()];
    if (round > 0) term += std::string(" ") + kVariantSuffixes[round - 1];
    char id[32];
    std::snprintf(id, sizeof id, "b%06zu", i);
    if (realistic) {
      yaml += std::string("  - id: ") + id + "\n    name: " + YamlQuote(term) + "\n" +
              RealisticBrand(term, i);
      continue;
    }
    yaml += std::string("  - id: ") + id + "\n    name: " + YamlQuote(term) +
            "\n    terms: [" + YamlQuote(term) + "]\n";
  }
  WriteFile(Flag(flags, "out"), yaml);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// compare

// Per post: 0 when no brand matched, else a hash of the sorted brand set (never 0).
uint64_t HashBrands(std::vector<uint32_t>& brands) {
  if (brands.empty()) return 0;
  std::sort(brands.begin(), brands.end());
  brands.erase(std::unique(brands.begin(), brands.end()), brands.end());
  uint64_t hash = 1469598103934665603ull;
  for (uint32_t brand : brands) {
    hash = (hash ^ (brand + 1)) * 1099511628211ull;
    hash ^= hash >> 29;
  }
  return hash | 1;
}

struct EngineResult {
  double seconds = 0;          // median over repeats, for `posts` posts
  double best_seconds = 0;     // the fastest repeat (0: not measured apart)
  uint64_t posts = 0;          // posts processed in the timed run
  uint64_t bytes = 0;          // input bytes they came from
  double compile_seconds = 0;  // building the matcher, when there is one
  bool sampled = false;
  bool sets = true;                    // the engine yields match sets (else only matched or not)
  std::vector<uint64_t> post_hashes;   // per post, for the checks; empty for limits
  std::string note;
};

struct Input {
  std::string path;
  std::string raw;                        // the whole file
  std::vector<std::string_view> records;  // lines
  std::vector<std::string> texts;         // decoded post texts, in order
  std::vector<std::string> folded_texts;
  // Each text with its accents stripped (FoldAndStripAccents) when it has any, else as it is:
  // what the literal-only baselines (pcre2-alt, re2-per-brand, rg) search, so that a term
  // without accents finds accented text as brandpulse's does (docs/queries.md).
  std::vector<std::string> accentless_texts;
  std::vector<uint64_t> text_record_bytes;  // bytes of the record each post came from
  DecodeSpec decode_spec;
  WatchlistSpec watchlist;
  std::vector<std::string> terms;  // per brand: its first term (terms[0])
  // Every brand is one plain term: the engines that only know literals (hs-scan, pcre2-alt,
  // re2-per-brand, naive-std-regex, rg) can run; others need the matcher's own rules.
  bool one_term_per_brand = true;
  std::string watchlist_path;
  std::string work_dir;
  double budget = 3;
  int repeat = 3;
};

// The median of `repeat` timed runs of body(); the fastest is stored in *best when given.
template <typename Body>
double MedianSeconds(int repeat, Body body, double* best = nullptr) {
  std::vector<double> runs;
  for (int i = 0; i < repeat; ++i) {
    Clock::time_point start = Clock::now();
    body();
    runs.push_back(Seconds(start));
  }
  std::sort(runs.begin(), runs.end());
  if (best != nullptr) *best = runs.front();
  return runs[runs.size() / 2];
}

// Posts a slow engine can do within the budget, measured on a few posts first.
size_t SampleSize(const Input& input, const std::function<void(size_t)>& one_post) {
  Clock::time_point start = Clock::now();
  size_t probe = std::min<size_t>(input.texts.size(), 20);
  for (size_t i = 0; i < probe; ++i) one_post(i);
  double per_post = std::max(Seconds(start) / std::max<size_t>(probe, 1), 1e-9);
  size_t posts = static_cast<size_t>(input.budget / per_post);
  return std::clamp<size_t>(posts, std::min<size_t>(probe, input.texts.size()),
                            input.texts.size());
}

uint64_t BytesOf(const Input& input, size_t posts) {
  uint64_t bytes = 0;
  for (size_t i = 0; i < posts; ++i) bytes += input.text_record_bytes[i];
  return bytes;
}

std::string EscapeRegex(std::string_view text) {
  std::string escaped;
  for (char c : text) {
    if (std::strchr("\\^$.|?*+()[]{}-/#&~ ", c) != nullptr) escaped.push_back('\\');
    escaped.push_back(c);
  }
  return escaped;
}

// brandpulse's word rule (engine/unicode.h) in RE2/PCRE2 syntax: a neighbour that is not a
// letter, mark, number or '_', or is a variation selector / keycap (marks brandpulse treats as
// emoji parts). Equivalent for the generated en/no/es texts (no unspaced scripts there).
constexpr const char* kRe2NonWord = "(?:^|$|[^\\pL\\pM\\pN_]|[\\x{FE00}-\\x{FE0F}\\x{20E3}])";
constexpr const char* kPcreBefore =
    "(?<![\\p{L}\\p{M}\\p{N}_](?<![\\x{FE00}-\\x{FE0F}\\x{20E3}]))";
constexpr const char* kPcreAfter = "(?![\\p{L}\\p{M}\\p{N}_](?<![\\x{FE00}-\\x{FE0F}\\x{20E3}]))";

std::vector<std::unique_ptr<Batch>> MakeBatches(const Input& input) {
  std::vector<std::unique_ptr<Batch>> batches;
  uint64_t position = 0;
  for (size_t i = 0; i < input.records.size(); i += 1024) {
    Batch& batch = *batches.emplace_back(std::make_unique<Batch>());
    for (size_t j = i; j < std::min(input.records.size(), i + 1024); ++j) {
      position += input.records[j].size() + 1;
      batch.AddRecord(input.records[j], position);
    }
    batch.PadInput();
  }
  return batches;
}

void ClearDecoded(Batch& batch) {
  batch.posts.clear();
  batch.dead_letters.clear();
  batch.mentions.clear();
  batch.arena.Reset();
  batch.skipped_records = 0;
}

EngineResult RunRead(const Input& input) {
  EngineResult result;
  std::string buffer;
  result.seconds = MedianSeconds(input.repeat, [&] {
    int fd = open(input.path.c_str(), O_RDONLY);
    if (fd < 0) Die("cannot open " + input.path);
    buffer.resize(input.raw.size() + 1);
    size_t total = 0;
    ssize_t got;
    while ((got = read(fd, buffer.data() + total, std::min<size_t>(1 << 20, buffer.size() - total))) > 0) {
      total += got;
    }
    close(fd);
    size_t lines = std::count(buffer.data(), buffer.data() + total, '\n');
    if (lines < input.records.size()) Die("short read");
  }, &result.best_seconds);
  result.posts = input.texts.size();
  result.bytes = input.raw.size();
  result.note = "whole file read(2) from page cache, lines counted";
  return result;
}

EngineResult RunDecode(const Input& input) {
  EngineResult result;
  auto decode = MakeJsonDecode(input.decode_spec);
  if (!decode.ok()) Die(decode.status().ToString());
  auto state = (*decode)->MakeState().value();
  std::vector<std::unique_ptr<Batch>> batches = MakeBatches(input);
  uint64_t posts = 0;
  result.seconds = MedianSeconds(input.repeat, [&] {
    posts = 0;
    for (auto& batch_pointer : batches) {
      Batch& batch = *batch_pointer;
      ClearDecoded(batch);
      if (!(*decode)->Process(batch, *state).ok()) Die("decode failed");
      posts += batch.posts.size();
    }
  }, &result.best_seconds);
  result.posts = posts;
  result.bytes = input.raw.size();
  result.note = "brandpulse decode operator (simdjson On-Demand), batches of 1024";
  return result;
}

std::vector<std::string> FoldedTerms(const Input& input) {
  std::vector<std::string> folded;
  for (const std::string& term : input.terms) {
    std::string out;
    FoldCase(term, out);
    folded.push_back(out);
  }
  return folded;
}

EngineResult RunHyperscanScan(const Input& input) {
  EngineResult result;
  std::vector<std::string> folded = FoldedTerms(input);
  std::vector<const char*> expressions;
  std::vector<size_t> lengths;
  std::vector<unsigned> ids, flags(folded.size(), 0);
  for (size_t i = 0; i < folded.size(); ++i) {
    expressions.push_back(folded[i].data());
    lengths.push_back(folded[i].size());
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_database_t* database = nullptr;
  hs_compile_error_t* error = nullptr;
  Clock::time_point start = Clock::now();
  if (hs_compile_lit_multi(expressions.data(), flags.data(), ids.data(), lengths.data(),
                           static_cast<unsigned>(ids.size()), HS_MODE_BLOCK, nullptr, &database,
                           &error) != HS_SUCCESS) {
    Die(std::string("hs_compile_lit_multi: ") + (error ? error->message : "?"));
  }
  result.compile_seconds = Seconds(start);
  hs_scratch_t* scratch = nullptr;
  hs_alloc_scratch(database, &scratch);
  uint64_t hits = 0;
  auto on_hit = [](unsigned, unsigned long long, unsigned long long, unsigned, void* context) {
    ++*static_cast<uint64_t*>(context);
    return 0;
  };
  result.seconds = MedianSeconds(input.repeat, [&] {
    for (const std::string& text : input.folded_texts) {
      hs_scan(database, text.data(), static_cast<unsigned>(text.size()), 0, scratch, on_hit, &hits);
    }
  }, &result.best_seconds);
  hs_free_scratch(scratch);
  hs_free_database(database);
  result.posts = input.texts.size();
  result.bytes = input.raw.size();
  result.note = "raw hs_scan of pre-folded texts, literal database, counting callback";
  return result;
}

EngineResult RunMatch(const Input& input) {
  EngineResult result;
  Clock::time_point start = Clock::now();
  auto compiled = CompiledWatchlist::Make(input.watchlist);
  if (!compiled.ok()) Die(compiled.status().ToString());
  result.compile_seconds = Seconds(start);
  auto scanner = (*compiled)->MakeScanner();
  if (!scanner.ok()) Die(scanner.status().ToString());
  std::vector<MatchedBrand> out;
  result.seconds = MedianSeconds(input.repeat, [&] {
    for (const std::string& text : input.texts) {
      out.clear();
      (*compiled)->MatchText(text, **scanner, out);
    }
  }, &result.best_seconds);
  std::vector<uint32_t> brands;
  for (const std::string& text : input.texts) {
    out.clear();
    (*compiled)->MatchText(text, **scanner, out);
    brands.clear();
    for (const MatchedBrand& match : out) brands.push_back(match.brand_index);
    result.post_hashes.push_back(HashBrands(brands));
  }
  result.posts = input.texts.size();
  result.bytes = BytesOf(input, result.posts);
  result.note = "CompiledWatchlist::MatchText: caseless Hyperscan on the raw text (folded and "
                "stripped first when it has accents) + Unicode word, accent and query checks";
  return result;
}

// RE2::Set in place of Hyperscan, with exactly brandpulse's rules: CompiledWatchlist's
// literals (folded, accents stripped) in one caseless Set, run on the text the matcher would
// scan (the text itself, or its folded and stripped form when it has accents to strip); RE2::Set
// says which literals occur, not where, so each candidate is searched for again in the folded
// text; the hits then go through the matcher's own word, accent, case and query checks
// (CompiledWatchlist::MatchTextWithFinder).
EngineResult RunRe2Set(const Input& input) {
  EngineResult result;
  auto compiled = CompiledWatchlist::Make(input.watchlist);
  if (!compiled.ok()) Die(compiled.status().ToString());
  const CompiledWatchlist& watchlist = **compiled;
  RE2::Options options;
  options.set_max_mem(int64_t{4} << 30);
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  Clock::time_point start = Clock::now();
  RE2::Set set(options, RE2::UNANCHORED);
  for (uint32_t id = 0; id < watchlist.pattern_count(); ++id) {
    std::string error;
    if (set.Add(RE2::QuoteMeta(watchlist.pattern_literal(id)), &error) < 0) {
      Die("RE2::Set::Add: " + error);
    }
  }
  if (!set.Compile()) Die("RE2::Set::Compile failed");
  result.compile_seconds = Seconds(start);
  auto scanner = watchlist.MakeScanner();
  if (!scanner.ok()) Die(scanner.status().ToString());
  std::vector<int> matched;
  std::string folded;
  CompiledWatchlist::HitFinder find = [&](std::string_view scanned, bool /*raw*/,
                                          std::vector<CompiledWatchlist::FoundHit>& hits) {
    matched.clear();
    if (!set.Match(scanned, &matched)) return;
    // Candidates are searched for in the folded text (the literals are folded).
    FoldCase(scanned, folded);
    const std::string_view search = folded;
    for (int candidate : matched) {
      const std::string_view literal = watchlist.pattern_literal(static_cast<uint32_t>(candidate));
      for (size_t at = search.find(literal); at != std::string_view::npos;
           at = search.find(literal, at + 1)) {
        hits.push_back({static_cast<uint32_t>(candidate), static_cast<uint32_t>(at),
                        static_cast<uint32_t>(at + literal.size())});
      }
    }
  };
  std::vector<MatchedBrand> out;
  std::vector<uint32_t> brands;
  auto one = [&](size_t i) {
    out.clear();
    watchlist.MatchTextWithFinder(input.texts[i], **scanner, find, out);
  };
  // RE2::Set builds its DFA lazily: warm it on the whole input first (untimed), as a long-running
  // engine would be.
  for (size_t i = 0; i < input.texts.size(); ++i) one(i);
  result.seconds = MedianSeconds(input.repeat, [&] {
    for (size_t i = 0; i < input.texts.size(); ++i) one(i);
  }, &result.best_seconds);
  for (size_t i = 0; i < input.texts.size(); ++i) {
    one(i);
    brands.clear();
    for (const MatchedBrand& match : out) brands.push_back(match.brand_index);
    result.post_hashes.push_back(HashBrands(brands));
  }
  result.posts = input.texts.size();
  result.bytes = BytesOf(input, result.posts);
  result.note = "RE2::Set (caseless, max_mem 4 GiB, DFA warmed) of the matcher's literals in place of "
                "Hyperscan, then the matcher's own word/accent/query checks on the hits";
  return result;
}

// MatchText with every text folded and stripped before the scan: the matcher before issue 17
// (the same database), to show what scanning raw text saves. Checked against match.
EngineResult RunMatchFolded(const Input& input) {
  EngineResult result;
  auto compiled = CompiledWatchlist::Make(input.watchlist);
  if (!compiled.ok()) Die(compiled.status().ToString());
  auto scanner = (*compiled)->MakeScanner();
  if (!scanner.ok()) Die(scanner.status().ToString());
  (*scanner)->set_always_fold_and_strip(true);
  std::vector<MatchedBrand> out;
  result.seconds = MedianSeconds(input.repeat, [&] {
    for (const std::string& text : input.texts) {
      out.clear();
      (*compiled)->MatchText(text, **scanner, out);
    }
  }, &result.best_seconds);
  std::vector<uint32_t> brands;
  for (const std::string& text : input.texts) {
    out.clear();
    (*compiled)->MatchText(text, **scanner, out);
    brands.clear();
    for (const MatchedBrand& match : out) brands.push_back(match.brand_index);
    result.post_hashes.push_back(HashBrands(brands));
  }
  result.posts = input.texts.size();
  result.bytes = BytesOf(input, result.posts);
  result.note = "MatchText with every text folded and stripped before the scan (the path before issue 17)";
  return result;
}

EngineResult RunPcre2(const Input& input) {
  EngineResult result;
  result.sets = false;
  // PCRE2 caps a compiled pattern (Debian: LINK_SIZE 2, 64 KiB), so the alternation is split into
  // chunks of at most kChunkBytes of source; a post matches when any chunk matches.
  constexpr size_t kChunkBytes = 8000;
  std::vector<std::string> sources;
  std::string current;
  for (const std::string& term : input.terms) {
    std::string escaped = EscapeRegex(term);
    if (!current.empty() && current.size() + escaped.size() > kChunkBytes) {
      sources.push_back(std::move(current));
      current.clear();
    }
    if (!current.empty()) current += '|';
    current += escaped;
  }
  if (!current.empty()) sources.push_back(current);
  Clock::time_point start = Clock::now();
  std::vector<pcre2_code*> codes;
  for (const std::string& alternation : sources) {
    std::string pattern = std::string(kPcreBefore) + "(?:" + alternation + ")" + kPcreAfter;
    int error = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_CASELESS | PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK,
                                     &error, &offset, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      Die(std::string("pcre2_compile: ") + reinterpret_cast<char*>(message));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    codes.push_back(code);
  }
  result.compile_seconds = Seconds(start);
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  std::vector<uint64_t> hashes;
  auto one = [&](size_t i) {
    const std::string& text = input.accentless_texts[i];
    bool any = false;
    for (pcre2_code* code : codes) {
      if (pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0, data,
                      nullptr) >= 0) {
        any = true;
        break;
      }
    }
    hashes.push_back(any ? 1 : 0);
  };
  size_t posts = SampleSize(input, one);
  result.sampled = posts < input.texts.size();
  result.seconds = MedianSeconds(input.repeat, [&] {
    hashes.clear();
    for (size_t i = 0; i < posts; ++i) one(i);
  }, &result.best_seconds);
  result.post_hashes = hashes;
  for (pcre2_code* code : codes) pcre2_code_free(code);
  pcre2_match_data_free(data);
  result.posts = posts;
  result.bytes = BytesOf(input, posts);
  result.note = "PCRE2 10.42 JIT, caseless UTF+UCP alternation with look-around word checks, " +
                std::to_string(codes.size()) + " chunk(s); matched-or-not per post";
  return result;
}

EngineResult RunRe2PerBrand(const Input& input) {
  EngineResult result;
  RE2::Options options;
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  Clock::time_point start = Clock::now();
  std::vector<std::unique_ptr<RE2>> regexes;
  for (const std::string& term : input.terms) {
    regexes.push_back(std::make_unique<RE2>(
        std::string(kRe2NonWord) + EscapeRegex(term) + kRe2NonWord, options));
    if (!regexes.back()->ok()) Die("RE2: " + regexes.back()->error());
  }
  result.compile_seconds = Seconds(start);
  std::vector<uint64_t> hashes;
  std::vector<uint32_t> brands;
  auto one = [&](size_t i) {
    brands.clear();
    for (uint32_t b = 0; b < regexes.size(); ++b) {
      if (RE2::PartialMatch(input.accentless_texts[i], *regexes[b])) brands.push_back(b);
    }
    hashes.push_back(HashBrands(brands));
  };
  size_t posts = SampleSize(input, one);
  result.sampled = posts < input.texts.size();
  result.seconds = MedianSeconds(1, [&] {
    hashes.clear();
    for (size_t i = 0; i < posts; ++i) one(i);
  });
  result.post_hashes = hashes;
  result.posts = posts;
  result.bytes = BytesOf(input, posts);
  result.note = "one RE2 per brand, PartialMatch on each post";
  return result;
}

// The naive pipeline: nlohmann::json parses each record, std::regex (icase) per brand finds
// occurrences, brandpulse's IsWholeWordAt judges each (std::regex has no Unicode classes).
EngineResult RunNaive(const Input& input) {
  EngineResult result;
  Clock::time_point start = Clock::now();
  std::vector<std::regex> regexes;
  for (const std::string& term : input.terms) {
    std::string escaped;
    for (char c : term) {
      if (std::strchr("\\^$.|?*+()[]{}", c) != nullptr) escaped.push_back('\\');
      escaped.push_back(c);
    }
    regexes.emplace_back(escaped, std::regex::icase | std::regex::optimize);
  }
  result.compile_seconds = Seconds(start);
  // Records holding posts, in post order (malformed lines are skipped by every engine alike).
  std::vector<uint64_t> hashes;
  std::vector<uint32_t> brands;
  size_t record = 0;
  std::string stripped;
  std::vector<uint32_t> stripped_offsets;
  auto one = [&](size_t) {
    std::string text;
    while (record < input.records.size()) {
      nlohmann::json document =
          nlohmann::json::parse(input.records[record++], nullptr, /*allow_exceptions=*/false);
      if (document.is_discarded() || !document.is_object()) continue;
      const nlohmann::json* node = &document;
      if (node->contains("data")) node = &(*node)["data"];
      if (node->is_array() && !node->empty()) node = &(*node)[0];
      if (!node->is_object()) continue;
      auto found = node->find("full_text");
      if (found == node->end()) found = node->find("text");
      if (found == node->end() || !found->is_string()) continue;
      text = found->get<std::string>();
      // brandpulse's accent rule for these unaccented terms: they also find accented text.
      if (HasStrippableAccent(text)) {
        FoldAndStripAccents(text, stripped, stripped_offsets);
        text = stripped;
      }
      break;
    }
    brands.clear();
    for (uint32_t b = 0; b < regexes.size(); ++b) {
      for (auto it = std::sregex_iterator(text.begin(), text.end(), regexes[b]);
           it != std::sregex_iterator(); ++it) {
        size_t begin = it->position(), end = begin + it->length();
        if (end > begin && IsWholeWordAt(text, begin, end)) {
          brands.push_back(b);
          break;
        }
      }
    }
    hashes.push_back(HashBrands(brands));
  };
  size_t posts = SampleSize(input, one);
  record = 0;
  result.sampled = posts < input.texts.size();
  result.seconds = MedianSeconds(1, [&] {
    hashes.clear();
    record = 0;
    for (size_t i = 0; i < posts; ++i) one(i);
  });
  result.post_hashes = hashes;
  result.posts = posts;
  result.bytes = BytesOf(input, posts);
  result.note = "nlohmann::json parse + std::regex icase per brand (+ IsWholeWordAt)";
  return result;
}

EngineResult RunEndToEnd(const Input& input, int workers) {
  EngineResult result;
  result.sets = false;
  std::string directory = input.work_dir + "/e2e-" + std::to_string(workers);
  std::string yaml = "name: bench-e2e\nsource:\n  type: file\n  path: " + input.path +
                     "\n  follow: false\ndecode:\n  format: " +
                     std::string(DecodeFormatName(input.decode_spec.format)) +
                     "\nwatchlist: " + input.watchlist_path + "\nworkers: " +
                     std::to_string(workers) +
                     "\nbatch_records: 1024\nstate:\n  directory: " + directory +
                     "/state\n  memory_budget_mb: 256\n  commit_every_records: 50000\n"
                     "  retention: 7d\ntime:\n  max_out_of_orderness: 30s\n  allowed_lateness: 1m\n"
                     "windows:\n  - name: 5m\n    size: 5m\n  - name: 1h\n    size: 1h\n"
                     "alerts:\n  - name: burst\n    type: threshold\n    window: 5m\n"
                     "    metric: mentions\n    above: 400\n"
                     "sinks:\n  alerts: {type: file, path: " + directory +
                     "/alerts.jsonl}\n  dead_letter: {type: file, path: " + directory +
                     "/dead.jsonl}\n  late: {type: file, path: " + directory + "/late.jsonl}\n";
  std::string pipeline_path = input.work_dir + "/e2e-" + std::to_string(workers) + ".yaml";
  WriteFile(pipeline_path, yaml);
  Diagnostics diagnostics;
  std::optional<PipelineSpec> spec = LoadPipelineSpec(pipeline_path, diagnostics);
  if (!spec) Die("pipeline spec " + pipeline_path + " invalid");
  RunOptions options;
  options.fresh = true;
  options.workers = workers;
  uint64_t mentions = 0, posts = 0;
  // Timed: from the first record read to the end (RunSummary::seconds - resume_seconds), so the
  // fixed start-up (open RocksDB, compile the watchlist) does not dilute a short input; the
  // start-up is reported in the compile column.
  std::vector<double> steady, startup;
  for (int i = 0; i < input.repeat; ++i) {
    Result<RunSummary> summary = RunPipeline(*spec, options);
    if (!summary.ok()) Die(summary.status().ToString());
    mentions = summary->mentions;
    posts = summary->posts;
    steady.push_back(summary->seconds - summary->resume_seconds);
    startup.push_back(summary->resume_seconds);
  }
  std::sort(steady.begin(), steady.end());
  std::sort(startup.begin(), startup.end());
  result.seconds = steady[steady.size() / 2];
  result.best_seconds = steady.front();
  result.compile_seconds = startup[startup.size() / 2];
  result.posts = posts;
  result.bytes = input.raw.size();
  // The runner reports mention totals, not per-post sets: checked as a total below.
  result.post_hashes.assign(1, mentions);
  result.note = "RunPipeline: file source, decode, match, 5m+1h windows in RocksDB, alerts to file; " +
                std::to_string(workers) + " worker(s), fresh state; time from first record to end, start-up "
                "(RocksDB open + watchlist compile) in the compile column";
  return result;
}

// ---------------------------------------------------------------------------------------------
// Forking, so every engine's peak RSS is its own.

void WriteAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n <= 0) _exit(5);
    p += n;
    size -= n;
  }
}

bool ReadAll(int fd, void* data, size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = read(fd, p, size);
    if (n <= 0) return false;
    p += n;
    size -= n;
  }
  return true;
}

struct WireResult {
  double seconds, best_seconds, compile_seconds;
  uint64_t posts, bytes, sampled, sets, hash_count, note_size;
};

EngineResult RunForked(const std::function<EngineResult()>& body, long* rss_kb) {
  int fds[2];
  if (pipe(fds) != 0) Die("pipe");
  std::fflush(nullptr);
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    EngineResult result = body();
    WireResult wire{result.seconds, result.best_seconds, result.compile_seconds, result.posts,
                    result.bytes,
                    result.sampled, result.sets, result.post_hashes.size(), result.note.size()};
    WriteAll(fds[1], &wire, sizeof wire);
    WriteAll(fds[1], result.post_hashes.data(), result.post_hashes.size() * sizeof(uint64_t));
    WriteAll(fds[1], result.note.data(), result.note.size());
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  EngineResult result;
  WireResult wire{};
  bool ok = ReadAll(fds[0], &wire, sizeof wire);
  if (ok) {
    result.post_hashes.resize(wire.hash_count);
    result.note.resize(wire.note_size);
    ok = ReadAll(fds[0], result.post_hashes.data(), wire.hash_count * sizeof(uint64_t)) &&
         ReadAll(fds[0], result.note.data(), wire.note_size);
  }
  close(fds[0]);
  int status = 0;
  struct rusage usage {};
  wait4(child, &status, 0, &usage);
  if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0) Die("engine child failed");
  result.seconds = wire.seconds;
  result.best_seconds = wire.best_seconds;
  result.compile_seconds = wire.compile_seconds;
  result.posts = wire.posts;
  result.bytes = wire.bytes;
  result.sampled = wire.sampled;
  result.sets = wire.sets;
  *rss_kb = usage.ru_maxrss;
  return result;
}

long SelfRssKb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

constexpr const char* kHeader =
    "label\tengine\tposts\tsampled\tseconds\tposts_per_s\tmb_per_s\tns_per_post\tcompile_s\t"
    "rss_mib\tengine_rss_mib\tcheck\tnote\tbest_posts_per_s";

// Reads the watchlist and the input and extracts the post texts with the decode operator.
void LoadInput(const std::map<std::string, std::string>& flags, Input& input) {
  input.path = Flag(flags, "input");
  input.watchlist_path = Flag(flags, "watchlist");
  input.work_dir = Flag(flags, "work-dir", "/tmp/brandpulse-bench");
  input.budget = std::stod(Flag(flags, "budget", "3"));
  input.repeat = std::stoi(Flag(flags, "repeat", "3"));
  std::string format_name = Flag(flags, "format", "twitter-v2");
  std::string decode_yaml = "format: " + format_name + "\n";
  {
    std::string mkdir = "mkdir -p '" + input.work_dir + "'";
    if (std::system(mkdir.c_str()) != 0) Die("cannot create " + input.work_dir);
  }
  Diagnostics diagnostics;
  std::optional<WatchlistSpec> watchlist = LoadWatchlist(input.watchlist_path, diagnostics);
  if (!watchlist) Die("watchlist " + input.watchlist_path + " invalid");
  input.watchlist = *watchlist;
  if (flags.count("cache")) input.watchlist.cache_directory = flags.at("cache");
  for (const BrandSpec& brand : input.watchlist.brands) {
    if (brand.terms.size() != 1 || !brand.handles.empty() || !brand.hashtags.empty() ||
        !brand.exclusions.empty() || brand.query) {
      input.one_term_per_brand = false;
    }
    input.terms.push_back(brand.terms.empty() ? std::string() : brand.terms[0]);
  }
  input.decode_spec.format = format_name == "twitter-v1"   ? DecodeFormat::kTwitterV1
                             : format_name == "twitter-v2" ? DecodeFormat::kTwitterV2
                                                           : (Die("format must be twitter-v1 or twitter-v2"),
                                                              DecodeFormat::kJson);
  input.raw = ReadFile(input.path);
  for (size_t start = 0; start < input.raw.size();) {
    size_t end = input.raw.find('\n', start);
    if (end == std::string::npos) end = input.raw.size();
    if (end > start) input.records.push_back(std::string_view(input.raw).substr(start, end - start));
    start = end + 1;
  }
  {  // Extract texts once with the decode operator (this is not timed).
    auto decode = MakeJsonDecode(input.decode_spec);
    if (!decode.ok()) Die(decode.status().ToString());
    auto state = (*decode)->MakeState().value();
    std::vector<std::unique_ptr<Batch>> batches = MakeBatches(input);
    for (auto& batch_pointer : batches) {
      Batch& batch = *batch_pointer;
      if (!(*decode)->Process(batch, *state).ok()) Die("decode failed");
      for (const Post& post : batch.posts) {
        input.texts.emplace_back(post.text);
        input.text_record_bytes.push_back(batch.records[post.record_index].length + 1);
        FoldCase(post.text, input.folded_texts.emplace_back());
        std::string& accentless = input.accentless_texts.emplace_back(post.text);
        if (HasStrippableAccent(post.text)) {
          std::vector<uint32_t> offsets;
          FoldAndStripAccents(post.text, accentless, offsets);
        }
      }
    }
  }
}

// matchcost: one engine's matching pass over the posts, not forked and not timed, for
// callgrind (bench/matcher-cost.sh collects MeasuredPass only). A first pass warms the scanner
// (and RE2's lazily built DFA); the second is measured.
__attribute__((noinline)) void MeasuredPass(const std::function<void()>& pass) { pass(); }

int MatchCostCommand(const std::map<std::string, std::string>& flags) {
  Input input;
  LoadInput(flags, input);
  const std::string engine = Flag(flags, "engine");
  auto compiled = CompiledWatchlist::Make(input.watchlist);
  if (!compiled.ok()) Die(compiled.status().ToString());
  const CompiledWatchlist& watchlist = **compiled;
  auto scanner = watchlist.MakeScanner();
  if (!scanner.ok()) Die(scanner.status().ToString());
  std::vector<MatchedBrand> out;
  uint64_t mentions = 0;
  std::function<void()> pass;
  std::unique_ptr<RE2::Set> set;
  std::vector<int> matched;
  std::string folded;
  CompiledWatchlist::HitFinder find;
  if (engine == "match" || engine == "match-folded" || engine == "match-every-term") {
    (*scanner)->set_always_fold_and_strip(engine == "match-folded");
    // match-every-term: every query term judged on every hit (no lazy terms), as before
    // issue 17's round two; the same results.
    (*scanner)->set_judge_every_query_term(engine == "match-every-term");
    pass = [&] {
      for (const std::string& text : input.texts) {
        out.clear();
        watchlist.MatchText(text, **scanner, out);
        mentions += out.size();
      }
    };
  } else if (engine == "re2-set") {
    RE2::Options options;
    options.set_max_mem(int64_t{4} << 30);
    options.set_case_sensitive(false);
    options.set_log_errors(false);
    set = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
    for (uint32_t id = 0; id < watchlist.pattern_count(); ++id) {
      std::string error;
      if (set->Add(RE2::QuoteMeta(watchlist.pattern_literal(id)), &error) < 0) Die(error);
    }
    if (!set->Compile()) Die("RE2::Set::Compile failed");
    find = [&](std::string_view scanned, bool /*raw*/, std::vector<CompiledWatchlist::FoundHit>& hits) {
      matched.clear();
      if (!set->Match(scanned, &matched)) return;
      FoldCase(scanned, folded);
      const std::string_view search = folded;
      for (int candidate : matched) {
        const std::string_view literal = watchlist.pattern_literal(static_cast<uint32_t>(candidate));
        for (size_t at = search.find(literal); at != std::string_view::npos;
             at = search.find(literal, at + 1)) {
          hits.push_back({static_cast<uint32_t>(candidate), static_cast<uint32_t>(at),
                          static_cast<uint32_t>(at + literal.size())});
        }
      }
    };
    pass = [&] {
      for (const std::string& text : input.texts) {
        out.clear();
        watchlist.MatchTextWithFinder(text, **scanner, find, out);
        mentions += out.size();
      }
    };
  } else {
    Die("matchcost engines: match, match-folded, match-every-term, re2-set");
  }
  // matcher-cost.sh runs callgrind with --instr-atstart=no: loading and compiling the
  // watchlist run uninstrumented (minutes faster), instrumentation starts here.
  START_INSTRUMENTATION();
  pass();
  mentions = 0;
  MeasuredPass(pass);
  std::printf("%s\tposts %zu\tmentions %llu\n", engine.c_str(), input.texts.size(),
              static_cast<unsigned long long>(mentions));
  return 0;
}

int CompareCommand(const std::map<std::string, std::string>& flags) {
  Input input;
  LoadInput(flags, input);
  std::string label = Flag(flags, "label", "run");
  std::string engines_flag = Flag(flags, "engines", "all");
  std::fprintf(stderr, "[%s] %zu records, %zu posts, %zu brands, %.1f MB\n", label.c_str(),
               input.records.size(), input.texts.size(), input.terms.size(),
               input.raw.size() / 1e6);
  if (flags.count("texts-out")) {
    std::string texts;
    for (const std::string& text : input.accentless_texts) {
      for (char c : text) texts.push_back(c == '\n' || c == '\r' ? ' ' : c);
      texts.push_back('\n');
    }
    WriteFile(flags.at("texts-out"), texts);
  }
  if (flags.count("terms-out")) {  // brand id TAB its first term: the DuckDB peer's brand table
    std::string terms;
    for (size_t i = 0; i < input.terms.size(); ++i) {
      terms += input.watchlist.brands[i].id + "\t" + input.terms[i] + "\n";
    }
    WriteFile(flags.at("terms-out"), terms);
  }
  if (flags.count("patterns-out")) {
    std::string patterns;
    for (const std::string& term : input.terms) patterns += term + "\n";
    WriteFile(flags.at("patterns-out"), patterns);
  }

  std::vector<std::pair<std::string, std::function<EngineResult()>>> all = {
      {"read", [&] { return RunRead(input); }},
      {"decode", [&] { return RunDecode(input); }},
      {"hs-scan", [&] { return RunHyperscanScan(input); }},
      {"match", [&] { return RunMatch(input); }},
      {"re2-set", [&] { return RunRe2Set(input); }},
      {"match-folded", [&] { return RunMatchFolded(input); }},
      {"pcre2-alt", [&] { return RunPcre2(input); }},
      {"re2-per-brand", [&] { return RunRe2PerBrand(input); }},
      {"naive-std-regex", [&] { return RunNaive(input); }},
      {"e2e-1", [&] { return RunEndToEnd(input, 1); }},
      {"e2e-2", [&] { return RunEndToEnd(input, 2); }},
  };
  std::vector<std::string> wanted;
  const std::vector<std::string> literal_only = {"hs-scan", "pcre2-alt", "re2-per-brand",
                                                  "naive-std-regex"};
  auto is_literal_only = [&](const std::string& name) {
    return std::find(literal_only.begin(), literal_only.end(), name) != literal_only.end();
  };
  if (engines_flag == "all") {
    for (auto& [name, body] : all) {
      if (input.one_term_per_brand || !is_literal_only(name)) wanted.push_back(name);
    }
  } else {
    std::istringstream list(engines_flag);
    for (std::string name; std::getline(list, name, ',');) {
      if (!input.one_term_per_brand && is_literal_only(name)) {
        Die(name + " only runs on a watchlist of one plain term per brand");
      }
      wanted.push_back(name);
    }
  }
  if (std::find(wanted.begin(), wanted.end(), "match") == wanted.end()) {
    wanted.insert(wanted.begin(), "match");  // the reference for every check
  }
  std::stable_partition(wanted.begin(), wanted.end(), [](const std::string& n) { return n == "match"; });

  long base_rss_kb = SelfRssKb();
  struct Row {
    std::string name;
    EngineResult result;
    long rss_kb;
    std::string check;
  };
  std::vector<Row> rows;
  std::vector<uint64_t> reference;
  uint64_t reference_mentions = 0, reference_matched_posts = 0;
  for (const std::string& name : wanted) {
    auto found = std::find_if(all.begin(), all.end(), [&](auto& entry) { return entry.first == name; });
    if (found == all.end()) Die("unknown engine " + name);
    std::fprintf(stderr, "[%s] %s ...\n", label.c_str(), name.c_str());
    long rss_kb = 0;
    Row row{name, RunForked(found->second, &rss_kb), rss_kb, "limit"};
    const EngineResult& result = row.result;
    if (name == "match") {
      row.check = "reference";
    } else if (name.rfind("e2e-", 0) == 0) {
      if (result.post_hashes.at(0) != reference_mentions) {
        Die("CHECK FAILED: " + name + " counted " + std::to_string(result.post_hashes[0]) +
            " mentions, brandpulse match " + std::to_string(reference_mentions));
      }
      row.check = "mentions equal";
    } else if (!result.post_hashes.empty()) {
      for (size_t i = 0; i < result.post_hashes.size(); ++i) {
        uint64_t want = reference.at(i);
        uint64_t got = result.post_hashes[i];
        bool equal = result.sets ? got == want : (got != 0) == (want != 0);
        if (!equal) {
          Die("CHECK FAILED: " + name + " disagrees with brandpulse match on post " +
              std::to_string(i) + ": \"" + input.texts[i] + "\" (" +
              (result.sets ? "brand sets differ" : "matched-or-not differs") + ")");
        }
      }
      row.check = std::string(result.sets ? "sets equal" : "matched equal") + " on " +
                  std::to_string(result.post_hashes.size());
    }
    rows.push_back(std::move(row));
    if (name == "match") {
      reference = rows.back().result.post_hashes;
      // Mentions as the runner counts them: one per (post, brand).
      auto compiled = CompiledWatchlist::Make(input.watchlist);
      auto scanner = (*compiled)->MakeScanner();
      std::vector<MatchedBrand> out;
      for (const std::string& text : input.texts) {
        out.clear();
        (*compiled)->MatchText(text, **scanner, out);
        reference_mentions += out.size();
        reference_matched_posts += !out.empty();
      }
    }
  }
  if (flags.count("expected-out")) {
    std::string expected;  // per post: 1 when brandpulse matched a brand, else 0
    for (uint64_t hash : reference) expected += hash != 0 ? "1\n" : "0\n";
    WriteFile(flags.at("expected-out"), expected);
  }
  std::printf("%s\n", kHeader);
  for (const Row& row : rows) {
    const EngineResult& r = row.result;
    double posts_per_s = r.posts / r.seconds;
    double best_posts_per_s = r.posts / (r.best_seconds > 0 ? r.best_seconds : r.seconds);
    std::printf("%s\t%s\t%llu\t%s\t%.4f\t%.0f\t%.1f\t%.0f\t%.3f\t%.0f\t%.0f\t%s\t%s\t%.0f\n", label.c_str(),
                row.name.c_str(), static_cast<unsigned long long>(r.posts),
                r.sampled ? "yes" : "no", r.seconds, posts_per_s, r.bytes / r.seconds / 1e6,
                1e9 * r.seconds / r.posts, r.compile_seconds, row.rss_kb / 1024.0,
                std::max(0L, row.rss_kb - base_rss_kb) / 1024.0, row.check.c_str(), r.note.c_str(),
                best_posts_per_s);
  }
  std::fprintf(stderr, "[%s] all checks passed (%llu posts matched, %llu mentions)\n", label.c_str(),
               static_cast<unsigned long long>(reference_matched_posts),
               static_cast<unsigned long long>(reference_mentions));
  return 0;
}

}  // namespace
}  // namespace brandpulse::bench

int main(int argc, char** argv) {
  using namespace brandpulse::bench;
  if (argc < 2) Die("usage: brandpulse_bench watchlist|compare --flag value ...");
  std::string command = argv[1];
  auto flags = ParseFlags(argc, argv, 2);
  if (command == "watchlist") return WatchlistCommand(flags);
  if (command == "compare") return CompareCommand(flags);
  if (command == "matchcost") return MatchCostCommand(flags);
  Die("unknown command " + command);
}
