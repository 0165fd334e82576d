// What the UCX client and server share: RAII owners of UCX handles, the active-message ids of the
// protocol, the hello/welcome messages, `ucx://HOST:PORT` parsing, and the report of which UCX transports an
// endpoint really uses (so a number measured over shared memory is never mistaken for one over an RDMA NIC).
//
// The protocol, on one UCX endpoint per client connection (client-server mode, through a UCX listener):
//   client → server  kHello    header: Hello                    (once, at connect)
//   server → client  kWelcome  header: Welcome                  (landing memory, limits, server's transports)
//   client → server  kRequest  header: 176-B request header, data: the payload, always by rendezvous, so
//                              the server pulls it straight into the client's landing buffer (host or GPU)
//   server → client  kReply    header: 968-B response header, data: the reply payload
// One request at a time per connection (closed loop, as in the paper); a timed-out connection reconnects.
#pragma once

#include <ucp/api/ucp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/memory_buffer.h"
#include "core/status.h"
#include "transport/ucx/ucx_info.h"

namespace edgeserve::transport::ucx {

enum MessageId : unsigned { kHello = 1, kWelcome = 2, kRequest = 3, kReply = 4 };

inline constexpr uint32_t kHelloMagic = 0x4C485345;    // "ESHL"
inline constexpr uint32_t kWelcomeMagic = 0x4C575345;  // "ESWL"
inline constexpr uint16_t kProtocolVersion = 1;

// The paper's name for a UCX link by where requests land: "rdma" (host memory) or "gdr" (GPU memory).
const char* paper_name(core::MemoryKind landing);

struct Hello {
  uint32_t magic = kHelloMagic;
  uint16_t version = kProtocolVersion;
  uint16_t reserved = 0;
};

struct Welcome {
  uint32_t magic = kWelcomeMagic;
  uint16_t version = kProtocolVersion;
  core::MemoryKind landing = core::MemoryKind::kHost;
  uint8_t reserved = 0;
  uint64_t max_payload_bytes = 0;
  char server_transports[240] = {};  // NUL-terminated, e.g. "posix/memory cma/memory"
};
static_assert(sizeof(Welcome) == 256);

std::string to_string(ucs_status_t status);

// The process-wide UCP context (one per process and feature set; thread-safe for several workers).
class Context {
 public:
  static core::Result<std::shared_ptr<Context>> create();
  // One context for the whole process, made on first use and freed with its last user.
  static core::Result<std::shared_ptr<Context>> shared();
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ucp_context_h get() const { return context_; }
  // Whether this UCX can register and move GPU memory (built with CUDA and the CUDA modules present).
  bool supports_cuda_memory() const;
  // "1.13.1"
  static std::string version();

 private:
  explicit Context(ucp_context_h c) : context_(c) {}
  ucp_context_h context_;
};

// One worker: its own progress engine, used by one thread at a time.
class Worker {
 public:
  static core::Result<std::unique_ptr<Worker>> create(std::shared_ptr<Context> context);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ucp_worker_h get() const { return worker_; }
  int event_fd() const { return efd_; }
  size_t max_am_header() const { return max_am_header_; }
  const std::shared_ptr<Context>& context() const { return context_; }
  // Registers `cb` for active messages with `id`.
  core::Status set_am_handler(unsigned id, ucp_am_recv_callback_t cb, void* arg);

 private:
  Worker(std::shared_ptr<Context> c, ucp_worker_h w) : context_(std::move(c)), worker_(w) {}
  std::shared_ptr<Context> context_;  // outlives the worker
  ucp_worker_h worker_;
  int efd_ = -1;
  size_t max_am_header_ = 0;
};

// Memory registered with UCX once (ucp_mem_map), unregistered with the object.
class Registration {
 public:
  static core::Result<std::unique_ptr<Registration>> map(std::shared_ptr<Context> context, void* data, size_t bytes,
                                                         bool on_device);
  ~Registration();
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  ucp_mem_h get() const { return memh_; }

