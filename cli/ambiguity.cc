#include "cli/ambiguity.h"

#include <hunspell.hxx>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/unicode.h"

namespace brandpulse {
namespace {

// Folded and accent-stripped, as the matcher compares a term without accents with the text.
std::string MatchKey(std::string_view word) {
  std::string stripped;
  std::vector<uint32_t> offsets;
  FoldAndStripAccents(word, stripped, offsets);
  return stripped;
}

bool HasUpper(std::string_view word) {
  return std::any_of(word.begin(), word.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

std::string Capitalized(std::string_view term) {
  std::string out(term);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 32);
  return out;
}

std::string Lowercased(std::string_view term) {
  std::string out(term);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

// UTF-8 → ISO-8859-1 for the Norwegian Hunspell dictionary; nullopt when a character does not fit.
std::optional<std::string> ToLatin1(const std::string& utf8) {
  std::string out;
  for (size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<uint8_t>(utf8[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < utf8.size()) {
      out.push_back(static_cast<char>(((c & 0x03) << 6) | (static_cast<uint8_t>(utf8[++i]) & 0x3F)));
    } else {
      return std::nullopt;
    }
  }
  return out;
}

constexpr int kSpellCompound = 1 << 0;  // SPELL_COMPOUND of hunspell's atypes.hxx

struct Language {
  std::string name;  // "English"
  std::string code;  // for lang:
  std::unordered_set<std::string> words;  // lowercase entries of the word list, as match keys
  std::unordered_set<std::string> names;  // capitalized entries, as match keys
  std::unique_ptr<Hunspell> hunspell;
  bool latin1 = false;  // the dictionary's encoding is ISO-8859-1 (nb_NO)
  // Endings of plural and definite forms, for words Hunspell does not know ("correos").
  std::vector<std::string_view> inflections;

  std::optional<std::string> Encode(const std::string& word) const {
    return latin1 ? ToLatin1(word) : std::optional<std::string>(word);
  }
  bool Spells(const std::string& word) const {
    std::optional<std::string> encoded = Encode(word);
    if (!hunspell || !encoded) return false;
    // A compound Hunspell builds ("last"+"pass", "virus"+"total" in Norwegian) is no sign that
    // the name is a word people write: only words the dictionary holds, with their inflections.
    int info = 0;
    return hunspell->spell(*encoded, &info) && (info & kSpellCompound) == 0;
  }
};

struct Sources {
  std::vector<Language> languages;
  std::unordered_map<std::string, int> english_size;  // SCOWL: word → smallest size holding it
};

const Sources& LoadSources() {
  static const Sources sources = [] {
    Sources loaded;
    struct Paths {
      const char* name;
      const char* code;
      const char* word_list;
      const char* dictionary;
      std::vector<std::string_view> inflections;
    };
    for (const Paths& paths : {Paths{"English", "en", "/usr/share/dict/american-english", "en_US", {"s", "es"}},
                               Paths{"Norwegian", "no", "/usr/share/dict/bokmaal", "nb_NO",
                                     {"er", "ene", "en", "et", "r", "s"}},
                               Paths{"Spanish", "es", "/usr/share/dict/spanish", "es_ES", {"s", "es"}}}) {
      Language language;
      language.name = paths.name;
      language.code = paths.code;
      language.inflections = paths.inflections;
      std::ifstream in(paths.word_list);
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty() || line.find('\'') != std::string::npos) continue;
        // "iPhone" and "Apple" are names in the list, not ordinary words.
        (HasUpper(line) ? language.names : language.words).insert(MatchKey(line));
      }
      const std::string base = std::string("/usr/share/hunspell/") + paths.dictionary;
      if (std::filesystem::exists(base + ".aff") && std::filesystem::exists(base + ".dic")) {
        language.hunspell = std::make_unique<Hunspell>((base + ".aff").c_str(),
                                                       (base + ".dic").c_str());
        language.latin1 = std::string(language.hunspell->get_dict_encoding()) == "ISO8859-1";
      }
      if (!language.words.empty() || language.hunspell) loaded.languages.push_back(std::move(language));
    }
    for (int size : {10, 20, 35, 40, 50, 55, 60, 70, 80, 95}) {
      for (const char* list : {"english-words", "american-words"}) {
        std::ifstream in(fmt::format("/usr/share/dict/scowl/{}.{}", list, size));
        std::string line;
        while (std::getline(in, line)) {
          if (!line.empty() && line.back() == '\r') line.pop_back();
          if (line.empty() || HasUpper(line)) continue;
          // SCOWL's lists are ISO-8859-1; the few accented English words are left out.
          if (std::any_of(line.begin(), line.end(), [](char c) { return (c & 0x80) != 0; })) continue;
          loaded.english_size.emplace(line, size);  // sizes ascend: the first is the smallest
        }
      }
    }
    return loaded;
  }();
  return sources;
}

std::string_view Commonness(int size) {
  if (size <= 20) return "one of the most common English words";
  if (size <= 50) return "a common English word";
  if (size <= 70) return "a less common English word";
  return "a rare English word";
}

size_t LetterCount(std::string_view word) {
  size_t count = 0;
  for (char c : word) count += (static_cast<uint8_t>(c) & 0xC0) != 0x80 && c != '.' && c != '-';
  return count;
}

// Where a warning points and what it says the term is.
struct Warned {
  const BrandSpec* brand;
  std::string term;     // as written, without {}
  std::string kind;     // "term" or "query term"
  bool exact = false;   // written {Exact}
  SourceLocation location;
};

void PrintWarning(const std::string& path, const Warned& warned, const WordFacts& facts) {
  std::vector<std::string> what;
  if (facts.short_term) what.push_back("a one- or two-letter term (an abbreviation or short word in many languages)");
  if (!facts.ordinary_in.empty()) {
    std::string ordinary =
        fmt::format("an ordinary {} word", fmt::join(facts.ordinary_in, "/"));
    if (facts.english_size != 0) {
      ordinary += fmt::format(" ({}: SCOWL size {})", Commonness(facts.english_size),
                              facts.english_size);
    }
    what.push_back(ordinary);
  }
  for (const std::string& from : facts.inflected_from) {
    what.push_back(fmt::format("an inflected form of the ordinary {}", from));
  }
  if (!facts.name_in.empty()) {
    what.push_back(fmt::format("a name (a place, person or other company) in the {} dictionary",
                               fmt::join(facts.name_in, "/")));
  }
  const std::string lower = Lowercased(warned.term);
  std::vector<std::string> hints;
  // Anywhere in the post first: a short post is one context, and on the labelled set NEAR/4 held
  // back real posts whose context word was five to ten words away (docs/queries.md).
  hints.push_back(fmt::format(
      "put the name in a query with words that go with the brand, anywhere in the post: '{} AND "
      "(word OR word)' (its products, services, complaints; '{} NEAR/5 (...)' when the other "
      "meaning shares them), and its unambiguous forms (handles, hashtags, domain, full name) "
      "as terms",
      lower, lower));
  // Languages the word is not ordinary in: there the bare name may be enough.
  std::vector<std::string> clear_in;
  for (const Language& language : LoadSources().languages) {
    if (std::find(facts.ordinary_in.begin(), facts.ordinary_in.end(), language.name) ==
            facts.ordinary_in.end() &&
        std::none_of(facts.inflected_from.begin(), facts.inflected_from.end(),
                     [&](const std::string& from) { return from.starts_with(language.name); })) {
      clear_in.push_back("lang:" + language.code);
    }
  }
  if (!facts.ordinary_in.empty() && !clear_in.empty()) {
    hints.push_back(fmt::format("in posts of a language where it is no word, the bare name may "
                                "do: '{} AND ({})'",
                                lower, fmt::join(clear_in, " OR ")));
  }
  if (!warned.exact) {
    const std::string exact = fmt::format("{{{}}}", Capitalized(lower));
    hints.push_back(fmt::format(
        "'{}' (case-exact) alone still finds the word at the start of a sentence and misses "
        "posts that write the brand in lower case",
        exact));
  } else {
    hints.push_back("case-exact alone still finds the word at the start of a sentence");
  }
  hints.push_back("add exclude: entries for the other meanings that backtest's per-term sample "
                  "shows; then measure with brandpulse backtest (and brandpulse score on "
                  "labelled posts)");
  std::printf("%s:%d:%d: warning: brand '%s': %s '%s' is %s, so posts about the other meaning "
              "count as mentions (hint: %s)\n",
              path.c_str(), warned.location.line, warned.location.column,
              warned.brand->id.c_str(), warned.kind.c_str(),
              (warned.exact ? "{" + warned.term + "}" : warned.term).c_str(),
              fmt::format("{}", fmt::join(what, "; and ")).c_str(),
              fmt::format("{}", fmt::join(hints, "; or ")).c_str());
}

// A query term is guarded when the query cannot be true through it alone: some ancestor is a
// NEAR, or an AND with another child that is not a NOT (a term or a field such as lang:).
bool Guarded(const Query& query, const std::vector<uint32_t>& parent, uint32_t node,
             bool& negated) {
  negated = false;
  uint32_t child = node;
  while (child != query.root) {
    const uint32_t up = parent[child];
    const QueryNode& ancestor = query.nodes[up];
    if (ancestor.op == QueryOp::kNot) {
      negated = true;
      return true;
    }
    if (ancestor.op == QueryOp::kNear) return true;
    if (ancestor.op == QueryOp::kAnd) {
      for (uint32_t sibling : ancestor.children) {
        if (sibling != child && query.nodes[sibling].op != QueryOp::kNot) return true;
      }
    }
    child = up;
  }
  return false;
}

}  // namespace

WordFacts LookUpWord(const std::string& term) {
  WordFacts facts;
  if (term.empty() || term.find(' ') != std::string::npos || term[0] == '#' || term[0] == '@' ||
      term[0] == '$') {
    return facts;
  }
  // Only terms of letters: "ice.no", "1.1.1.1", "electron-builder" are not words of a language.
  if (std::any_of(term.begin(), term.end(), [](char c) {
        return (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' || c == '+' ||
               c == '&' || c == '/' || c == '\'';
      })) {
    return facts;
  }
  facts.short_term = LetterCount(term) <= 2;
  const Sources& sources = LoadSources();
  const std::string key = MatchKey(term);
  const std::string lower = Lowercased(term);
  for (const Language& language : sources.languages) {
    if (language.words.count(key) != 0 || language.Spells(lower)) {
      facts.ordinary_in.push_back(language.name);
      continue;
    }
    // Inflected forms the word list does not hold: plural "correos" of "correo", and the like.
    bool inflected = false;
    for (std::string_view suffix : language.inflections) {
      if (key.size() > suffix.size() + 2 && key.ends_with(suffix)) {
        const std::string stem = key.substr(0, key.size() - suffix.size());
        if (language.words.count(stem) != 0) {
          facts.inflected_from.push_back(fmt::format("{} '{}'", language.name, stem));
          inflected = true;
          break;
        }
      }
    }
    if (inflected) continue;
    if (language.names.count(key) != 0 || language.Spells(Capitalized(lower))) {
      facts.name_in.push_back(language.name);
    }
  }
  // A name matters only when the term is no word ("Apple" in a dictionary is the brand itself),
  // and only when English does not know it: the English dictionary holds the international
  // companies (Netflix, Adidas, GitHub), the Spanish and Norwegian ones hold their own places and
  // people (Santander, Bergen) more than foreign companies.
  if (!facts.ordinary_in.empty() || !facts.inflected_from.empty() ||
      std::find(facts.name_in.begin(), facts.name_in.end(), "English") != facts.name_in.end()) {
    facts.name_in.clear();
  }
  // SCOWL: how common the English word is. Up to size 70 (a large dictionary) it is an English
  // word even when the smaller word list and Hunspell lack it; the size is shown only for English.
  const bool english = std::find(facts.ordinary_in.begin(), facts.ordinary_in.end(), "English") !=
                       facts.ordinary_in.end();
  if (auto size = sources.english_size.find(key); size != sources.english_size.end()) {
    if (!english && size->second <= 70) {
      facts.ordinary_in.insert(facts.ordinary_in.begin(), "English");
      facts.name_in.clear();
    }
    if (english || size->second <= 70) facts.english_size = size->second;
  }
  return facts;
}

size_t WarnAboutAmbiguousTerms(const std::string& path, const WatchlistSpec& watchlist) {
  size_t warnings = 0;
  auto check = [&](const Warned& warned) {
    WordFacts facts = LookUpWord(warned.term);
    // A case-exact term with a capital past its first letter ("{DIA}", "{iPhone}") is not how
    // the ordinary word is written: no warning. "{Apple}" still is, at the start of a sentence.
    if (warned.exact && warned.term != Capitalized(Lowercased(warned.term)) &&
        warned.term != Lowercased(warned.term)) {
      return;
    }
    if (!facts.ambiguous()) return;
    PrintWarning(path, warned, facts);
    ++warnings;
  };
  for (const BrandSpec& brand : watchlist.brands) {
    for (const std::string& term : brand.terms) {
      const bool exact = term.size() > 2 && term.front() == '{' && term.back() == '}';
      check(Warned{&brand, exact ? term.substr(1, term.size() - 2) : term, "term", exact,
                   brand.location});
    }
    if (!brand.query) continue;
    const Query& query = *brand.query;
    std::vector<uint32_t> parent(query.nodes.size(), query.root);
    for (uint32_t index = 0; index < query.nodes.size(); ++index) {
      for (uint32_t child : query.nodes[index].children) parent[child] = index;
    }
    for (uint32_t index = 0; index < query.nodes.size(); ++index) {
      const QueryNode& node = query.nodes[index];
      if (node.op != QueryOp::kTerm || node.prefix || node.single_wildcards) continue;
      bool negated = false;
      if (Guarded(query, parent, index, negated)) continue;
      check(Warned{&brand, node.text, "query term", node.match_case == QueryCase::kExact,
                   node.location});
    }
  }
  return warnings;
}

}  // namespace brandpulse
