// TCP transport, client side: DEALER socket, zero-copy payload send, reply matching by request id.
#include "transport/tcp/tcp_connection.h"

#include <fmt/format.h>

#include <atomic>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "core/clock.h"
#include "core/log.h"

namespace edgeserve::transport::tcp {

namespace {

using core::Status;
using core::StatusCode;

// One context for every client connection of the process: its I/O threads serve all sockets.
zmq::context_t& client_context() {
  static zmq::context_t context(static_cast<int>(std::clamp(std::thread::hardware_concurrency() / 4, 1u, 4u)));
  return context;
}

// The connection events of one DEALER, from a ZeroMQ socket monitor. A call learns at once that the connection
// carrying its request went down (the server was killed, restarted or closed it) instead of waiting out its
// timeout, and ready() can tell that nothing is listening before anything is sent. A peer that vanishes
// without closing (host down, cable pulled) still shows only as a timeout.
class ConnectionWatch {
 public:
  ConnectionWatch(zmq::context_t& context, zmq::socket_t& watched)
      : watched_(watched), events_(context, zmq::socket_type::pair) {
    static std::atomic<uint64_t> next{0};  // inproc names are per context; a counter never reuses one
    const std::string address = fmt::format("inproc://edgeserve-client-events-{}", next.fetch_add(1));
    constexpr int kEvents = ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_CONNECT_RETRIED |
                            ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                            ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (zmq_socket_monitor(watched_.handle(), address.c_str(), kEvents) != 0) throw zmq::error_t();
    events_.set(zmq::sockopt::linger, 0);
    events_.connect(address);
  }
  ~ConnectionWatch() { zmq_socket_monitor(watched_.handle(), nullptr, 0); }
  ConnectionWatch(const ConnectionWatch&) = delete;
  ConnectionWatch& operator=(const ConnectionWatch&) = delete;

  // What the events read by one update() said.
  struct Seen {
    bool went_down = false;  // an established connection dropped
    bool refused = false;    // a connection attempt failed (refused, or its handshake failed)
  };

  zmq::socket_t& socket() { return events_; }
  bool up() const { return up_; }
  // Reads every queued event and keeps up() current.
  Seen update() {
    Seen seen;
    std::vector<zmq::message_t> event;
    while (zmq::recv_multipart(events_, std::back_inserter(event), zmq::recv_flags::dontwait)) {
      if (!event.empty() && event[0].size() >= 2) {
        uint16_t id = 0;
        std::memcpy(&id, event[0].data(), sizeof id);
        if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
          up_ = true;
        } else if (id == ZMQ_EVENT_DISCONNECTED) {
          seen.went_down = seen.went_down || up_;
          up_ = false;
        } else {
          seen.refused = true;
          up_ = false;
        }
      }
      event.clear();
    }
    return seen;
  }

 private:
  zmq::socket_t& watched_;
  zmq::socket_t events_;
  bool up_ = false;
};

class TcpConnection final : public ClientConnection {
 public:
  TcpConnection(std::string endpoint, const std::optional<CurveClientConfig>& curve)
      : endpoint_(std::move(endpoint)), curve_(curve.has_value()), socket_(client_context(), zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    if (curve) {
      socket_.set(zmq::sockopt::curve_serverkey, curve->server_public_key);
      socket_.set(zmq::sockopt::curve_publickey, curve->client.public_key);
      socket_.set(zmq::sockopt::curve_secretkey, curve->client.secret_key);
    }
    watch_.emplace(client_context(), socket_);
    socket_.connect(endpoint_);
  }

