// UCX handles, endpoint reports and address parsing shared by the UCX client and server.
#include "transport/ucx/ucx_common.h"

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <regex>
#include <thread>

#include "core/log.h"

namespace edgeserve::transport::ucx {

using core::Status;
using core::StatusCode;

const char* paper_name(core::MemoryKind landing) { return landing == core::MemoryKind::kCuda ? "gdr" : "rdma"; }

std::string to_string(ucs_status_t status) { return ucs_status_string(status); }

namespace {

constexpr const char* kSharedMemoryFifoSlots = "4096";

// Whether UCX_TLS (unset: all) lets UCX use its shared-memory (mm) transports.
bool shared_memory_allowed() {
  const char* tls = std::getenv("UCX_TLS");
  if (tls == nullptr) return true;
  const std::string list = tls;
  if (list.starts_with("^")) return list.find("sm") == std::string::npos && list.find("mm") == std::string::npos;
  for (const char* name : {"all", "sm", "shm", "mm", "posix", "sysv"})
    if (list.find(name) != std::string::npos) return true;
  return false;
}

}  // namespace

core::Result<std::shared_ptr<Context>> Context::create() {
  // Defaults that differ from UCX's; a user's own UCX_* setting wins.
  //  - TCP_CM_REUSEADDR: a server restarted after a crash listens on its port again at once, instead of
  //    failing while the old connections sit in TIME_WAIT. UCX 1.13 reads it only from the environment.
  setenv("UCX_TCP_CM_REUSEADDR", "y", /*overwrite=*/0);
  ucp_config_t* config = nullptr;
  if (ucs_status_t s = ucp_config_read(nullptr, nullptr, &config); s != UCS_OK)
    return Status(StatusCode::kTransportError, "cannot read the UCX configuration (UCX_* variables): " + to_string(s));
  //  - MM_ERROR_HANDLING: connections are made with peer-failure detection (a client that dies must free its
  //    slot), and UCX (1.13 and 1.22 alike) then leaves its shared-memory transports out unless told that
  //    they may handle peer errors (openucx/ucx#8477): one-host links would run all over TCP loopback.
  if (!std::getenv("UCX_MM_ERROR_HANDLING") && shared_memory_allowed())
    if (ucs_status_t s = ucp_config_modify(config, "MM_ERROR_HANDLING", "y"); s != UCS_OK)
      core::logger("transport")->debug("UCX {} has no setting MM_ERROR_HANDLING: {}", version(), to_string(s));
  //  - SYSV/POSIX_FIFO_SIZE: every sender to a worker shares that worker's one shared-memory receive FIFO (256
  //    slots by default), and a rendezvous payload crosses it in 8 KB fragments; 64 clients sending 921 KB frames
  //    to 4 workers kept it full, and senders spun waiting for slots (issue 13, on an H200: 64 clients' 12,800
  //    requests took 40.8 s with 256 slots, 6.0 s with 4096). A slot is 128 bytes; fragments live elsewhere.
  for (const char* fifo : {"SYSV_FIFO_SIZE", "POSIX_FIFO_SIZE"})
    if (!std::getenv(fmt::format("UCX_{}", fifo).c_str()))
      if (ucs_status_t s = ucp_config_modify(config, fifo, kSharedMemoryFifoSlots); s != UCS_OK)
        core::logger("transport")->debug("UCX {} has no setting {}: {}", version(), fifo, to_string(s));
  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED | UCP_PARAM_FIELD_NAME;
  params.features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP;
  params.mt_workers_shared = 1;  // several client connections (threads) share the context
  params.name = "edgeserve";
  ucp_context_h context = nullptr;
  const ucs_status_t s = ucp_init(&params, config, &context);
  ucp_config_release(config);
  if (s != UCS_OK) return Status(StatusCode::kTransportError, "UCX initialisation failed: " + to_string(s));
  return std::shared_ptr<Context>(new Context(context));
}

core::Result<std::shared_ptr<Context>> Context::shared() {
  static std::mutex mutex;
  static std::weak_ptr<Context> current;
  std::lock_guard lock(mutex);
  if (auto context = current.lock()) return context;
  auto made = create();
  if (made.ok()) current = made.value();
  return made;
}

Context::~Context() { ucp_cleanup(context_); }

bool Context::supports_cuda_memory() const {
  ucp_context_attr_t attr{};
  attr.field_mask = UCP_ATTR_FIELD_MEMORY_TYPES;
  if (ucp_context_query(context_, &attr) != UCS_OK) return false;
  return (attr.memory_types & UCS_BIT(UCS_MEMORY_TYPE_CUDA)) != 0;
}

std::string Context::version() {
  unsigned major = 0, minor = 0, release = 0;
  ucp_get_version(&major, &minor, &release);
  return fmt::format("{}.{}.{}", major, minor, release);
}

core::Result<std::unique_ptr<Worker>> Worker::create(std::shared_ptr<Context> context) {
  ucp_worker_params_t params{};
  params.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  params.thread_mode = UCS_THREAD_MODE_SINGLE;  // each worker is driven by one thread
  ucp_worker_h handle = nullptr;
  if (ucs_status_t s = ucp_worker_create(context->get(), &params, &handle); s != UCS_OK)
    return Status(StatusCode::kTransportError, "cannot create a UCX worker: " + to_string(s));
  std::unique_ptr<Worker> worker(new Worker(std::move(context), handle));
  if (ucs_status_t s = ucp_worker_get_efd(handle, &worker->efd_); s != UCS_OK)
    return Status(StatusCode::kTransportError, "UCX worker has no event fd (wakeup): " + to_string(s));
  ucp_worker_attr_t attr{};
  attr.field_mask = UCP_WORKER_ATTR_FIELD_MAX_AM_HEADER;
  if (ucs_status_t s = ucp_worker_query(handle, &attr); s != UCS_OK)
    return Status(StatusCode::kTransportError, "cannot query the UCX worker: " + to_string(s));
  worker->max_am_header_ = attr.max_am_header;
  return worker;
}

Worker::~Worker() { ucp_worker_destroy(worker_); }

Status Worker::set_am_handler(unsigned id, ucp_am_recv_callback_t cb, void* arg) {
  ucp_am_handler_param_t param{};
  param.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB | UCP_AM_HANDLER_PARAM_FIELD_ARG |
                     UCP_AM_HANDLER_PARAM_FIELD_FLAGS;
  param.id = id;
  param.cb = cb;
  param.arg = arg;
  param.flags = UCP_AM_FLAG_WHOLE_MSG;
  if (ucs_status_t s = ucp_worker_set_am_recv_handler(worker_, &param); s != UCS_OK)
    return {StatusCode::kTransportError,
            fmt::format("cannot set the UCX handler for message {}: {}", id, to_string(s))};
  return {};
}

core::Result<std::unique_ptr<Registration>> Registration::map(std::shared_ptr<Context> context, void* data,
                                                              size_t bytes, bool on_device) {
  ucp_mem_map_params_t params{};
  params.field_mask =
      UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH | UCP_MEM_MAP_PARAM_FIELD_MEMORY_TYPE;
  params.address = data;
  params.length = std::max<size_t>(bytes, 1);
  params.memory_type = on_device ? UCS_MEMORY_TYPE_CUDA : UCS_MEMORY_TYPE_HOST;
  ucp_mem_h memh = nullptr;
  if (ucs_status_t s = ucp_mem_map(context->get(), &params, &memh); s != UCS_OK)
    return Status(StatusCode::kTransportError,
                  fmt::format("cannot register {} bytes of {} memory with UCX: {}{}", bytes, on_device ? "GPU" : "host",
                              to_string(s),
                              on_device ? " (this UCX cannot register GPU memory: it needs CUDA support, e.g. "
                                          "PyPI's libucx-cu13)"
                                        : ""));
  return std::unique_ptr<Registration>(new Registration(std::move(context), memh));
}

Registration::~Registration() { ucp_mem_unmap(context_->get(), memh_); }

std::chrono::microseconds spin_time() {
  static const std::chrono::microseconds spin = [] {
    const char* v = std::getenv("EDGESERVE_UCX_SPIN_US");
    char* end = nullptr;
    const long us = v ? std::strtol(v, &end, 10) : -1;
    return std::chrono::microseconds(v && *end == '\0' && us >= 0 ? us : 100);
  }();
  return spin;
}

ucp_err_handling_mode_t error_handling_mode() {
  static const ucp_err_handling_mode_t mode = [] {
    const char* v = std::getenv("EDGESERVE_UCX_PEER_ERRORS");
    return v && std::string(v) == "0" ? UCP_ERR_HANDLING_MODE_NONE : UCP_ERR_HANDLING_MODE_PEER;
  }();
  return mode;
}

bool progress_until(Worker& worker, const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline,
                    std::chrono::microseconds spin) {
  const auto spin_end = std::chrono::steady_clock::now() + spin;
  while (!done()) {
    if (ucp_worker_progress(worker.get()) != 0) continue;
    if (done()) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    if (now < spin_end) continue;
    // Sleep until the worker has events: arm says BUSY when some arrived since the last progress.
    const ucs_status_t armed = ucp_worker_arm(worker.get());
    if (armed == UCS_ERR_BUSY) continue;
    if (armed != UCS_OK) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));  // cannot sleep on the fd: poll slowly
      continue;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
    pollfd fd{worker.event_fd(), POLLIN, 0};
    ::poll(&fd, 1, static_cast<int>(std::min<long long>(left, 100)));
  }
  return true;
}

