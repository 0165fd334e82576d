// KServe v2 infer messages over gRPC (inference.ModelInferRequest / ModelInferResponse) to and from edgeserve's
// typed request boundary (core::RequestHeader, core::ResponseHeader), both sides, and edgeserve's status codes to
// and from gRPC's. Pure functions: no server, no channel.
#pragma once

#include <grpcpp/support/status.h>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/wire.h"
#include "grpc_service.pb.h"
#include "transport/http/http_settings.h"
#include "transport/http/kserve_request.h"

namespace edgeserve::transport::grpc {

struct DecodedInfer {
  core::RequestHeader header;        // checked as core::decode_request_header checks a tcp:// header
  std::span<const std::byte> input;  // raw_input_contents[0], inside the request message (empty: `shared_input`)
  std::optional<http::SharedMemoryAsk> shared_input;  // the input is in this system shared memory region
  std::vector<http::InferOutputAsk> shared_outputs;   // the requested outputs that go into a region (none: empty)
};
// The request as the pipeline takes it. `served`: the model it names when this listener knows it (its input and
// output names are then checked); null passes the request on for the server to answer (unknown model, gateway).
// `fallback_id`: the request id when its "id" is not a number. edgeserve's own fields come as "parameters" with
// http://'s names (edgeserve_input_kind, edgeserve_priority, ..., edgeserve_output_select). Errors: the input count,
// names, datatype, shape or tensor form (typed "contents" instead of raw_input_contents) the caller got wrong. An
// input or requested output whose "parameters" name a region (shared_memory_region, shared_memory_byte_size,
// shared_memory_offset, as tritonclient sends them) is read from or written into it: the listener's part.
core::Result<DecodedInfer> decode_infer_request(const inference::ModelInferRequest& request,
                                                const http::ServedModel* served, uint64_t fallback_id);
// The same for a request whose raw_input_contents were taken apart from the message (raw_infer_messages.h): how many
// entries it had and where the first one's bytes are now.
struct RawInputs {
  size_t count = 0;
  std::span<const std::byte> first;
};
core::Result<DecodedInfer> decode_infer_request(const inference::ModelInferRequest& request, const RawInputs& raw,
                                                const http::ServedModel* served, uint64_t fallback_id);

// The names of a reply's outputs. `select`: the outputs the request chose (0: the model's default); a gateway
// (`served` null) names them as the request asked for them.
std::vector<std::string> reply_output_names(const core::ResponseHeader& header,
                                            const inference::ModelInferRequest& request,
                                            const http::ServedModel* served, uint8_t select);

// Fills `response` with the reply's outputs (`payload`: their bytes concatenated, in host memory) under `names`
// and the server's stage times as "parameters" (edgeserve_queue_ns, ...: http://'s names, uint64 values).
// `shared` (per output, or empty): the region an output was written into, which its parameters then name
// (shared_memory_region, shared_memory_byte_size) while its raw_output_contents entry stays empty (one entry per
// output all the same: tritonclient finds an output's bytes by its index). `client_id`: the one the server
// scheduled it under ("edgeserve_client_id": the request's own, or its connection's number when it named none).
void encode_infer_response(const core::ResponseHeader& header, std::span<const std::byte> payload,
                           const inference::ModelInferRequest& request, const std::vector<std::string>& names,
                           const std::vector<std::optional<http::SharedMemoryAsk>>& shared, uint32_t client_id,
                           inference::ModelInferResponse& response);
// The same but raw_output_contents, which it returns instead: each output's bytes within `payload`, in order (empty
// for an output written into a region), for the caller to append (raw_infer_messages.h sends them without a copy).
std::vector<std::span<const std::byte>> encode_infer_response_head(
    const core::ResponseHeader& header, std::span<const std::byte> payload, const inference::ModelInferRequest& request,
    const std::vector<std::string>& names, const std::vector<std::optional<http::SharedMemoryAsk>>& shared,
    uint32_t client_id, inference::ModelInferResponse& response);

// The client's request for `header` with one input named `input_name` (the payload copied into
// raw_input_contents, reusing `request`'s memory) and the chosen outputs by name.
void encode_infer_request(const core::RequestHeader& header, std::span<const std::byte> payload,
                          const std::string& input_name, const std::vector<std::string>& output_names,
                          inference::ModelInferRequest& request);
// The same without the tensor: raw_input_contents left empty, for the caller to append (raw_infer_messages.h).
void encode_infer_request_head(const core::RequestHeader& header, const std::string& input_name,
                               const std::vector<std::string>& output_names, inference::ModelInferRequest& request);
// The client's reading of a reply: outputs, timings; `payload` gets the outputs' bytes (a view into `response`
// when there is one output, else concatenated into `joined`). Errors: kMalformedHeader.
core::Status decode_infer_response(const inference::ModelInferResponse& response, core::ResponseHeader& header,
                                   std::vector<std::byte>& joined, std::span<const std::byte>& payload);

// NOT_FOUND unknown model, RESOURCE_EXHAUSTED oversized, UNAVAILABLE overload and shutdown, DEADLINE_EXCEEDED,
// INTERNAL failures inside the server, INVALID_ARGUMENT everything the caller sent wrong. The message starts with
// edgeserve's status name ("bad-shape: ..."), so an edgeserve client gets the exact code back.
::grpc::Status to_grpc_status(const core::Status& status);
// The edgeserve status a gRPC error carries: the one named at the start of its message, else one that fits its code.
core::Status from_grpc_status(const ::grpc::Status& status);
// True when `status` names an edgeserve status: the server answered (as opposed to a channel that failed).
bool is_server_answer(const ::grpc::Status& status);

}  // namespace edgeserve::transport::grpc
