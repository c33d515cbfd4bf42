// Status and Result<T>: how engine code reports failure. No exceptions cross engine APIs.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace brandpulse {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the user's input (config, command line) is wrong
  kNotFound,
  kIoError,
  kCorruption,       // stored state or input that should be well-formed is not
  kUnavailable,
  kInternal,         // a bug in brandpulse
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string message) {
    return Status(StatusCode::kInvalidArgument, std::move(message));
  }
  static Status NotFound(std::string message) {
    return Status(StatusCode::kNotFound, std::move(message));
  }
  static Status IoError(std::string message) {
    return Status(StatusCode::kIoError, std::move(message));
  }
  static Status Corruption(std::string message) {
    return Status(StatusCode::kCorruption, std::move(message));
  }
  static Status Unavailable(std::string message) {
    return Status(StatusCode::kUnavailable, std::move(message));
  }
  static Status Internal(std::string message) {
    return Status(StatusCode::kInternal, std::move(message));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid argument: message", or "ok".
  std::string ToString() const;

  // The same error with `context` before its message ("transform 2 (match): ..."); ok stays ok.
  Status WithContext(std::string_view context) const {
    if (ok()) return *this;
    return Status(code_, std::string(context) + ": " + message_);
  }

  // Written out where an error is deliberately dropped, so the choice is searchable.
  void IgnoreError() const {}

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  // REQUIRES: ok()
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace brandpulse

#define BRANDPULSE_CONCAT_INNER(a, b) a##b
#define BRANDPULSE_CONCAT(a, b) BRANDPULSE_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expression)                        \
  do {                                                     \
    ::brandpulse::Status status_or_error_ = (expression);  \
    if (!status_or_error_.ok()) return status_or_error_;   \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(result, lhs, expression) \
  auto result = (expression);                          \
  if (!result.ok()) return result.status();            \
  lhs = std::move(result).value()

#define ASSIGN_OR_RETURN(lhs, expression) \
  ASSIGN_OR_RETURN_IMPL(BRANDPULSE_CONCAT(result_, __LINE__), lhs, expression)
