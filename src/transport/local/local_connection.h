// Local transport: the same request pipeline, run in-process on the caller's thread (the lower bound).
#pragma once

#include <memory>

#include "transport/client_connection.h"

namespace edgeserve::transport::local {

// With `payload_on_device`, payloads passed to call() are in the server's GPU memory.
std::unique_ptr<ClientConnection> connect_local(RequestHandler& handler, bool payload_on_device = false);

}  // namespace edgeserve::transport::local
