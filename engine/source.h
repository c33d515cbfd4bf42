// Source: where records come from. A source fills batches with raw records and knows the
// position after each record, so the engine can commit "everything up to here" and resume there.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/batch.h"
#include "engine/status.h"

namespace brandpulse {

enum class SourceRead {
  kHaveData,    // the batch holds at least one record
  kNoDataYet,   // nothing now, more may come (following a file, a quiet stream)
  kEndOfInput,  // finished; the batch may still hold the last records
};

// Lifecycle: Seek() (optional, once, before the first Fill), then Fill() until kEndOfInput.
// Thread safety: one thread (the pipeline's coordinator) calls it.
class Source {
 public:
  virtual ~Source() = default;
  // Names the input in committed positions, e.g. "file:/data/posts.jsonl".
  virtual const std::string& id() const = 0;
  // Continues after a committed position. Sources that cannot seek (stdin) say so.
  virtual Status Seek(uint64_t position) = 0;
  // Appends up to `max_records` records to `batch` (which must be empty) and pads it.
  virtual Result<SourceRead> Fill(Batch& batch, size_t max_records) = 0;
};

}  // namespace brandpulse
