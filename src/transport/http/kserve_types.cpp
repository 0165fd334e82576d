// KServe datatype names, HTTP statuses and error bodies.
#include "transport/http/kserve_types.h"

#include <nlohmann/json.hpp>

#include <bit>
#include <cmath>
#include <cstring>

namespace edgeserve::transport::http {

using core::DType;
using core::StatusCode;

std::optional<DType> dtype_from_kserve(std::string_view datatype) {
  if (datatype == "FP32") return DType::kFloat32;
  if (datatype == "FP16") return DType::kFloat16;
  if (datatype == "UINT8") return DType::kUInt8;
  if (datatype == "INT32") return DType::kInt32;
  return std::nullopt;
}

const char* kserve_datatype(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "FP32";
    case DType::kFloat16:
      return "FP16";
    case DType::kUInt8:
      return "UINT8";
    case DType::kInt32:
      return "INT32";
  }
  return "UNKNOWN";
}

int http_status_of(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kUnknownModel:
      return 404;
    case StatusCode::kOverloaded:
    case StatusCode::kShuttingDown:
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kTimeout:
      return 504;
    case StatusCode::kInferenceFailed:
    case StatusCode::kInternal:
    case StatusCode::kTransportError:
      return 500;
    default:
      return 400;
  }
}

std::string error_json(const core::Status& status) {
  // dump() with replacement: an error text quoting a client's bytes may hold invalid UTF-8.
  return nlohmann::json{{"error", status.to_string()}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

core::Status status_from_error_body(std::string_view body, int http_status) {
  std::string text;
  try {
    const auto j = nlohmann::json::parse(body);
    if (j.is_object() && j.contains("error") && j["error"].is_string()) text = j["error"].get<std::string>();
  } catch (const nlohmann::json::exception&) {
    text = std::string(body.substr(0, 200));
  }
  const std::string_view name = std::string_view(text).substr(0, text.find(':'));
  for (auto raw = static_cast<uint16_t>(StatusCode::kBadMagic); raw <= static_cast<uint16_t>(core::kLastStatusCode);
       ++raw) {
    const auto code = static_cast<StatusCode>(raw);
    if (name == core::to_string(code)) {
      const size_t colon = text.find(':');
      std::string rest = colon == std::string::npos ? "" : text.substr(colon + 1);
      if (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
      return {code, rest};
    }
  }
  const StatusCode code = http_status == 404   ? StatusCode::kUnknownModel
                          : http_status == 413 ? StatusCode::kPayloadTooLarge
                          : http_status == 503 ? StatusCode::kUnavailable
                          : http_status >= 500 ? StatusCode::kInternal
                                               : StatusCode::kInvalidArgument;
  return {code, "HTTP " + std::to_string(http_status) + (text.empty() ? "" : ": " + text)};
}

uint16_t float_to_half(float value) {
  const auto bits = std::bit_cast<uint32_t>(value);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t exponent = (bits >> 23) & 0xffu;
  uint32_t mantissa = bits & 0x7fffffu;
  if (exponent == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mantissa != 0 ? 0x200u : 0u));  // inf, NaN
  const int e = static_cast<int>(exponent) - 127 + 15;
  if (e >= 0x1f) return static_cast<uint16_t>(sign | 0x7c00u);  // too large: infinity
  if (e <= 0) {                                                 // subnormal half, or zero
    if (e < -10) return static_cast<uint16_t>(sign);
    mantissa |= 0x800000u;
    const int shift = 14 - e;
    uint32_t half = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1u))) ++half;  // round to nearest even
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(e) << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // may carry into the exponent: still right
  return static_cast<uint16_t>(sign | half);
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

std::span<const TimingField> timing_fields() {
  static constexpr TimingField kTimingFields[] = {
      {"edgeserve_handling_ns", &core::ServerTimings::handling_ns},
      {"edgeserve_queue_ns", &core::ServerTimings::queue_ns},
      {"edgeserve_copy_ns", &core::ServerTimings::copy_ns},
      {"edgeserve_preprocess_ns", &core::ServerTimings::preprocess_ns},
      {"edgeserve_inference_ns", &core::ServerTimings::inference_ns},
      {"edgeserve_postprocess_ns", &core::ServerTimings::postprocess_ns},
      {"edgeserve_decode_ns", &core::ServerTimings::decode_ns},
      {"edgeserve_batching_ns", &core::ServerTimings::batching_ns},
      {"edgeserve_batch_size", &core::ServerTimings::batch_size},
      {"edgeserve_server_ns", &core::ServerTimings::server_ns},
      {"edgeserve_recv_clock_ns", &core::ServerTimings::recv_clock_ns},
      {"edgeserve_send_clock_ns", &core::ServerTimings::send_clock_ns},
      {"edgeserve_clock_domain", &core::ServerTimings::clock_domain},
      {"edgeserve_server_cpu_ns", &core::ServerTimings::server_cpu_ns},
      {"edgeserve_server_rss_bytes", &core::ServerTimings::server_rss_bytes},
      {"edgeserve_gpu_mem_bytes", &core::ServerTimings::gpu_mem_bytes},
      {"edgeserve_gateway_ns", &core::ServerTimings::gateway_ns},
      {"edgeserve_backend_ns", &core::ServerTimings::backend_ns},
  };
  return kTimingFields;
}

}  // namespace edgeserve::transport::http
