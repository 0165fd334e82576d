// Client side of every transport: one connection that sends a request and waits for its reply.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/status.h"
#include "core/wire.h"
#include "transport/delivery.h"

namespace edgeserve::transport {

struct Reply {
  core::ResponseHeader header;
  std::span<const std::byte> payload;  // valid until the next call on the same connection
  uint64_t recv_clock_ns = 0;          // client monotonic clock when the reply had fully arrived
};

class ClientConnection {
 public:
  virtual ~ClientConnection() = default;
  // Sends one request and waits up to `timeout` for the reply with the same request id (replies to
  // earlier, timed-out requests are skipped). `payload` must stay valid and unchanged until the
  // connection is destroyed: transports send it without copying. A reply carrying an error status is a
  // successful call; the returned Status is for transport failures (timeout, peer gone, malformed reply).
  virtual core::Status call(const core::RequestHeader& header, std::span<const std::byte> payload, Reply& reply,
                            std::chrono::milliseconds timeout) = 0;
  virtual std::string target() const = 0;
};

// Opens a connection to `target`: "tcp://HOST:PORT" or "local". `local` runs requests in-process through
// `local_handler`, which must then be non-null and outlive the connection; with `local_payload_on_device`
// the payloads given to call() are in the server's GPU memory.
core::Result<std::unique_ptr<ClientConnection>> connect(const std::string& target, RequestHandler* local_handler,
                                                        bool local_payload_on_device = false);

}  // namespace edgeserve::transport
