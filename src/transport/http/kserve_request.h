// The body of a KServe v2 `POST /v2/models/{m}/infer`: JSON, optionally followed by the binary tensor data
// extension's raw bytes (the JSON's length is the Inference-Header-Content-Length header). A pure decoder, bytes in,
// a checked request or the protocol error out, so it is fuzzed without a server (fuzz/kserve_request_fuzzer.cpp);
// and the encoder edgeserve's own http:// client uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor_spec.h"
#include "core/wire.h"

namespace edgeserve::transport::http {

// Where an input or output lives when the client put it in a registered system shared memory region: `byte_size`
// bytes at `offset` in it ("shared_memory_region", "shared_memory_offset", "shared_memory_byte_size" in an input's
// or output's "parameters").
struct SharedMemoryAsk {
  std::string region;
  uint64_t offset = 0;
  uint64_t byte_size = 0;
};

struct InferInput {
  std::string name;
  core::DType dtype = core::DType::kFloat32;
  core::TensorShape shape;
  // The tensor's bytes: a part of the body (binary extension) or the "data" values converted to `dtype`.
  bool binary = false;
  std::span<const std::byte> binary_bytes;  // into the body given to parse_infer_request
  std::vector<std::byte> json_bytes;
  std::optional<SharedMemoryAsk> shared_memory;  // the bytes are there, not in the body (the listener reads them)
  std::span<const std::byte> bytes() const { return binary ? binary_bytes : std::span<const std::byte>(json_bytes); }
};

struct InferOutputAsk {
  std::string name;
  bool binary = false;                           // "parameters": {"binary_data": true}
  std::optional<SharedMemoryAsk> shared_memory;  // written there, not into the reply
};

// edgeserve's own request fields, carried as request "parameters" (a plain KServe client leaves them at these
// defaults): "edgeserve_input_kind" ("preprocessed", "raw", "jpeg"), "edgeserve_priority", "edgeserve_client_id",
// "edgeserve_client_send_ns", "edgeserve_output_dtype" ("float32", "float16"), "edgeserve_postprocess" ("none",
// "argmax", "topk"), "edgeserve_topk", "edgeserve_output_select" (bit i asks for output i, as on tcp://; the
// listener adds the outputs asked for by name).
struct InferRequest {
  std::string id;                       // the request's "id", echoed in the reply ("" when none)
  std::vector<InferInput> inputs;       // edgeserve models take one; the listener says so when there are more
  std::vector<InferOutputAsk> outputs;  // empty: the model's default outputs
  bool binary_data_output = false;      // "parameters": {"binary_data_output": true}: every output binary
  core::InputKind input_kind = core::InputKind::kPreprocessed;
  uint8_t priority = 0;
  std::optional<uint32_t> client_id;  // none: the listener numbers the client by its connection
  uint64_t client_send_ns = 0;
  core::OutputChoice output;  // select: edgeserve_output_select; the listener adds `outputs`, by the model's names
};

// `header_length`: the Inference-Header-Content-Length header, when the request had one (the JSON is the body's
// first bytes; the rest are the inputs' binary parts, in order, exactly as many as their binary_data_size say).
// Errors: kMalformedHeader (not JSON, fields missing or of the wrong type), kBadDtype (a datatype edgeserve has no
// counterpart for, or "data" values that do not fit it), kBadShape, kPayloadSizeMismatch (binary sizes that do not
// add up, "data" with more or fewer values than the shape).
core::Result<InferRequest> parse_infer_request(std::span<const std::byte> body, std::optional<uint64_t> header_length);

// The JSON part of the request edgeserve's client sends for `header`: one binary input of `header.payload_bytes`
// named `input_name`, every output binary, edgeserve's fields (the output choice included) as parameters.
// `output_names`: the chosen outputs by name, when the client knows them (a gateway's front knows no names).
std::string encode_infer_request_json(const core::RequestHeader& header, const std::string& input_name,
                                      const std::vector<std::string>& output_names);

}  // namespace edgeserve::transport::http
