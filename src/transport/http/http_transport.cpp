// http's registry entry points.
#include "transport/http/http_transport.h"

#include <httplib.h>

#include "transport/http/http_connection.h"
#include "transport/http/http_listener.h"
#include "transport/http/http_settings.h"

namespace edgeserve::transport::http {

core::Result<std::unique_ptr<Listener>> open_listener(const std::string& uri, const ListenOptions& options) {
  std::shared_ptr<const HttpServerSettings> models;
  for (const auto& [scheme, settings] : options.settings.all())
    if (scheme == "http") models = std::dynamic_pointer_cast<const HttpServerSettings>(settings);
  return bind_http_listener(uri, options, std::move(models));
}

core::Result<std::unique_ptr<ClientConnection>> open_connection(const std::string& target,
                                                                const ConnectOptions& /*options*/) {
  return connect_http(target);
}

std::string describe() { return "cpp-httplib " CPPHTTPLIB_VERSION ", KServe v2 REST"; }

}  // namespace edgeserve::transport::http
