// Ambiguity warnings for `brandpulse validate`: which watchlist entries are ordinary words (or
// names of other things) in the languages the firehose carries, so that posts about the word
// count as mentions of the brand. Data comes from Debian packages only (scripts/install-deps.sh):
//   - word lists wamerican, wnorwegian, wspanish (/usr/share/dict): base forms; a lowercase
//     entry is an ordinary word, a capitalized one a name;
//   - Hunspell dictionaries hunspell-en-us, hunspell-no (nb_NO), hunspell-es (es_ES) through
//     libhunspell: inflected forms ("correos", "ruter", "posten") and their stems;
//   - SCOWL (package scowl): how common an English word is (size 10 = the most common words,
//     95 = the rarest), the only word-frequency data Debian 12 ships for these languages.
// A missing source is skipped (fewer warnings, never an error).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "operators/watchlist.h"

namespace brandpulse {

// What the dictionaries know of one term.
struct WordFacts {
  std::vector<std::string> ordinary_in;  // languages where it is an ordinary word: "English", ...
  // "Spanish 'correo'": the term is an inflected form of this ordinary word (plural, definite,
  // verb form), when its base form is not itself in the word list.
  std::vector<std::string> inflected_from;
  std::vector<std::string> name_in;  // languages whose dictionary has it only as a name (capitalized)
  int english_size = 0;              // SCOWL size of the smallest English list holding it; 0: none
  bool short_term = false;           // one or two letters: an abbreviation in many languages

  bool ambiguous() const { return !ordinary_in.empty() || !name_in.empty() || short_term; }
};

// Looks a term up in every source. The sources are loaded once, on the first call.
WordFacts LookUpWord(const std::string& term);

// Prints one warning per plain term or unguarded query term of `watchlist` that is ambiguous,
// as `path:line:column: warning: ...` with what the word is and the documented remedies that
// fit it (docs/queries.md, "Ordinary words"). A query term with context (under NEAR, or ANDed
// with another term or a field such as lang:) is guarded; an exclusion alone does not guard a
// term (it removes the meanings someone thought of, not the others). Returns the number of
// warnings printed.
size_t WarnAboutAmbiguousTerms(const std::string& path, const WatchlistSpec& watchlist);

}  // namespace brandpulse
