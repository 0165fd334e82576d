// Encoding and strict decoding of the request and response headers.
#include "core/wire.h"

#include <fmt/format.h>
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>

namespace edgeserve::core {

static_assert(std::endian::native == std::endian::little,
              "the wire format is little-endian and is copied as-is; add byte swaps for big-endian hosts");

namespace {

// Request header layout (offsets in bytes).
constexpr size_t kReqMagic = 0, kReqVersion = 4, kReqHeaderBytes = 6, kReqId = 8, kReqClient = 16, kReqKind = 20,
                 kReqDtype = 21, kReqPriority = 22, kReqRank = 23, kReqDims = 24, kReqPayload = 88, kReqSendNs = 96,
                 kReqModel = 104, kReqSelect = 160, kReqOutDtype = 161, kReqPostprocess = 162, kReqTopk = 164,
                 kReqReserved = 166;
static_assert(kReqModel + kMaxModelNameBytes + 1 == kReqSelect);
static_assert(kReqReserved + 10 == kRequestHeaderBytes);

// Response header layout.
constexpr size_t kRespMagic = 0, kRespVersion = 4, kRespHeaderBytes = 6, kRespId = 8, kRespStatus = 16,
                 kRespNOutputs = 18, kRespTimings = 24, kRespPayload = 160, kRespOutputs = 168, kOutputDescBytes = 72,
                 kRespErrorLen = kRespOutputs + kMaxOutputs * kOutputDescBytes, kRespError = kRespErrorLen + 2;
constexpr size_t kRespPostprocessNs = 960;
// The timings block is every ServerTimings field before postprocess_ns (version 2's fields, then batching_ns,
// batch_size, decode_ns); postprocess_ns lives at the end, after the error text.
constexpr size_t kRespTimingsBytes = offsetof(ServerTimings, postprocess_ns);
static_assert(kRespTimings + kRespTimingsBytes == kRespPayload);
static_assert(kRespTimingsBytes == 17 * 8);
static_assert(kRespError == 746 && kMaxErrorBytes == 214);
static_assert(kRespError + kMaxErrorBytes == kRespPostprocessNs);
static_assert(kRespPostprocessNs + 8 == kResponseHeaderBytes);
static_assert(sizeof(ServerTimings) == kRespTimingsBytes + 8);

template <class T>
void put(std::byte* base, size_t offset, T value) {
  std::memcpy(base + offset, &value, sizeof(T));
}

template <class T>
T get(const std::byte* base, size_t offset) {
  T value;
  std::memcpy(&value, base + offset, sizeof(T));
  return value;
}

void put_shape(std::byte* base, size_t rank_offset, size_t dims_offset, const TensorShape& shape) {
  put<uint8_t>(base, rank_offset, static_cast<uint8_t>(shape.rank()));
  for (size_t i = 0; i < kMaxRank; ++i) put<int64_t>(base, dims_offset + 8 * i, i < shape.rank() ? shape[i] : 0);
}

Result<TensorShape> get_shape(const std::byte* base, size_t rank_offset, size_t dims_offset) {
  const auto rank = get<uint8_t>(base, rank_offset);
  if (rank == 0 || rank > kMaxRank)
    return Status(StatusCode::kBadShape, fmt::format("rank must be 1..{}, got {}", kMaxRank, rank));
  TensorShape shape;
  for (size_t i = 0; i < rank; ++i) {
    const auto d = get<int64_t>(base, dims_offset + 8 * i);
    if (d <= 0) return Status(StatusCode::kBadShape, fmt::format("dimension {} is {}, must be > 0", i, d));
    shape.push_back(d);
  }
  if (!shape.numel())
    return Status(StatusCode::kBadShape, fmt::format("shape {} has too many elements", shape.to_string()));
  return shape;
}

Status check_magic_version(std::span<const std::byte> bytes, uint32_t magic, size_t expected_bytes, const char* what) {
  if (bytes.size() < 8)
    return {StatusCode::kMalformedHeader,
            fmt::format("{} header is {} bytes, expected {}", what, bytes.size(), expected_bytes)};
  const auto got_magic = get<uint32_t>(bytes.data(), 0);
  if (got_magic != magic)
    return {StatusCode::kBadMagic, fmt::format("{} magic is 0x{:08x}, expected 0x{:08x}", what, got_magic, magic)};
  const auto version = get<uint16_t>(bytes.data(), 4);
  if (version != kWireVersion)
    return {StatusCode::kBadVersion,
            fmt::format("{} wire version is {}, this build speaks {}", what, version, kWireVersion)};
  const auto declared = get<uint16_t>(bytes.data(), 6);
  if (declared != expected_bytes || bytes.size() != expected_bytes)
    return {StatusCode::kMalformedHeader, fmt::format("{} header is {} bytes (declares {}), expected {}", what,
                                                      bytes.size(), declared, expected_bytes)};
  return {};
}

}  // namespace

const char* to_string(Postprocess postprocess) {
  switch (postprocess) {
    case Postprocess::kDefault:
      return "default";
    case Postprocess::kNone:
      return "none";
    case Postprocess::kArgmax:
      return "argmax";
    case Postprocess::kTopk:
      return "topk";
  }
  return "unknown";
}

const char* to_string(InputKind kind) {
  switch (kind) {
    case InputKind::kRaw:
      return "raw";
    case InputKind::kPreprocessed:
      return "preprocessed";
    case InputKind::kJpeg:
      return "jpeg";
  }
  return "unknown";
}

void encode(const RequestHeader& h, RequestHeaderBytes& out) {
  out.fill(std::byte{0});
  std::byte* b = out.data();
  put<uint32_t>(b, kReqMagic, kRequestMagic);
  put<uint16_t>(b, kReqVersion, kWireVersion);
  put<uint16_t>(b, kReqHeaderBytes, static_cast<uint16_t>(kRequestHeaderBytes));
  put<uint64_t>(b, kReqId, h.request_id);
  put<uint32_t>(b, kReqClient, h.client_id);
  put<uint8_t>(b, kReqKind, static_cast<uint8_t>(h.input_kind));
  put<uint8_t>(b, kReqDtype, static_cast<uint8_t>(h.dtype));
  put<uint8_t>(b, kReqPriority, h.priority);
  put_shape(b, kReqRank, kReqDims, h.shape);
  put<uint64_t>(b, kReqPayload, h.payload_bytes);
  put<uint64_t>(b, kReqSendNs, h.client_send_ns);
  std::memcpy(b + kReqModel, h.model.data(), std::min(h.model.size(), kMaxModelNameBytes));
  put<uint8_t>(b, kReqSelect, h.output.select);
  put<uint8_t>(b, kReqOutDtype, h.output.dtype ? static_cast<uint8_t>(*h.output.dtype) : 0);
  put<uint8_t>(b, kReqPostprocess, static_cast<uint8_t>(h.output.postprocess));
  put<uint16_t>(b, kReqTopk, h.output.k);
}

Result<RequestHeader> decode_request_header(std::span<const std::byte> bytes) {
  if (Status s = check_magic_version(bytes, kRequestMagic, kRequestHeaderBytes, "request"); !s.ok()) return s;
  const std::byte* b = bytes.data();
  RequestHeader h;
  h.request_id = get<uint64_t>(b, kReqId);
  h.client_id = get<uint32_t>(b, kReqClient);
  const auto kind = get<uint8_t>(b, kReqKind);
  if (kind != static_cast<uint8_t>(InputKind::kRaw) && kind != static_cast<uint8_t>(InputKind::kPreprocessed) &&
      kind != static_cast<uint8_t>(InputKind::kJpeg))
    return Status(StatusCode::kBadInputKind,
                  fmt::format("input kind {} is not raw (1), preprocessed (2) or jpeg (3)", kind));
  h.input_kind = static_cast<InputKind>(kind);
  const auto dtype = get<uint8_t>(b, kReqDtype);
  if (!is_known_dtype(dtype)) return Status(StatusCode::kBadDtype, fmt::format("unknown dtype code {}", dtype));
  h.dtype = static_cast<DType>(dtype);
  h.priority = get<uint8_t>(b, kReqPriority);
  auto shape = get_shape(b, kReqRank, kReqDims);
  if (!shape.ok()) return shape.status();
  h.shape = *shape;
  h.payload_bytes = get<uint64_t>(b, kReqPayload);
  h.client_send_ns = get<uint64_t>(b, kReqSendNs);

  const char* name = reinterpret_cast<const char*>(b + kReqModel);
  const size_t len = strnlen(name, kMaxModelNameBytes + 1);
  if (len == 0) return Status(StatusCode::kMalformedHeader, "model name is empty");
  if (len > kMaxModelNameBytes)
    return Status(StatusCode::kMalformedHeader,
                  fmt::format("model name is not NUL-terminated within {} bytes", kMaxModelNameBytes));
  if (!std::all_of(name, name + len, [](char c) { return c > ' ' && c < 127; }))
    return Status(StatusCode::kMalformedHeader, "model name has non-printable characters");
  h.model.assign(name, len);

  h.output.select = get<uint8_t>(b, kReqSelect);
  if (const auto dt = get<uint8_t>(b, kReqOutDtype); dt != 0) {
    if (dt != static_cast<uint8_t>(DType::kFloat32) && dt != static_cast<uint8_t>(DType::kFloat16))
      return Status(StatusCode::kBadDtype,
                    fmt::format("output dtype code {}: outputs can be asked for as float32 (2) or float16 (3)", dt));
    h.output.dtype = static_cast<DType>(dt);
  }
  const auto post = get<uint8_t>(b, kReqPostprocess);
  if (post > static_cast<uint8_t>(Postprocess::kTopk))
    return Status(StatusCode::kMalformedHeader,
                  fmt::format("postprocessing code {} is none of default (0), none (1), argmax (2), topk (3)", post));
  h.output.postprocess = static_cast<Postprocess>(post);
  h.output.k = get<uint16_t>(b, kReqTopk);
  if (h.output.postprocess == Postprocess::kTopk ? h.output.k == 0 || h.output.k > kMaxTopk : h.output.k != 0)
    return Status(StatusCode::kMalformedHeader,
                  fmt::format("topk k is {}: it must be 1..{} with topk and 0 otherwise", h.output.k, kMaxTopk));
  for (size_t i = kReqReserved; i < kRequestHeaderBytes; ++i)
    if (b[i] != std::byte{0})
      return Status(StatusCode::kMalformedHeader, fmt::format("reserved header byte {} is not zero", i));

  const auto expected = tensor_bytes(h.shape, h.dtype);
  if (!expected)
    return Status(StatusCode::kBadShape,
                  fmt::format("{} {} is more than 2^64 - 1 bytes", to_string(h.dtype), h.shape.to_string()));
  if (h.payload_bytes != *expected)
    return Status(StatusCode::kPayloadSizeMismatch,
                  fmt::format("header declares {} payload bytes, but {} {} is {} bytes", h.payload_bytes,
                              to_string(h.dtype), h.shape.to_string(), *expected));
  return h;
}

uint64_t peek_request_id(std::span<const std::byte> bytes) {
  return bytes.size() >= kReqId + 8 ? get<uint64_t>(bytes.data(), kReqId) : 0;
}

Status check_payload(const RequestHeader& h, size_t arrived_bytes, uint64_t max_payload_bytes) {
  if (h.payload_bytes > max_payload_bytes)
    return {StatusCode::kPayloadTooLarge,
            fmt::format("payload is {} bytes, the server's limit is {}", h.payload_bytes, max_payload_bytes)};
  if (arrived_bytes != h.payload_bytes)
    return {StatusCode::kPayloadSizeMismatch,
            fmt::format("header declares {} payload bytes, {} arrived", h.payload_bytes, arrived_bytes)};
  return {};
}

void encode(const ResponseHeader& h, std::span<std::byte, kResponseHeaderBytes> out) {
  std::fill(out.begin(), out.end(), std::byte{0});
  std::byte* b = out.data();
  put<uint32_t>(b, kRespMagic, kResponseMagic);
  put<uint16_t>(b, kRespVersion, kWireVersion);
  put<uint16_t>(b, kRespHeaderBytes, static_cast<uint16_t>(kResponseHeaderBytes));
  put<uint64_t>(b, kRespId, h.request_id);
  put<uint16_t>(b, kRespStatus, static_cast<uint16_t>(h.status));
  const auto n = static_cast<uint8_t>(std::min<size_t>(h.n_outputs, kMaxOutputs));
  put<uint8_t>(b, kRespNOutputs, n);
  std::memcpy(b + kRespTimings, &h.timings, kRespTimingsBytes);  // all uint64_t: no padding
  put<uint64_t>(b, kRespPostprocessNs, h.timings.postprocess_ns);
  put<uint64_t>(b, kRespPayload, h.payload_bytes);
  for (size_t i = 0; i < n; ++i) {
    const size_t at = kRespOutputs + i * kOutputDescBytes;
    put<uint8_t>(b, at, static_cast<uint8_t>(h.outputs[i].dtype));
    put_shape(b, at + 1, at + 8, h.outputs[i].shape);
  }
  const size_t err_len = std::min(h.error.size(), kMaxErrorBytes);
  put<uint16_t>(b, kRespErrorLen, static_cast<uint16_t>(err_len));
  std::memcpy(b + kRespError, h.error.data(), err_len);
}

Result<ResponseHeader> decode_response_header(std::span<const std::byte> bytes) {
  if (Status s = check_magic_version(bytes, kResponseMagic, kResponseHeaderBytes, "response"); !s.ok()) return s;
  const std::byte* b = bytes.data();
  ResponseHeader h;
  h.request_id = get<uint64_t>(b, kRespId);
  const auto status = get<uint16_t>(b, kRespStatus);
  if (status > static_cast<uint16_t>(kLastStatusCode))
    return Status(StatusCode::kMalformedHeader, fmt::format("unknown status code {}", status));
  h.status = static_cast<StatusCode>(status);
  h.n_outputs = get<uint8_t>(b, kRespNOutputs);
  if (h.n_outputs > kMaxOutputs)
    return Status(StatusCode::kMalformedHeader, fmt::format("{} outputs, at most {}", h.n_outputs, kMaxOutputs));
  std::memcpy(static_cast<void*>(&h.timings), b + kRespTimings, kRespTimingsBytes);
  h.timings.postprocess_ns = get<uint64_t>(b, kRespPostprocessNs);
  h.payload_bytes = get<uint64_t>(b, kRespPayload);
  uint64_t sum = 0;
  for (size_t i = 0; i < h.n_outputs; ++i) {
    const size_t at = kRespOutputs + i * kOutputDescBytes;
    const auto dtype = get<uint8_t>(b, at);
    if (!is_known_dtype(dtype))
      return Status(StatusCode::kMalformedHeader, fmt::format("output {} has unknown dtype code {}", i, dtype));
    h.outputs[i].dtype = static_cast<DType>(dtype);
    auto shape = get_shape(b, at + 1, at + 8);
    if (!shape.ok())
      return Status(StatusCode::kMalformedHeader, "output " + std::to_string(i) + ": " + shape.status().message());
    h.outputs[i].shape = *shape;
    const auto output_bytes = tensor_bytes(*shape, h.outputs[i].dtype);
    // Checked: a wrapped sum let outputs far larger than the payload "add up" to it.
    if (!output_bytes || __builtin_add_overflow(sum, *output_bytes, &sum))
      return Status(StatusCode::kMalformedHeader,
                    fmt::format("outputs up to #{} add up to more than 2^64 - 1 bytes", i));
  }
  if (sum != h.payload_bytes)
    return Status(StatusCode::kMalformedHeader,
                  fmt::format("outputs add up to {} bytes, header declares {}", sum, h.payload_bytes));
  const auto err_len = get<uint16_t>(b, kRespErrorLen);
  if (err_len > kMaxErrorBytes)
    return Status(StatusCode::kMalformedHeader, fmt::format("error text length {} > {}", err_len, kMaxErrorBytes));
  h.error.assign(reinterpret_cast<const char*>(b + kRespError), err_len);
  return h;
}

ResponseHeader error_response(uint64_t request_id, const Status& status) {
  ResponseHeader h;
  h.request_id = request_id;
  h.status = status.ok() ? StatusCode::kInternal : status.code();
  h.error = status.message();
  return h;
}

}  // namespace edgeserve::core
