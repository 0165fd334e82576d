// Server side of every network transport: bound to one address, it turns arriving requests into Deliveries.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/memory_buffer.h"
#include "core/status.h"
#include "transport/connection_limits.h"
#include "transport/delivery.h"
#include "transport/transport_settings.h"

namespace edgeserve::transport {

// Makes memory for requests to land in (and for replies): the server passes one that suits its engine (pinned
// host memory next to a GPU, GPU memory for kCuda). Unset: plain host memory, and kCuda is an error.
using MemoryAllocator =
    std::function<core::Result<std::unique_ptr<core::MemoryBuffer>>(size_t bytes, core::MemoryKind kind)>;

// What every listener is given; each transport takes what applies to it (see README, "Security and limits").
struct ListenOptions {
  uint64_t max_payload_bytes = 64ull << 20;  // larger requests are refused with payload-too-large
  ConnectionLimits limits;                   // clients, connections per source, deadlines, pending bytes
  int io_threads = 1;  // per listener: ZeroMQ I/O threads (tcp), UCX workers with a thread each (ucx)
  MemoryAllocator allocate;
  TransportSettings settings;  // each transport's own (tcp: CURVE; ucx: landing), from cli/
  EdgeErrorReply edge_error;   // the reply to a header that does not decode (delivery.h); unset: a bare one
};

class Listener {
 public:
  virtual ~Listener() = default;
  // The endpoint actually bound, e.g. "tcp://127.0.0.1:40123" or "ucx://127.0.0.1:40124".
  virtual const std::string& endpoint() const = 0;
  // Runs the I/O loop on the calling thread until stop(): every well-framed request whose header decodes becomes
  // a Delivery passed to `on_delivery` (which must not block for long); the others get an error reply here.
  virtual void run(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) = 0;
  // Ends run() after it has sent every reply queued so far. Thread-safe and async-signal-safe.
  virtual void stop() = 0;
};

}  // namespace edgeserve::transport
