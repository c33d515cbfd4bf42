#include "operators/json_array_records.h"

#include <simdjson.h>

#include <fmt/format.h>

namespace brandpulse {

Status ForEachArrayElement(std::string_view document, std::string_view array_pointer,
                           const std::function<void(std::string_view element)>& on_record) {
  simdjson::padded_string padded(document);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document parsed;
  if (auto error = parser.iterate(padded).get(parsed)) {
    return Status::InvalidArgument(simdjson::error_message(error));
  }
  simdjson::ondemand::array array;
  simdjson::error_code error;
  if (array_pointer.empty()) {
    error = parsed.get_array().get(array);
  } else {
    error = parsed.at_pointer(array_pointer).get_array().get(array);
  }
  if (error) {
    return Status::InvalidArgument(
        fmt::format("no array at '{}': {}", array_pointer, simdjson::error_message(error)));
  }
  for (auto element_result : array) {
    simdjson::ondemand::value element;
    std::string_view raw;
    if (auto element_error = std::move(element_result).get(element)) {
      return Status::InvalidArgument(simdjson::error_message(element_error));
    }
    simdjson::ondemand::json_type type;
    if (auto element_error = element.type().get(type)) {
      return Status::InvalidArgument(simdjson::error_message(element_error));
    }
    simdjson::error_code element_error = simdjson::SUCCESS;
    if (type == simdjson::ondemand::json_type::object) {
      simdjson::ondemand::object object;
      element_error = element.get_object().get(object);
      if (!element_error) element_error = object.raw_json().get(raw);
    } else if (type == simdjson::ondemand::json_type::array) {
      simdjson::ondemand::array inner;
      element_error = element.get_array().get(inner);
      if (!element_error) element_error = inner.raw_json().get(raw);
    } else {
      raw = element.raw_json_token();
    }
    if (element_error) return Status::InvalidArgument(simdjson::error_message(element_error));
    // raw_json of an element points into `padded`, which lives until we return.
    on_record(raw);
  }
  return Status::Ok();
}

}  // namespace brandpulse
