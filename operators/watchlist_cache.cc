#include "operators/watchlist_cache.h"

#include <hs/hs.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "engine/hash.h"
#include "operators/compiled_watchlist.h"

namespace brandpulse {

namespace {

constexpr char kCacheMagic[8] = {'B', 'P', 'H', 'S', 'D', 'B', '0', '1'};

// The CPU features and tuning Hyperscan compiles for, plus the library version.
std::string PlatformKey() {
  hs_platform_info_t platform{};
  if (hs_populate_platform(&platform) != HS_SUCCESS) return hs_version();
  return fmt::format("{}|{}|{}", hs_version(), platform.tune,
                     static_cast<unsigned long long>(platform.cpu_features));
}

std::optional<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

std::string CompiledWatchlist::DefaultCacheDirectory() { return DefaultWatchlistCacheDirectory(); }

Status CompiledWatchlist::CompileOrLoad(const WatchlistCacheOptions& cache,
                                        WatchlistBuildInfo& info) {
  const auto started = std::chrono::steady_clock::now();
  auto finish = [&] {
    info.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  if (patterns_.empty()) {  // field-only queries: nothing to scan for
    finish();
    return Status::Ok();
  }
  // Cache file: magic, 8-byte key hash, 8-byte payload hash, payload (hs_serialize_database).
  const std::string platform = PlatformKey();
  const uint64_t key = MixBits(pattern_set_hash_ ^ HashBytes(platform));
  if (!cache.directory.empty()) {
    info.cache_file = fmt::format("{}/watchlist-{:016x}.hsdb", cache.directory, key);
    if (std::optional<std::string> bytes = ReadWholeFile(info.cache_file)) {
      bool ok = false;
      constexpr size_t kHeader = sizeof(kCacheMagic) + 16;
      if (bytes->size() > kHeader && std::memcmp(bytes->data(), kCacheMagic, 8) == 0) {
        uint64_t stored_key = 0;
        uint64_t stored_hash = 0;
        std::memcpy(&stored_key, bytes->data() + 8, 8);
        std::memcpy(&stored_hash, bytes->data() + 16, 8);
        std::string_view payload = std::string_view(*bytes).substr(kHeader);
        if (stored_key == key && stored_hash == HashBytes(payload)) {
          hs_database_t* loaded = nullptr;
          if (hs_deserialize_database(payload.data(), payload.size(), &loaded) == HS_SUCCESS) {
            database_ = loaded;
            ok = true;
          }
        }
      }
      if (ok) {
        info.loaded_from_cache = true;
        finish();
        return Status::Ok();
      }
      info.cache_was_corrupt = true;
    }
  }
  std::vector<const char*> expressions;
  std::vector<size_t> lengths;
  std::vector<unsigned> ids;
  std::vector<size_t> literal_of;  // expression index -> scan_literals_ index
  for (size_t index = 0; index < scan_literals_.size(); ++index) {
    const ScanLiteral& literal = scan_literals_[index];
    // A term that folds to nothing (a query term "..") can never match, and Hyperscan reads
    // out of bounds on a zero-length literal (found by the watchlist fuzzer under ASan).
    if (literal.bytes.empty()) continue;
    expressions.push_back(literal.bytes.data());
    lengths.push_back(literal.bytes.size());
    ids.push_back(literal.pattern);
    literal_of.push_back(index);
  }
  // Caseless for ASCII (non-ASCII cases are literals of their own, scan_literals_), and no
  // SINGLEMATCH: the callback keeps every hit because the boundary check may reject an early
  // one and accept a later one.
  std::vector<unsigned> flags(ids.size(), HS_FLAG_CASELESS);
  hs_compile_error_t* error = nullptr;
  hs_error_t status = hs_compile_lit_multi(expressions.data(), flags.data(), ids.data(),
                                           lengths.data(), static_cast<unsigned>(ids.size()),
                                           HS_MODE_BLOCK, nullptr, &database_, &error);
  if (status != HS_SUCCESS) {
    std::string message = error != nullptr ? error->message : "unknown error";
    int expression = error != nullptr ? error->expression : -1;
    if (error != nullptr) hs_free_compile_error(error);
    if (expression >= 0 && static_cast<size_t>(expression) < literal_of.size()) {
      const PatternOwner& owner =
          owners_[patterns_[scan_literals_[literal_of[expression]].pattern].first_owner];
      return Status::InvalidArgument(fmt::format("brand '{}' {} '{}': Hyperscan: {}",
                                                 spec_.brands[owner.brand_index].id,
                                                 TermKindName(owner.kind), owner.term, message));
    }
    return Status::InvalidArgument(fmt::format("compiling the watchlist: Hyperscan: {}", message));
  }
  finish();
  if (!cache.directory.empty()) {
    // Best effort: a cache that cannot be written only costs the next start a compile.
    char* serialized = nullptr;
    size_t serialized_size = 0;
    if (hs_serialize_database(database_, &serialized, &serialized_size) == HS_SUCCESS) {
      std::string_view payload(serialized, serialized_size);
      uint64_t payload_hash = HashBytes(payload);
      std::error_code ignored;
      std::filesystem::create_directories(cache.directory, ignored);
      const std::string temporary = fmt::format("{}.{}.tmp", info.cache_file, ::getpid());
      {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out.write(kCacheMagic, sizeof(kCacheMagic));
        out.write(reinterpret_cast<const char*>(&key), 8);
        out.write(reinterpret_cast<const char*>(&payload_hash), 8);
        out.write(payload.data(), static_cast<std::streamsize>(payload.size()));
        info.cache_written = static_cast<bool>(out);
      }
      std::free(serialized);
      if (info.cache_written) {
        std::filesystem::rename(temporary, info.cache_file, ignored);
        info.cache_written = !ignored;
      }
      if (!info.cache_written) std::filesystem::remove(temporary, ignored);
    }
  }
  return Status::Ok();
}

}  // namespace brandpulse
