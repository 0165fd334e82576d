// Server-side transports by URI, through the registry (the client side's is connect()).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "transport/listener.h"

namespace edgeserve::transport {

// Binds an address of a transport in the registry (registry.h) that can listen, checked and resolved by
// resolve_listen_address (endpoint.h); anything else is an error that says what is accepted.
core::Result<std::unique_ptr<Listener>> listen(const std::string& uri, const ListenOptions& options);

// The listeners of one serving process (server or gateway), run together and stopped together.
class ListenerSet {
 public:
  explicit ListenerSet(size_t capacity) { listeners_.reserve(capacity); }
  // Binds one more; stop() may run concurrently (it sees the listeners bound so far).
  core::Status add(const std::string& uri, const ListenOptions& options);
  // Runs every listener (the first on the calling thread) until stop(); returns when all have drained. An
  // exception in a listener stops them all and comes back as the error.
  core::Status run(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery);
  // Async-signal-safe.
  void stop();
  std::vector<std::string> endpoints() const;
  // Writes endpoints(), one per line, to `path` (atomically: scripts and tests wait for it to appear). Never
  // throws: an unwritable path is an error the caller reports.
  core::Status write_ready_file(const std::filesystem::path& path) const;

 private:
  std::vector<std::unique_ptr<Listener>> listeners_;  // never reallocates: capacity is reserved up front
  std::atomic<size_t> bound_{0};
};

}  // namespace edgeserve::transport
