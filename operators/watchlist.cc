#include "operators/watchlist.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unordered_map>

#include <sys/stat.h>
#include <unistd.h>

#include "engine/hash.h"
#include "engine/unicode.h"
#include "engine/varint.h"
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

// Where the text of a scalar starts in the file, and the column continuation lines start at: a
// block scalar ('|' or '>') starts on the line after its indicator.
std::pair<SourceLocation, int> ScalarTextStart(const YAML::Node& node, std::string_view yaml_text,
                                               const std::string& file) {
  SourceLocation start = LocationOf(node, file);
  YAML::Mark mark = node.Mark();
  if (mark.is_null() || mark.pos < 0 || static_cast<size_t>(mark.pos) >= yaml_text.size()) {
    return {start, start.column};
  }
  const char first = yaml_text[mark.pos];
  if (first == '"' || first == '\'') {
    ++start.column;
    return {start, start.column};
  }
  if (first != '|' && first != '>') return {start, start.column};
  size_t line_start = yaml_text.find('\n', mark.pos);
  int line = start.line + 1;
  // Skip blank lines to the first line of content.
  while (line_start != std::string_view::npos) {
    size_t begin = line_start + 1;
    size_t indent = begin;
    while (indent < yaml_text.size() && yaml_text[indent] == ' ') ++indent;
    if (indent < yaml_text.size() && yaml_text[indent] != '\n') {
      int column = static_cast<int>(indent - begin) + 1;
      return {SourceLocation{file, line, column}, column};
    }
    line_start = yaml_text.find('\n', begin);
    ++line;
  }
  return {start, start.column};
}

void ReadQuery(YamlMap& map, std::string_view yaml_text, const std::string& context,
               BrandSpec& brand) {
  YAML::Node value = map.Child("query");
  if (!value.IsDefined()) return;
  if (!value.IsScalar()) {
    map.diagnostics().Add(LocationOf(value, map.file()),
                          fmt::format("'query' in {} must be text", context),
                          "write query: | and the query on the next lines");
    return;
  }
  auto [start, indent] = ScalarTextStart(value, yaml_text, map.file());
  brand.query = ParseQuery(value.Scalar(), start, indent, map.diagnostics());
  brand.query_start = start;
  brand.query_indent = indent;
}

void ReadProfiles(YamlMap& map, const std::string& context, BrandSpec& brand,
                  std::vector<Entry>& handles) {
  YAML::Node value = map.Child("profiles");
  if (!value.IsDefined()) return;
  if (!value.IsMap()) {
    map.diagnostics().Add(LocationOf(value, map.file()),
                          fmt::format("'profiles' in {} must be a mapping", context),
                          "write profiles: {press: \"@TelenorPresse\", support: \"@TelenorSupport\"}");
    return;
  }
  for (const auto& item : value) {
    SourceLocation location = LocationOf(item.second, map.file());
    if (!item.first.IsScalar() || !item.second.IsScalar() ||
        !IsValidIdentifier(item.first.Scalar())) {
      map.diagnostics().Add(location,
                            fmt::format("each profile of {} is name: \"@handle\"", context),
                            "names use lowercase letters, digits, '-' and '_', e.g. press");
      continue;
    }
    std::string handle = NormalizeSpaces(item.second.Scalar());
    if (handle.starts_with("@")) handle.erase(0, 1);
    std::string problem = handle.empty() ? "it is empty" : WholeWordProblem(handle, true);
    if (!problem.empty()) {
      map.diagnostics().Add(location,
                            fmt::format("profile '{}' of {} is not a handle: {}",
                                        item.first.Scalar(), context, problem),
                            "write it as posts do, e.g. \"@telenor_norge\"");
      continue;
    }
    Entry entry;
    entry.text = "@" + handle;
    entry.location = location;
    FoldCase(entry.text, entry.folded);
    brand.profiles.emplace_back(item.first.Scalar(), entry.text);
    bool duplicate = std::any_of(handles.begin(), handles.end(),
                                 [&](const Entry& other) { return other.folded == entry.folded; });
    if (!duplicate) handles.push_back(std::move(entry));
  }
}

