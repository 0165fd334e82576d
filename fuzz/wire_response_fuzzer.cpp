// Fuzzes what a client does with a server's reply header: decode_response_header on arbitrary bytes.
//
// Beyond "no crash, no UB" it checks that whatever decodes is self-consistent: the outputs really add up to
// payload_bytes (computed here without overflow), and encode() round-trips it.
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
  auto decoded = decode_response_header(input);
  if (!decoded.ok()) {
    require(!decoded.status().message().empty());
    return 0;
  }
  const ResponseHeader& h = *decoded;
  require(size == kResponseHeaderBytes);
  require(h.n_outputs <= kMaxOutputs && h.error.size() <= kMaxErrorBytes);
  unsigned __int128 sum = 0;
  for (size_t i = 0; i < h.n_outputs; ++i) {
    unsigned __int128 bytes = dtype_size(h.outputs[i].dtype);
    require(h.outputs[i].shape.rank() >= 1);
    for (int64_t d : h.outputs[i].shape) {
      require(d > 0);
      bytes *= static_cast<uint64_t>(d);
    }
    sum += bytes;
  }
  require(sum == h.payload_bytes);

  ResponseHeaderBytes again;
  encode(h, again);
  auto redecoded = decode_response_header(again);
  require(redecoded.ok());
  require(redecoded->request_id == h.request_id && redecoded->status == h.status && redecoded->error == h.error &&
          redecoded->n_outputs == h.n_outputs && redecoded->payload_bytes == h.payload_bytes);
  for (size_t i = 0; i < h.n_outputs; ++i)
    require(redecoded->outputs[i].dtype == h.outputs[i].dtype && redecoded->outputs[i].shape == h.outputs[i].shape);
  return 0;
}
