// Fuzzes what a server does with a request's bytes: decode_request_header on the first 160 bytes, then check_payload.
//
// Input: the header frame followed by the payload frame (whatever bytes remain). Beyond "no crash, no UB" it checks
// that whatever decodes is self-consistent: the payload size matches the shape, and encode() round-trips it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "core/wire.h"
#include "require.h"

using namespace edgeserve::core;

using edgeserve::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
  // Shorter inputs are all header (the wrong-size paths); longer ones are a 176-byte header and its payload.
  const bool split = size >= kRequestHeaderBytes;
  const auto header_bytes = split ? input.first(kRequestHeaderBytes) : input;
  const auto payload = split ? input.subspan(kRequestHeaderBytes) : std::span<const std::byte>{};

  (void)peek_request_id(header_bytes);
  auto decoded = decode_request_header(header_bytes);
  if (!decoded.ok()) {
    require(!decoded.status().message().empty());
    return 0;
  }
  const RequestHeader& h = *decoded;
  require(header_bytes.size() == kRequestHeaderBytes);
  require(!h.model.empty() && h.model.size() <= kMaxModelNameBytes);
  // The declared payload really is the shape's size in bytes (computed here without overflow).
  unsigned __int128 bytes = dtype_size(h.dtype);
  for (int64_t d : h.shape) {
    require(d > 0);
    bytes *= static_cast<uint64_t>(d);
  }
  require(bytes == h.payload_bytes);

  for (uint64_t limit : {uint64_t{0}, uint64_t{64} << 20, UINT64_MAX}) {
    const Status s = check_payload(h, payload.size(), limit);
    require(s.ok() == (h.payload_bytes <= limit && h.payload_bytes == payload.size()));
  }

  RequestHeaderBytes again;
  encode(h, again);
  auto redecoded = decode_request_header(again);
  require(redecoded.ok());
  require(redecoded->request_id == h.request_id && redecoded->client_id == h.client_id &&
          redecoded->input_kind == h.input_kind && redecoded->dtype == h.dtype && redecoded->priority == h.priority &&
          redecoded->shape == h.shape && redecoded->payload_bytes == h.payload_bytes &&
          redecoded->client_send_ns == h.client_send_ns && redecoded->model == h.model);
  return 0;
}