ucs_status_t wait_request(ucp_worker_h worker, ucs_status_ptr_t request) {
  if (request == nullptr) return UCS_OK;
  if (UCS_PTR_IS_ERR(request)) return UCS_PTR_STATUS(request);
  ucs_status_t s;
  while ((s = ucp_request_check_status(request)) == UCS_INPROGRESS) ucp_worker_progress(worker);
  ucp_request_free(request);
  return s;
}

ucs_status_ptr_t start_close(ucp_ep_h ep, bool force) {
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
  param.flags = force ? UCP_EP_CLOSE_FLAG_FORCE : 0;
  ucs_status_ptr_t request = ucp_ep_close_nbx(ep, &param);
  return UCS_PTR_IS_ERR(request) ? nullptr : request;
}

void close_endpoint(ucp_worker_h worker, ucp_ep_h ep, bool force) {
  ucs_status_ptr_t request = start_close(ep, force);
  if (request == nullptr) return;
  // A graceful close waits for the peer; never let a dead or silent peer hold the caller for long. A close
  // request cannot be cancelled: past the deadline it is released and completes (or not) on its own.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (ucp_request_check_status(request) == UCS_INPROGRESS && std::chrono::steady_clock::now() < deadline)
    ucp_worker_progress(worker);
  ucp_request_free(request);
}

