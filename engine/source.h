// Source: where records come from. A source fills batches with raw records of one partition
// and knows the position after each record, so the engine can commit "everything up to here"
// per partition and resume there. A file is one partition; a Kafka topic has many, and which of
// them a source reads (its assignment) can change while it runs.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/batch.h"
#include "engine/status.h"

namespace brandpulse {

// Committed positions: partition → the position after the last record that is in the state.
using PositionMap = std::map<uint32_t, uint64_t>;

enum class SourceRead {
  kHaveData,           // the batch holds at least one record
  kNoDataYet,          // nothing now, more may come (following a file, a quiet stream)
  kEndOfInput,         // finished; the batch may still hold the last records
  kAssignmentChanged,  // partitions were gained or are about to be lost: TakeAssignmentChange()
};

// What a source can do, so the runner asks instead of special-casing source types.
struct SourceCapabilities {
  bool resumable = true;   // positions mean something after a restart (stdin: no)
  bool finite = true;      // the input ends (a file not followed, the generator)
};

// Partitions gained and lost since the last change. Lost partitions are still readable state:
// the runner finishes and commits every batch of them before CompleteAssignmentChange(), and
// only then may another instance take them over (Kafka's cooperative rebalance).
struct AssignmentChange {
  std::vector<uint32_t> gained;
  std::vector<uint32_t> lost;
};

// Lifecycle: Open() → for each assigned partition with a committed position, Seek() → Fill()
// until kEndOfInput (or forever). After kAssignmentChanged: TakeAssignmentChange(), Seek() on the
// gained partitions, commit the lost ones, CompleteAssignmentChange().
// Thread safety: one thread (the pipeline's coordinator) calls every method.
class Source {
 public:
  virtual ~Source() = default;
  // Names the input in committed positions, e.g. "file:/data/posts.jsonl".
  virtual const std::string& id() const = 0;
  virtual SourceCapabilities capabilities() const { return {}; }
  // The partitions assigned now (a file: {0}).
  virtual std::vector<uint32_t> partitions() const { return {0}; }
  // Continues `partition` after a committed position. REQUIRES: capabilities().resumable.
  virtual Status Seek(uint32_t partition, uint64_t position) = 0;
  // Seek() with the identity stored beside the position (Batch::input_identity of the batch that
  // ended there; empty if none was stored): a source whose input can be replaced under the same
  // name (a followed file: rotated, truncated, rewritten) checks that it is still the same input
  // and otherwise starts the new one from its beginning. REQUIRES: capabilities().resumable.
  virtual Status SeekIdentified(uint32_t partition, uint64_t position, std::string_view identity) {
    return Seek(partition, position);
  }
  // Appends up to `max_records` records of one partition to `batch` (which must be empty), sets
  // batch.partition, and pads it.
  virtual Result<SourceRead> Fill(Batch& batch, size_t max_records) = 0;
  // After Fill() returned kAssignmentChanged.
  virtual AssignmentChange TakeAssignmentChange() { return {}; }
  // The lost partitions of the last change are committed; the source may let them go.
  virtual Status CompleteAssignmentChange() { return Status::Ok(); }
  // Called after every commit with the positions now durable (Kafka: commit them to the group
  // too, so its tools show lag). Errors are reported, never fatal to the commit already made.
  virtual Status OnCommitted(const PositionMap& positions) { return Status::Ok(); }
  // Backpressure: the engine will not call Fill() for a while (a sink's outbox is full). A
  // source that fetches ahead (Kafka) stops fetching until Resume(); no record is dropped.
  virtual void Pause() {}
  virtual void Resume() {}
};

}  // namespace brandpulse
