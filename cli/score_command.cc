// `brandpulse score --labels POSTS.tsv --mentions MENTIONS.jsonl`: precision and recall of a
// watchlist on a labelled set. The mentions are what `backtest --jsonl` or `match --input FILE
// --jsonl` wrote (brandpulse.mention/1, one line per matched post); the labels say which brands
// each post truly mentions. Counted per (post, brand) pair: a found pair the labels hold is right,
// one they do not hold a false positive, a labelled pair not found a miss. Prints a table per
// brand, the totals, and every false positive and miss with its text, so the analyst sees what
// to fix. With --min-precision/--min-recall it exits 1 when a figure falls below (a regression
// check for tests and CI).
#include <simdjson.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "cli/commands.h"

namespace brandpulse {
namespace {

struct ScoreOptions {
  std::string labels;
  std::string mentions;
  double min_precision = 0;
  double min_recall = 0;
  bool list_errors = true;
};

struct LabelledPost {
  std::string text;
  std::set<std::string> brands;
};

struct BrandScore {
  uint64_t labelled = 0;  // pairs the labels hold
  uint64_t found = 0;     // pairs the watchlist found
  uint64_t right = 0;     // found and labelled
};

std::vector<std::string> SplitOn(std::string_view line, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t end = line.find(separator, start);
    parts.emplace_back(line.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

double Ratio(uint64_t part, uint64_t whole) {
  return whole == 0 ? 1.0 : static_cast<double>(part) / static_cast<double>(whole);
}

// posts.tsv: `id <TAB> lang <TAB> brands (comma-separated, "-" = none) <TAB> text`; lines
// starting with '#' are comments.
bool ReadLabels(const std::string& path, std::map<std::string, LabelledPost>& posts) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "brandpulse score: cannot read %s\n", path.c_str());
    return false;
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields = SplitOn(line, '\t');
    if (fields.size() < 4 || fields[0].empty()) {
      std::fprintf(stderr,
                   "%s:%d:1: error: a labelled post has 4 tab-separated fields (id, lang, "
                   "brands, text); found %zu\n",
                   path.c_str(), number, fields.size());
      return false;
    }
    LabelledPost post;
    post.text = fields[3];
    if (fields[2] != "-") {
      for (std::string& brand : SplitOn(fields[2], ',')) {
        if (!brand.empty()) post.brands.insert(brand);
      }
    }
    if (!posts.emplace(fields[0], std::move(post)).second) {
      std::fprintf(stderr, "%s:%d:1: error: post id '%s' is labelled twice\n", path.c_str(),
                   number, fields[0].c_str());
      return false;
    }
  }
  return true;
}

// post id → brands found, from brandpulse.mention/1 lines.
bool ReadMentions(const std::string& path, std::map<std::string, std::set<std::string>>& found) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "brandpulse score: cannot read %s\n", path.c_str());
    return false;
  }
  simdjson::ondemand::parser parser;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    simdjson::padded_string padded(line);
    simdjson::ondemand::document document;
    std::string_view post_id;
    simdjson::ondemand::array brands;
    if (parser.iterate(padded).get(document) || document["post_id"].get_string().get(post_id) ||
        document["brands"].get_array().get(brands)) {
      std::fprintf(stderr,
                   "%s:%d:1: error: not a brandpulse.mention/1 line (post_id and brands are "
                   "required; hint: write it with backtest --jsonl)\n",
                   path.c_str(), number);
      return false;
    }
    std::set<std::string>& brands_found = found[std::string(post_id)];
    for (auto brand : brands) {
      std::string_view id;
      if (brand["brand"].get_string().get(id)) {
        std::fprintf(stderr, "%s:%d:1: error: a brand without an id\n", path.c_str(), number);
        return false;
      }
      brands_found.emplace(id);
    }
  }
  return true;
}

