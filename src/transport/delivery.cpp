// The exactly-one-reply guarantee, shared by every network transport.
#include "transport/delivery.h"

#include "core/log.h"

namespace edgeserve::transport {

void Delivery::reply_if_dropped() noexcept {
  if (replied_) return;
  try {
    core::logger("transport")
        ->error("request {} from {} dropped without a reply; answering with an internal error", request_.request_id,
                peer());
    send_reply(core::error_response(request_.request_id,
                                    core::Status(core::StatusCode::kInternal, "request dropped by the server")),
               nullptr);
  } catch (...) {  // a destructor: nothing may leave it (the client then waits out its timeout)
  }
}

}  // namespace edgeserve::transport
