// ModelInfer's messages as gRPC byte buffers with their tensors kept apart from protobuf. Parsed as a message, a
// request's tensor is copied out of gRPC's slices into a protobuf string and from there into landing memory; a reply's
// outputs are copied into protobuf strings and then into gRPC's slices. Here a request's tensor goes from the slices
// straight into the memory `land` gives (one copy), and a reply's outputs leave as slices of the reply buffer itself
// (no copy; the buffer goes back to its pool when gRPC has sent them). Every other field still goes through
// protobuf: the wire format is protobuf's, read and written with its own coded streams.
#pragma once

#include <grpcpp/support/byte_buffer.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/memory_buffer.h"
#include "core/status.h"
#include "grpc_service.pb.h"

namespace edgeserve::transport::grpc {

// Server: `buffer` (a serialized ModelInferRequest) into `head`, every field but raw_input_contents, whose first entry
// is copied into the memory `land(size)` returns (at least that size); later entries are only counted, in
// `raw_inputs` (a request with more than one is refused by the decoder). Errors: kMalformedHeader (not a
// ModelInferRequest).
core::Status split_infer_request(const ::grpc::ByteBuffer& buffer, inference::ModelInferRequest& head,
                                 const std::function<std::span<std::byte>(size_t)>& land, size_t& raw_inputs);

// Server: `head` (a ModelInferResponse without raw_output_contents) followed by one raw_output_contents entry per
// span of `outputs`, in order. Outputs over 16 KB are not copied: they are slices of `owner`'s memory, and `owner`
// lives until gRPC lets go of the last of them (made shared only then: a reply of small outputs needs no shared owner).
void join_infer_response(const inference::ModelInferResponse& head,
                         const std::vector<std::span<const std::byte>>& outputs,
                         std::unique_ptr<core::MemoryBuffer> owner, ::grpc::ByteBuffer& out);

// Client: `head` (a ModelInferRequest without raw_input_contents) followed by `tensor` as its one raw_input_contents
// entry, copied once, into a slice gRPC owns (the caller's memory may go as soon as the call returns, while gRPC may
// still hold what it was writing when a call ends early).
void join_infer_request(const inference::ModelInferRequest& head, std::span<const std::byte> tensor,
                        ::grpc::ByteBuffer& out);

}  // namespace edgeserve::transport::grpc
