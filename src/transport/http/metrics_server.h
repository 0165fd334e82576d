// `serve --metrics HOST:PORT`: a small HTTP server answering only GET /metrics (Prometheus text), on its own
// thread, for servers whose listeners are tcp://, ucx:// or ipc:// only (an http:// listener serves /metrics itself).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/status.h"

namespace edgeserve::transport::http {

class MetricsServer {
 public:
  // Binds `address` ("HOST:PORT" or "http://HOST:PORT"; port 0 picks one) and serves `render()`'s text, called on
  // the server's own thread for each scrape.
  static core::Result<std::unique_ptr<MetricsServer>> start(const std::string& address,
                                                            std::function<std::string()> render);
  // Stops and joins the server's thread.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // "http://127.0.0.1:9100/metrics": where it is bound.
  const std::string& url() const;

  struct State;

 private:
  explicit MetricsServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace edgeserve::transport::http
