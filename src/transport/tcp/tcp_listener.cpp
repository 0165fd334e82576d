// TCP transport, server side: ROUTER socket, I/O loop, and the delivery type that replies through it.
#include "transport/tcp/tcp_listener.h"

#include <fmt/format.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "core/clock.h"
#include "core/log.h"
#include "core/log_limiter.h"
#include "transport/sender.h"
#include "transport/tcp/connection_guard.h"

namespace edgeserve::transport::tcp {

namespace {

// An eventfd, closed with its owner.
class EventFd {
 public:
  EventFd() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ < 0) throw std::runtime_error("eventfd failed");
  }
  ~EventFd() { ::close(fd_); }
  EventFd(const EventFd&) = delete;
  EventFd& operator=(const EventFd&) = delete;
  int fd() const { return fd_; }
  void signal() const {  // async-signal-safe
    const uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
  }
  void drain() const {
    uint64_t count;
    [[maybe_unused]] auto n = ::read(fd_, &count, sizeof count);
  }

 private:
  int fd_;
};

// zmq::poll that treats a signal's interruption as "nothing ready": the caller re-checks its stop flag.
int poll_once(zmq::pollitem_t* items, size_t n, std::chrono::milliseconds timeout) {
  try {
    return zmq::poll(items, n, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return 0;
    throw;
  }
}

// Admits CURVE clients by public key (the ZAP protocol, RFC 27) and logs refused keys (rate-limited per kind).
// Its socket lives in the listener's context and is used only by its thread. Failed handshakes are logged by
// the listener's ConnectionGuard, which owns the ROUTER's one socket monitor.
class CurveGatekeeper {
 public:
  CurveGatekeeper(zmq::context_t& context, std::set<std::string> authorized)
      : authorized_(std::move(authorized)), zap_(context, zmq::socket_type::rep) {
    zap_.bind("inproc://zeromq.zap.01");  // the fixed ZAP endpoint: must exist before any handshake
    thread_ = std::jthread([this](std::stop_token stop) { serve(stop); });
  }

 private:
  void serve(std::stop_token stop) {
    auto log = core::logger("transport");
    zmq::pollitem_t items[] = {{zap_.handle(), 0, ZMQ_POLLIN, 0}};
    // Nothing may leave this thread (an exception here would end the process): a failing ZAP socket is logged,
    // and handshakes then fail closed (no reply is no admission).
    while (!stop.stop_requested()) {
      try {
        if (poll_once(items, 1, std::chrono::milliseconds(100)) == 0) continue;
        if (items[0].revents & ZMQ_POLLIN) answer(*log);
      } catch (const zmq::error_t& e) {
        if (e.num() == ETERM) return;  // the context is closing: the listener is going away
        if (std::string note; zap_errors_.allow(note)) log->error("CURVE gatekeeper: {}{}", e.what(), note);
      }
    }
  }

  // ZAP request: version, request id, domain, address, routing id, mechanism, credentials (CURVE: the
  // client's 32-byte public key). Reply: version, request id, status code, status text, user id, metadata.
  void answer(spdlog::logger& log) {
    std::vector<zmq::message_t> req;
    if (!zmq::recv_multipart(zap_, std::back_inserter(req)) || req.size() < 6) return;
    std::string status = "400", text = "not authorized", user_id;
    const std::string address = req[3].to_string(), mechanism = req[5].to_string();
    if (mechanism == "CURVE" && req.size() >= 7 && req[6].size() == 32) {
      char z85[41] = {};
      zmq_z85_encode(z85, req[6].data<uint8_t>(), 32);
      if (authorized_.count(z85)) {
        status = "200";
        text = "OK";
        user_id = z85;  // every message of this client carries it as "User-Id": its share is keyed on the key
      } else if (std::string note; unknown_key_.allow(note)) {
        log.warn("refused client {}: CURVE public key {} is not authorized{}", address, z85, note);
      }
    } else if (std::string note; wrong_mechanism_.allow(note)) {
      log.warn("refused client {}: mechanism {} (CURVE required){}", address, mechanism, note);
    }
    std::vector<zmq::message_t> reply;
    reply.emplace_back(std::string_view("1.0"));
    reply.push_back(std::move(req[1]));
    reply.emplace_back(std::string_view(status));
    reply.emplace_back(std::string_view(text));
    reply.emplace_back(std::string_view(user_id));
    reply.emplace_back();
    zmq::send_multipart(zap_, reply);
  }

  std::set<std::string> authorized_;
  // Refused keys: a client retrying every 100 ms (ZeroMQ's reconnect) cannot flood the log.
  core::LogLimiter unknown_key_, wrong_mechanism_, zap_errors_;
  zmq::socket_t zap_;
  std::jthread thread_;  // last: stops and joins before the socket closes
};

struct Outgoing {
  zmq::message_t identity, header, payload;
};

// Replies waiting for the I/O thread, and the count of deliveries not yet answered. A worker writes the eventfd
// only while the loop sleeps (or is about to): a loop that is awake looks at the queue before it sleeps again,
// so a reply made while it works costs no write/read round trip.
struct Outbox {
  std::mutex mutex;
  std::vector<Outgoing> queue;
  EventFd wake;
  std::atomic<bool> sleeping{false};
  std::atomic<int64_t> unanswered{0};

  void push(Outgoing&& out) {
    {
      std::lock_guard lock(mutex);
      queue.push_back(std::move(out));
    }
    if (sleeping.load()) wake.signal();  // the loop re-checks the queue after announcing that it sleeps
  }
  bool empty() {
    std::lock_guard lock(mutex);
    return queue.empty();
  }
};

// EDGESERVE_TCP_SPIN_US: how long the loop keeps polling without sleeping after its last work (default 0: it
// sleeps at once). Spinning burns a core but takes a worker's reply without a wake-up, for latency-critical use.
std::chrono::microseconds spin_time() {
  static const std::chrono::microseconds spin = [] {
    const char* v = std::getenv("EDGESERVE_TCP_SPIN_US");
    char* end = nullptr;
    const long us = v ? std::strtol(v, &end, 10) : 0;
    return std::chrono::microseconds(v && *end == '\0' && us >= 0 ? us : 0);
  }();
  return spin;
}

// The wire codec's response header as one ZeroMQ frame.
zmq::message_t encoded(const core::ResponseHeader& header) {
  zmq::message_t frame(core::kResponseHeaderBytes);
  core::encode(header, std::span<std::byte, core::kResponseHeaderBytes>(frame.data<std::byte>(), frame.size()));
  return frame;
}

class TcpDelivery final : public Delivery {
 public:
  TcpDelivery(uint64_t recv_ns, uint64_t sender, core::RequestHeader&& request, zmq::message_t identity,
              zmq::message_t payload, std::shared_ptr<Outbox> outbox)
      : Delivery(recv_ns, sender, std::move(request)),
        identity_(std::move(identity)),
        payload_(std::move(payload)),
        outbox_(std::move(outbox)) {
    outbox_->unanswered.fetch_add(1);
  }
  ~TcpDelivery() override { reply_if_dropped(); }

  std::span<const std::byte> payload() const override { return {payload_.data<std::byte>(), payload_.size()}; }
  const char* peer() const override { return "tcp client"; }

 private:
  void transmit(const core::ResponseHeader& header, std::unique_ptr<core::MemoryBuffer> payload) override {
    outbox_->push({std::move(identity_), encoded(header), zero_copy(std::move(payload))});
    outbox_->unanswered.fetch_sub(1);
  }
  // A message that sends `payload` where it lies; ZeroMQ drops it (on its I/O thread) once the bytes have left.
  static zmq::message_t zero_copy(std::unique_ptr<core::MemoryBuffer> payload) {
    if (!payload || payload->bytes().empty()) return zmq::message_t();
    const auto bytes = payload->bytes();
    zmq::message_t message(bytes.data(), bytes.size(), &release_payload, payload.get());  // throws: still ours
    (void)payload.release();  // now ZeroMQ's, until release_payload
    return message;
  }
  static void release_payload(void* /*data*/, void* hint) noexcept {
    std::unique_ptr<core::MemoryBuffer> dropped(static_cast<core::MemoryBuffer*>(hint));
  }

  zmq::message_t identity_, payload_;
  std::shared_ptr<Outbox> outbox_;
};

}  // namespace

