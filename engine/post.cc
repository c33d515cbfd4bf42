#include "engine/post.h"

namespace brandpulse {

std::string_view PlatformName(Platform platform) {
  switch (platform) {
    case Platform::kUnknown: return "unknown";
    case Platform::kTwitter: return "twitter";
    case Platform::kBluesky: return "bluesky";
    case Platform::kMastodon: return "mastodon";
    case Platform::kGeneric: return "generic";
  }
  return "unknown";
}

}  // namespace brandpulse
