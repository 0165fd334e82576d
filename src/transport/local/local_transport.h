// local's registry entry points (transport/registry.cpp): an in-process connection to options.local_handler.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "transport/client_connection.h"

namespace edgeserve::transport::local {

// Needs options.local_handler (the caller's pipeline).
core::Result<std::unique_ptr<ClientConnection>> open_connection(const std::string& target,
                                                                const ConnectOptions& options);
// "in-process".
std::string describe();

}  // namespace edgeserve::transport::local
