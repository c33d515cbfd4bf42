// `brandpulse validate FILE...`: checks pipeline and watchlist files (a watchlist is compiled
// too) and prints every problem as file:line:column with a hint.
#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.h"
#include "engine/yaml_reader.h"
#include "operators/hyperscan_match.h"
#include "operators/watchlist.h"
#include "engine/unicode.h"

#include <algorithm>
#include <fstream>
#include <unordered_set>
#include <fmt/ranges.h>
#include "pipeline/pipeline_config.h"

namespace brandpulse {
namespace {

// Ordinary words of the languages the firehose carries, from Debian's word lists (wamerican,
// wnorwegian, wspanish): lowercase entries only (a capitalized entry is a name), folded and
// accent-stripped as the matcher compares them. Loaded once, on the first watchlist validated.
struct OrdinaryWords {
  std::string language;  // "English", "Norwegian", "Spanish"
  std::string path;
  std::unordered_set<std::string> words;
};

std::string MatchKey(std::string_view word) {
  std::string stripped;
  std::vector<uint32_t> offsets;
  FoldAndStripAccents(word, stripped, offsets);
  return stripped;
}

const std::vector<OrdinaryWords>& WordLists() {
  static const std::vector<OrdinaryWords> lists = [] {
    std::vector<OrdinaryWords> loaded;
    for (auto [language, path] : {std::pair{"English", "/usr/share/dict/american-english"},
                                  std::pair{"Norwegian", "/usr/share/dict/bokmaal"},
                                  std::pair{"Spanish", "/usr/share/dict/spanish"}}) {
      OrdinaryWords list{language, path, {}};
      std::ifstream in(path);
      std::string line;
      while (std::getline(in, line)) {
        // "iPhone" and "Apple" are names in the list, not ordinary words.
        if (line.empty() || line.find('\'') != std::string::npos ||
            std::any_of(line.begin(), line.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
          continue;
        }
        list.words.insert(MatchKey(line));
      }
      if (!list.words.empty()) loaded.push_back(std::move(list));
    }
    return loaded;
  }();
  return lists;
}

std::string Capitalized(std::string_view term) {
  std::string out(term);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 32);
  return out;
}

// A plain term that is one ordinary word counts every post about the thing the word names
// ("apple", "shell", "posten"). Prints one warning per such term, with the documented remedies
// (docs/queries.md); a term the brand already narrows (written {Exact}, or with an exclusion that
// holds the word) is not warned about. Returns the number of warnings.
size_t WarnAboutOrdinaryWords(const std::string& path, const WatchlistSpec& watchlist) {
  size_t warnings = 0;
  for (const BrandSpec& brand : watchlist.brands) {
    for (const std::string& term : brand.terms) {
      if (term.find(' ') != std::string::npos || term.starts_with("{")) continue;
      const std::string key = MatchKey(term);
      bool narrowed = false;
      for (const std::string& exclusion : brand.exclusions) {
        narrowed = narrowed || MatchKey(exclusion).find(key) != std::string::npos;
      }
      if (narrowed) continue;
      std::vector<std::string> languages;
      for (const OrdinaryWords& list : WordLists()) {
        if (list.words.count(key) != 0) languages.push_back(list.language);
      }
      if (languages.empty()) continue;
      ++warnings;
      std::printf(
          "%s:%d:%d: warning: brand '%s': term '%s' is an ordinary %s word, so posts about the "
          "word count as mentions (hint: write it as the name, '{%s}' (case-exact); or move it "
          "to the query with context, '%s NEAR/4 (word OR word)'; or with a language, '%s AND "
          "lang:xx'; or add exclude: entries for its other meanings; then run brandpulse backtest "
          "to see what it brings)\n",
          path.c_str(), brand.location.line, brand.location.column, brand.id.c_str(),
          term.c_str(), fmt::format("{}", fmt::join(languages, "/")).c_str(),
          Capitalized(term).c_str(), term.c_str(), term.c_str());
    }
  }
  return warnings;
}

// A file whose top level has `brands:` is a watchlist; anything else is a pipeline.
bool LooksLikeWatchlist(const std::string& path) {
  Diagnostics ignored;
  std::optional<YAML::Node> root = LoadYamlFile(path, ignored);
  return root && root->IsMap() && (*root)["brands"].IsDefined() && !(*root)["source"].IsDefined();
}

int Validate(const std::vector<std::string>& paths) {
  int failures = 0;
  for (const std::string& path : paths) {
    Diagnostics diagnostics;
    std::string what;
    if (LooksLikeWatchlist(path)) {
      what = "watchlist";
      std::optional<WatchlistSpec> watchlist = LoadWatchlist(path, diagnostics);
      if (watchlist && diagnostics.empty()) {
        WatchlistBuildInfo build;
        Result<std::shared_ptr<const CompiledWatchlist>> compiled = CompiledWatchlist::Make(
            *watchlist, WatchlistCacheOptions{DefaultWatchlistCacheDirectory()}, &build);
        if (!compiled.ok()) {
          diagnostics.Add(SourceLocation{path, 0, 0}, compiled.status().message());
        } else {
          size_t queries = 0;
          for (const BrandSpec& brand : watchlist->brands) queries += brand.query.has_value();
          WarnAboutOrdinaryWords(path, *watchlist);
          what = fmt::format(
              "watchlist: {} brands, {} queries, {} groups, {} patterns, database {:.1f} KB {} "
              "in {:.3f} s",
              (*compiled)->brand_count(), queries, watchlist->groups.size(),
              (*compiled)->pattern_count(), (*compiled)->database_bytes() / 1024.0,
              build.loaded_from_cache ? "loaded from cache" : "compiled", build.seconds);
        }
      }
    } else {
      what = "pipeline";
      std::optional<PipelineSpec> spec = LoadPipelineSpec(path, diagnostics);
      if (spec && diagnostics.empty()) {
        for (const Diagnostic& note : spec->notes) {  // issue 12: e.g. enrichment is off
          std::printf("%s:%d:%d: note: %s (hint: %s)\n", note.location.file.c_str(),
                      note.location.line, note.location.column, note.message.c_str(),
                      note.hint.c_str());
        }
        Result<std::shared_ptr<const CompiledWatchlist>> compiled =
            CompiledWatchlist::Make(spec->watchlist);
        if (!compiled.ok()) {
          diagnostics.Add(SourceLocation{spec->file, 0, 0}, compiled.status().message());
        } else {
          what = fmt::format("pipeline '{}': {} brands, {} windows, {} alert rules, {} workers",
                             spec->name, spec->watchlist.brands.size(), spec->windows.size(),
                             spec->alert_rules.size(), spec->workers);
        }
      }
    }
    if (diagnostics.empty()) {
      std::printf("%s: ok (%s)\n", path.c_str(), what.c_str());
    } else {
      PrintDiagnostics(diagnostics);
      std::fprintf(stderr, "%s: %zu error%s\n", path.c_str(), diagnostics.size(),
                   diagnostics.size() == 1 ? "" : "s");
      ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

void RegisterValidateCommand(CLI::App& app, CliCommands& commands) {
  auto paths = std::make_shared<std::vector<std::string>>();  // shared: outlives this call
  CLI::App* command = app.add_subcommand(
      "validate", "Check pipeline or watchlist files; print every error as file:line:column.");
  command->add_option("files", *paths, "Pipeline or watchlist YAML files")->required();
  commands.push_back(CliCommand{command, [paths] { return Validate(*paths); }});
}

}  // namespace brandpulse
