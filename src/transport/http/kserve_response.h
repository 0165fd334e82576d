// The reply to a KServe v2 infer request, in the form the client asked for: JSON "data" arrays, or the binary
// tensor data extension (outputs' raw bytes after the JSON). The server's stage times go in the reply's
// "parameters" (edgeserve_queue_ns, ...: every core::ServerTimings field, in nanoseconds). Pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/wire.h"
#include "transport/http/kserve_request.h"

namespace edgeserve::transport::http {

struct InferReplyForm {
  std::string model;
  std::string id;                  // echoed when not empty
  std::vector<std::string> names;  // one per output of the reply header
  std::vector<bool> binary;        // per output: raw bytes after the JSON rather than a "data" array
  // Per output (when not empty): written into a client's shared memory region by the listener; the reply names
  // the region and the bytes written instead of carrying them.
  std::vector<std::optional<SharedMemoryAsk>> shared_memory;
  // The client id the server scheduled the request under ("edgeserve_client_id"; per-client scheduling puts it on
  // worker client id mod workers): the request's own, or its connection's number when it named none.
  std::optional<uint32_t> client_id;
};

struct EncodedReply {
  std::string body;       // the JSON, then the binary outputs' bytes in order
  size_t json_bytes = 0;  // the Inference-Header-Content-Length when any output is binary
  bool any_binary = false;
};

// `payload`: the reply's outputs concatenated, as header.outputs describe them (host memory).
EncodedReply encode_infer_reply(const core::ResponseHeader& header, std::span<const std::byte> payload,
                                const InferReplyForm& form);

struct DecodedReply {
  core::ResponseHeader header;         // status ok, timings, outputs and payload_bytes from the reply
  std::span<const std::byte> payload;  // the binary outputs, concatenated: into the body given
};
// edgeserve's client side: a 200 reply whose outputs are all binary. Errors: kMalformedHeader.
core::Result<DecodedReply> decode_infer_reply(std::span<const std::byte> body, std::optional<uint64_t> header_length);

}  // namespace edgeserve::transport::http
