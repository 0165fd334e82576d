// ucx's registry entry points.
#include "transport/ucx/ucx_transport.h"

#include "transport/ucx/ucx_connection.h"
#include "transport/ucx/ucx_listener.h"
#include "transport/ucx/ucx_settings.h"

namespace edgeserve::transport::ucx {

core::Result<std::unique_ptr<Listener>> open_listener(const std::string& uri, const ListenOptions& options) {
  UcxListenerOptions ucx_options;
  ucx_options.max_payload_bytes = options.max_payload_bytes;
  ucx_options.limits = options.limits;
  ucx_options.io_threads = static_cast<size_t>(std::max(1, options.io_threads));
  ucx_options.allocate = options.allocate;
  ucx_options.edge_error = options.edge_error;
  if (const auto* own = options.settings.get<UcxServerSettings>("ucx")) ucx_options.landing = own->landing;
  auto bound = UcxListener::bind(uri, std::move(ucx_options));
  if (!bound.ok()) return bound.status();
  return std::unique_ptr<Listener>(std::move(bound.value()));
}

core::Result<std::unique_ptr<ClientConnection>> open_connection(const std::string& target,
                                                                const ConnectOptions& options) {
  return connect_ucx(target, std::chrono::seconds(10), options.transient_payloads);
}

}  // namespace edgeserve::transport::ucx
