// The gateway: front listeners → a bounded queue → forwarding threads → backends (least outstanding
// requests first; a failed backend is left out for retry_after, then tried again) → the reply, with the
// gateway's own times added, back through the front transport.
#include "gateway/gateway.h"

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "core/log_limiter.h"
#include "core/wire.h"
#include "transport/client_connection.h"
#include "transport/registry.h"
#include "transport/sender.h"

namespace edgeserve::gateway {

namespace {

using core::Status;
using core::StatusCode;
using transport::Delivery;

// How long a forwarding thread waits for a backend's connection to come up before it tries the next backend.
constexpr std::chrono::milliseconds kReadyWait{1000};

struct Backend {
  std::string uri;
  std::atomic<int> outstanding{0};
  std::atomic<uint64_t> down_until_ns{0};  // core::now_ns() before which it is left out; 0: up
  std::atomic<bool> failed_last{false};    // its last call failed (a success after that is logged as "back")
  std::atomic<uint64_t> forwarded{0}, failures{0};
};

// Deliveries waiting for a forwarding thread. Bounded in all and per sender (Delivery::sender: the front
// connection or CURVE key), so one flooding client cannot fill it for everyone; close() wakes every waiter.
class DeliveryQueue {
 public:
  DeliveryQueue(size_t limit, size_t limit_per_sender) : limit_(limit), per_sender_(limit_per_sender) {}
  // An error (and `d` untouched) when full, when its sender already has its share waiting, or when closed.
  Status push(std::unique_ptr<Delivery>& d) {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return {StatusCode::kShuttingDown, "the gateway is stopping"};
      if (queue_.size() >= limit_)
        return {StatusCode::kOverloaded, fmt::format("gateway queue is full ({} requests waiting)", limit_)};
      if (!per_sender_.take(d->sender()))
        return {StatusCode::kOverloaded,
                fmt::format("this client already has {} requests waiting at the gateway (the limit per client)",
                            per_sender_.limit())};
      queue_.push_back(std::move(d));
    }
    ready_.notify_one();
    return {};
  }
  // Null once closed and empty.
  std::unique_ptr<Delivery> pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return closed_ || !queue_.empty(); });
    if (queue_.empty()) return nullptr;
    auto d = std::move(queue_.front());
    queue_.pop_front();
    per_sender_.give_back(d->sender());
    return d;
  }
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::unique_ptr<Delivery>> queue_;
  size_t limit_;
  transport::SenderShares per_sender_;
  bool closed_ = false;
};

}  // namespace

struct Gateway::State {
  GatewayOptions options;
  std::vector<std::unique_ptr<Backend>> backends;
  DeliveryQueue queue;
  transport::FrontDoor front;
  std::atomic<uint64_t> forwarded{0}, failed{0};
  std::atomic<size_t> next_start{0};
  std::shared_ptr<spdlog::logger> log = core::logger("gateway");
  core::LogLimiterByStatus error_log;  // clients choose how many errors they cause; the log stays bounded

  explicit State(GatewayOptions o)
      : options(std::move(o)),
        queue(options.front.max_queue, options.front.max_queue_per_client),
        front(options.front) {
    for (const auto& uri : options.backends) {
      backends.push_back(std::make_unique<Backend>());
      backends.back()->uri = uri;
    }
  }

  static transport::ConnectOptions connect_options() {
    transport::ConnectOptions o;
    o.transient_payloads = true;  // each request's payload is a different front buffer
    return o;
  }

  // Answers with an error from the gateway itself (the backend never saw the request, or failed it).
  void reply_error(Delivery& d, uint64_t request_id, const Status& status) {
    d.send_reply(error_reply(request_id, status, d.recv_ns(), d.peer()), nullptr);
  }
  // Also the front listeners' reply to a header they cannot decode (transport::EdgeErrorReply).
  core::ResponseHeader error_reply(uint64_t request_id, const Status& status, uint64_t recv_ns, std::string_view peer) {
    failed.fetch_add(1, std::memory_order_relaxed);
    if (std::string note; error_log.allow(status.code(), note))
      log->warn("request {} from {}: {}{}", request_id, peer, status.to_string(), note);
    auto header = core::error_response(request_id, status);
    const uint64_t now = core::now_ns();
    header.timings.clock_domain = core::clock_domain();
    header.timings.recv_clock_ns = recv_ns;
    header.timings.send_clock_ns = now;
    header.timings.gateway_ns = now - recv_ns;
    return header;
  }

