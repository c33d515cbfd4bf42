// Fuzzes the pipeline YAML reader (pipeline/pipeline_config.h: the pipeline's own sections and
// every registered operator's reader) with the input as a pipeline file. The file is written to
// a private directory that also holds a valid watchlist.yaml, a broken_watchlist.yaml and an
// empty posts.jsonl, so inputs that name them reach the watchlist loader and the source checks.
// Nothing is run: LoadPipelineSpec only reads and validates.
//
// Checked besides "no crash, no sanitizer report": a rejected pipeline comes with diagnostics
// that each have a message; an accepted one with none, at least one worker and one window.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "fuzz/fuzz_support.h"
#include "operators/registry.h"
#include "pipeline/pipeline_config.h"

namespace brandpulse {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  FUZZ_CHECK(out.good(), path.string());
}

const fs::path& Directory() {
  static const fs::path* directory = [] {
    char pattern[] = "/tmp/brandpulse-fuzz-pipeline-XXXXXX";
    FUZZ_CHECK(::mkdtemp(pattern) != nullptr, "mkdtemp");
    auto* made = new fs::path(pattern);
    Write(*made / "watchlist.yaml",
          "brands:\n"
          "  - id: telenor\n"
          "    name: Telenor\n"
          "    group: nordic\n"
          "    terms: [telenor]\n"
          "    handles: [\"@telenor_norge\"]\n"
          "  - id: telia\n"
          "    terms: [telia]\n"
          "    query: telia AND NOT arena\n");
    Write(*made / "broken_watchlist.yaml", "brands:\n  - id: Bad Id\n    terms: [\"\"]\n");
    Write(*made / "posts.jsonl", "");
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(Directory(), ignored);
    });
    return made;
  }();
  return *directory;
}

}  // namespace
}  // namespace brandpulse

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace brandpulse;
  const fs::path path = Directory() / "pipeline.yaml";
  Write(path, brandpulse_fuzz::AsText(data, size));
  Diagnostics diagnostics;
  std::optional<PipelineSpec> spec = LoadPipelineSpec(path.string(), diagnostics);
  if (!spec) {
    FUZZ_CHECK(!diagnostics.empty(), "a pipeline rejected without a diagnostic");
    for (const Diagnostic& diagnostic : diagnostics.items()) {
      FUZZ_CHECK(!diagnostic.message.empty(), diagnostic.ToString());
    }
    return 0;
  }
  FUZZ_CHECK(diagnostics.empty(), diagnostics.ToString());
  FUZZ_CHECK(spec->workers >= 1, fmt::format("workers {}", spec->workers));
  FUZZ_CHECK(!spec->windows.empty(), "a pipeline without windows");
  return 0;
}
