#include "operators/partials_codec.h"

#include <charconv>

#include <fmt/format.h>

#include "engine/hash.h"
#include "engine/varint.h"

namespace brandpulse {
namespace {

constexpr char kVersion = 0x01;
constexpr char kVersionWithInquiries = 0x02;  // prepared records only
constexpr char kVersionWithPosts = 0x03;      // prepared records only


void AppendEpoch(std::string& out, const EpochId& epoch) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(epoch.nonce >> shift));
  AppendVarint(out, epoch.seq);
}
bool ReadEpoch(std::string_view& in, EpochId& epoch) {
  if (in.size() < 8) return false;
  epoch.nonce = 0;
  for (int index = 0; index < 8; ++index) {
    epoch.nonce = (epoch.nonce << 8) | static_cast<uint8_t>(in[index]);
  }
  in.remove_prefix(8);
  return ReadVarint(in, epoch.seq);
}
bool ReadBytes(std::string_view& in, std::string_view& bytes) {
  uint64_t length = 0;
  if (!ReadVarint(in, length) || length > in.size()) return false;
  bytes = in.substr(0, length);
  in.remove_prefix(length);
  return true;
}
bool ReadU32(std::string_view& in, uint32_t& value) {
  uint64_t wide = 0;
  if (!ReadVarint(in, wide) || wide > UINT32_MAX) return false;
  value = static_cast<uint32_t>(wide);
  return true;
}

}  // namespace

std::string EpochId::ToString() const { return fmt::format("{:016x}:{}", nonce, seq); }

std::optional<EpochId> EpochId::Parse(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon != 16) return std::nullopt;
  EpochId epoch;
  const char* end = text.data() + colon;
  auto [nonce_end, nonce_error] = std::from_chars(text.data(), end, epoch.nonce, 16);
  if (nonce_error != std::errc() || nonce_end != end) return std::nullopt;
  const char* seq_begin = end + 1;
  const char* seq_end = text.data() + text.size();
  auto [parsed_end, seq_error] = std::from_chars(seq_begin, seq_end, epoch.seq);
  if (seq_error != std::errc() || parsed_end != seq_end || seq_begin == seq_end) return std::nullopt;
  return epoch;
}

void EncodePrepared(const PreparedPartials& prepared, std::string& out) {
  out.push_back('P');
  out.push_back(!prepared.posts.empty()       ? kVersionWithPosts
                : !prepared.inquiries.empty() ? kVersionWithInquiries
                                              : kVersion);
  AppendEpoch(out, prepared.epoch);
  AppendVarint(out, prepared.source_partition_count);
  AppendVarint(out, prepared.ranges.size());
  for (const SourceRange& range : prepared.ranges) {
    AppendVarint(out, range.partition);
    AppendVarint(out, range.start);
    AppendVarint(out, range.end);
    AppendVarint(out, ZigZag(range.max_event_time_ms));
    out.push_back(static_cast<char>((range.at_end ? 1 : 0) | (range.at_end && range.idle ? 2 : 0)));
  }
  AppendVarint(out, prepared.windows.size());
  std::string value;
  for (const PartialWindow& window : prepared.windows) {
    AppendVarint(out, window.brand_id.size());
    out.append(window.brand_id);
    AppendVarint(out, window.shape_index);
    AppendVarint(out, window.dimension);
    AppendVarint(out, ZigZag(window.start_ms));
    value.clear();
    window.metrics.EncodeTo(value);
    AppendVarint(out, value.size());
    out.append(value);
  }
  if (prepared.inquiries.empty() && prepared.posts.empty()) return;
  AppendVarint(out, prepared.inquiries.size());
  for (const InquiryEvent& event : prepared.inquiries) {
    out.push_back(static_cast<char>(event.kind));
    AppendVarint(out, event.rule.size());
    out.append(event.rule);
    AppendVarint(out, event.brand_id.size());
    out.append(event.brand_id);
    AppendVarint(out, ZigZag(event.event_time_ms));
    AppendVarint(out, event.payload.size());
    out.append(event.payload);
  }
  if (prepared.posts.empty()) return;
  AppendVarint(out, prepared.posts.size());
  for (const PostEvent& post : prepared.posts) {
    AppendVarint(out, post.brand_id.size());
    out.append(post.brand_id);
    AppendU64(out, post.key_hash);
    AppendVarint(out, ZigZag(post.event_time_ms));
    AppendU64(out, post.text_hash);
    out.push_back(post.edit ? 1 : 0);
    AppendPostWindows(post.windows, out);
  }
}

