// The dashboard's files (web/), compiled into the program by web/embed.cmake, so a running
// engine serves its dashboard with nothing installed beside it and nothing fetched at run time.
#pragma once

#include <span>
#include <string_view>

namespace brandpulse {

struct WebAsset {
  std::string_view path;          // relative to web/, e.g. "index.html"
  std::string_view content_type;  // from the file's extension
  std::string_view body;
};

std::span<const WebAsset> WebAssets();

}  // namespace brandpulse
