// Server side of every transport: one request as it arrived, its header already decoded and checked by the
// transport (the binary header is the tcp/ucx/ipc codec, not the contract with the server), its payload still
// in the transport's own buffers, and the way back to its sender.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "core/memory_buffer.h"
#include "core/status.h"
#include "core/wire.h"

namespace edgeserve::transport {

class Delivery {
 public:
  // `request`: decoded by the transport (core::decode_request_header's checks); `sender`: see sender()
  // (transport/sender.h makes them).
  Delivery(uint64_t recv_ns, uint64_t sender, core::RequestHeader&& request)
      : request_(std::move(request)), recv_ns_(recv_ns), sender_(sender) {}
  virtual ~Delivery() = default;
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;

  const core::RequestHeader& request() const { return request_; }
  virtual std::span<const std::byte> payload() const = 0;
  // Sends `header` (the transport encodes it) and `payload` (null: none) without copying the payload: the
  // transport owns it until its bytes have left (tcp: ZeroMQ's free callback, on its I/O thread; ucx: the
  // send's completion; local: the client's next call), then drops it, which hands a pool block back to its pool
  // (core/buffer_pool.h). The first call sends; later ones are ignored. Called by one thread at a time.
  void send_reply(const core::ResponseHeader& header, std::unique_ptr<core::MemoryBuffer> payload) {
    if (replied_) return;
    replied_ = true;
    transmit(header, std::move(payload));
  }
  // Short description of the sender for log lines ("tcp client", "local client").
  virtual const char* peer() const = 0;
  // True when payload() points into GPU memory (it landed there, or a local client put it there).
  virtual bool payload_on_device() const { return false; }

  // The monotonic time the last byte of the request arrived (core::now_ns()).
  uint64_t recv_ns() const { return recv_ns_; }
  // Who sent it, as the transport knows them: the connection, or the authenticated CURVE key. Per-client
  // limits are keyed on this, never on the header's client-chosen client_id.
  uint64_t sender() const { return sender_; }
  bool replied() const { return replied_; }
  // The listener it came through, as an index in --listen order (set by ListenerSet::run, so the server can label
  // its metrics by transport); kNoListener for the in-process `local` transport.
  static constexpr uint32_t kNoListener = UINT32_MAX;
  uint32_t listener() const { return listener_; }
  void set_listener(uint32_t index) { listener_ = index; }

 protected:
  // The transport's half of send_reply: encode the header, hand both to the I/O thread. Runs at most once.
  virtual void transmit(const core::ResponseHeader& header, std::unique_ptr<core::MemoryBuffer> payload) = 0;
  // The exactly-one-reply guarantee, for a network transport's destructor: a request dropped unanswered (a bug)
  // is logged and answered with an internal error.
  void reply_if_dropped() noexcept;

 private:
  core::RequestHeader request_;
  uint64_t recv_ns_;
  uint64_t sender_;
  uint32_t listener_ = kNoListener;
  bool replied_ = false;
};

// What a transport hands a delivery to. process() runs the request to completion on the calling thread
// and always calls send_reply exactly once.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual void process(Delivery& delivery) = 0;
};

// The serving process's error reply to a request its transport refused at the edge (a header that does not
// decode), made as the process makes its own error replies (its log line, its error count, its timings), so a
// bad header is answered as it was when the server decoded it. Called on a transport's I/O thread. Unset: the
// transport logs and sends a bare error reply.
using EdgeErrorReply = std::function<core::ResponseHeader(uint64_t request_id, const core::Status& status,
                                                          uint64_t recv_ns, std::string_view peer)>;

}  // namespace edgeserve::transport
