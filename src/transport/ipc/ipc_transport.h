// ipc: ZeroMQ over a Unix socket (ipc://PATH), for clients on the server's host that want no TCP stack in the
// way. The tcp transport's listener and connection on another ZeroMQ address; the registry line in
// registry.cpp and these entry points are all it adds. No CURVE: the socket file's permissions admit clients.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "transport/client_connection.h"
#include "transport/listener.h"

namespace edgeserve::transport::ipc {

// "ipc://PATH": binds a Unix socket at PATH (a file a server left behind is replaced, as ZeroMQ does).
core::Result<std::unique_ptr<Listener>> open_listener(const std::string& uri, const ListenOptions& options);
core::Result<std::unique_ptr<ClientConnection>> open_connection(const std::string& target,
                                                                const ConnectOptions& options);
// "ZeroMQ 4.3.4 over a Unix socket".
std::string describe();

}  // namespace edgeserve::transport::ipc
