// Side records (dead letters, late posts) as one JSON object, the format every text sink writes
// (docs/architecture.md). Dead letters keep the original bytes, as base64 when not UTF-8.
#pragma once

#include <string>

#include "engine/sink.h"

namespace brandpulse {

// Appends the record's JSON object (no newline) to `out`.
void AppendSideRecordJson(const SideRecord& record, std::string& out);

}  // namespace brandpulse
