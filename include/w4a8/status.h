// Status and Result: how every public entry point reports failure.
// The library never aborts or prints; it returns a Status whose message says
// what was wrong and what the caller can do about it.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace w4a8 {

enum class StatusCode {
  ok = 0,
  invalid_argument,  // bad shape, dtype, stride, null pointer, value out of range
  unsupported,       // a valid request this build/backend/hardware cannot do
  non_finite,        // NaN or Inf found in an input that must be finite
  io_error,          // a file could not be read or written
  unavailable,       // the requested backend or device is not present
  internal,          // a bug in w4a8: please report it
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  bool is_ok() const { return code_ == StatusCode::ok; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid_argument: K=4100 is not a multiple of 8 ..."
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::ok;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::invalid_argument, std::move(m)}; }
inline Status unsupported(std::string m) { return {StatusCode::unsupported, std::move(m)}; }

// The throwing convenience layer (CLI, tests, examples): Error carries the Status.
class Error : public std::runtime_error {
 public:
  explicit Error(Status s) : std::runtime_error(s.to_string()), status_(std::move(s)) {}
  const Status& status() const { return status_; }

 private:
  Status status_;
};

inline void throw_if_error(const Status& s) {
  if (!s.is_ok()) throw Error(s);
}

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {
    if (std::get<Status>(v_).is_ok())
      v_ = Status(StatusCode::internal, "Result built from an ok Status without a value");
  }
  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }
  Status status() const { return is_ok() ? Status::ok() : std::get<Status>(v_); }
  T& value() & {
    if (!is_ok()) throw Error(std::get<Status>(v_));
    return std::get<T>(v_);
  }
  T&& value() && {
    if (!is_ok()) throw Error(std::get<Status>(v_));
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  T& operator*() { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace w4a8

// Early return for functions that return Status (or Result<T>).
#define W4A8_RETURN_IF_ERROR(expr)              \
  do {                                          \
    ::w4a8::Status w4a8_status_ = (expr);       \
    if (!w4a8_status_.is_ok()) return w4a8_status_; \
  } while (0)
