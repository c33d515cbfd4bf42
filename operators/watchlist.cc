#include "operators/watchlist.h"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "engine/unicode.h"
#include "engine/yaml_reader.h"

namespace brandpulse {
namespace {

// Lowercase ASCII, digits, '-' and '_': ids end up in state keys, alert ids and file names.
bool IsValidIdentifier(std::string_view id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Trims and makes every inner run of white space one space: posts separate words with one
// space, so "telenor  norge" would otherwise never match.
std::string NormalizeSpaces(std::string_view text) {
  std::string out;
  bool pending_space = false;
  for (char c : text) {
    if (IsAsciiSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// Combining marks attach to the letter before them, so an entry starting with one always
// continues a word in the text. These blocks hold the combining marks of Latin, Greek and
// Cyrillic text.
bool IsCombiningMark(uint32_t code_point) {
  return (code_point >= 0x0300 && code_point <= 0x036F) ||
         (code_point >= 0x1AB0 && code_point <= 0x1AFF) ||
         (code_point >= 0x1DC0 && code_point <= 0x1DFF) ||
         (code_point >= 0x20D0 && code_point <= 0x20FF) ||
         (code_point >= 0xFE20 && code_point <= 0xFE2F);
}

// Why `text` (an entry without its sigil) can never match as a whole word, or empty.
std::string WholeWordProblem(std::string_view text, bool single_word) {
  bool has_word_character = false;
  for (size_t position = 0; position < text.size();) {
    DecodedCodePoint decoded = DecodeCodePointAt(text, position);
    if (decoded.code_point == kReplacementCharacter && decoded.length == 1) {
      return "it is not valid UTF-8";
    }
    uint32_t c = decoded.code_point;
    if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0)) return "it contains a control character";
    if (position == 0 && IsCombiningMark(c)) {
      return "it starts with a combining mark, which always joins the letter before it";
    }
    if (single_word && c == ' ')
      return "it contains a space, and handles and hashtags are one word";
    has_word_character = has_word_character || IsWordCodePoint(c);
    position += decoded.length;
  }
  if (!has_word_character) return "it has no letter or digit";
  return {};
}

struct EntryList {
  std::string_view key;    // in the file: "terms", "handles", "hashtags", "exclude"
  std::string_view noun;   // in messages: "term", "handle", "hashtag", "exclusion"
  std::string_view sigil;  // "@", "#" or empty
};

constexpr EntryList kTerms{"terms", "term", ""};
constexpr EntryList kHandles{"handles", "handle", "@"};
constexpr EntryList kHashtags{"hashtags", "hashtag", "#"};
constexpr EntryList kExclusions{"exclude", "exclusion", ""};

struct Entry {
  std::string text;
  std::string folded;
  SourceLocation location;
};

// Reads one list of a brand; a single string counts as a list of one. Returns the valid
// entries, normalized and without (caseless) duplicates; reports the others at their position.
std::vector<Entry> ReadEntries(YamlMap& map, const EntryList& list, const std::string& context) {
  std::vector<Entry> entries;
  YAML::Node value = map.Child(list.key);
  if (!value.IsDefined()) return entries;
  std::vector<YAML::Node> nodes;
  if (value.IsScalar()) {
    nodes.push_back(value);
  } else if (value.IsSequence()) {
    for (const YAML::Node& element : value) nodes.push_back(element);
  } else {
    map.diagnostics().Add(LocationOf(value, map.file()),
                          fmt::format("'{}' in {} must be a list", list.key, context),
                          "write [a, b] or one '- item' per line");
    return entries;
  }
  for (const YAML::Node& node : nodes) {
    SourceLocation location = LocationOf(node, map.file());
    if (!node.IsScalar() && !node.IsNull()) {
      map.diagnostics().Add(location,
                            fmt::format("each of '{}' in {} must be a string", list.key, context),
                            "quote it: \"...\"");
      continue;
    }
    std::string raw = node.IsNull()
                          ? std::string()
                          : SubstituteEnvironment(node.Scalar(), location, map.diagnostics());
    std::string text = NormalizeSpaces(raw);
    std::string_view body = text;
    if (!list.sigil.empty() && body.starts_with(list.sigil)) body.remove_prefix(list.sigil.size());
    std::string trimmed_body = NormalizeSpaces(body);  // "@ telenor" has a space after the '@'
    if (trimmed_body.empty()) {
      map.diagnostics().Add(location,
                            fmt::format("{} has an empty {} entry '{}'", context, list.key, raw),
                            "every entry needs at least one letter or digit");
      continue;
    }
    if (!list.sigil.empty() && trimmed_body.starts_with(list.sigil)) {
      map.diagnostics().Add(location,
                            fmt::format("{} {} '{}' starts with '{}{}'", context, list.noun, raw,
                                        list.sigil, list.sigil),
                            fmt::format("write one '{}' (or none)", list.sigil));
      continue;
    }
    const bool single_word = !list.sigil.empty();
    std::string problem = WholeWordProblem(trimmed_body, single_word);
    if (!problem.empty()) {
      map.diagnostics().Add(
          location,
          fmt::format("{} {} '{}' cannot match as a whole word: {}", context, list.noun, raw,
                      problem),
          single_word ? fmt::format("write it as posts do, e.g. '{}telenor_norge'", list.sigil)
                      : "use letters or digits, with spaces or punctuation "
                        "between words");
      continue;
    }
    Entry entry;
    entry.text = fmt::format("{}{}", list.sigil, trimmed_body);
    entry.location = location;
    FoldCase(entry.text, entry.folded);
    bool duplicate = std::any_of(entries.begin(), entries.end(),
                                 [&](const Entry& other) { return other.folded == entry.folded; });
    if (!duplicate) entries.push_back(std::move(entry));
  }
  return entries;
}

std::vector<std::string> Texts(std::vector<Entry>& entries) {
  std::vector<std::string> texts;
  texts.reserve(entries.size());
  for (Entry& entry : entries) texts.push_back(std::move(entry.text));
  return texts;
}

// yaml-cpp keeps both values of a key written twice and silently reads the first.
void CheckNoDuplicateKeys(const YAML::Node& map, const std::string& file,
                          const std::string& context, Diagnostics& diagnostics) {
  if (!map.IsMap()) return;
  std::vector<std::string> seen;
  for (const auto& item : map) {
    if (!item.first.IsScalar()) continue;
    const std::string& key = item.first.Scalar();
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      diagnostics.Add(LocationOf(item.first, file),
                      fmt::format("key '{}' appears twice in {}", key, context),
                      "merge the two into one");
    } else {
      seen.push_back(key);
    }
  }
}

std::optional<BrandSpec> ReadBrand(const YAML::Node& node, size_t position,
                                   const std::vector<BrandSpec>& earlier, const std::string& file,
                                   Diagnostics& diagnostics) {
  // Name the brand by its id in every message, when it has a readable one.
  YAML::Node id_node = node.IsMap() ? node["id"] : YAML::Node();
  std::string context = id_node.IsDefined() && id_node.IsScalar()
                            ? fmt::format("brand '{}'", id_node.Scalar())
                            : fmt::format("brand #{}", position + 1);
  YamlMap map(node, file, context, diagnostics);
  if (!map.valid()) return std::nullopt;
  CheckNoDuplicateKeys(node, file, context, diagnostics);
  BrandSpec brand;
  brand.location = map.Location();
  if (std::optional<std::string> id = map.String("id", true)) {
    brand.id = *id;
    if (!IsValidIdentifier(*id)) {
      diagnostics.Add(map.LocationOf("id"), fmt::format("brand id '{}' is not valid", *id),
                      "use lowercase letters, digits, '-' and '_'");
    }
    for (const BrandSpec& other : earlier) {
      if (other.id == *id) {
        diagnostics.Add(map.LocationOf("id"), fmt::format("duplicate brand id '{}'", *id),
                        fmt::format("the first is at line {}", other.location.line));
        break;
      }
    }
  }
  brand.name = map.String("name").value_or(brand.id);
  if (map.Has("name") && NormalizeSpaces(brand.name).empty()) {
    diagnostics.Add(map.LocationOf("name"), fmt::format("{} has an empty name", context),
                    "leave 'name' out to use the id");
  }
  if (std::optional<std::string> group = map.String("group")) {
    brand.group = *group;
    if (!IsValidIdentifier(*group)) {
      diagnostics.Add(map.LocationOf("group"),
                      fmt::format("group '{}' of {} is not valid", *group, context),
                      "use lowercase letters, digits, '-' and '_', e.g. nordic-telecom");
    }
  }
  const size_t diagnostics_before_lists = diagnostics.size();
  std::vector<Entry> terms = ReadEntries(map, kTerms, context);
  std::vector<Entry> handles = ReadEntries(map, kHandles, context);
  std::vector<Entry> hashtags = ReadEntries(map, kHashtags, context);
  const bool lists_had_errors = diagnostics.size() != diagnostics_before_lists;
  std::vector<Entry> exclusions = ReadEntries(map, kExclusions, context);
  map.CheckNoUnknownKeys();
  // Bad entries were reported already; this is for a brand that lists nothing to match.
  if (terms.empty() && handles.empty() && hashtags.empty() && !lists_had_errors) {
    diagnostics.Add(brand.location, fmt::format("{} has no terms, handles or hashtags", context),
                    "add terms: [...] so something can match");
  }
  // An exclusion equal to a term would exclude every post that term finds.
  for (const Entry& exclusion : exclusions) {
    for (const std::vector<Entry>* list : {&terms, &handles, &hashtags}) {
      for (const Entry& entry : *list) {
        if (entry.folded != exclusion.folded) continue;
        diagnostics.Add(
            exclusion.location,
            fmt::format("'{}' is both matched and excluded in {}", exclusion.text, context),
            "an exclusion should be a longer phrase, e.g. 'ice cream' for 'ice'");
      }
    }
  }
  brand.terms = Texts(terms);
  brand.handles = Texts(handles);
  brand.hashtags = Texts(hashtags);
  brand.exclusions = Texts(exclusions);
  return brand;
}

}  // namespace

std::optional<WatchlistSpec> ParseWatchlist(std::string_view yaml_text,
                                            const std::string& file_name,
                                            Diagnostics& diagnostics) {
  const size_t diagnostics_before = diagnostics.size();
  std::optional<YAML::Node> root = LoadYamlText(yaml_text, file_name, diagnostics);
  if (!root) return std::nullopt;
  YamlMap top(*root, file_name, "watchlist", diagnostics);
  if (!top.valid()) return std::nullopt;
  CheckNoDuplicateKeys(*root, file_name, "the watchlist", diagnostics);
  WatchlistSpec watchlist;
  watchlist.path = file_name;
  YAML::Node brands = top.Child("brands", true);
  top.CheckNoUnknownKeys();
  if (brands.IsDefined() && (!brands.IsSequence() || brands.size() == 0)) {
    diagnostics.Add(LocationOf(brands, file_name), "'brands' must be a non-empty list",
                    "write one '- id: ...' entry per brand");
  } else if (brands.IsDefined()) {
    for (size_t position = 0; position < brands.size(); ++position) {
      std::optional<BrandSpec> brand =
          ReadBrand(brands[position], position, watchlist.brands, file_name, diagnostics);
      if (brand) watchlist.brands.push_back(std::move(*brand));
    }
  }
  if (diagnostics.size() != diagnostics_before) return std::nullopt;
  return watchlist;
}

std::optional<WatchlistSpec> LoadWatchlist(const std::string& path, Diagnostics& diagnostics) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diagnostics.Add(
        SourceLocation{path, 0, 0}, "cannot open the watchlist file",
        "check the path (relative paths in a pipeline are relative to the pipeline file)");
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ParseWatchlist(text, path, diagnostics);
}

}  // namespace brandpulse
