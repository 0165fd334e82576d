// Local transport: the same request pipeline, run in-process on the caller's thread (the lower bound).
#pragma once

#include <memory>

#include "transport/client_connection.h"

namespace edgeserve::transport::local {

std::unique_ptr<ClientConnection> connect_local(RequestHandler& handler);

}  // namespace edgeserve::transport::local