int Score(const ScoreOptions& options) {
  std::map<std::string, LabelledPost> posts;
  std::map<std::string, std::set<std::string>> found;
  if (!ReadLabels(options.labels, posts) || !ReadMentions(options.mentions, found)) return 2;
  for (const auto& [id, brands] : found) {
    if (posts.count(id) == 0) {
      std::fprintf(stderr,
                   "brandpulse score: post '%s' of %s is not in %s (hint: score the output of "
                   "the labelled posts themselves)\n",
                   id.c_str(), options.mentions.c_str(), options.labels.c_str());
      return 2;
    }
  }
  std::map<std::string, BrandScore> scores;
  BrandScore total;
  std::vector<std::string> false_positives, misses;
  for (const auto& [id, post] : posts) {
    static const std::set<std::string> kNone;
    auto it = found.find(id);
    const std::set<std::string>& brands_found = it == found.end() ? kNone : it->second;
    for (const std::string& brand : post.brands) {
      ++scores[brand].labelled;
      ++total.labelled;
      if (brands_found.count(brand) == 0) misses.push_back(id + "  " + brand + "  " + post.text);
    }
    for (const std::string& brand : brands_found) {
      ++scores[brand].found;
      ++total.found;
      if (post.brands.count(brand) != 0) {
        ++scores[brand].right;
        ++total.right;
      } else {
        false_positives.push_back(id + "  " + brand + "  " + post.text);
      }
    }
  }
  std::printf("%zu labelled posts, %zu with mentions found\n\n", posts.size(), found.size());
  std::printf("%-16s %8s %6s %6s %10s %7s\n", "brand", "labelled", "found", "right", "precision",
              "recall");
  auto row = [](const std::string& name, const BrandScore& score) {
    std::printf("%-16s %8llu %6llu %6llu %10.3f %7.3f\n", name.c_str(),
                static_cast<unsigned long long>(score.labelled),
                static_cast<unsigned long long>(score.found),
                static_cast<unsigned long long>(score.right), Ratio(score.right, score.found),
                Ratio(score.right, score.labelled));
  };
  for (const auto& [brand, score] : scores) row(brand, score);
  row("all", total);
  const double precision = Ratio(total.right, total.found);
  const double recall = Ratio(total.right, total.labelled);
  std::printf("\nprecision %.3f (%llu of %llu found are right), recall %.3f (%llu of %llu "
              "labelled are found)\n",
              precision, static_cast<unsigned long long>(total.right),
              static_cast<unsigned long long>(total.found), recall,
              static_cast<unsigned long long>(total.right),
              static_cast<unsigned long long>(total.labelled));
  if (options.list_errors) {
    std::printf("\nfalse positives (%zu):\n", false_positives.size());
    for (const std::string& line : false_positives) std::printf("  %s\n", line.c_str());
    std::printf("\nmisses (%zu):\n", misses.size());
    for (const std::string& line : misses) std::printf("  %s\n", line.c_str());
  }
  bool below = false;
  if (precision < options.min_precision) {
    std::printf("\nprecision %.3f is below --min-precision %.3f\n", precision,
                options.min_precision);
    below = true;
  }
  if (recall < options.min_recall) {
    std::printf("\nrecall %.3f is below --min-recall %.3f\n", recall, options.min_recall);
    below = true;
  }
  return below ? 1 : 0;
}

}  // namespace

void RegisterScoreCommand(CLI::App& app, CliCommands& commands) {
  auto options = std::make_shared<ScoreOptions>();  // shared: the callback outlives this call
  CLI::App* command = app.add_subcommand(
      "score",
      "Precision and recall of a watchlist on labelled posts, from backtest --jsonl output.");
  command
      ->add_option("--labels,-l", options->labels,
                   "Labelled posts: id <TAB> lang <TAB> brands (comma-separated, - = none) <TAB> "
                   "text")
      ->required();
  command
      ->add_option("--mentions,-m", options->mentions,
                   "brandpulse.mention/1 lines of the same posts (backtest --jsonl FILE)")
      ->required();
  command->add_option("--min-precision", options->min_precision,
                      "Exit 1 when precision is below this");
  command->add_option("--min-recall", options->min_recall, "Exit 1 when recall is below this");
  command->add_flag("!--no-list", options->list_errors,
                    "Print only the figures, not each false positive and miss");
  commands.push_back(CliCommand{command, [options] { return Score(*options); }});
}

}  // namespace brandpulse
