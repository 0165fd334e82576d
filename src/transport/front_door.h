// The front door of a serving process (`serve` and `gateway`): where it listens, the limits on what arrives,
// and its lifecycle: bind every address, say it is ready, serve until stopped, drain.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "transport/connection_limits.h"
#include "transport/delivery.h"
#include "transport/listen.h"
#include "transport/listener.h"
#include "transport/transport_settings.h"

namespace edgeserve::transport {

struct FrontDoorOptions {
  std::vector<std::string> listen;
  int io_threads = 1;                // per listener: ZeroMQ I/O threads (tcp) or UCX workers with a thread each (ucx)
  size_t max_queue = 1024;           // requests waiting for a worker; beyond: "overloaded" replies
  size_t max_queue_per_client = 32;  // of those, from one client (connection or CURVE key)
  ConnectionLimits limits;           // clients, connections per source, deadlines (connection_limits.h)
  uint64_t max_payload_bytes = 64ull << 20;
  // Each transport's own settings (tcp: CURVE; ucx: where requests land), made by cli/ and passed on unread.
  TransportSettings transports;
  std::filesystem::path ready_file;  // written with the bound endpoints once serving (for scripts and tests)
};

class FrontDoor {
 public:
  explicit FrontDoor(const FrontDoorOptions& options) : options_(options), listeners_(options.listen.size()) {}

  // Binds every listen address; `allocate` and `edge_error` as in ListenOptions. Errors: an address that fails.
  core::Status open(MemoryAllocator allocate, EdgeErrorReply edge_error);
  // Writes the ready file, when one was asked for. Never throws.
  core::Status announce() const;
  std::vector<std::string> endpoints() const { return listeners_.endpoints(); }
  // Serves until stop(): every request becomes a Delivery for `on_delivery`; returns once every listener has sent
  // the replies of the requests it took. An exception in a listener comes back as the error.
  core::Status serve(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery);
  // Async-signal-safe; before open() or during it, open() binds what it binds and serve() returns at once.
  void stop();
  bool stop_requested() const { return stop_requested_.load(); }

 private:
  const FrontDoorOptions& options_;
  ListenerSet listeners_;
  std::atomic<bool> stop_requested_{false};
};

}  // namespace edgeserve::transport
