// A serving process: transport listeners feed admitted jobs into a queue that worker threads drain
// through the pipeline. Stops gracefully: in-flight requests are answered before it returns.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "core/status.h"
#include "server/model_repository.h"
#include "server/priority_gate.h"
#include "server/request_trace.h"
#include "server/scheduler.h"
#include "transport/front_door.h"

namespace edgeserve::metrics {
class Registry;
}

namespace edgeserve::server {

struct ServerOptions {
  // Listen addresses, limits, transports' settings, ready file: what `serve` shares with `gateway`.
  transport::FrontDoorOptions front{.listen = {"tcp://0.0.0.0:5555"}};
  int workers = 4;  // threads, each owning one lane of every engine; the paper uses one per client
  SchedulingPolicy policy = SchedulingPolicy::kPerClient;
  PriorityGateOptions priority_gate;  // off by default (priority_gate.h)
  // Where the server's Prometheus metrics go (server_metrics.h); null: none are recorded. It outlives the server.
  metrics::Registry* metrics = nullptr;
  TraceOptions trace;  // no file: no trace (request_trace.h)
};

class Server {
 public:
  Server(const ModelRepository& models, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listen address, serves until stop(), then drains. Errors: a listen address that fails.
  core::Status run();
  // Async-signal-safe: may be called from a SIGINT/SIGTERM handler.
  void stop();

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace edgeserve::server