size_t EncodedInquiryEventSize(const InquiryEvent& event) {
  auto varint_size = [](uint64_t value) {
    size_t size = 1;
    while (value >= 0x80) {
      value >>= 7;
      ++size;
    }
    return size;
  };
  return 1 + varint_size(event.rule.size()) + event.rule.size() +
         varint_size(event.brand_id.size()) + event.brand_id.size() +
         varint_size(ZigZag(event.event_time_ms)) + varint_size(event.payload.size()) +
         event.payload.size();
}

void AppendPostWindows(const std::vector<PartialWindow>& windows, std::string& out) {
  AppendVarint(out, windows.size());
  std::string value;
  for (const PartialWindow& window : windows) {
    AppendVarint(out, window.shape_index);
    AppendVarint(out, window.dimension);
    AppendVarint(out, ZigZag(window.start_ms));
    value.clear();
    window.metrics.EncodeTo(value);
    AppendVarint(out, value.size());
    out.append(value);
  }
}

bool ReadPostWindows(std::string_view& in, std::vector<PartialWindow>& windows) {
  uint64_t count = 0;
  if (!ReadVarint(in, count) || count > in.size()) return false;
  windows.resize(count);
  for (PartialWindow& window : windows) {
    std::string_view value;
    uint64_t start = 0;
    if (!ReadU32(in, window.shape_index) || !ReadVarint(in, window.dimension) ||
        !ReadVarint(in, start) || !ReadBytes(in, value)) {
      return false;
    }
    window.start_ms = UnZigZag(start);
    Result<WindowMetrics> metrics = WindowMetrics::Decode(value);
    if (!metrics.ok()) return false;
    window.metrics = std::move(*metrics);
  }
  return true;
}

void EncodeMarker(const EpochId& epoch, std::string& out) {
  out.push_back('M');
  out.push_back(kVersion);
  AppendEpoch(out, epoch);
}

Result<PartialsKind> PartialsKindOf(std::string_view bytes) {
  if (bytes.size() >= 2 && bytes[1] == kVersion) {
    if (bytes[0] == 'P') return PartialsKind::kPrepared;
    if (bytes[0] == 'M') return PartialsKind::kMarker;
  }
  if (bytes.size() >= 2 && bytes[0] == 'P' &&
      (bytes[1] == kVersionWithInquiries || bytes[1] == kVersionWithPosts)) {
    return PartialsKind::kPrepared;
  }
  return Status::Corruption("not a partials record (unknown kind or version)");
}