std::optional<BrandSpec> ReadBrand(const YAML::Node& node, size_t position,
                                   const std::vector<BrandSpec>& earlier,
                                   std::unordered_map<std::string, size_t>& index_by_id,
                                   const std::string& file,
                                   std::string_view yaml_text, Diagnostics& diagnostics) {
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
    // A map, not a scan of `earlier`: watchlists hold 10,000 brands.
    if (auto found = index_by_id.find(*id); found != index_by_id.end()) {
      diagnostics.Add(map.LocationOf("id"), fmt::format("duplicate brand id '{}'", *id),
                      fmt::format("the first is at line {}", earlier[found->second].location.line));
    } else {
      index_by_id.emplace(*id, earlier.size());
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
  ReadProfiles(map, context, brand, handles);
  ReadQuery(map, yaml_text, context, brand);
  const bool lists_had_errors = diagnostics.size() != diagnostics_before_lists;
  std::vector<Entry> exclusions = ReadEntries(map, kExclusions, context);
  map.CheckNoUnknownKeys();
  // Bad entries were reported already; this is for a brand that lists nothing to match.
  if (terms.empty() && handles.empty() && hashtags.empty() && !map.Has("query") &&
      !lists_had_errors) {
    diagnostics.Add(brand.location, fmt::format("{} has no terms, handles, hashtags or query", context),
                    "add terms: [...] or a query so something can match");
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

// Top-level `groups:` (name -> brand ids), then the brands' own `group:` keys.
void ReadGroups(const YAML::Node& groups, const std::string& file, Diagnostics& diagnostics,
                WatchlistSpec& watchlist) {
  auto group_named = [&](const std::string& name) -> CompetitorGroup& {
    for (CompetitorGroup& group : watchlist.groups) {
      if (group.name == name) return group;
    }
    watchlist.groups.push_back(CompetitorGroup{name, {}});
    return watchlist.groups.back();
  };
  auto add_member = [](CompetitorGroup& group, const std::string& id) {
    if (std::find(group.brand_ids.begin(), group.brand_ids.end(), id) == group.brand_ids.end()) {
      group.brand_ids.push_back(id);
    }
  };
  if (groups.IsDefined()) {
    if (!groups.IsMap()) {
      diagnostics.Add(LocationOf(groups, file), "'groups' must be a mapping of name to brand ids",
                      "write groups: {nordic: [telenor, telia]}");
    } else {
      for (const auto& item : groups) {
        SourceLocation location = LocationOf(item.first, file);
        if (!item.first.IsScalar() || !IsValidIdentifier(item.first.Scalar())) {
          diagnostics.Add(location, "a group name is not valid",
                          "use lowercase letters, digits, '-' and '_', e.g. nordic-telecom");
          continue;
        }
        if (!item.second.IsSequence()) {
          diagnostics.Add(LocationOf(item.second, file),
                          fmt::format("group '{}' must be a list of brand ids", item.first.Scalar()),
                          "write [telenor, telia]");
          continue;
        }
        CompetitorGroup& group = group_named(item.first.Scalar());
        for (const YAML::Node& member : item.second) {
          const std::string id = member.IsScalar() ? member.Scalar() : std::string();
          bool known = std::any_of(watchlist.brands.begin(), watchlist.brands.end(),
                                   [&](const BrandSpec& brand) { return brand.id == id; });
          if (!known) {
            std::vector<std::string> ids;
            for (const BrandSpec& brand : watchlist.brands) ids.push_back(brand.id);
            std::string closest = ClosestMatch(id, ids);
            diagnostics.Add(LocationOf(member, file),
                            fmt::format("group '{}' names brand '{}', which the watchlist lacks",
                                        group.name, id),
                            closest.empty() ? "list brand ids from 'brands'"
                                            : fmt::format("did you mean '{}'?", closest));
            continue;
          }
          add_member(group, id);
        }
      }
    }
  }
  for (const BrandSpec& brand : watchlist.brands) {
    if (!brand.group.empty()) add_member(group_named(brand.group), brand.id);
  }
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
  YAML::Node groups = top.Child("groups");
  top.CheckNoUnknownKeys();
  if (brands.IsDefined() && (!brands.IsSequence() || brands.size() == 0)) {
    diagnostics.Add(LocationOf(brands, file_name), "'brands' must be a non-empty list",
                    "write one '- id: ...' entry per brand");
  } else if (brands.IsDefined()) {
    std::unordered_map<std::string, size_t> index_by_id;
    size_t position = 0;
    // Iterated, not indexed: yaml-cpp looks an index up by walking the sequence.
    for (const YAML::Node& node : brands) {
      std::optional<BrandSpec> brand = ReadBrand(node, position++, watchlist.brands, index_by_id,
                                                 file_name, yaml_text, diagnostics);
      if (brand) watchlist.brands.push_back(std::move(*brand));
    }
  }
  ReadGroups(groups, file_name, diagnostics, watchlist);
  if (diagnostics.size() != diagnostics_before) return std::nullopt;
  return watchlist;
}

std::string DefaultWatchlistCacheDirectory() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/brandpulse/hyperscan";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/.cache/brandpulse/hyperscan";
  }
  return {};
}

namespace {

// --- The parse cache (see LoadWatchlist in watchlist.h) ---------------------------------------

constexpr std::string_view kSpecCacheMagic = "brandpulse watchlist spec 1\n";

std::string SpecCacheDirectory() {
  if (const char* setting = std::getenv("BRANDPULSE_WATCHLIST_SPEC_CACHE");
      setting != nullptr && std::string_view(setting) == "off") {
    return {};
  }
  std::string hyperscan = DefaultWatchlistCacheDirectory();  // .../brandpulse/hyperscan
  if (hyperscan.empty()) return {};
  return std::filesystem::path(hyperscan).parent_path().string() + "/watchlist-spec";
}

// Names the cache file and, inside it, the exact key (checked on load).
std::string SpecCacheKey(const std::string& path, std::string_view text) {
  struct stat binary {};
  if (::stat("/proc/self/exe", &binary) != 0) return {};
  return fmt::format("{:016x}{:016x}-{}-{}-{}.{}-{}", HashBytes(text),
                     HashBytes(text, 0x5bd1e9955bd1e995ULL), text.size(), binary.st_size,
                     binary.st_mtim.tv_sec, binary.st_mtim.tv_nsec, path);
}

void PutString(std::string& out, std::string_view text) {
  AppendVarint(out, text.size());
  out.append(text);
}
void PutStrings(std::string& out, const std::vector<std::string>& texts) {
  AppendVarint(out, texts.size());
  for (const std::string& text : texts) PutString(out, text);
}
void PutLocation(std::string& out, const SourceLocation& location) {
  AppendVarint(out, static_cast<uint64_t>(std::max(location.line, 0)));
  AppendVarint(out, static_cast<uint64_t>(std::max(location.column, 0)));
}

bool GetString(std::string_view& in, std::string& text) {
  uint64_t size = 0;
  if (!ReadVarint(in, size) || size > in.size()) return false;
  text.assign(in.substr(0, size));
  in.remove_prefix(size);
  return true;
}
bool GetCount(std::string_view& in, uint64_t& count) {
  return ReadVarint(in, count) && count <= in.size();  // each element takes at least a byte
}
bool GetStrings(std::string_view& in, std::vector<std::string>& texts) {
  uint64_t count = 0;
  if (!GetCount(in, count)) return false;
  texts.resize(count);
  for (std::string& text : texts) {
    if (!GetString(in, text)) return false;
  }
  return true;
}
bool GetLocation(std::string_view& in, const std::string& file, SourceLocation& location) {
  uint64_t line = 0, column = 0;
  if (!ReadVarint(in, line) || !ReadVarint(in, column) || line > INT32_MAX || column > INT32_MAX) {
    return false;
  }
  location = SourceLocation{file, static_cast<int>(line), static_cast<int>(column)};
  return true;
}

std::string EncodeSpec(const std::string& key, const WatchlistSpec& spec) {
  std::string out(kSpecCacheMagic);
  PutString(out, key);
  AppendVarint(out, spec.brands.size());
  for (const BrandSpec& brand : spec.brands) {
    PutString(out, brand.id);
    PutString(out, brand.name);
    PutString(out, brand.group);
    PutStrings(out, brand.terms);
    PutStrings(out, brand.handles);
    PutStrings(out, brand.hashtags);
    PutStrings(out, brand.exclusions);
    AppendVarint(out, brand.profiles.size());
    for (const auto& [name, handle] : brand.profiles) {
      PutString(out, name);
      PutString(out, handle);
    }
    PutLocation(out, brand.location);
    out.push_back(brand.query ? '\1' : '\0');
    if (brand.query) {
      PutString(out, brand.query->source);
      PutLocation(out, brand.query_start);
      AppendVarint(out, static_cast<uint64_t>(std::max(brand.query_indent, 0)));
    }
  }
  AppendVarint(out, spec.groups.size());
  for (const CompetitorGroup& group : spec.groups) {
    PutString(out, group.name);
    PutStrings(out, group.brand_ids);
  }
  return out;
}

// nullopt when the bytes are not a complete cache entry for `key` (then the file is parsed).
std::optional<WatchlistSpec> DecodeSpec(std::string_view in, const std::string& key,
                                        const std::string& path) {
  if (!in.starts_with(kSpecCacheMagic)) return std::nullopt;
  in.remove_prefix(kSpecCacheMagic.size());
  std::string stored_key;
  if (!GetString(in, stored_key) || stored_key != key) return std::nullopt;
  WatchlistSpec spec;
  spec.path = path;
  uint64_t brands = 0;
  if (!GetCount(in, brands)) return std::nullopt;
  spec.brands.resize(brands);
  for (BrandSpec& brand : spec.brands) {
    uint64_t profiles = 0;
    if (!GetString(in, brand.id) || !GetString(in, brand.name) || !GetString(in, brand.group) ||
        !GetStrings(in, brand.terms) || !GetStrings(in, brand.handles) ||
        !GetStrings(in, brand.hashtags) || !GetStrings(in, brand.exclusions) ||
        !GetCount(in, profiles)) {
      return std::nullopt;
    }
    brand.profiles.resize(profiles);
    for (auto& [name, handle] : brand.profiles) {
      if (!GetString(in, name) || !GetString(in, handle)) return std::nullopt;
    }
    if (!GetLocation(in, path, brand.location) || in.empty()) return std::nullopt;
    const bool has_query = in.front() == '\1';
    in.remove_prefix(1);
    if (has_query) {
      std::string source;
      uint64_t indent = 0;
      if (!GetString(in, source) || !GetLocation(in, path, brand.query_start) ||
          !ReadVarint(in, indent) || indent > INT32_MAX) {
        return std::nullopt;
      }
      brand.query_indent = static_cast<int>(indent);
      Diagnostics ignored;  // it parsed without any when the entry was written
      brand.query = ParseQuery(source, brand.query_start, brand.query_indent, ignored);
      if (!brand.query || ignored.size() != 0) return std::nullopt;
    }
  }
  uint64_t groups = 0;
  if (!GetCount(in, groups)) return std::nullopt;
  spec.groups.resize(groups);
  for (CompetitorGroup& group : spec.groups) {
    if (!GetString(in, group.name) || !GetStrings(in, group.brand_ids)) return std::nullopt;
  }
  if (!in.empty()) return std::nullopt;
  return spec;
}

std::string SpecCacheFile(const std::string& directory, const std::string& key) {
  // The key holds the path: the file is named by a hash of the whole key.
  return fmt::format("{}/{:016x}.spec", directory, HashBytes(key));
}

std::optional<WatchlistSpec> LoadCachedSpec(const std::string& directory, const std::string& key,
                                            const std::string& path) {
  std::ifstream in(SpecCacheFile(directory, key), std::ios::binary);
  if (!in) return std::nullopt;
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return DecodeSpec(bytes, key, path);
}

// Best effort: a cache that cannot be written is no error (the next start parses again).
void StoreCachedSpec(const std::string& directory, const std::string& key,
                     const WatchlistSpec& spec) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) return;
  const std::string file = SpecCacheFile(directory, key);
  const std::string temporary = fmt::format("{}.{}.tmp", file, ::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    const std::string bytes = EncodeSpec(key, spec);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.good()) {
      out.close();
      std::filesystem::remove(temporary, error);
      return;
    }
  }
  std::filesystem::rename(temporary, file, error);  // atomic: readers see all of it or none
  if (error) std::filesystem::remove(temporary, error);
}

}  // namespace

