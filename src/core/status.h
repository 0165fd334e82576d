// Status codes and the Status/Result types that cross every layer boundary (no exceptions across layers).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace edgeserve::core {

// Wire-visible: values are sent in response headers, so never renumber them; new codes are appended (and
// kLastStatusCode moved), since older peers reject codes they do not know.
enum class StatusCode : uint16_t {
  kOk = 0,
  kBadMagic = 1,
  kBadVersion = 2,
  kMalformedHeader = 3,
  kPayloadSizeMismatch = 4,
  kPayloadTooLarge = 5,
  kUnknownModel = 6,
  kBadShape = 7,
  kBadDtype = 8,
  kBadInputKind = 9,
  kTruncatedMessage = 10,
  kInferenceFailed = 11,
  kOverloaded = 12,
  kTimeout = 13,
  kTransportError = 14,
  kShuttingDown = 15,
  kInternal = 16,
  kInvalidArgument = 17,  // the caller asked for something that cannot be done as asked (a bad address, a flag)
  kUnavailable = 18,      // nothing can serve it now (no backend reachable); trying again later may work
};
inline constexpr StatusCode kLastStatusCode = StatusCode::kUnavailable;

const char* to_string(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "bad-shape: expected [1,3,224,224], got [1,3,32,32]"
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace edgeserve::core
