#include "transport/http/numbered_connections.h"

#include <algorithm>

namespace edgeserve::transport::http {

namespace {
thread_local uint32_t current_number = 0;
}

void NumberedConnections::enqueue(std::function<void()> serve_connection) {
  pool_.enqueue([this, serve = std::move(serve_connection)] {
    const uint32_t number = acquire();
    current_number = number;
    serve();
    release(number);
  });
}

uint32_t NumberedConnections::current() { return current_number; }

uint32_t NumberedConnections::acquire() {
  std::lock_guard lock(mutex_);
  const auto free = std::find(taken_.begin(), taken_.end(), false);
  const auto number = static_cast<uint32_t>(free - taken_.begin());
  if (free == taken_.end())
    taken_.push_back(true);
  else
    *free = true;
  return number;
}

void NumberedConnections::release(uint32_t number) {
  std::lock_guard lock(mutex_);
  taken_[number] = false;
}

}  // namespace edgeserve::transport::http