Result<PreparedPartials> DecodePrepared(std::string_view in) {
  auto bad = [](std::string_view what) {
    return Status::Corruption(fmt::format("prepared partials record: {} does not decode", what));
  };
  if (in.size() < 2 || in[0] != 'P' ||
      (in[1] != kVersion && in[1] != kVersionWithInquiries && in[1] != kVersionWithPosts)) {
    return bad("the header");
  }
  const bool with_posts = in[1] == kVersionWithPosts;
  const bool with_inquiries = in[1] == kVersionWithInquiries || with_posts;
  in.remove_prefix(2);
  PreparedPartials prepared;
  uint64_t count = 0;
  if (!ReadEpoch(in, prepared.epoch)) return bad("the epoch");
  if (!ReadU32(in, prepared.source_partition_count)) return bad("the partition count");
  if (!ReadVarint(in, count) || count > in.size()) return bad("the range count");
  prepared.ranges.resize(count);
  for (SourceRange& range : prepared.ranges) {
    uint64_t time = 0;
    if (!ReadU32(in, range.partition) || !ReadVarint(in, range.start) ||
        !ReadVarint(in, range.end) || !ReadVarint(in, time) || in.empty() ||
        range.end < range.start) {
      return bad("a source range");
    }
    range.max_event_time_ms = UnZigZag(time);
    range.at_end = in.front() != 0;  // (before stop 25 any non-zero byte; idle implies it)
    range.idle = (in.front() & 2) != 0;
    in.remove_prefix(1);
  }
  if (!ReadVarint(in, count) || count > in.size()) return bad("the window count");
  prepared.windows.resize(count);
  for (PartialWindow& window : prepared.windows) {
    std::string_view brand;
    std::string_view value;
    uint64_t start = 0;
    if (!ReadBytes(in, brand) || !ReadU32(in, window.shape_index) ||
        !ReadVarint(in, window.dimension) || !ReadVarint(in, start) || !ReadBytes(in, value)) {
      return bad("a window");
    }
    window.brand_id.assign(brand);
    window.start_ms = UnZigZag(start);
    Result<WindowMetrics> metrics = WindowMetrics::Decode(value);
    if (!metrics.ok()) return bad("a window value");
    window.metrics = std::move(*metrics);
  }
  if (with_inquiries) {
    if (!ReadVarint(in, count) || count > in.size()) return bad("the inquiry count");
    prepared.inquiries.resize(count);
    for (InquiryEvent& event : prepared.inquiries) {
      std::string_view rule;
      std::string_view brand;
      std::string_view payload;
      uint64_t time = 0;
      if (in.empty()) return bad("an inquiry event");
      const auto kind = static_cast<uint8_t>(in.front());
      in.remove_prefix(1);
      if (kind < static_cast<uint8_t>(InquiryEvent::Kind::kOpened) ||
          kind > static_cast<uint8_t>(InquiryEvent::Kind::kInquiryCandidate) ||
          !ReadBytes(in, rule) || !ReadBytes(in, brand) || !ReadVarint(in, time) ||
          !ReadBytes(in, payload)) {
        return bad("an inquiry event");
      }
      event.kind = static_cast<InquiryEvent::Kind>(kind);
      event.rule.assign(rule);
      event.brand_id.assign(brand);
      event.event_time_ms = UnZigZag(time);
      event.payload.assign(payload);
    }
  }
  if (with_posts) {
    if (!ReadVarint(in, count) || count > in.size()) return bad("the post count");
    prepared.posts.resize(count);
    for (PostEvent& post : prepared.posts) {
      std::string_view brand;
      uint64_t time = 0;
      if (!ReadBytes(in, brand) || !ReadU64(in, post.key_hash) || !ReadVarint(in, time) ||
          !ReadU64(in, post.text_hash) || in.empty() || static_cast<uint8_t>(in.front()) > 1) {
        return bad("a post event");
      }
      post.brand_id.assign(brand);
      post.event_time_ms = UnZigZag(time);
      post.edit = in.front() != 0;
      in.remove_prefix(1);
      if (!ReadPostWindows(in, post.windows)) return bad("a post event's windows");
    }
  }
  if (!in.empty()) return bad("the end (trailing bytes)");
  return prepared;
}

Result<EpochId> DecodeMarker(std::string_view in) {
  if (in.size() < 2 || in[0] != 'M' || in[1] != kVersion) {
    return Status::Corruption("commit marker: the header does not decode");
  }
  in.remove_prefix(2);
  EpochId epoch;
  if (!ReadEpoch(in, epoch) || !in.empty()) {
    return Status::Corruption("commit marker: the epoch does not decode");
  }
  return epoch;
}

uint32_t PartialsPartitionOf(std::string_view key, uint32_t partition_count) {
  if (partition_count <= 1) return 0;
  return static_cast<uint32_t>(HashBytes(key) % partition_count);
}

}  // namespace brandpulse
