// KServe v2 (Open Inference Protocol) names for edgeserve's values: tensor datatypes, the HTTP status of an error,
// and the error JSON both sides read. Pure functions: no server, no sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/tensor_spec.h"
#include "core/wire.h"

namespace edgeserve::transport::http {

// "FP32" → float32, "FP16", "UINT8", "INT32"; nullopt for the protocol's others (INT64, BYTES, BOOL, ...), which no
// edgeserve model takes or makes.
std::optional<core::DType> dtype_from_kserve(std::string_view datatype);
const char* kserve_datatype(core::DType dtype);

// The HTTP status for an error: unknown model 404, overload and shutdown 503, failures inside the server 500,
// everything the caller sent wrong 400.
int http_status_of(core::StatusCode code);
// The body of every error reply: {"error": "bad-shape: expected ..."} (the edgeserve status name first, so an
// edgeserve client gets the exact code back).
std::string error_json(const core::Status& status);
// Reads an error body back: the status named at the start of its "error" text, else one that fits `http_status`.
core::Status status_from_error_body(std::string_view body, int http_status);

// IEEE half precision, for JSON tensors of FP16 (the binary form carries the bits as they are).
uint16_t float_to_half(float value);
float half_to_float(uint16_t bits);

// Every stage time and clock the server measured, under the names a reply carries them by in its "parameters"
// ("edgeserve_queue_ns", ...), on http:// and grpc:// alike.
struct TimingField {
  const char* name;
  uint64_t core::ServerTimings::*field;
};
std::span<const TimingField> timing_fields();

}  // namespace edgeserve::transport::http