std::optional<WatchlistSpec> LoadWatchlist(const std::string& path, Diagnostics& diagnostics) {
  // A directory aborted (an exception from the stream); a device or FIFO never ends or blocks.
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (!error && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    diagnostics.Add(SourceLocation{path, 1, 1},
                    std::filesystem::is_directory(status)
                        ? "is a directory, not a YAML file"
                        : "is not a regular file (a device, FIFO or socket)",
                    "name the watchlist file itself");
    return std::nullopt;
  }
  if (!error && std::filesystem::exists(status) &&
      std::filesystem::file_size(path, error) > kMaxYamlFileBytes) {
    diagnostics.Add(SourceLocation{path, 1, 1},
                    fmt::format("is larger than {} MiB", kMaxYamlFileBytes >> 20),
                    "is this the right file?");
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diagnostics.Add(
        SourceLocation{path, 1, 1}, "cannot open the watchlist file",
        "check the path (relative paths in a pipeline are relative to the pipeline file)");
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // ${ENV} substitution makes the spec depend on more than the bytes: such files are parsed.
  const std::string directory =
      text.find("${") == std::string::npos ? SpecCacheDirectory() : std::string();
  const std::string key = directory.empty() ? std::string() : SpecCacheKey(path, text);
  if (!key.empty()) {
    if (std::optional<WatchlistSpec> cached = LoadCachedSpec(directory, key, path)) return cached;
  }
  const size_t diagnostics_before = diagnostics.size();
  std::optional<WatchlistSpec> spec = ParseWatchlist(text, path, diagnostics);
  if (spec && !key.empty() && diagnostics.size() == diagnostics_before) {
    StoreCachedSpec(directory, key, *spec);
  }
  return spec;
}

}  // namespace brandpulse
