// UCX transport, server side: one connected client (its slot: endpoint, landing and reply buffers, state), the
// outbox through which workers hand replies to the I/O thread, and the loop's own error replies.
#pragma once

#include <sys/eventfd.h>
#include <ucp/api/ucp.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/memory_buffer.h"
#include "core/status.h"
#include "core/wire.h"
#include "transport/sender.h"
#include "transport/ucx/ucx_common.h"
#include "transport/ucx/ucx_listener.h"

namespace edgeserve::transport::ucx {

using Clock = std::chrono::steady_clock;

// "127.0.0.1:51234" of the client asking to connect, for log lines; "?" when UCX cannot say.
std::string client_address(ucp_conn_request_h request);

// Landing (of the kind asked) or reply memory from the server's allocator; plain host memory without one.
core::Result<std::unique_ptr<core::MemoryBuffer>> allocate(const UcxListenerOptions& options, size_t bytes,
                                                           core::MemoryKind kind);

// One connected client. The I/O thread owns every field except `reply*`, which the worker that runs the
// client's request writes in send_reply (the outbox's lock orders the hand-over). The reply payload is the
// engine's pool block, sent where it lies and dropped (back to its pool) when the send completes; UCX registers
// it on first use and keeps the registration in its cache, the pool's blocks being reused.
struct IoWorker;

struct Slot : std::enable_shared_from_this<Slot> {
  IoWorker* owner = nullptr;
  uint64_t id = 0;
  uint64_t sender = new_connection_sender();  // one endpoint, one share of the server (transport/sender.h)
  std::string peer;                           // "ucx client 3 (127.0.0.1:51234)"
  std::string source;                         // "127.0.0.1": counted in Impl::sources while connected
  Clock::time_point last_request;             // connection or last request: for the idle deadline
  Clock::time_point request_started;          // for the payload's deadline while recv_request is pending
  UcpEndpoint ep;                             // closed on the I/O thread (close_failed, ~IoWorker)
  bool dead = false;
  bool executing = false;  // a request arrived and its reply has not been handed to the loop yet
  bool landed = false;     // its payload is in `landing`, waiting to become a delivery
  ucs_status_ptr_t recv_request = nullptr, reply_request = nullptr;
  uint64_t recv_ns = 0;
  core::RequestHeaderBytes header{};
  size_t payload_bytes = 0;
  std::unique_ptr<core::MemoryBuffer> landing;
  std::unique_ptr<Registration> landing_registration;
  Welcome welcome;

  std::unique_ptr<core::MemoryBuffer> reply;  // null: no payload
  core::ResponseHeaderBytes reply_header{};
};

// Replies waiting for the I/O thread, the count of deliveries not yet answered, and the loop's wake-up.
struct Outbox {
  std::mutex mutex;
  std::vector<std::shared_ptr<Slot>> queue;
  int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  std::atomic<bool> sleeping{false};
  std::atomic<int64_t> unanswered{0};

  ~Outbox() { ::close(wake_fd); }
  void wake() const {  // async-signal-safe
    const uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
  }
  void push(std::shared_ptr<Slot> slot) {
    {
      std::lock_guard lock(mutex);
      queue.push_back(std::move(slot));
    }
    if (sleeping.load()) wake();  // the loop re-checks the queue after announcing it sleeps
  }
  bool empty() {
    std::lock_guard lock(mutex);
    return queue.empty();
  }
};

// An error reply sent by the loop itself (bad request, busy connection): its own header storage, because
// the slot's may belong to a request still running.
struct ErrorReply {
  std::shared_ptr<Slot> slot;
  core::ResponseHeaderBytes header{};
  bool done = false;
};

}  // namespace edgeserve::transport::ucx
