// The wire format: a versioned, fixed-size binary request header and response header; payloads travel
// beside them as raw tensor bytes (no serialization).
//
// All integers are little-endian at fixed offsets (see wire.cpp). A header is always one frame/message of
// exactly kRequestHeaderBytes / kResponseHeaderBytes; the payload is the next one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/tensor_spec.h"

namespace edgeserve::core {

inline constexpr uint32_t kRequestMagic = 0x51525345;   // "ESRQ" in memory order
inline constexpr uint32_t kResponseMagic = 0x53525345;  // "ESRS"
// 2: gateway timings in the response (error text 254 → 238). 3: the request's output choice (appended at 160);
// the response's timings gain batching time, batch size and decode time (the error text shrinks 238 → 214 to make
// room, so outputs and error move by 24 bytes) and postprocessing time (appended at 960); JPEG input (kind 3).
inline constexpr uint16_t kWireVersion = 3;
inline constexpr size_t kRequestHeaderBytes = 176;
inline constexpr size_t kResponseHeaderBytes = 968;
inline constexpr size_t kMaxModelNameBytes = 55;  // + NUL in a 56-byte field
inline constexpr size_t kMaxOutputs = 8;
inline constexpr size_t kMaxErrorBytes = 214;

// Wire-visible values: never renumber.
enum class InputKind : uint8_t {
  kRaw = 1,           // uint8 HWC image of any size; the server preprocesses it
  kPreprocessed = 2,  // the model's input tensor exactly
  kJpeg = 3,  // a JPEG file's bytes (dtype uint8, shape [bytes]); the server decodes it to raw, then preprocesses
};
const char* to_string(InputKind kind);

// Server-side postprocessing of each chosen output, along axis 1 (the class axis). Wire-visible: never renumber.
enum class Postprocess : uint8_t {
  kDefault = 0,  // request only: what the model's manifest says (none unless it says otherwise)
  kNone = 1,     // the outputs as the model made them
  kArgmax = 2,   // the index of the largest value: uint8 with at most 256 classes, else int32 (a segmentation mask)
  kTopk = 3,     // the k largest: int32 class ids, then their scores (two outputs per output)
};
const char* to_string(Postprocess postprocess);
inline constexpr size_t kMaxTopk = 1024;

// Which outputs a request wants back and in what form. Zero fields mean "the model's default" (its manifest's
// "reply" entry); the server resolves them before running.
struct OutputChoice {
  uint8_t select = 0;          // bit i asks for output i (in the model's order); 0: the default
  std::optional<DType> dtype;  // float32 or float16 for floating outputs; none: the default (the model's own dtype)
  Postprocess postprocess = Postprocess::kDefault;
  uint16_t k = 0;  // topk: 1..kMaxTopk
};

struct RequestHeader {
  uint64_t request_id = 0;
  uint32_t client_id = 0;
  InputKind input_kind = InputKind::kPreprocessed;
  DType dtype = DType::kFloat32;
  uint8_t priority = 0;  // 0 = normal; higher = more urgent
  TensorShape shape;
  uint64_t payload_bytes = 0;
  uint64_t client_send_ns = 0;  // client's monotonic clock at send (see clock.h: same-host split)
  std::string model;
  OutputChoice output;
};

// Stage durations measured by the server, in nanoseconds, plus the clocks needed to split transport time.
struct ServerTimings {
  uint64_t handling_ns = 0;    // receipt → job queued (decode + validate)
  uint64_t queue_ns = 0;       // queued → a worker/lane takes it
  uint64_t copy_ns = 0;        // H2D + D2H (on CPU: output copy into the reply buffer)
  uint64_t preprocess_ns = 0;  // raw → model input (0 for preprocessed input)
  uint64_t inference_ns = 0;   // forward pass
  uint64_t server_ns = 0;      // receipt → reply handed to the transport
  uint64_t recv_clock_ns = 0;  // server monotonic clock at receipt
  uint64_t send_clock_ns = 0;  // server monotonic clock at reply hand-off
  uint64_t clock_domain = 0;   // identifies the monotonic clock (host boot); see clock.h
  uint64_t server_cpu_ns = 0;  // server process CPU time so far (user + system)
  uint64_t server_rss_bytes = 0;
  uint64_t gpu_mem_bytes = 0;  // device memory in use by the server (0 on CPU)
  // Set by a gateway on the way back (0 on a direct connection):
  uint64_t gateway_ns = 0;  // gateway receipt → its reply hand-off (the backend hop included)
  uint64_t backend_ns = 0;  // gateway: request handed to the backend → backend's reply in hand
  // Wire version 3. Dynamic batching: the part of queue_ns spent waiting for the batch to fill, and the batch's
  // size (1 unbatched).
  uint64_t batching_ns = 0;
  uint64_t batch_size = 0;
  uint64_t decode_ns = 0;  // JPEG → pixels (0 for other input)
  // Carried after the error text (kept last so the fields above sit in one block):
  uint64_t postprocess_ns = 0;  // dtype conversion, argmax, topk of the outputs
};

struct OutputDesc {
  DType dtype = DType::kFloat32;
  TensorShape shape;
};

struct ResponseHeader {
  uint64_t request_id = 0;
  StatusCode status = StatusCode::kOk;
  std::string error;  // human-readable, at most kMaxErrorBytes (longer text is cut)
  ServerTimings timings;
  uint8_t n_outputs = 0;
  std::array<OutputDesc, kMaxOutputs> outputs{};
  uint64_t payload_bytes = 0;  // sum of the outputs' bytes, concatenated in order
};

using RequestHeaderBytes = std::array<std::byte, kRequestHeaderBytes>;
using ResponseHeaderBytes = std::array<std::byte, kResponseHeaderBytes>;

void encode(const RequestHeader& header, RequestHeaderBytes& out);
// Into any kResponseHeaderBytes bytes (a ResponseHeaderBytes, or a transport's own frame: no copy after).
void encode(const ResponseHeader& header, std::span<std::byte, kResponseHeaderBytes> out);

// Strict: every field is checked (magic, version, size, enums, rank, dims, name, payload_bytes against the
// shape and dtype). The error says what was expected and what arrived.
Result<RequestHeader> decode_request_header(std::span<const std::byte> bytes);
Result<ResponseHeader> decode_response_header(std::span<const std::byte> bytes);

// The request id of a header that failed to decode, so the error reply can still be matched; 0 if unreadable.
uint64_t peek_request_id(std::span<const std::byte> bytes);

// Checks the payload that arrived against its header and the server's size limit.
Status check_payload(const RequestHeader& header, size_t arrived_bytes, uint64_t max_payload_bytes);

// A response that carries only an error.
ResponseHeader error_response(uint64_t request_id, const Status& status);

}  // namespace edgeserve::core
