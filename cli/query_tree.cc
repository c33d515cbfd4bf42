// Printing a brand's query as a tree with the value of every node for one post (for `match`).
#include <fmt/format.h>

#include "cli/commands.h"

namespace brandpulse {
namespace {

void AppendNode(const Query& query, const std::vector<bool>& values, uint32_t index, int depth,
                std::string& out) {
  const QueryNode& node = query.nodes[index];
  std::string label;
  switch (node.op) {
    case QueryOp::kTerm:
    case QueryOp::kField:
      label = FormatQueryNode(query, index);
      break;
    case QueryOp::kAnd:
      label = "AND";
      break;
    case QueryOp::kOr:
      label = "OR";
      break;
    case QueryOp::kNot:
      label = "NOT";
      break;
    case QueryOp::kNear:
      label = fmt::format("NEAR/{}{}", node.near_distance, node.near_ordered ? "f" : "");
      break;
  }
  const bool value = index < values.size() && values[index];
  out += fmt::format("{}{} {}   (line {}:{})\n", std::string(2 * depth, ' '),
                     value ? "[true ]" : "[false]", label, node.location.line,
                     node.location.column);
  for (uint32_t child : node.children) AppendNode(query, values, child, depth + 1, out);
}

}  // namespace

std::string QueryTreeText(const Query& query, const std::vector<bool>& values, int indent) {
  std::string out;
  AppendNode(query, values, query.root, indent, out);
  return out;
}

}  // namespace brandpulse
