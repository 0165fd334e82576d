// TCP transport, client side: one ZeroMQ DEALER socket per client.
#pragma once

#include <memory>
#include <string>

#include "transport/client_connection.h"

namespace edgeserve::transport::tcp {

core::Result<std::unique_ptr<ClientConnection>> connect_tcp(const std::string& endpoint);

}  // namespace edgeserve::transport::tcp
