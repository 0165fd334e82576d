// A serving process: transport listeners feed admitted jobs into a queue that worker threads drain
// through the pipeline. Stops gracefully: in-flight requests are answered before it returns.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "server/model_repository.h"
#include "server/priority_gate.h"
#include "server/scheduler.h"
#include "transport/connection_limits.h"
#include "transport/transport_settings.h"

namespace edgeserve::server {

struct ServerOptions {
  std::vector<std::string> listen{"tcp://0.0.0.0:5555"};
  int workers = 4;     // threads, each owning one lane of every engine; the paper uses one per client
  int io_threads = 1;  // per listener: ZeroMQ I/O threads (tcp) or UCX workers with a thread each (ucx)
  SchedulingPolicy policy = SchedulingPolicy::kPerClient;
  PriorityGateOptions priority_gate;   // off by default (priority_gate.h)
  size_t max_queue = 1024;             // admitted requests waiting for a worker; beyond: "overloaded" replies
  size_t max_queue_per_client = 32;    // of those, from one client (connection or CURVE key)
  transport::ConnectionLimits limits;  // clients, connections per source, deadlines (connection_limits.h)
  uint64_t max_payload_bytes = 64ull << 20;
  // Each transport's own settings (tcp: CURVE; ucx: where requests land), made by cli/ and passed on unread.
  transport::TransportSettings transports;
  std::filesystem::path ready_file;  // written with the bound endpoints once serving (for scripts and tests)
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
