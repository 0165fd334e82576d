// grpc's registry entry points.
#include "transport/grpc/grpc_transport.h"

#include <grpcpp/grpcpp.h>

#include "transport/grpc/grpc_connection.h"
#include "transport/grpc/grpc_listener.h"
#include "transport/http/http_settings.h"

namespace edgeserve::transport::grpc {

core::Result<std::unique_ptr<Listener>> open_listener(const std::string& uri, const ListenOptions& options) {
  std::shared_ptr<const http::HttpServerSettings> models;
  for (const auto& [scheme, settings] : options.settings.all())
    if (scheme == "grpc") models = std::dynamic_pointer_cast<const http::HttpServerSettings>(settings);
  return bind_grpc_listener(uri, options, std::move(models));
}

core::Result<std::unique_ptr<ClientConnection>> open_connection(const std::string& target,
                                                                const ConnectOptions& /*options*/) {
  return connect_grpc(target);
}

std::string describe() { return "gRPC " + ::grpc::Version() + ", KServe v2 gRPC"; }

}  // namespace edgeserve::transport::grpc
