// The grpc:// listener: KServe v2 (the Open Inference Protocol) over gRPC, Triton's GRPCInferenceService, on gRPC's
// callback API (inference_service.h). run() only waits for stop(): gRPC's own threads take the calls.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "transport/http/http_settings.h"
#include "transport/listener.h"

namespace edgeserve::transport::grpc {

// Binds "grpc://IP:PORT" (resolved; port 0 picks one) and starts serving: calls that arrive before run() answer
// UNAVAILABLE. `models`: as for http:// (http_listener.h); null: a gateway's front.
core::Result<std::unique_ptr<Listener>> bind_grpc_listener(const std::string& uri, const ListenOptions& options,
                                                           std::shared_ptr<const http::HttpServerSettings> models);

}  // namespace edgeserve::transport::grpc
