// TCP transport, server side: a ZeroMQ ROUTER socket and the I/O loop that receives requests and sends
// replies. Workers reply from any thread through a locked outbox and an eventfd that wakes the loop, so
// the socket itself is only ever touched by the loop's thread (ZeroMQ sockets are not thread-safe).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "transport/connection_limits.h"
#include "transport/delivery.h"
#include "transport/listener.h"
#include "transport/tcp/curve_keys.h"

namespace edgeserve::transport::tcp {

struct ListenerOptions {
  uint64_t max_payload_bytes = 64ull << 20;  // larger requests are refused (see tcp_listener.cpp)
  ConnectionLimits limits;                   // slots, per-source connections, deadlines (connection_guard.h)
  int io_threads = 1;
  // When set, clients must speak CURVE (encrypted) with a public key in `authorized_clients`; others are
  // refused during the handshake and logged.
  std::optional<CurveServerConfig> curve;
  EdgeErrorReply edge_error;  // see ListenOptions
};

class TcpListener final : public Listener {
 public:
  // Binds to `endpoint` ("tcp://0.0.0.0:5555"; port 0 or "*" picks a free port: see endpoint()).
  static core::Result<std::unique_ptr<TcpListener>> bind(const std::string& endpoint, const ListenerOptions& options);
  ~TcpListener() override;
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  const std::string& endpoint() const override;
  void run(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) override;
  void stop() override;

  struct Impl;

 private:
  explicit TcpListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgeserve::transport::tcp
