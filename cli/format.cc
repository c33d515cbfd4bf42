// Formatting shared by the commands (cli/commands.h).
#include <cstdio>

#include "cli/commands.h"

namespace brandpulse {

std::string Grouped(uint64_t number) {
  std::string digits = std::to_string(number);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

// Pads to `width` display columns, counting UTF-8 code points rather than bytes.
std::string PadRight(std::string_view text, size_t width) {
  size_t columns = 0;
  for (char c : text) columns += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
  std::string out(text);
  if (columns < width) out.append(width - columns, ' ');
  return out;
}

void PrintDiagnostics(const Diagnostics& diagnostics) {
  for (const Diagnostic& item : diagnostics.items()) {
    std::fprintf(stderr, "%s\n", item.ToString().c_str());
  }
}

}  // namespace brandpulse
