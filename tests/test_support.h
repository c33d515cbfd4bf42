// Files, temporary folders and state dumps the pipeline and operator tests share.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/state_store.h"

// Bounded-memory tests (hardening_array_stream_test, hardening_file_source_test): under
// AddressSanitizer freed blocks wait in its quarantine (256 MiB by default), and under
// ThreadSanitizer every touched byte has shadow memory, so RSS grows with everything ever
// allocated; those tests then measure the live heap instead.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BRANDPULSE_TEST_SANITIZER_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BRANDPULSE_TEST_SANITIZER_HEAP 1
#endif
#endif
#ifdef BRANDPULSE_TEST_SANITIZER_HEAP
// The sanitizer runtimes' live heap (sanitizer/allocator_interface.h, which gcc does not ship).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace brandpulse_test {

namespace fs = std::filesystem;

inline std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Written to a temporary name and renamed: a pipeline watching the file never reads half of it.
inline void WriteFile(const fs::path& path, std::string_view contents) {
  fs::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary);
    out << contents;
  }
  fs::rename(temporary, path);
}

// The non-empty lines of `text`.
inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// An empty folder of this process, named after `name`.
// True when something accepts a TCP connection on 127.0.0.1:`port` (a child server is up).
inline bool LoopbackPortAnswers(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool up = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return up;
}

inline fs::path MakeTempDirectory(const std::string& name) {
  fs::path directory =
      fs::temp_directory_path() / fmt::format("brandpulse-{}-{}", name, ::getpid());
  fs::remove_all(directory);
  fs::create_directories(directory);
  return directory;
}

// Every window in the state store, as "brand dimension size slide start -> encoded metrics".
// With `exact_parts_only`, term summaries are reduced to the number of terms counted.
inline std::map<std::string, std::string> DumpWindows(const fs::path& state,
                                                      bool exact_parts_only = false) {
  using namespace brandpulse;
  std::map<std::string, std::string> windows;
  auto store = StateStore::Open(StateOptions{state.string()});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return windows;
  Status status = (*store)->ScanAllWindows([&](const WindowKey& key, const WindowMetrics& metrics) {
    std::string encoded;
    if (exact_parts_only) {
      WindowMetrics counts = metrics;
      counts.hashtags = FrequentTerms();
      counts.terms = FrequentTerms();
      counts.EncodeTo(encoded);
      encoded += fmt::format(" {} {}", metrics.hashtags.total(), metrics.terms.total());
    } else {
      metrics.EncodeTo(encoded);
    }
    windows[fmt::format("{} {} {} {} {}", key.brand_id, key.dimension, key.size_ms, key.slide_ms,
                        key.start_ms)] = encoded;
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  return windows;
}

// Alerts (docs/schemas.md) with their wall-clock times ("newest_post_ingest_time", "emitted_at")
// replaced by "*": everything else in an alert is a function of the input, so two runs over the
// same input compare equal after this.
inline std::string StripAlertTimes(const std::string& alerts) {
  std::string out;
  out.reserve(alerts.size());
  size_t at = 0;
  while (at < alerts.size()) {
    size_t found = std::string::npos;
    size_t key_length = 0;
    for (std::string_view key : {std::string_view("\"newest_post_ingest_time\":"),
                                 std::string_view("\"emitted_at\":")}) {
      size_t position = alerts.find(key, at);
      if (position < found) {
        found = position;
        key_length = key.size();
      }
    }
    if (found == std::string::npos) {
      out.append(alerts, at, std::string::npos);
      break;
    }
    out.append(alerts, at, found + key_length - at);
    size_t value = found + key_length;
    size_t end = alerts[value] == '"' ? alerts.find('"', value + 1) + 1 : alerts.find_first_of(",}", value);
    out += "\"*\"";
    at = end;
  }
  return out;
}

// This process's memory from /proc/self/status, in KiB: `field` is "VmHWM:" (the peak since
// ResetPeakMemory) or "VmRSS:"; -1 when absent.
inline void ResetPeakMemory() { std::ofstream("/proc/self/clear_refs") << "5"; }
inline long ProcStatusKib(std::string_view field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with(field)) return std::stol(line.substr(field.size()));
  }
  return -1;
}

}  // namespace brandpulse_test