struct TcpListener::Impl {
  zmq::context_t context;
  zmq::socket_t router;
  std::string endpoint;
  ListenerOptions options;
  std::shared_ptr<Outbox> outbox = std::make_shared<Outbox>();
  std::atomic<bool> stopping{false};
  std::vector<zmq::message_t> frames;  // reused across receives
  std::unique_ptr<CurveGatekeeper> gatekeeper;
  std::unique_ptr<ConnectionGuard> guard;  // connection lifecycle and limits
  std::shared_ptr<spdlog::logger> log = core::logger("transport");
  // What clients can make happen as often as they like is logged rate-limited.
  core::LogLimiterByStatus request_log;
  core::LogLimiter dropped_log{20};

  explicit Impl(const ListenerOptions& o)
      : context(o.io_threads), router(context, zmq::socket_type::router), options(o) {}

  void send_error(zmq::message_t identity, const core::ResponseHeader& header) {
    send({std::move(identity), encoded(header), zmq::message_t()});
  }
  void send_error(zmq::message_t identity, uint64_t request_id, const core::Status& status) {
    send_error(std::move(identity), core::error_response(request_id, status));
  }

  void warn_dropped(std::string_view what) {
    if (std::string note; dropped_log.allow(note)) log->warn("{}{}", what, note);
  }

