// The client side of http://: edgeserve's requests as KServe v2 infer requests with the binary tensor data
// extension (one binary input, binary outputs), over one keep-alive HTTP connection (cpp-httplib).
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "transport/client_connection.h"

namespace edgeserve::transport::http {

// "http://HOST:PORT". Connects on the first call; a model's input and output names are read once from its
// metadata (GET /v2/models/{m}); a gateway's front has none, and gets the request without names.
core::Result<std::unique_ptr<ClientConnection>> connect_http(const std::string& target);

}  // namespace edgeserve::transport::http
