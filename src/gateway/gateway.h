// The gateway of the paper's proxied connections: clients reach it over any front transport (tcp, ucx), it
// forwards each request to a backend server over any back transport, and the reply comes back with the
// server's stage times plus the gateway's own (gateway_ns, backend_ns in the response timings).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "transport/front_door.h"

namespace edgeserve::gateway {

struct GatewayOptions {
  // Front listeners, limits, transports' settings (tcp: CURVE clients only), ready file: what `gateway` shares
  // with `serve`. max_queue: requests waiting for a forwarding thread.
  transport::FrontDoorOptions front{.listen = {"tcp://0.0.0.0:5556"}};
  std::vector<std::string> backends;  // network addresses of edgeserve servers: tcp://HOST:PORT, ucx://HOST:PORT
  // Forwarding threads, each with its own connection to every backend: the requests in flight at once.
  int workers = 32;
  std::chrono::milliseconds backend_timeout{10'000};  // a backend that does not answer in time has failed
  std::chrono::milliseconds retry_after{1'000};       // a failed backend is left out this long, then tried again
};

class Gateway {
 public:
  // Errors: no backend, or a backend address that is not a network transport's (registry.h).
  static core::Result<std::unique_ptr<Gateway>> create(GatewayOptions options);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Binds the front listeners, forwards until stop(), then answers what it took. Errors: a listen failure.
  core::Status run();
  // Async-signal-safe.
  void stop();

  struct State;

 private:
  explicit Gateway(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace edgeserve::gateway
