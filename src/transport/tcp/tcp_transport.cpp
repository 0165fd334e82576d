// tcp's registry entry points.
#include "transport/tcp/tcp_transport.h"

#include <fmt/format.h>
#include <zmq.h>

#include "transport/tcp/tcp_connection.h"
#include "transport/tcp/tcp_listener.h"
#include "transport/tcp/tcp_settings.h"

namespace edgeserve::transport::tcp {

core::Result<std::unique_ptr<Listener>> open_listener(const std::string& uri, const ListenOptions& options) {
  ListenerOptions tcp_options;
  tcp_options.max_payload_bytes = options.max_payload_bytes;
  tcp_options.limits = options.limits;
  tcp_options.io_threads = std::max(1, options.io_threads);
  tcp_options.edge_error = options.edge_error;
  if (const auto* own = options.settings.get<TcpServerSettings>("tcp")) tcp_options.curve = own->curve;
  auto bound = TcpListener::bind(uri, tcp_options);
  if (!bound.ok()) return bound.status();
  return std::unique_ptr<Listener>(std::move(bound.value()));
}

core::Result<std::unique_ptr<ClientConnection>> open_connection(const std::string& target,
                                                                const ConnectOptions& options) {
  std::optional<CurveClientConfig> curve;
  if (const auto* own = options.settings.get<TcpClientSettings>("tcp")) curve = own->curve;
  return connect_tcp(target, curve);
}

std::string describe() {
  int major = 0, minor = 0, patch = 0;
  zmq_version(&major, &minor, &patch);
  return fmt::format("ZeroMQ {}.{}.{}", major, minor, patch);
}

}  // namespace edgeserve::transport::tcp
