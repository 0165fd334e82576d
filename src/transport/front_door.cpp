// The front door's lifecycle over a ListenerSet.
#include "transport/front_door.h"

#include <algorithm>

namespace edgeserve::transport {

core::Status FrontDoor::open(MemoryAllocator allocate, EdgeErrorReply edge_error) {
  ListenOptions listen_options;
  listen_options.max_payload_bytes = options_.max_payload_bytes;
  listen_options.limits = options_.limits;
  listen_options.io_threads = std::max(1, options_.io_threads);
  listen_options.allocate = std::move(allocate);
  listen_options.settings = options_.transports;
  listen_options.edge_error = std::move(edge_error);
  for (const auto& address : options_.listen)
    if (core::Status bound = listeners_.add(address, listen_options); !bound.ok()) return bound;
  return {};
}

core::Status FrontDoor::announce() const {
  return options_.ready_file.empty() ? core::Status() : listeners_.write_ready_file(options_.ready_file);
}

core::Status FrontDoor::serve(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) {
  if (stop_requested_.load()) return {};
  return listeners_.run(on_delivery);
}

void FrontDoor::stop() {
  stop_requested_.store(true);
  listeners_.stop();  // sees the listeners bound so far
}

}  // namespace edgeserve::transport
