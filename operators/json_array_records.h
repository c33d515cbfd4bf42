// Splits one JSON document into records: the elements of the array at a JSON pointer (for a
// v1.1 search response, "/statuses"). The file source uses it; each element's raw bytes become
// one record for the decoder.
#pragma once

#include <functional>
#include <string_view>

#include "engine/status.h"

namespace brandpulse {

// Calls `on_record` with the raw JSON bytes of each element, in order. `array_pointer` is an
// RFC 6901 pointer ("" = the document itself is the array). InvalidArgument on a malformed
// document or when the pointer does not lead to an array.
Status ForEachArrayElement(std::string_view document, std::string_view array_pointer,
                           const std::function<void(std::string_view element)>& on_record);

}  // namespace brandpulse
