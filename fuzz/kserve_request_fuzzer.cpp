// Fuzzes the KServe v2 infer body decoders of http:// (transport/http/kserve_request.h, kserve_response.h): the
// JSON parser and the binary tensor data extension's splitter, as a server and as edgeserve's client read them.
//
// Input: byte 0 chooses whether the body has an Inference-Header-Content-Length (bit 0) and bytes 1-2 give it
// (little-endian); the rest is the body. Beyond "no crash, no UB" it checks what the listener relies on: every
// accepted binary input lies inside the body, every JSON input holds exactly its shape's bytes, and the binary
// parts account for every byte after the JSON.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "require.h"
#include "transport/http/kserve_request.h"
#include "transport/http/kserve_response.h"

using namespace edgeserve;
using edgeserve::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  std::optional<uint64_t> header_length;
  if (data[0] & 1) header_length = static_cast<uint64_t>(data[1]) | (static_cast<uint64_t>(data[2]) << 8);
  const auto body = std::as_bytes(std::span(data + 3, size - 3));
  const auto* begin = body.data();
  const auto* end = body.data() + body.size();

  auto request = transport::http::parse_infer_request(body, header_length);
  if (request.ok()) {
    require(!request->inputs.empty());
    size_t binary_total = 0;
    for (const auto& in : request->inputs) {
      if (in.binary) {
        require(in.binary_bytes.empty() ||
                (in.binary_bytes.data() >= begin && in.binary_bytes.data() + in.binary_bytes.size() <= end));
        binary_total += in.binary_bytes.size();
      } else {
        require(in.json_bytes.size() == core::tensor_bytes(in.shape, in.dtype).value_or(0));
      }
    }
    require(binary_total == body.size() - (header_length ? *header_length : body.size()));
  }

  auto reply = transport::http::decode_infer_reply(body, header_length);
  if (reply.ok()) {
    require(reply->header.n_outputs <= core::kMaxOutputs);
    require(reply->payload.size() == reply->header.payload_bytes);
  }
  return 0;
}
