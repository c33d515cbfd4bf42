#include "operators/watchlist.h"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "engine/unicode.h"
#include "engine/yaml_reader.h"

namespace brandpulse {
namespace {

bool IsValidBrandId(std::string_view id) {
  if (id.empty()) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::string Trimmed(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

bool HasWordCharacter(std::string_view text) {
  size_t position = 0;
  while (position < text.size()) {
    size_t length = 0;
    if (IsWordCodePoint(DecodeCodePointAt(text, position, &length))) return true;
    position += length;
  }
  return false;
}

// Reads one list of terms; handles and hashtags get their sigil. Reports empty ones.
std::vector<std::string> ReadTerms(YamlMap& map, std::string_view key, std::string_view sigil,
                                   const std::string& brand_id) {
  std::vector<std::string> terms;
  std::optional<std::vector<std::string>> values = map.StringList(key);
  if (!values) return terms;
  for (const std::string& value : *values) {
    std::string term = Trimmed(value);
    if (!sigil.empty() && !term.starts_with(sigil)) term.insert(0, sigil);
    if (term.size() <= sigil.size() || !HasWordCharacter(term)) {
      map.diagnostics().Add(map.LocationOf(key),
                            fmt::format("brand '{}' has an empty {} entry '{}'", brand_id, key, value),
                            "every entry needs at least one letter or digit");
      continue;
    }
    if (std::find(terms.begin(), terms.end(), term) == terms.end()) terms.push_back(term);
  }
  return terms;
}

}  // namespace

std::optional<WatchlistSpec> ParseWatchlist(std::string_view yaml_text, const std::string& file_name,
                                            Diagnostics& diagnostics) {
  size_t errors_before = diagnostics.size();
  std::optional<YAML::Node> root = LoadYamlText(yaml_text, file_name, diagnostics);
  if (!root) return std::nullopt;
  YamlMap top(*root, file_name, "watchlist", diagnostics);
  if (!top.valid()) return std::nullopt;
  WatchlistSpec watchlist;
  watchlist.path = file_name;
  YAML::Node brands = top.Child("brands", true);
  top.CheckNoUnknownKeys();
  if (brands.IsDefined() && (!brands.IsSequence() || brands.size() == 0)) {
    diagnostics.Add(LocationOf(brands, file_name), "brands must be a non-empty list",
                    "write one '- id: ...' entry per brand");
  } else if (brands.IsDefined()) {
    for (const YAML::Node& node : brands) {
      YamlMap map(node, file_name, "brand", diagnostics);
      if (!map.valid()) continue;
      BrandSpec brand;
      brand.location = map.Location();
      if (auto id = map.String("id", true)) {
        brand.id = *id;
        if (!IsValidBrandId(*id)) {
          diagnostics.Add(map.LocationOf("id"), fmt::format("brand id '{}' is not valid", *id),
                          "use lowercase letters, digits, '-' and '_'");
        }
        for (const BrandSpec& other : watchlist.brands) {
          if (other.id == *id) {
            diagnostics.Add(map.LocationOf("id"), fmt::format("duplicate brand id '{}'", *id),
                            fmt::format("the first is at line {}", other.location.line));
          }
        }
      }
      YamlMap brand_map(node, file_name, fmt::format("brand '{}'", brand.id), diagnostics);
      brand.name = map.String("name").value_or(brand.id);
      brand.group = map.String("group").value_or("");
      brand.terms = ReadTerms(map, "terms", "", brand.id);
      brand.handles = ReadTerms(map, "handles", "@", brand.id);
      brand.hashtags = ReadTerms(map, "hashtags", "#", brand.id);
      brand.exclusions = ReadTerms(map, "exclude", "", brand.id);
      if (brand.terms.empty() && brand.handles.empty() && brand.hashtags.empty()) {
        diagnostics.Add(brand.location,
                        fmt::format("brand '{}' has no terms, handles or hashtags", brand.id),
                        "add terms: [...] so something can match");
      }
      // Unknown keys are reported with the brand's id in the message.
      brand_map.String("id");
      brand_map.String("name");
      brand_map.String("group");
      brand_map.Child("terms");
      brand_map.Child("handles");
      brand_map.Child("hashtags");
      brand_map.Child("exclude");
      brand_map.CheckNoUnknownKeys();
      watchlist.brands.push_back(std::move(brand));
    }
  }
  if (diagnostics.size() != errors_before) return std::nullopt;
  return watchlist;
}

std::optional<WatchlistSpec> LoadWatchlist(const std::string& path, Diagnostics& diagnostics) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diagnostics.Add(SourceLocation{path, 0, 0}, "cannot open watchlist file", "check the path");
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ParseWatchlist(text, path, diagnostics);
}

}  // namespace brandpulse
