// edgeserve's own KServe v2 gRPC client (bench --target grpc://, the conformance suite, a gateway's backend).
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "transport/client_connection.h"

namespace edgeserve::transport::grpc {

// "grpc://HOST:PORT". The model's input and output names come from its metadata, asked once per model.
core::Result<std::unique_ptr<ClientConnection>> connect_grpc(const std::string& target);

}  // namespace edgeserve::transport::grpc
