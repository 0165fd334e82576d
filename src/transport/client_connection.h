// Client side of every transport: one connection that sends a request and waits for its reply.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/wire.h"
#include "transport/delivery.h"
#include "transport/transport_settings.h"

namespace edgeserve::transport {

struct Reply {
  core::ResponseHeader header;
  std::span<const std::byte> payload;  // valid until the next call on the same connection
  uint64_t recv_clock_ns = 0;          // client monotonic clock when the reply had fully arrived
  // UCX: request send posted → completed at the client (the paper's RDMA request-time); 0 elsewhere.
  uint64_t request_post_ns = 0;
};

// What a connection really runs over, for results: a number measured over shared memory must never pass
// for one measured over an RDMA NIC.
struct LinkReport {
  std::string kind;     // "local", "tcp", "rdma" (UCX, host landing) or "gdr" (UCX, GPU landing)
  std::string library;  // "UCX 1.13.1", "ZeroMQ 4.3.4", or empty
  std::string landing;  // UCX: "host" or "cuda"
  std::vector<std::string> client_transports, server_transports;  // UCX lanes, e.g. "posix/memory", "tcp/lo"
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
  virtual LinkReport link() const = 0;
  // False when the connection already knows its peer is gone (a UCX endpoint error seen while idle), so a
  // caller with other places to send to can go there without sending this one anything. True is no promise.
  virtual bool usable() { return true; }
  // Waits up to `wait` until the link can carry a request now. An error means the peer cannot be reached at
  // the moment (tcp: nothing accepted the connection, or its handshake failed) and nothing was sent, so a
  // caller with other places to send to can go there. Transports that connect in connect() are always ready.
  virtual core::Status ready(std::chrono::milliseconds /*wait*/) { return {}; }
};

struct ConnectOptions {
  // `local` runs requests in-process through this handler, which must outlive the connection.
  RequestHandler* local_handler = nullptr;
  bool local_payload_on_device = false;  // payloads given to call() are in the server's GPU memory
  TransportSettings settings;  // the target transport's own (tcp: CURVE keys), from cli/; others' are an error
  // ucx: payloads given to call() are different buffers each time (a gateway forwarding what it received):
  // no registration is kept across calls, UCX registers each on the fly. Default: one buffer reused.
  bool transient_payloads = false;
};

// Opens a connection to `target`, an address of a transport in the registry (registry.h): "tcp://HOST:PORT",
// "ucx://HOST:PORT" or "local".
core::Result<std::unique_ptr<ClientConnection>> connect(const std::string& target, const ConnectOptions& options = {});

}  // namespace edgeserve::transport