  // The index of the backend with the fewest requests in flight among those not left out; none when all are.
  // Ties rotate (the scan starts one further each time), so sequential clients are spread too.
  std::optional<size_t> pick(const std::vector<bool>& tried) {
    const uint64_t now = core::now_ns();
    const size_t n = backends.size(), start = next_start.fetch_add(1, std::memory_order_relaxed);
    std::optional<size_t> best;
    for (size_t k = 0; k < n; ++k) {
      const size_t i = (start + k) % n;
      if (tried[i] || backends[i]->down_until_ns.load() > now) continue;
      if (!best || backends[i]->outstanding.load() < backends[*best]->outstanding.load()) best = i;
    }
    return best;
  }

  void mark_failed(Backend& b, const Status& why) {
    b.failures.fetch_add(1, std::memory_order_relaxed);
    b.down_until_ns.store(core::now_ns() + static_cast<uint64_t>(options.retry_after.count()) * 1'000'000);
    if (!b.failed_last.exchange(true))
      log->warn("backend {} failed ({}); left out for {} ms, then tried again", b.uri, why.to_string(),
                options.retry_after.count());
  }

  // One request, start to finish, on a forwarding thread that owns `connections` (one per backend).
  void forward(Delivery& d, std::vector<std::unique_ptr<transport::ClientConnection>>& connections) {
    const core::RequestHeader& header = d.request();
    const uint64_t id = header.request_id;
    if (Status s = core::check_payload(header, d.payload().size(), options.front.max_payload_bytes); !s.ok())
      return reply_error(d, id, s);
    if (d.payload_on_device())
      return reply_error(d, id, {StatusCode::kInternal, "gateway received a payload in GPU memory"});
    // A backend that cannot even be connected to never saw the request: try the next one. Once a request has
    // been sent, it is never sent again (it may have run): a failure then is the client's error reply.
    std::vector<bool> tried(backends.size(), false);
    while (const auto chosen = pick(tried)) {
      tried[*chosen] = true;
      Backend& backend = *backends[*chosen];
      auto& connection = connections[*chosen];
      if (connection && !connection->usable()) connection.reset();  // its peer is known gone: reconnect first
      if (!connection) {
        auto made = transport::connect(backend.uri, connect_options());
        if (!made.ok()) {
          mark_failed(backend, made.status());
          continue;
        }
        connection = std::move(made.value());
      }
      // A tcp backend that nothing answers at (dead, not yet back) is found out here, before the request is
      // sent, so the request goes to the next backend instead of waiting out --backend-timeout-ms.
      if (Status up = connection->ready(std::min<std::chrono::milliseconds>(options.backend_timeout, kReadyWait));
          !up.ok()) {
        mark_failed(backend, up);
        continue;
      }
      return forward_to(d, header, backend, connection);
    }
    reply_error(d, id,
                {StatusCode::kUnavailable,
                 fmt::format("no backend available: all {} are unreachable or failed in the last {} ms",
                             backends.size(), options.retry_after.count())});
  }

