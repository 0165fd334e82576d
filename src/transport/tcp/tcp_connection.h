// TCP transport, client side: one ZeroMQ DEALER socket per client.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "transport/client_connection.h"
#include "transport/tcp/curve_keys.h"

namespace edgeserve::transport::tcp {

// With `curve`, the link is encrypted and the client authenticates with its key pair.
core::Result<std::unique_ptr<ClientConnection>> connect_tcp(const std::string& endpoint,
                                                            const std::optional<CurveClientConfig>& curve = {});

}  // namespace edgeserve::transport::tcp
