// ucx's registry entry points (transport/registry.cpp): the generic options in, the ucx listener or
// connection out.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "transport/client_connection.h"
#include "transport/listener.h"
#include "transport/ucx/ucx_info.h"  // describe()

namespace edgeserve::transport::ucx {

// "ucx://HOST:PORT" (resolved); a UcxServerSettings under "ucx" says where requests land.
core::Result<std::unique_ptr<Listener>> open_listener(const std::string& uri, const ListenOptions& options);
core::Result<std::unique_ptr<ClientConnection>> open_connection(const std::string& target,
                                                                const ConnectOptions& options);

}  // namespace edgeserve::transport::ucx