  void forward_to(Delivery& d, const core::RequestHeader& header, Backend& backend,
                  std::unique_ptr<transport::ClientConnection>& connection) {
    transport::Reply reply;
    backend.outstanding.fetch_add(1);
    const uint64_t sent = core::now_ns();
    const Status s = connection->call(header, d.payload(), reply, options.backend_timeout);
    const uint64_t back = core::now_ns();
    backend.outstanding.fetch_sub(1);
    if (!s.ok()) {
      connection.reset();  // reconnect on next use: no late reply can meet a newer request
      mark_failed(backend, s);
      return reply_error(d, header.request_id,
                         {StatusCode::kTransportError, fmt::format("backend {} failed: {}", backend.uri, s.message())});
    }
    if (backend.failed_last.exchange(false)) log->info("backend {} is back", backend.uri);
    backend.down_until_ns.store(0);
    backend.forwarded.fetch_add(1, std::memory_order_relaxed);
    // One copy of the reply payload, from the backend connection's buffer into memory the front transport
    // sends from (allocated per reply, as before pooled replies; the gateway's own pool is still to come).
    std::unique_ptr<core::MemoryBuffer> out;
    if (!reply.payload.empty()) {
      out = core::allocate_host_memory(reply.payload.size());
      std::memcpy(out->bytes().data(), reply.payload.data(), reply.payload.size());
    }
    core::ResponseHeader h = std::move(reply.header);
    h.timings.backend_ns = back - sent;
    h.timings.gateway_ns = core::now_ns() - d.recv_ns();
    d.send_reply(h, std::move(out));
    forwarded.fetch_add(1, std::memory_order_relaxed);
  }
};

core::Result<std::unique_ptr<Gateway>> Gateway::create(GatewayOptions options) {
  if (options.backends.empty())
    return Status(StatusCode::kInvalidArgument,
                  "a gateway needs at least one --backend " + transport::accepted_addresses(false, false));
  for (const auto& b : options.backends)
    if (const auto* t = transport::find_transport(b); t == nullptr || t->address != transport::AddressForm::kHostPort)
      return Status(StatusCode::kInvalidArgument,
                    fmt::format("backend '{}' is not {}", b, transport::accepted_addresses(false, false)));
  return std::unique_ptr<Gateway>(new Gateway(std::make_unique<State>(std::move(options))));
}

Gateway::Gateway(std::unique_ptr<State> state) : state_(std::move(state)) {}
Gateway::~Gateway() = default;

void Gateway::stop() { state_->front.stop(); }

core::Status Gateway::run() {
  State& s = *state_;
  // A header that does not decode gets the gateway's own error reply (with its gateway time).
  const auto edge_error = [&s](uint64_t id, const Status& status, uint64_t recv_ns, std::string_view peer) {
    return s.error_reply(id, status, recv_ns, peer);
  };
  if (Status opened = s.front.open({}, edge_error); !opened.ok()) return opened;
  if (s.front.stop_requested()) return {};

  std::vector<std::jthread> workers;
  for (int i = 0; i < std::max(1, s.options.workers); ++i)
    workers.emplace_back([&s] {
      // Connected before the first request, so connection set-up (tens of ms for UCX) never lands on one;
      // a backend that is down now is connected to lazily later.
      std::vector<std::unique_ptr<transport::ClientConnection>> connections(s.backends.size());
      for (size_t b = 0; b < s.backends.size(); ++b) {
        auto made = transport::connect(s.backends[b]->uri, s.connect_options());
        if (made.ok()) connections[b] = std::move(made.value());
      }
      while (auto d = s.queue.pop()) s.forward(*d, connections);
    });

  if (Status written = s.front.announce(); !written.ok()) {
    s.queue.close();  // the forwarding threads return and are joined on the way out
    return written;
  }
  const std::vector<std::string> endpoints = s.front.endpoints();
  std::vector<std::string> backend_uris;
  for (const auto& b : s.backends) backend_uris.push_back(b->uri);
  s.log->info("gateway on {} → {} ({} forwarding thread(s), least outstanding requests first)",
              fmt::join(endpoints, ", "), fmt::join(backend_uris, ", "), workers.size());

  auto on_delivery = [&s](std::unique_ptr<Delivery> d) {
    if (Status queued = s.queue.push(d); !queued.ok()) s.reply_error(*d, d->request().request_id, queued);
  };
  const Status ran = s.front.serve(on_delivery);  // returns once every listener has drained its replies
  s.queue.close();
  workers.clear();
  for (const auto& b : s.backends)
    s.log->info("backend {}: {} request(s) forwarded, {} failure(s)", b->uri, b->forwarded.load(), b->failures.load());
  s.log->info("stopped: {} request(s) forwarded, {} answered with an error", s.forwarded.load(), s.failed.load());
  return ran;
}

}  // namespace edgeserve::gateway
