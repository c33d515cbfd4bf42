#include "pipeline/cluster_snapshot.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "engine/hash.h"
#include "engine/varint.h"

namespace brandpulse {
namespace {

constexpr char kChunkVersion = 0x01;

void AppendBytes(std::string& out, std::string_view bytes) {
  AppendVarint(out, bytes.size());
  out.append(bytes);
}

bool ReadBytes(std::string_view& in, std::string_view& bytes) {
  uint64_t size = 0;
  if (!ReadVarint(in, size) || size > in.size()) return false;
  bytes = in.substr(0, size);
  in.remove_prefix(size);
  return true;
}

struct ChunkHeader {
  uint32_t partition = 0;
  SnapshotId id;
  int64_t next_offset = 0;
  uint64_t chunk = 0;
  uint64_t chunk_count = 0;
  uint64_t body_size = 0;
  uint64_t body_hash = 0;
  bool SameSnapshot(const ChunkHeader& other) const {
    return partition == other.partition && id == other.id && next_offset == other.next_offset &&
           chunk_count == other.chunk_count && body_size == other.body_size &&
           body_hash == other.body_hash;
  }
};

// The header of a chunk value; `in` is left at its slice.
std::optional<ChunkHeader> ReadChunkHeader(std::string_view& in) {
  if (in.size() < 2 || in[0] != 'S' || in[1] != kChunkVersion) return std::nullopt;
  in.remove_prefix(2);
  ChunkHeader header;
  uint64_t partition = 0;
  uint64_t next_offset = 0;
  if (!ReadVarint(in, partition) || partition > UINT32_MAX || !ReadU64(in, header.id.writer) ||
      !ReadVarint(in, header.id.seq) || !ReadVarint(in, next_offset) ||
      !ReadVarint(in, header.chunk) || !ReadVarint(in, header.chunk_count) ||
      !ReadVarint(in, header.body_size) || !ReadU64(in, header.body_hash) ||
      header.chunk >= header.chunk_count) {
    return std::nullopt;
  }
  header.partition = static_cast<uint32_t>(partition);
  header.next_offset = static_cast<int64_t>(next_offset);
  return header;
}

std::string ChunkKey(uint32_t partition, const SnapshotId& id, uint64_t chunk) {
  return fmt::format("{}/{}/{}", partition, id.ToString(), chunk);
}

// "<partition>/<id>/<chunk>" -> (partition, id).
std::optional<std::pair<uint32_t, SnapshotId>> ParseKey(std::string_view key) {
  const size_t first = key.find('/');
  const size_t last = key.rfind('/');
  if (first == std::string_view::npos || last == first) return std::nullopt;
  uint32_t partition = 0;
  auto [end, error] = std::from_chars(key.data(), key.data() + first, partition);
  if (error != std::errc() || end != key.data() + first) return std::nullopt;
  std::optional<SnapshotId> id = SnapshotId::Parse(key.substr(first + 1, last - first - 1));
  if (!id) return std::nullopt;
  return std::make_pair(partition, *id);
}

void EncodeBody(const MergeSnapshot& snapshot, std::string& out) {
  AppendVarint(out, static_cast<uint64_t>(snapshot.next_offset));
  out.push_back(snapshot.merged_watermark ? 1 : 0);
  if (snapshot.merged_watermark) AppendVarint(out, ZigZag(*snapshot.merged_watermark));
  AppendBytes(out, snapshot.merge_log);
  AppendVarint(out, snapshot.windows.size());
  std::string value;
  for (const SnapshotWindow& window : snapshot.windows) {
    AppendBytes(out, window.key.brand_id);
    AppendBytes(out, window.key.dimension);
    AppendVarint(out, ZigZag(window.key.size_ms));
    AppendVarint(out, ZigZag(window.key.slide_ms));
    AppendVarint(out, ZigZag(window.key.start_ms));
    value.clear();
    window.metrics.EncodeTo(value);
    AppendBytes(out, value);
  }
  AppendVarint(out, snapshot.state.size());
  for (const SnapshotStateEntry& entry : snapshot.state) {
    AppendBytes(out, entry.owner);
    AppendBytes(out, entry.key);
    AppendBytes(out, entry.value);
  }
}

bool DecodeBody(std::string_view in, MergeSnapshot& snapshot) {
  uint64_t next_offset = 0;
  if (!ReadVarint(in, next_offset) || static_cast<int64_t>(next_offset) != snapshot.next_offset ||
      in.empty()) {
    return false;
  }
  const bool has_watermark = in.front() != 0;
  in.remove_prefix(1);
  if (has_watermark) {
    uint64_t watermark = 0;
    if (!ReadVarint(in, watermark)) return false;
    snapshot.merged_watermark = UnZigZag(watermark);
  }
  std::string_view bytes;
  if (!ReadBytes(in, bytes)) return false;
  snapshot.merge_log.assign(bytes);
  uint64_t windows = 0;
  if (!ReadVarint(in, windows) || windows > in.size()) return false;
  snapshot.windows.resize(windows);
  for (SnapshotWindow& window : snapshot.windows) {
    std::string_view brand_id;
    std::string_view dimension;
    std::string_view value;
    uint64_t size = 0;
    uint64_t slide = 0;
    uint64_t start = 0;
    if (!ReadBytes(in, brand_id) || !ReadBytes(in, dimension) || !ReadVarint(in, size) ||
        !ReadVarint(in, slide) || !ReadVarint(in, start) || !ReadBytes(in, value)) {
      return false;
    }
    window.key.brand_id.assign(brand_id);
    window.key.dimension.assign(dimension);
    window.key.size_ms = UnZigZag(size);
    window.key.slide_ms = UnZigZag(slide);
    window.key.start_ms = UnZigZag(start);
    Result<WindowMetrics> metrics = WindowMetrics::Decode(value);
    if (!metrics.ok()) return false;
    window.metrics = std::move(*metrics);
  }
  uint64_t entries = 0;
  if (!ReadVarint(in, entries) || entries > in.size()) return false;
  snapshot.state.resize(entries);
  for (SnapshotStateEntry& entry : snapshot.state) {
    std::string_view owner;
    std::string_view key;
    std::string_view value;
    if (!ReadBytes(in, owner) || !ReadBytes(in, key) || !ReadBytes(in, value)) return false;
    entry = SnapshotStateEntry{std::string(owner), std::string(key), std::string(value)};
  }
  return in.empty();
}

}  // namespace

std::string SnapshotId::ToString() const { return fmt::format("{:016x}:{}", writer, seq); }

std::optional<SnapshotId> SnapshotId::Parse(std::string_view text) {
  std::optional<EpochId> parsed = EpochId::Parse(text);  // the same text form
  if (!parsed) return std::nullopt;
  return SnapshotId{parsed->nonce, parsed->seq};
}

std::vector<SnapshotRecord> EncodeSnapshot(const MergeSnapshot& snapshot, size_t max_chunk_bytes) {
  std::string body;
  EncodeBody(snapshot, body);
  max_chunk_bytes = std::max<size_t>(max_chunk_bytes, 1);
  const uint64_t chunk_count = std::max<uint64_t>(1, (body.size() + max_chunk_bytes - 1) / max_chunk_bytes);
  const uint64_t body_hash = HashBytes(body);
  std::vector<SnapshotRecord> records;
  records.reserve(chunk_count);
  for (uint64_t chunk = 0; chunk < chunk_count; ++chunk) {
    std::string value;
    value.push_back('S');
    value.push_back(kChunkVersion);
    AppendVarint(value, snapshot.partials_partition);
    AppendU64(value, snapshot.id.writer);
    AppendVarint(value, snapshot.id.seq);
    AppendVarint(value, static_cast<uint64_t>(snapshot.next_offset));
    AppendVarint(value, chunk);
    AppendVarint(value, chunk_count);
    AppendVarint(value, body.size());
    AppendU64(value, body_hash);
    const size_t begin = std::min(body.size(), chunk * max_chunk_bytes);
    value.append(body, begin, max_chunk_bytes);
    records.push_back(SnapshotRecord{ChunkKey(snapshot.partials_partition, snapshot.id, chunk),
                                     std::move(value)});
  }
  return records;
}

Status SnapshotAssembler::Add(std::string_view key, std::optional<std::string_view> value) {
  std::optional<std::pair<uint32_t, SnapshotId>> parsed = ParseKey(key);
  if (!parsed) return Status::Corruption(fmt::format("snapshot record key '{}'", key));
  if (!value) {
    if (auto found = live_.find(key); found != live_.end()) live_.erase(found);
    return Status::Ok();
  }
  std::string_view in = *value;
  std::optional<ChunkHeader> header = ReadChunkHeader(in);
  if (!header || header->partition != parsed->first || header->id != parsed->second ||
      key != ChunkKey(header->partition, header->id, header->chunk)) {
    return Status::Corruption(fmt::format("snapshot chunk '{}'", key));
  }
  live_.insert_or_assign(std::string(key), std::string(*value));
  return Status::Ok();
}

std::map<SnapshotId, MergeSnapshot> SnapshotAssembler::Whole(uint32_t partition) const {
  // Chunks by snapshot (the keys of one snapshot sort together, but chunk 10 before chunk 2).
  std::map<SnapshotId, std::map<uint64_t, std::pair<ChunkHeader, std::string_view>>> chunks;
  for (const auto& [key, value] : live_) {
    std::string_view in = value;
    std::optional<ChunkHeader> header = ReadChunkHeader(in);
    if (!header || header->partition != partition) continue;
    chunks[header->id].emplace(header->chunk, std::make_pair(*header, in));
  }
  std::map<SnapshotId, MergeSnapshot> whole;
  for (const auto& [id, parts] : chunks) {
    const ChunkHeader& first = parts.begin()->second.first;
    if (parts.size() != first.chunk_count) continue;  // a chunk is missing (a writer died)
    std::string body;
    bool agree = true;
    for (const auto& [index, part] : parts) {
      agree = agree && part.first.SameSnapshot(first);
      body.append(part.second);
    }
    if (!agree || body.size() != first.body_size || HashBytes(body) != first.body_hash) continue;
    MergeSnapshot snapshot;
    snapshot.partials_partition = partition;
    snapshot.id = id;
    snapshot.next_offset = first.next_offset;
    if (!DecodeBody(body, snapshot)) continue;
    whole.emplace(id, std::move(snapshot));
  }
  return whole;
}

std::vector<std::string> SnapshotAssembler::StaleKeys(uint32_t partition,
                                                      const SnapshotId& keep) const {
  std::vector<std::string> stale;
  for (const auto& [key, value] : live_) {
    std::optional<std::pair<uint32_t, SnapshotId>> parsed = ParseKey(key);
    if (parsed && parsed->first == partition && parsed->second != keep) stale.push_back(key);
  }
  return stale;
}

std::optional<MergeSnapshot> SelectSnapshot(std::map<SnapshotId, MergeSnapshot> whole,
                                            const std::optional<SnapshotId>& pointer) {
  if (pointer) {
    if (auto named = whole.find(*pointer); named != whole.end()) return std::move(named->second);
  }
  auto newest = whole.end();
  for (auto it = whole.begin(); it != whole.end(); ++it) {
    if (newest == whole.end() || it->second.next_offset > newest->second.next_offset) newest = it;
  }
  if (newest == whole.end()) return std::nullopt;
  return std::move(newest->second);
}

}  // namespace brandpulse
