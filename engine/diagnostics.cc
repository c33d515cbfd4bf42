#include "engine/diagnostics.h"

#include <algorithm>
#include <iterator>

namespace brandpulse {

namespace {

// Bytes of quoted input text ('...') a message echoes; the rest is counted, not shown.
constexpr size_t kMaxEchoBytes = 200;

void AppendPrintable(std::string& out, std::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t') || byte == 0x7f) {
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", byte);
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace

std::string PrintableMessage(std::string_view text) {
  std::string out;
  out.reserve(std::min<size_t>(text.size(), 4 * kMaxEchoBytes));
  size_t i = 0;
  while (i < text.size()) {
    const size_t quote = text.find('\'', i);
    if (quote == std::string_view::npos) {
      AppendPrintable(out, text.substr(i));
      break;
    }
    AppendPrintable(out, text.substr(i, quote + 1 - i));
    i = quote + 1;
    const size_t close = text.find('\'', i);
    if (close == std::string_view::npos || close - i <= kMaxEchoBytes) continue;
    // A long quoted value (a 1 MB term): its first bytes, cut on a UTF-8 character boundary.
    std::string_view inner = text.substr(i, close - i);
    size_t cut = kMaxEchoBytes;
    while (cut > 0 && (static_cast<unsigned char>(inner[cut]) & 0xC0) == 0x80) --cut;
    AppendPrintable(out, inner.substr(0, cut));
    fmt::format_to(std::back_inserter(out), "\u2026 ({} bytes)'", inner.size());
    i = close + 1;
  }
  return out;
}

std::string Diagnostic::ToString() const {
  // A problem without a place (a whole-file one) points at the file's start, never at :0:0.
  std::string text = fmt::format("{}:{}:{}: error: {}", location.file, std::max(location.line, 1),
                                 std::max(location.column, 1), PrintableMessage(message));
  if (!hint.empty()) text += fmt::format(" (hint: {})", PrintableMessage(hint));
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
