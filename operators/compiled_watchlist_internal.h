// Private helpers shared by the .cc files that define CompiledWatchlist (see the list at the top
// of compiled_watchlist.h). Not part of the operator's interface.
#pragma once

#include <string_view>

#include "engine/unicode.h"

namespace brandpulse::watchlist_internal {

// Caseless comparison of a post field (any case) with a folded query value. Here because own
// handles (compiled_watchlist.cc) and author:/reply: nodes (query_evaluation.cc) both use it.
inline bool FieldEquals(std::string_view field, std::string_view folded_value) {
  if (field.starts_with("@")) field.remove_prefix(1);
  if (field.size() != folded_value.size()) return false;
  for (size_t position = 0; position < field.size();) {
    DecodedCodePoint a = DecodeCodePointAt(field, position);
    DecodedCodePoint b = DecodeCodePointAt(folded_value, position);
    if (a.length != b.length || FoldCodePoint(a.code_point) != FoldCodePoint(b.code_point)) {
      return false;
    }
    position += a.length;
  }
  return true;
}

}  // namespace brandpulse::watchlist_internal
