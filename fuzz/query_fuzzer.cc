// Fuzzes the brand query parser (operators/query.h) with the input as a query's text.
//
// Checked besides "no crash, no sanitizer report": a rejected query comes with diagnostics and
// an accepted one with none; an accepted tree is well formed (children before their parent, a
// NOT with one child, a NEAR with two); and it round-trips: the canonical form FormatQueryNode
// writes parses again, to the same canonical form.
#include <string>

#include <fmt/format.h>

#include "fuzz/fuzz_support.h"
#include "operators/query.h"

namespace brandpulse {
namespace {

void CheckTree(const Query& query) {
  FUZZ_CHECK(!query.nodes.empty() && query.root < query.nodes.size(), query.source);
  for (uint32_t index = 0; index < query.nodes.size(); ++index) {
    const QueryNode& node = query.nodes[index];
    for (uint32_t child : node.children) {
      FUZZ_CHECK(child < index, fmt::format("node {} has child {} after it", index, child));
    }
    if (node.op == QueryOp::kNot) FUZZ_CHECK(node.children.size() == 1, query.source);
    if (node.op == QueryOp::kNear) FUZZ_CHECK(node.children.size() == 2, query.source);
    if (node.op == QueryOp::kAnd || node.op == QueryOp::kOr) {
      FUZZ_CHECK(node.children.size() >= 2, query.source);
    }
    if (node.op == QueryOp::kTerm || node.op == QueryOp::kField) {
      FUZZ_CHECK(node.children.empty(), query.source);
    }
  }
}

}  // namespace
}  // namespace brandpulse

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace brandpulse;
  std::string_view text = brandpulse_fuzz::AsText(data, size);
  Diagnostics diagnostics;
  std::optional<Query> query = ParseQuery(text, SourceLocation{"fuzz.yaml", 1, 1}, 1, diagnostics);
  if (!query) {
    FUZZ_CHECK(!diagnostics.empty(), "a query rejected without a diagnostic");
    for (const Diagnostic& diagnostic : diagnostics.items()) {
      FUZZ_CHECK(!diagnostic.message.empty(), diagnostic.ToString());
    }
    return 0;
  }
  FUZZ_CHECK(diagnostics.empty(), diagnostics.ToString());
  CheckTree(*query);

  std::string canonical = FormatQueryNode(*query, query->root);
  Diagnostics again_diagnostics;
  std::optional<Query> again =
      ParseQuery(canonical, SourceLocation{"fuzz.yaml", 1, 1}, 1, again_diagnostics);
  FUZZ_CHECK(again.has_value(), fmt::format("query {:?}\ncanonical form {:?} does not parse: {}",
                                            std::string(text), canonical,
                                            again_diagnostics.ToString()));
  std::string canonical_again = FormatQueryNode(*again, again->root);
  FUZZ_CHECK(canonical_again == canonical,
             fmt::format("query {:?}\ncanonical {:?}\nreparsed  {:?}", std::string(text),
                         canonical, canonical_again));
  return 0;
}
