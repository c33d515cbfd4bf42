// Boolean brand queries: the `query:` of a brand in a watchlist, parsed into an immutable tree.
// The language is documented in docs/queries.md. In short:
//
//   (telenor OR "telenor norge" OR #telenor OR @telenor_norge OR telen*)
//   AND NOT ("telenor arena" OR arena NEAR/3 fornebu)
//   // a comment: from "//" at the start of a line or after white space to the line's end
//
// Operators are upper case: AND, OR, NOT, NEAR/n (either order, at most n words between),
// NEAR/nf (the left operand first), "a phrase"~n (its words within n words of each other),
// telen* (prefix), colo?r (one letter or digit).
// AND and OR never mix at one level without parentheses; a query must hold something that has to
// be present (a purely negative query is an error). Fields: author:, lang:, reply: (or to:).
// {Exact Case} makes a term case-exact; a term without accents also finds accented text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/diagnostics.h"
#include "engine/post.h"

namespace brandpulse {

enum class QueryOp : uint8_t {
  kTerm,   // a word, phrase, #hashtag, @handle, $cashtag, emoji or prefix wildcard: see QueryTerm
  kField,  // author:/lang:/reply: — compares a field of the post, not its text
  kAnd,
  kOr,
  kNot,   // one child
  kNear,  // two children, each a term or an OR of terms
};

enum class QueryField : uint8_t {
  kAuthor,
  kLanguage,
  kReplyTo,
  kUrl,   // url:x — a link of the post contains x (caseless)
  kSite,  // site:x — a link's host is x or ends with ".x"
  kRegistered,  // a field another operator registered (RegisterQueryField): sentiment:, intent:
};

// A query field that an operator adds with what it knows of a post (its post fields,
// engine/post_fields.h): `sentiment:negative`, `intent:question`. The query language knows it by
// name only; the operator that registers it says how a post matches a value.
struct QueryFieldDefinition {
  std::string name;                 // without ':'; [a-z_]+, not a built-in field
  std::vector<std::string> values;  // the values it accepts (lowercase); empty = any
  std::string hint;                 // e.g. "write sentiment:negative"
  // `value` is lowercase. Called by match workers for every post a query reaches: pure, no
  // allocation.
  bool (*matches)(const Post& post, std::string_view value) = nullptr;
};
// REQUIRES: start-up, before watchlists are read. Registering a name twice keeps the first.
void RegisterQueryField(QueryFieldDefinition definition);
// The registered field `index` (QueryNode::registered_field). REQUIRES: a valid index.
const QueryFieldDefinition& RegisteredQueryField(uint32_t index);

// How a term's accents and case must agree with the text.
enum class QueryCase : uint8_t {
  kLoose,        // caseless; accents in the text are ignored (the term has none)
  kAccentExact,  // caseless, but the accents must be the term's (the term has some)
  kExact,        // {Exact}: byte for byte
};

struct QueryNode {
  QueryOp op = QueryOp::kTerm;
  // kTerm: the text to find without quotes or braces ("telenor norge", "#telenor", "telen" for
  // telen*). kField: the value (lowercase, '@' removed).
  std::string text;
  QueryCase match_case = QueryCase::kLoose;
  bool prefix = false;  // kTerm written with a trailing '*': the word may continue
  // kTerm with '?' in `text`: each '?' stands for exactly one letter or digit. Such terms are
  // kLoose (the parser rejects accents and {} with '?').
  bool single_wildcards = false;
  QueryField field = QueryField::kAuthor;
  uint32_t registered_field = 0;  // kRegistered: RegisteredQueryField(registered_field)
  uint32_t near_distance = 0;  // kNear: at most this many words between the operands
  bool near_ordered = false;   // kNear: NEAR/nf, the first operand comes first
  std::vector<uint32_t> children;  // indices into Query::nodes
  SourceLocation location;         // where the node starts in the file
};

// A parsed query. nodes[root] is the root; children come before their parent.
struct Query {
  std::string source;  // as written
  std::vector<QueryNode> nodes;
  uint32_t root = 0;
};

// How deep a query may nest: parentheses, NOTs and NEARs each add a level. Deeper queries are
// refused with the location of the first level too many (no recursion in the parser or in the
// code that walks a parsed query can then exhaust the stack).
inline constexpr size_t kMaxQueryDepth = 100;

// Parses `text`, a brand's query as it stands in its file from `start` on (line and column of its
// first character; a block scalar keeps its line breaks, so later lines count from start.line).
// `indent` is the column (1-based) where continuation lines start, for column numbers of later
// lines. Adds one diagnostic per problem (file:line:column, what is wrong, a hint) and returns
// nullopt when it added any.
std::optional<Query> ParseQuery(std::string_view text, const SourceLocation& start, int indent,
                                Diagnostics& diagnostics);

// The query written back in canonical form, fully parenthesized (for `brandpulse match`).
std::string FormatQueryNode(const Query& query, uint32_t node);

}  // namespace brandpulse
