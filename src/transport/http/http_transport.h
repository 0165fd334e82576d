// http's registry entry points (transport/registry.cpp): KServe v2 REST, served and spoken.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "transport/client_connection.h"
#include "transport/listener.h"

namespace edgeserve::transport::http {

// "http://IP:PORT" (resolved); an HttpServerSettings under "http" names the models (their metadata endpoints).
core::Result<std::unique_ptr<Listener>> open_listener(const std::string& uri, const ListenOptions& options);
core::Result<std::unique_ptr<ClientConnection>> open_connection(const std::string& target,
                                                                const ConnectOptions& options);
// "cpp-httplib 0.11.4, KServe v2 REST".
std::string describe();

}  // namespace edgeserve::transport::http
