// ipc's registry entry points: the tcp transport's code over ZeroMQ's ipc:// addresses.
#include "transport/ipc/ipc_transport.h"

#include "transport/tcp/tcp_connection.h"
#include "transport/tcp/tcp_listener.h"
#include "transport/tcp/tcp_transport.h"

namespace edgeserve::transport::ipc {

core::Result<std::unique_ptr<Listener>> open_listener(const std::string& uri, const ListenOptions& options) {
  tcp::ListenerOptions zmq_options;
  zmq_options.max_payload_bytes = options.max_payload_bytes;
  zmq_options.limits = options.limits;  // per source: every local client shares one (a Unix socket has no address)
  zmq_options.io_threads = std::max(1, options.io_threads);
  zmq_options.edge_error = options.edge_error;
  auto bound = tcp::TcpListener::bind(uri, zmq_options);
  if (!bound.ok()) return bound.status();
  return std::unique_ptr<Listener>(std::move(bound.value()));
}

core::Result<std::unique_ptr<ClientConnection>> open_connection(const std::string& target,
                                                                const ConnectOptions& /*options*/) {
  return tcp::connect_tcp(target);
}

std::string describe() { return tcp::describe() + " over a Unix socket"; }

}  // namespace edgeserve::transport::ipc
