// grpc's registry entry points (transport/registry.cpp): KServe v2 over gRPC, served and spoken.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "transport/client_connection.h"
#include "transport/listener.h"

namespace edgeserve::transport::grpc {

// "grpc://IP:PORT" (resolved); an http::HttpServerSettings under "grpc" names the models (their metadata RPCs).
core::Result<std::unique_ptr<Listener>> open_listener(const std::string& uri, const ListenOptions& options);
core::Result<std::unique_ptr<ClientConnection>> open_connection(const std::string& target,
                                                                const ConnectOptions& options);
// "gRPC 1.51.1, KServe v2 gRPC".
std::string describe();

}  // namespace edgeserve::transport::grpc
