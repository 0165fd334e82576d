// The one place where server-side transports are chosen by URI (the client side's is connect()).
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "transport/listener.h"
#include "transport/tcp/tcp_listener.h"
#include "transport/ucx/ucx_listener.h"

namespace edgeserve::transport {

struct ListenOptions {
  tcp::ListenerOptions tcp;
  ucx::UcxListenerOptions ucx;
};

// Binds "tcp://HOST:PORT" or "ucx://HOST:PORT"; anything else is an error that names both.
core::Result<std::unique_ptr<Listener>> listen(const std::string& uri, const ListenOptions& options);

}  // namespace edgeserve::transport
