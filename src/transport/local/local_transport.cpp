// local's registry entry points.
#include "transport/local/local_transport.h"

#include "transport/local/local_connection.h"

namespace edgeserve::transport::local {

core::Result<std::unique_ptr<ClientConnection>> open_connection(const std::string& /*target*/,
                                                                const ConnectOptions& options) {
  if (options.local_handler == nullptr)
    return core::Status(core::StatusCode::kInternal, "target 'local' needs an in-process pipeline");
  return connect_local(*options.local_handler, options.local_payload_on_device);
}

std::string describe() { return "in-process"; }

}  // namespace edgeserve::transport::local
