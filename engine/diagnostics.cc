#include "engine/diagnostics.h"

namespace brandpulse {

std::string Diagnostic::ToString() const {
  std::string text = fmt::format("{}:{}:{}: error: {}", location.file, location.line,
                                 location.column, message);
  if (!hint.empty()) text += fmt::format(" (hint: {})", hint);
  return text;
}

void Diagnostics::Add(SourceLocation location, std::string message, std::string hint) {
  items_.push_back(Diagnostic{std::move(location), std::move(message), std::move(hint)});
}

std::string Diagnostics::ToString() const {
  std::string text;
  for (const Diagnostic& item : items_) {
    text += item.ToString();
    text += '\n';
  }
  return text;
}

Status Diagnostics::ToStatus() const {
  if (items_.empty()) return Status::Ok();
  std::string text = ToString();
  if (!text.empty()) text.pop_back();
  return Status::InvalidArgument(std::move(text));
}

}  // namespace brandpulse