std::string endpoint_info(ucp_ep_h ep) {
  char* text = nullptr;
  size_t size = 0;
  FILE* stream = open_memstream(&text, &size);
  if (!stream) return {};
  ucp_ep_print_info(ep, stream);
  std::fclose(stream);
  std::string out(text, size);
  std::free(text);
  return out;
}

std::vector<std::string> endpoint_transports(ucp_ep_h ep) {
  // Lines look like "#   lane[0]:  2:posix/memory.0 md[1]   -> md[1]/posix/sysdev[255] rma_bw#0 am am_bw#0";
  // the part after "N:" up to the path index (".0") is the transport and its device.
  static const std::regex lane(R"(lane\[\d+\]:\s*\d+:([A-Za-z0-9_]+/[^\s]+?)(\.\d+)?\s)");
  std::vector<std::string> out;
  const std::string info = endpoint_info(ep);
  for (auto it = std::sregex_iterator(info.begin(), info.end(), lane); it != std::sregex_iterator(); ++it) {
    std::string name = (*it)[1].str();
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
  }
  return out;
}

std::string describe() {
  auto context = Context::shared();
  if (!context.ok()) return "UCX " + Context::version() + ", cannot start: " + context.status().message();
  return fmt::format("UCX {}, {}", Context::version(),
                     context.value()->supports_cuda_memory() ? "can land requests in GPU memory"
                                                             : "no CUDA support: --landing host only");
}

core::Result<SocketAddress> parse_ucx_uri(const std::string& uri) {
  constexpr std::string_view scheme = "ucx://";
  const auto bad = [&](std::string_view why) {
    return Status(StatusCode::kTransportError,
                  fmt::format("bad address '{}': {} (expected ucx://HOST:PORT)", uri, why));
  };
  if (!uri.starts_with(scheme)) return bad("not a ucx:// address");
  const std::string rest = uri.substr(scheme.size());
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad("no host:port");
  SocketAddress address;
  address.host = rest.substr(0, colon);
  const std::string port = rest.substr(colon + 1);
  if (port == "*") return address;
  char* end = nullptr;
  const long value = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || value < 0 || value > 65535) return bad("port must be 0..65535 or *");
  address.port = static_cast<uint16_t>(value);
  return address;
}

Status resolve(const SocketAddress& address, sockaddr_storage& out, socklen_t& length) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string host = address.host == "*" ? "0.0.0.0" : address.host;
  if (int e = getaddrinfo(host.c_str(), nullptr, &hints, &found); e != 0 || !found)
    return {StatusCode::kTransportError, fmt::format("cannot resolve host '{}': {}", host, gai_strerror(e))};
  std::memset(&out, 0, sizeof out);
  std::memcpy(&out, found->ai_addr, found->ai_addrlen);
  length = found->ai_addrlen;
  freeaddrinfo(found);
  reinterpret_cast<sockaddr_in&>(out).sin_port = htons(address.port);
  return {};
}

}  // namespace edgeserve::transport::ucx
