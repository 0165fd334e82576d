// The one place where client transports are chosen by target URI.
#include <fmt/format.h>

#include "transport/client_connection.h"
#include "transport/local/local_connection.h"
#include "transport/tcp/tcp_connection.h"
#include "transport/ucx/ucx_connection.h"

namespace edgeserve::transport {

core::Result<std::unique_ptr<ClientConnection>> connect(const std::string& target, const ConnectOptions& options) {
  if (target == "local") {
    if (!options.local_handler)
      return core::Status(core::StatusCode::kInternal, "target 'local' needs an in-process pipeline");
    return local::connect_local(*options.local_handler, options.local_payload_on_device);
  }
  if (target.starts_with("tcp://")) return tcp::connect_tcp(target, options.curve);
  if (target.starts_with("ucx://")) {
    if (options.curve)
      return core::Status(core::StatusCode::kTransportError,
                          "CURVE keys are for tcp:// targets; ucx:// links are inside the fabric (see the README's "
                          "trust model)");
    return ucx::connect_ucx(target, std::chrono::seconds(10), options.transient_payloads);
  }
  return core::Status(core::StatusCode::kTransportError,
                      fmt::format("unknown target '{}': expected tcp://HOST:PORT, ucx://HOST:PORT or local", target));
}

}  // namespace edgeserve::transport
