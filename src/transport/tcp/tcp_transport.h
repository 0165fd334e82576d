// tcp's registry entry points (transport/registry.cpp): the generic options in, the tcp listener or
// connection out.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "transport/client_connection.h"
#include "transport/listener.h"

namespace edgeserve::transport::tcp {

// "tcp://HOST:PORT" (resolved); a TcpServerSettings under "tcp" turns CURVE on.
core::Result<std::unique_ptr<Listener>> open_listener(const std::string& uri, const ListenOptions& options);
// A TcpClientSettings under "tcp" turns CURVE on.
core::Result<std::unique_ptr<ClientConnection>> open_connection(const std::string& target,
                                                                const ConnectOptions& options);
// "ZeroMQ 4.3.4".
std::string describe();

}  // namespace edgeserve::transport::tcp
