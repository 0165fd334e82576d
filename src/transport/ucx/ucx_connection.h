// UCX transport, client side: one UCX worker and endpoint per connection (see ucx_common.h for the protocol).
#pragma once

#include <memory>
#include <string>

#include "transport/client_connection.h"

namespace edgeserve::transport::ucx {

// Connects to "ucx://HOST:PORT" and says hello; fails with a clear error when no UCX server answers.
// `transient_payloads`: see ConnectOptions.
core::Result<std::unique_ptr<ClientConnection>> connect_ucx(
    const std::string& uri, std::chrono::milliseconds timeout = std::chrono::seconds(10),
    bool transient_payloads = false);

}  // namespace edgeserve::transport::ucx
