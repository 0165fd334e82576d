// Server-side transports by URI.
#include "transport/listen.h"

#include <fmt/format.h>

namespace edgeserve::transport {

core::Result<std::unique_ptr<Listener>> listen(const std::string& uri, const ListenOptions& options) {
  if (uri.starts_with("tcp://")) {
    auto bound = tcp::TcpListener::bind(uri, options.tcp);
    if (!bound.ok()) return bound.status();
    return std::unique_ptr<Listener>(std::move(bound.value()));
  }
  if (uri.starts_with("ucx://")) {
    auto bound = ucx::UcxListener::bind(uri, options.ucx);
    if (!bound.ok()) return bound.status();
    return std::unique_ptr<Listener>(std::move(bound.value()));
  }
  return core::Status(core::StatusCode::kTransportError,
                      fmt::format("cannot listen on '{}': expected tcp://HOST:PORT or ucx://HOST:PORT", uri));
}

}  // namespace edgeserve::transport
