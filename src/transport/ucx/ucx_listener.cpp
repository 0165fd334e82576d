// UCX transport, server side: the listener. It lives on I/O worker 0, which hands each new connection to the
// worker with the fewest clients (ucx_io_worker.h), so payload transfers of many clients are progressed in
// parallel. Role files: ucx_peer.h (a client's slot), ucx_delivery.h (a request and its reply),
// ucx_io_worker.h with ucx_io_callbacks.cpp and ucx_io_loop.cpp (the I/O thread), ucx_common.h (UCX handles).
#include "transport/ucx/ucx_listener.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "core/log.h"
#include "core/log_limiter.h"
#include "transport/ucx/ucx_common.h"
#include "transport/ucx/ucx_io_worker.h"

namespace edgeserve::transport::ucx {

struct UcxListener::Impl {
  UcxListenerOptions options;
  std::string endpoint;
  std::shared_ptr<Context> context;
  std::vector<std::unique_ptr<IoWorker>> io;  // io[0] also runs the listener
  ucp_listener_h listener = nullptr;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> slot_ids{0};
  SourceCounts sources;  // connections per client address (ConnectionLimits::max_connections_per_source)
  std::shared_ptr<spdlog::logger> log = core::logger("transport");
  core::LogLimiter refused_log{20};  // peers decide how often they connect

  ~Impl() {
    for (auto& w : io) {  // connection requests never accepted (the loops have stopped)
      std::lock_guard lock(w->incoming_mutex);
      for (auto request : w->incoming) ucp_listener_reject(listener, request);
      w->incoming.clear();
    }
    if (listener) ucp_listener_destroy(listener);
    io.clear();  // closes every endpoint, then destroys the workers
  }

  size_t clients() const {
    size_t n = 0;
    for (const auto& w : io) n += w->client_count.load();
    return n;
  }

  // On worker 0's thread: hands the connection to the worker with the fewest clients.
  static void on_connection(ucp_conn_request_h request, void* arg) {
    Impl& s = *static_cast<Impl*>(arg);
    const std::string from = client_address(request);
    const ConnectionLimits& limits = s.options.limits;
    std::string why;
    if (s.stopping.load())
      why = "shutting down";
    else if (s.clients() >= limits.max_clients)
      why = fmt::format("at the limit of {} clients", limits.max_clients);
    else if (!s.sources.try_add(source_of(from), limits.max_connections_per_source))
      why = fmt::format("{} connections from {} are open already (--max-connections-per-source)",
                        limits.max_connections_per_source, source_of(from));
    if (!why.empty()) {
      if (std::string note; s.refused_log.allow(note))
        s.log->warn("refused a UCX connection from {}: {}{}", from, why, note);
      ucp_listener_reject(s.listener, request);
      return;
    }
    IoWorker* target = s.io[0].get();
    for (const auto& w : s.io)
      if (w->client_count.load() < target->client_count.load()) target = w.get();
    target->client_count.fetch_add(1);
    if (target == s.io[0].get()) return target->accept(request);
    {
      std::lock_guard lock(target->incoming_mutex);
      target->incoming.push_back(request);
    }
    target->outbox->wake();
  }
};

const UcxListenerOptions& IoWorker::options() const { return impl->options; }
bool IoWorker::stopping() const { return impl->stopping.load(); }
uint64_t IoWorker::next_slot_id() { return impl->slot_ids.fetch_add(1) + 1; }
void IoWorker::release_source(const std::string& source) { impl->sources.remove(source); }

core::Result<std::unique_ptr<UcxListener>> UcxListener::bind(const std::string& uri, UcxListenerOptions options) {
  auto address = parse_ucx_uri(uri);
  if (!address.ok()) return address.status();
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  auto context = Context::shared();
  if (!context.ok()) return context.status();
  impl->context = context.value();
  if (impl->options.landing == core::MemoryKind::kCuda && !impl->context->supports_cuda_memory())
    return Status(StatusCode::kTransportError,
                  fmt::format("landing memory 'cuda' (GPUDirect) needs a UCX that can register GPU memory; UCX {} here "
                              "has no CUDA support (use --landing host, or a CUDA-aware UCX such as PyPI's "
                              "libucx-cu13)",
                              Context::version()));
  const size_t io_threads = std::max<size_t>(1, impl->options.io_threads);
  for (size_t i = 0; i < io_threads; ++i) {
    auto io = std::make_unique<IoWorker>();
    io->impl = impl.get();
    io->index = i;
    auto worker = Worker::create(impl->context);
    if (!worker.ok()) return worker.status();
    io->worker = std::move(worker.value());
    if (io->worker->max_am_header() < core::kResponseHeaderBytes)
      return Status(StatusCode::kTransportError,
                    fmt::format("this UCX carries active-message headers of at most {} bytes; edgeserve needs {}",
                                io->worker->max_am_header(), core::kResponseHeaderBytes));
    for (auto [id, cb] : {std::pair{kHello, &IoWorker::on_hello}, std::pair{kRequest, &IoWorker::on_request}})
      if (Status s = io->worker->set_am_handler(id, cb, io.get()); !s.ok()) return s;
    impl->io.push_back(std::move(io));
  }
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (Status s = resolve(address.value(), storage, length); !s.ok()) return s;
  ucp_listener_params_t params{};
  params.field_mask = UCP_LISTENER_PARAM_FIELD_SOCK_ADDR | UCP_LISTENER_PARAM_FIELD_CONN_HANDLER;
  params.sockaddr.addr = reinterpret_cast<const sockaddr*>(&storage);
  params.sockaddr.addrlen = length;
  params.conn_handler.cb = &Impl::on_connection;
  params.conn_handler.arg = impl.get();
  if (ucs_status_t s = ucp_listener_create(impl->io[0]->worker->get(), &params, &impl->listener); s != UCS_OK) {
    impl->listener = nullptr;
    return Status(StatusCode::kTransportError, fmt::format("cannot listen on {}: {}", uri, to_string(s)));
  }
  ucp_listener_attr_t attr{};
  attr.field_mask = UCP_LISTENER_ATTR_FIELD_SOCKADDR;
  uint16_t port = address->port;
  if (ucp_listener_query(impl->listener, &attr) == UCS_OK && attr.sockaddr.ss_family == AF_INET)
    port = ntohs(reinterpret_cast<const sockaddr_in&>(attr.sockaddr).sin_port);
  impl->endpoint = fmt::format("ucx://{}:{}", address->host, port);
  unsigned major = 0, minor = 0, release = 0;
  ucp_get_version(&major, &minor, &release);
  if (major == 1 && minor < 14)
    impl->log->warn(
        "UCX {}.{}.{} aborts the whole process when {} receives some malformed bytes (its connection manager "
        "asserts on them): keep this port off untrusted networks, or build against UCX 1.22 (scripts/setup.sh)",
        major, minor, release, impl->endpoint);
  return std::unique_ptr<UcxListener>(new UcxListener(std::move(impl)));
}

UcxListener::UcxListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UcxListener::~UcxListener() = default;

const std::string& UcxListener::endpoint() const { return impl_->endpoint; }

void UcxListener::stop() {
  impl_->stopping.store(true);
  for (const auto& io : impl_->io) io->outbox->wake();
}

void UcxListener::run(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) {
  std::vector<std::jthread> others;
  for (size_t i = 1; i < impl_->io.size(); ++i)
    others.emplace_back([this, i, &on_delivery] { impl_->io[i]->loop(on_delivery); });
  impl_->io[0]->loop(on_delivery);
}

}  // namespace edgeserve::transport::ucx
