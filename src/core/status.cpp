// Names of status codes, as users see them in logs, errors and result files.
#include "core/status.h"

namespace edgeserve::core {

const char* to_string(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kBadMagic:
      return "bad-magic";
    case StatusCode::kBadVersion:
      return "bad-version";
    case StatusCode::kMalformedHeader:
      return "malformed-header";
    case StatusCode::kPayloadSizeMismatch:
      return "payload-size-mismatch";
    case StatusCode::kPayloadTooLarge:
      return "payload-too-large";
    case StatusCode::kUnknownModel:
      return "unknown-model";
    case StatusCode::kBadShape:
      return "bad-shape";
    case StatusCode::kBadDtype:
      return "bad-dtype";
    case StatusCode::kBadInputKind:
      return "bad-input-kind";
    case StatusCode::kTruncatedMessage:
      return "truncated-message";
    case StatusCode::kInferenceFailed:
      return "inference-failed";
    case StatusCode::kOverloaded:
      return "overloaded";
    case StatusCode::kTimeout:
      return "timeout";
    case StatusCode::kTransportError:
      return "transport-error";
    case StatusCode::kShuttingDown:
      return "shutting-down";
    case StatusCode::kInternal:
      return "internal";
    case StatusCode::kInvalidArgument:
      return "invalid-argument";
    case StatusCode::kUnavailable:
      return "unavailable";
  }
  return "unknown-status";
}

std::string Status::to_string() const {
  if (message_.empty()) return core::to_string(code_);
  return std::string(core::to_string(code_)) + ": " + message_;
}

}  // namespace edgeserve::core
