// Server side of every network transport: bound to one address, it turns arriving requests into Deliveries.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "transport/delivery.h"

namespace edgeserve::transport {

class Listener {
 public:
  virtual ~Listener() = default;
  // The endpoint actually bound, e.g. "tcp://127.0.0.1:40123" or "ucx://127.0.0.1:40124".
  virtual const std::string& endpoint() const = 0;
  // Runs the I/O loop on the calling thread until stop(): every well-framed request becomes a Delivery
  // passed to `on_delivery` (which must not block for long); badly framed ones get an error reply here.
  virtual void run(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) = 0;
  // Ends run() after it has sent every reply queued so far. Thread-safe and async-signal-safe.
  virtual void stop() = 0;
};

}  // namespace edgeserve::transport