  // Never blocks the loop: a client that has gone, or that stopped reading, loses its reply (logged).
  void send(Outgoing&& out) {
    try {
      if (!router.send(out.identity, zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
          !router.send(out.header, zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
          !router.send(out.payload, zmq::send_flags::dontwait))
        warn_dropped("reply dropped: client is not reading (send queue full)");
    } catch (const zmq::error_t& e) {
      if (e.num() == EHOSTUNREACH)
        warn_dropped("reply dropped: client disconnected before its reply was ready");
      else
        log->error("reply dropped: {}", e.what());
    }
  }

  // The client's CURVE public key when it authenticated (ZAP's user id, carried by each of its messages), so
  // one key is one share however many connections it opens; otherwise the routing id, which ROUTER keeps
  // unique among its live peers (a client that picks one already in use is not connected).
  uint64_t sender_of(const zmq::message_t& identity, const zmq::message_t& header) const {
    if (const char* user = zmq_msg_gets(header.handle(), "User-Id"); user && *user)
      return sender_from_name("curve", user);
    return sender_from_name(endpoint, {identity.data<char>(), identity.size()});
  }

  // Sends what workers queued; false when there was nothing.
  bool flush_outbox() {
    std::vector<Outgoing> batch;
    {
      std::lock_guard lock(outbox->mutex);
      batch.swap(outbox->queue);
    }
    for (auto& out : batch) send(std::move(out));
    return !batch.empty();
  }

  // A header that does not decode: the serving process's error reply (it logs), or a bare one logged here.
  void refuse_undecodable(zmq::message_t identity, std::span<const std::byte> header, const core::Status& status,
                          uint64_t recv_ns) {
    const uint64_t id = core::peek_request_id(header);
    if (options.edge_error)
      return send_error(std::move(identity), options.edge_error(id, status, recv_ns, "tcp client"));
    if (std::string note; request_log.allow(status.code(), note))
      log->warn("rejected request {}: {}{}", id, status.to_string(), note);
    send_error(std::move(identity), id, status);
  }

  // Takes at most kReceiveBatch requests, so that under a flood of requests the loop still gets to send the
  // replies waiting in the outbox in between (ZeroMQ's poll reports the rest as still readable).
  static constexpr int kReceiveBatch = 64;
  void receive_some(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) {
    for (int taken = 0; taken < kReceiveBatch; ++taken) {
      frames.clear();
      std::optional<size_t> n;
      try {
        n = zmq::recv_multipart(router, std::back_inserter(frames), zmq::recv_flags::dontwait);
      } catch (const zmq::error_t& e) {
        log->error("receive failed: {}", e.what());
        return;
      }
      if (!n) return;  // nothing more queued
      const uint64_t recv_ns = core::now_ns();
      size_t bytes = 0;
      for (size_t i = 1; i < frames.size(); ++i) bytes += frames[i].size();
      // The descriptor a frame came from: the identity frame is made by the ROUTER itself and carries none.
      const bool admitted = guard->on_message(zmq_msg_get(frames.back().handle(), ZMQ_SRCFD), bytes);
      if (frames.size() == 3) {
        const std::span<const std::byte> header(frames[1].data<std::byte>(), frames[1].size());
        if (!admitted) {
          const core::Status status(core::StatusCode::kOverloaded,
                                    fmt::format("server is at its limit of {} clients", options.limits.max_clients));
          if (std::string note; request_log.allow(status.code(), note))
            log->warn("refused request {}: {}{}", core::peek_request_id(header), status.to_string(), note);
          send_error(std::move(frames[0]), core::peek_request_id(header), status);
          continue;
        }
        auto request = core::decode_request_header(header);
        if (!request.ok()) {
          refuse_undecodable(std::move(frames[0]), header, request.status(), recv_ns);
          continue;
        }
        const uint64_t sender = sender_of(frames[0], frames[1]);
        on_delivery(std::make_unique<TcpDelivery>(recv_ns, sender, std::move(request.value()), std::move(frames[0]),
                                                  std::move(frames[2]), outbox));
        continue;
      }
      // ROUTER prepends the identity: a well-formed request is [identity, header, payload].
      const std::span<const std::byte> header =
          frames.size() > 1 ? std::span<const std::byte>(frames[1].data<std::byte>(), frames[1].size())
                            : std::span<const std::byte>();
      const uint64_t id = core::peek_request_id(header);
      const auto status =
          frames.size() < 3
              ? core::Status(core::StatusCode::kTruncatedMessage,
                             fmt::format("request has {} frame(s), expected 2 (header, payload)", frames.size() - 1))
              : core::Status(core::StatusCode::kMalformedHeader,
                             fmt::format("request has {} frames, expected 2 (header, payload)", frames.size() - 1));
      if (std::string note; request_log.allow(status.code(), note))
        log->warn("rejected request {}: {}{}", id, status.to_string(), note);
      send_error(std::move(frames[0]), id, status);
    }
  }
};

core::Result<std::unique_ptr<TcpListener>> TcpListener::bind(const std::string& endpoint,
                                                             const ListenerOptions& options) {
  auto impl = std::make_unique<Impl>(options);
  try {
    if (options.curve) {
      impl->gatekeeper = std::make_unique<CurveGatekeeper>(impl->context, options.curve->authorized_clients);
      impl->router.set(zmq::sockopt::curve_server, 1);
      impl->router.set(zmq::sockopt::curve_secretkey, options.curve->server.secret_key);
      impl->router.set(zmq::sockopt::zap_domain, "edgeserve");
    }
    impl->router.set(zmq::sockopt::router_mandatory, 1);
    impl->router.set(zmq::sockopt::linger, 0);
    // Over this size ZeroMQ drops the connection instead of buffering the message: this bounds memory per
    // client. Below it, requests larger than max_payload_bytes still get a clear error reply.
    impl->router.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(options.max_payload_bytes + (1u << 20)));
    impl->guard = std::make_unique<ConnectionGuard>(impl->context, impl->router, options.limits,
                                                    options.curve.has_value());  // before bind: sees every accept
    impl->router.bind(endpoint);
    impl->endpoint = impl->router.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return core::Status(core::StatusCode::kTransportError, fmt::format("cannot listen on {}: {}", endpoint, e.what()));
  }
  return std::unique_ptr<TcpListener>(new TcpListener(std::move(impl)));
}

TcpListener::TcpListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TcpListener::~TcpListener() = default;

const std::string& TcpListener::endpoint() const { return impl_->endpoint; }

void TcpListener::stop() {
  impl_->stopping.store(true);
  impl_->outbox->wake.signal();
}

void TcpListener::run(const std::function<void(std::unique_ptr<Delivery>)>& on_delivery) {
  Impl& s = *impl_;
  zmq::pollitem_t items[] = {
      {s.router.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, s.outbox->wake.fd(), ZMQ_POLLIN, 0}, s.guard->pollitem()};
  const auto spin = spin_time();
  auto last_work = std::chrono::steady_clock::now();
  while (!s.stopping.load()) {
    const bool spinning = spin.count() > 0 && std::chrono::steady_clock::now() - last_work < spin;
    if (!spinning) {
      // Announce the sleep, then look once more: a reply queued before the announcement is sent now, one queued
      // after it comes with a wake-up.
      s.outbox->sleeping.store(true);
      if (!s.outbox->empty()) {
        s.outbox->sleeping.store(false);
        s.flush_outbox();
        last_work = std::chrono::steady_clock::now();
        continue;
      }
    }
    const int ready = poll_once(
        items, 3, spinning ? std::chrono::milliseconds(0) : s.guard->until_sweep(ConnectionGuard::Clock::now()));
    s.outbox->sleeping.store(false);
    if (const auto now = ConnectionGuard::Clock::now(); s.guard->sweep_due(now)) s.guard->sweep(now);
    if (spinning && s.flush_outbox()) last_work = std::chrono::steady_clock::now();
    if (ready == 0) continue;
    if (items[2].revents & ZMQ_POLLIN) s.guard->on_events();
    if (items[1].revents & ZMQ_POLLIN) {
      s.outbox->wake.drain();
      s.flush_outbox();
    }
    if (items[0].revents & ZMQ_POLLIN) {
      s.receive_some(on_delivery);
      last_work = std::chrono::steady_clock::now();
    }
  }
  // Graceful stop: receive nothing new, but send the replies of requests already taken (bounded wait).
  s.outbox->sleeping.store(true);  // from now on every reply wakes the loop
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (s.outbox->unanswered.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    poll_once(&items[1], 1, std::chrono::milliseconds(100));
    s.outbox->wake.drain();
    s.flush_outbox();
  }
  s.flush_outbox();
  if (const auto left = s.outbox->unanswered.load(); left > 0)
    s.log->error("stopped with {} request(s) still unanswered after 30 s", left);
}

}  // namespace edgeserve::transport::tcp
