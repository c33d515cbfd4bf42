// What every fuzz harness shares: the libFuzzer entry points and a check that fails loudly.
// A harness is built twice (fuzz/CMakeLists.txt): with libFuzzer for `make fuzz`, and with
// replay_main.cc for `make test`, which feeds it every file of its corpus.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace brandpulse_fuzz {

// An invariant the code under test promises: breaking it is a finding like a crash, so it
// aborts (libFuzzer saves the input; the replay test fails).
[[noreturn]] inline void Fail(const char* file, int line, const char* what, std::string_view detail) {
  std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n%.*s\n", file, line, what,
               static_cast<int>(detail.size() > 2000 ? 2000 : detail.size()), detail.data());
  std::abort();
}

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace brandpulse_fuzz

#define FUZZ_CHECK(condition, detail)                                               \
  do {                                                                              \
    if (!(condition)) ::brandpulse_fuzz::Fail(__FILE__, __LINE__, #condition, (detail)); \
  } while (0)
