// The /metrics-only HTTP server on cpp-httplib.
#include "transport/http/metrics_server.h"

#include <fmt/format.h>
#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "transport/endpoint.h"
#include "transport/http/http_settings.h"

namespace edgeserve::transport::http {

struct MetricsServer::State {
  httplib::Server server;
  std::string url;
  std::atomic<bool> returned{false};  // listen_after_bind() is over
  std::jthread thread;
};

core::Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& address,
                                                                  std::function<std::string()> render) {
  const std::string uri = address.starts_with("http://") ? address : "http://" + address;
  auto parsed = parse_endpoint(uri, EndpointUse::kListen);
  if (!parsed.ok())
    return core::Status(core::StatusCode::kInvalidArgument,
                        fmt::format("--metrics {}: {}", address, parsed.status().message()));
  const std::string host = parsed->host == "*" ? "0.0.0.0" : parsed->host;
  auto state = std::make_unique<State>();
  // Scrapes are rare and small: two threads serve them.
  state->server.new_task_queue = [] { return new httplib::ThreadPool(2); };
  state->server.set_socket_options([](socket_t sock) {
    const int on = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  });
  state->server.Get("/metrics", [render = std::move(render)](const httplib::Request&, httplib::Response& res) {
    res.set_content(render(), kMetricsContentType);
  });
  int port = -1;
  if (parsed->port == "0" || parsed->port == "*") {
    port = state->server.bind_to_any_port(host);
  } else {
    port = std::stoi(parsed->port);
    if (!state->server.bind_to_port(host, port)) port = -1;
  }
  if (port < 0)
    return core::Status(core::StatusCode::kTransportError,
                        fmt::format("cannot listen on {} for /metrics: {}", address, std::strerror(errno)));
  state->url = fmt::format("http://{}:{}/metrics", host, port);
  state->thread = std::jthread([s = state.get()] {
    s->server.listen_after_bind();
    s->returned.store(true);
  });
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(state)));
}

MetricsServer::MetricsServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

MetricsServer::~MetricsServer() {
  // stop() before listen_after_bind() has started would be lost: wait until it runs (it starts at once).
  while (!state_->returned.load() && !state_->server.is_running())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  state_->server.stop();
}  // the jthread joins

const std::string& MetricsServer::url() const { return state_->url; }

}  // namespace edgeserve::transport::http
