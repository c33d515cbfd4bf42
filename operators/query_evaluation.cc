#include <vector>

#include "engine/unicode.h"
#include "operators/compiled_watchlist.h"
#include "operators/compiled_watchlist_internal.h"

namespace brandpulse {

using watchlist_internal::FieldEquals;

namespace {

// url:/site: over the space-separated link list of a post. No allocation.
bool UrlFieldMatches(std::string_view urls, std::string_view folded_value, bool site) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  auto equal_caseless = [&](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (lower(a[i]) != b[i]) return false;
    }
    return true;
  };
  while (!urls.empty()) {
    size_t space = urls.find(' ');
    std::string_view url = urls.substr(0, space);
    urls = space == std::string_view::npos ? std::string_view() : urls.substr(space + 1);
    if (site) {
      size_t scheme = url.find("://");
      std::string_view host = scheme == std::string_view::npos ? url : url.substr(scheme + 3);
      host = host.substr(0, host.find_first_of("/?#:"));
      if (equal_caseless(host, folded_value)) return true;
      if (host.size() > folded_value.size() &&
          host[host.size() - folded_value.size() - 1] == '.' &&
          equal_caseless(host.substr(host.size() - folded_value.size()), folded_value)) {
        return true;
      }
    } else {
      for (size_t start = 0; start + folded_value.size() <= url.size(); ++start) {
        if (equal_caseless(url.substr(start, folded_value.size()), folded_value)) return true;
      }
    }
  }
  return false;
}

}  // namespace

bool CompiledWatchlist::Near(const Node& node, std::string_view text, Scanner& scanner) const {
  auto on_side = [&](uint32_t term_node, uint32_t first, uint32_t count) {
    for (uint32_t i = first; i < first + count; ++i) {
      if (near_terms_[i] == term_node) return true;
    }
    return false;
  };
  // Most posts that reach a NEAR have a hit on one side only: no need to count words then.
  bool any_left = false;
  bool any_right = false;
  for (const Scanner::AtomHit& hit : scanner.atom_hits_) {
    any_left = any_left || on_side(hit.node, node.first_term, node.left_terms);
    any_right = any_right || on_side(hit.node, node.first_term + node.left_terms, node.right_terms);
  }
  if (!any_left || !any_right) return false;
  if (!scanner.words_ready_) {
    // words_before_[i]: how many words start before byte i. A word is a run of word characters;
    // each character of an unspaced script (Han, kana, Thai, ...) is a word of its own.
    const std::string_view folded = text;  // case does not change which characters are words
    scanner.words_before_.resize(text.size() + 1);
    uint32_t* words_before = scanner.words_before_.data();
    uint32_t words = 0;
    bool in_word = false;
    for (size_t position = 0; position < folded.size();) {
      const auto byte = static_cast<uint8_t>(folded[position]);
      if (byte < 0x80) {  // ASCII: letters, digits and '_' are word characters
        const bool word = (byte >= 'a' && byte <= 'z') || (byte >= '0' && byte <= '9') ||
                          byte == '_' || (byte >= 'A' && byte <= 'Z');
        words_before[position] = words;
        words += word && !in_word;
        in_word = word;
        ++position;
        continue;
      }
      DecodedCodePoint decoded = DecodeCodePointAt(folded, position);
      const bool word = IsWordCodePoint(decoded.code_point);
      const bool unspaced = word && IsUnspacedScript(decoded.code_point);
      for (uint32_t i = 0; i < decoded.length; ++i) words_before[position + i] = words;
      words += word && (!in_word || unspaced);
      in_word = word && !unspaced;
      position += decoded.length;
    }
    words_before[folded.size()] = words;
    scanner.words_ready_ = true;
  }
  const std::vector<uint32_t>& words = scanner.words_before_;
  for (const Scanner::AtomHit& left : scanner.atom_hits_) {
    if (!on_side(left.node, node.first_term, node.left_terms)) continue;
    for (const Scanner::AtomHit& right : scanner.atom_hits_) {
      if (!on_side(right.node, node.first_term + node.left_terms, node.right_terms)) continue;
      if (left.end <= right.begin) {
        if (words[right.begin] - words[left.end] <= node.distance) return true;
      } else if (!node.ordered && right.end <= left.begin) {
        if (words[left.begin] - words[right.end] <= node.distance) return true;
      }
    }
  }
  return false;
}

bool CompiledWatchlist::Evaluate(uint32_t index, const Post& post, Scanner& scanner,
                                 bool record) const {
  const Node& node = nodes_[index];
  bool value = false;
  switch (node.op) {
    case QueryOp::kTerm:
      value = scanner.node_hit_[index] != 0;
      break;
    case QueryOp::kField:
      switch (node.field) {
        case QueryField::kAuthor:
          value = FieldEquals(post.author_handle, node.value);
          break;
        case QueryField::kReplyTo:
          value = FieldEquals(post.reply_to_handle, node.value);
          break;
        case QueryField::kUrl:
        case QueryField::kSite:
          value = UrlFieldMatches(post.urls, node.value, node.field == QueryField::kSite);
          break;
        case QueryField::kRegistered:
          value = RegisteredQueryField(node.registered_field).matches(post, node.value);
          break;
        case QueryField::kLanguage:
          // "no" matches "no" and "no-NO"; "en-gb" only "en-GB".
          value = FieldEquals(post.language, node.value) ||
                  (post.language.size() > node.value.size() &&
                   post.language[node.value.size()] == '-' &&
                   FieldEquals(post.language.substr(0, node.value.size()), node.value));
          break;
      }
      break;
    case QueryOp::kNot:
      value = !Evaluate(children_[node.first_child], post, scanner, record);
      break;
    case QueryOp::kAnd:
      value = true;
      for (uint32_t i = 0; i < node.child_count; ++i) {
        bool child = Evaluate(children_[node.first_child + i], post, scanner, record);
        value = value && child;
        if (!value && !record) break;
      }
      break;
    case QueryOp::kOr:
      value = false;
      for (uint32_t i = 0; i < node.child_count; ++i) {
        bool child = Evaluate(children_[node.first_child + i], post, scanner, record);
        value = value || child;
        if (value && !record) break;
      }
      break;
    case QueryOp::kNear:
      if (record) {
        Evaluate(children_[node.first_child], post, scanner, record);
        Evaluate(children_[node.first_child + 1], post, scanner, record);
      }
      value = Near(node, post.text, scanner);
      break;
  }
  if (record) scanner.node_values_[index] = value ? 1 : 0;
  return value;
}

std::vector<bool> CompiledWatchlist::ExplainQuery(uint32_t brand_index, const Post& post,
                                                  Scanner& scanner) const {
  std::vector<bool> values;
  if (query_root_[brand_index] == kNoQuery) return values;
  // Rebuild the hit set of this post (MatchPost clears it when done).
  ExplainText(post.text, scanner);
  for (const Scanner::AtomHit& hit : scanner.atom_hits_) scanner.node_hit_[hit.node] = 1;
  Evaluate(query_root_[brand_index], post, scanner, true);
  const uint32_t offset = query_offset_[brand_index];
  const size_t count = spec_.brands[brand_index].query->nodes.size();
  for (size_t i = 0; i < count; ++i) values.push_back(scanner.node_values_[offset + i] != 0);
  for (const Scanner::AtomHit& hit : scanner.atom_hits_) scanner.node_hit_[hit.node] = 0;
  return values;
}

}  // namespace brandpulse
