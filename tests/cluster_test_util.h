// What the cluster merge tests of inquiry events share (tests/cluster_inquiry_test.cc for
// `unanswered`, tests/cluster_viral_test.cc for `viral_post`): instance nonces, the times their
// posts are stamped with, and the helpers that turn records and alerts into comparable values.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "operators/partials_codec.h"
#include "operators/watchlist_brands.h"
#include "engine/alert_rule.h"
#include "engine/status.h"

namespace brandpulse::cluster_test {

constexpr uint64_t kA = 0xaaaa;  // instance nonces
constexpr uint64_t kB = 0xbbbb;
constexpr int64_t kT0 = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr int64_t kMinute = 60000;

// Lower-case hex of bytes: an encoding pinned byte for byte.
inline std::string Hex(std::string_view bytes) {
  std::string hex;
  for (char byte : bytes) hex += fmt::format("{:02x}", static_cast<uint8_t>(byte));
  return hex;
}

// A watchlist brand whose term is its id.
inline BrandSpec TermBrand(std::string id, std::string name) {
  BrandSpec brand;
  brand.terms = {id};
  brand.id = std::move(id);
  brand.name = std::move(name);
  return brand;
}

// What the rules see of a watchlist of these brands, in `brands` (a fatal failure when the
// watchlist does not compile: call it under ASSERT_NO_FATAL_FAILURE or last).
inline void MakeBrands(std::vector<BrandSpec> brand_specs,
                       std::unique_ptr<WatchlistBrands>& brands) {
  WatchlistSpec spec;
  spec.brands = std::move(brand_specs);
  Result<std::shared_ptr<const CompiledWatchlist>> compiled = CompiledWatchlist::Make(spec);
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  brands = std::make_unique<WatchlistBrands>(*compiled);
}

// A prepared record as a merger reads it: through the codec, as on the partials topic.
inline PreparedPartials ThroughCodec(const PreparedPartials& prepared) {
  std::string bytes;
  EncodePrepared(prepared, bytes);
  Result<PreparedPartials> decoded = DecodePrepared(bytes);
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
  return decoded.ok() ? std::move(*decoded) : PreparedPartials{};
}

// One reader's epoch as ClusterRuntime::PublishEpoch distributes it: a prepared record per
// partials partition (`partials` of them), each with `range`; an inquiry event goes to its
// brand's partition, or to every partition where `to_every_partition(event)`; each record
// through the codec as on the partials topic.
template <typename ToEveryPartition>
std::vector<PreparedPartials> EpochRecords(uint32_t partials, uint64_t nonce, uint64_t seq,
                                           SourceRange range,
                                           const std::vector<InquiryEvent>& events,
                                           ToEveryPartition to_every_partition) {
  std::vector<PreparedPartials> records(partials);
  for (PreparedPartials& record : records) {
    record.epoch = EpochId{nonce, seq};
    record.source_partition_count = 2;
    record.ranges.push_back(range);
  }
  for (const InquiryEvent& event : events) {
    for (uint32_t partition = 0; partition < partials; ++partition) {
      if (to_every_partition(event) || PartialsPartitionOf(event.brand_id, partials) == partition) {
        records[partition].inquiries.push_back(event);
      }
    }
  }
  for (PreparedPartials& record : records) record = ThroughCodec(record);
  return records;
}

// The fired alerts' ids, sorted (which alerts, whatever the order they fired in).
inline std::vector<std::string> SortedIds(const std::vector<FiredAlert>& fired) {
  std::vector<std::string> ids;
  for (const FiredAlert& alert : fired) ids.push_back(alert.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace brandpulse::cluster_test
