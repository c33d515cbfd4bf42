// Diagnostics: user-facing errors in config files, each with file, line, column and a hint.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace brandpulse {

struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
};

struct Diagnostic {
  SourceLocation location;
  std::string message;
  std::string hint;  // may be empty

  // "file:line:column: error: message (hint: ...)"; line and column at least 1. Message and
  // hint pass through PrintableMessage.
  std::string ToString() const;
};

// `text` safe to print: control bytes (a NUL would end a C string) as \xNN, and a quoted value
// ('...') longer than 200 bytes cut to its first 200 bytes + "… (N bytes)".
std::string PrintableMessage(std::string_view text);

// Collects every problem found while reading a config, so `validate` can print them all.
class Diagnostics {
 public:
  void Add(SourceLocation location, std::string message, std::string hint = {});
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  const std::vector<Diagnostic>& items() const { return items_; }
  // One line per diagnostic.
  std::string ToString() const;
  // Ok when empty, else InvalidArgument carrying ToString().
  Status ToStatus() const;

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace brandpulse