  Status call(const core::RequestHeader& header, std::span<const std::byte> payload, Reply& reply,
              std::chrono::milliseconds timeout) override {
    // A drop before this request does not concern it: ZeroMQ reconnects and delivers it to the server then.
    watch_->update();
    core::encode(header, header_bytes_);
    try {
      // The payload is handed to ZeroMQ without a copy (no free function: the caller owns the buffer).
      zmq::message_t payload_msg(const_cast<std::byte*>(payload.data()), payload.size(), nullptr);
      if (!socket_.send(zmq::buffer(header_bytes_), zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
          !socket_.send(payload_msg, zmq::send_flags::dontwait))
        return {StatusCode::kTransportError, fmt::format("cannot send to {}: send queue full", endpoint_)};
    } catch (const zmq::error_t& e) {
      return {StatusCode::kTransportError, fmt::format("send to {} failed: {}", endpoint_, e.what())};
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0}, {watch_->socket().handle(), 0, ZMQ_POLLIN, 0}};
      int ready = 0;
      try {
        ready = left.count() > 0 ? zmq::poll(items, 2, left) : 0;
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;  // a signal: wait again for what is left of the timeout
        return {StatusCode::kTransportError, fmt::format("waiting for {} failed: {}", endpoint_, e.what())};
      }
      if (ready == 0)
        return {StatusCode::kTimeout, fmt::format("no reply to request {} from {} within {} ms", header.request_id,
                                                  endpoint_, timeout.count())};
      // A reply that arrived before the drop is still taken; otherwise the request went down with the link.
      if ((items[1].revents & ZMQ_POLLIN) && !(items[0].revents & ZMQ_POLLIN) && watch_->update().went_down)
        return {StatusCode::kTransportError,
                fmt::format("connection to {} lost while waiting for the reply to request {} (the server closed it "
                            "or went away)",
                            endpoint_, header.request_id)};
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      frames_.clear();
      try {
        if (!zmq::recv_multipart(socket_, std::back_inserter(frames_), zmq::recv_flags::dontwait)) continue;
      } catch (const zmq::error_t& e) {
        return {StatusCode::kTransportError, fmt::format("receive from {} failed: {}", endpoint_, e.what())};
      }
      reply.recv_clock_ns = core::now_ns();
      if (frames_.size() != 2)
        return {StatusCode::kTransportError, fmt::format("reply has {} frames, expected 2", frames_.size())};
      auto decoded = core::decode_response_header({frames_[0].data<std::byte>(), frames_[0].size()});
      if (!decoded.ok()) return {StatusCode::kTransportError, "malformed reply: " + decoded.status().to_string()};
      if (decoded->request_id != header.request_id) {
        core::logger("transport")->debug("skipping late reply to request {}", decoded->request_id);
        continue;
      }
      if (frames_[1].size() != decoded->payload_bytes)
        return {StatusCode::kTransportError,
                fmt::format("reply declares {} payload bytes, {} arrived", decoded->payload_bytes, frames_[1].size())};
      reply.header = std::move(decoded.value());
      reply.payload = {frames_[1].data<std::byte>(), frames_[1].size()};
      return {};
    }
  }

  Status ready(std::chrono::milliseconds wait) override {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (true) {
      const auto seen = watch_->update();
      if (watch_->up()) return {};
      if (seen.refused)
        return {StatusCode::kTransportError, fmt::format("cannot reach {}: connection refused or handshake failed "
                                                         "(is the server up{}?)",
                                                         endpoint_, curve_ ? ", and does it accept this key" : "")};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return {StatusCode::kTransportError,
                fmt::format("cannot reach {}: no connection within {} ms", endpoint_, wait.count())};
      zmq::pollitem_t item{watch_->socket().handle(), 0, ZMQ_POLLIN, 0};
      try {
        zmq::poll(&item, 1, left);
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR)
          return {StatusCode::kTransportError, fmt::format("waiting for {}: {}", endpoint_, e.what())};
      }
    }
  }

  std::string target() const override { return endpoint_; }
  LinkReport link() const override {
    int major = 0, minor = 0, patch = 0;
    zmq_version(&major, &minor, &patch);
    // The ipc transport runs this connection over a Unix socket: say so, never "tcp".
    return {endpoint_.starts_with("ipc://") ? "ipc" : "tcp",
            fmt::format("ZeroMQ {}.{}.{}", major, minor, patch),
            "",
            {},
            {}};
  }

 private:
  std::string endpoint_;
  bool curve_;
  zmq::socket_t socket_;
  std::optional<ConnectionWatch> watch_;  // after socket_: stops watching before the socket closes
  core::RequestHeaderBytes header_bytes_{};
  std::vector<zmq::message_t> frames_;  // the last reply's frames: Reply::payload points into them
};

}  // namespace

core::Result<std::unique_ptr<ClientConnection>> connect_tcp(const std::string& endpoint,
                                                            const std::optional<CurveClientConfig>& curve) {
  try {
    return std::unique_ptr<ClientConnection>(std::make_unique<TcpConnection>(endpoint, curve));
  } catch (const zmq::error_t& e) {
    return Status(StatusCode::kTransportError, fmt::format("cannot connect to {}: {}", endpoint, e.what()));
  }
}

}  // namespace edgeserve::transport::tcp