 private:
  Registration(std::shared_ptr<Context> c, ucp_mem_h m) : context_(std::move(c)), memh_(m) {}
  std::shared_ptr<Context> context_;
  ucp_mem_h memh_;
};

// Waits for progress on `worker` until `done()` or `deadline`: spins for `spin` first (lowest latency), then
// sleeps on the worker's event fd. Returns false at the deadline.
bool progress_until(Worker& worker, const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline,
                    std::chrono::microseconds spin);
// How long a waiting side spins before it sleeps: EDGESERVE_UCX_SPIN_US (default 100 µs).
std::chrono::microseconds spin_time();
// Peer-failure detection on every endpoint (default), or none with EDGESERVE_UCX_PEER_ERRORS=0: UCX (1.22
// here) leaves CMA, the single-copy one-host transport, out of endpoints that detect peer failures, so the
// option trades detection (a killed client's slot is then never freed; a dead server shows as timeouts)
// for CMA. Both sides must agree.
ucp_err_handling_mode_t error_handling_mode();

// Starts closing an endpoint (flushed unless `force`): the close request to watch, or null when nothing is left
// to wait for.
ucs_status_ptr_t start_close(ucp_ep_h ep, bool force);
// Closes an endpoint: start_close, then progresses `worker` until done (bounded).
void close_endpoint(ucp_worker_h worker, ucp_ep_h ep, bool force);

// The one owner of an endpoint: close() ends it (flushed unless forced); the destructor force-closes one still
// open. Both progress the endpoint's worker, so they run on the thread that drives that worker.
class UcpEndpoint {
 public:
  UcpEndpoint() = default;
  UcpEndpoint(ucp_worker_h worker, ucp_ep_h ep) : worker_(worker), ep_(ep) {}
  ~UcpEndpoint() { close(/*force=*/true); }
  UcpEndpoint(UcpEndpoint&& other) noexcept : worker_(other.worker_), ep_(std::exchange(other.ep_, nullptr)) {}
  UcpEndpoint& operator=(UcpEndpoint&& other) noexcept {
    if (this != &other) {
      close(/*force=*/true);
      worker_ = other.worker_;
      ep_ = std::exchange(other.ep_, nullptr);
    }
    return *this;
  }
  UcpEndpoint(const UcpEndpoint&) = delete;
  UcpEndpoint& operator=(const UcpEndpoint&) = delete;

  ucp_ep_h get() const { return ep_; }
  // Idempotent: a second close, or one of an endpoint never opened, does nothing.
  void close(bool force) {
    if (ep_ != nullptr) close_endpoint(worker_, std::exchange(ep_, nullptr), force);
  }
  // Starts closing without waiting: the close request to watch (ucp_request_check_status, then
  // ucp_request_free), or null when the endpoint is already closed or nothing is left to wait for.
  ucs_status_ptr_t begin_close(bool force) {
    return ep_ == nullptr ? nullptr : start_close(std::exchange(ep_, nullptr), force);
  }

 private:
  ucp_worker_h worker_ = nullptr;
  ucp_ep_h ep_ = nullptr;
};

// Waits for a UCX request to finish, progressing `worker`; frees it. For set-up paths only.
ucs_status_t wait_request(ucp_worker_h worker, ucs_status_ptr_t request);

// What an endpoint really uses, from ucp_ep_print_info: one entry per lane ("posix/memory", "cma/memory",
// "rc_mlx5/mlx5_0:1", "tcp/eth0", "cuda_ipc/cuda"), de-duplicated, in lane order.
std::vector<std::string> endpoint_transports(ucp_ep_h ep);
// The raw ucp_ep_print_info text (for logs at debug level and for results).
std::string endpoint_info(ucp_ep_h ep);

// "ucx://HOST:PORT" → host and port. Port 0 is allowed (a listener then picks one).
struct SocketAddress {
  std::string host;
  uint16_t port = 0;
};
core::Result<SocketAddress> parse_ucx_uri(const std::string& uri);
// Resolves host (name or IPv4 literal) into `out` (a sockaddr_in). Errors name the host.
core::Status resolve(const SocketAddress& address, struct sockaddr_storage& out, socklen_t& length);

}  // namespace edgeserve::transport::ucx
