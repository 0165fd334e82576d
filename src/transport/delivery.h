// Server side of every transport: one request as it arrived (header and payload bytes, still in the
// transport's own buffers) and the way back to its sender.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "core/memory_buffer.h"
#include "core/wire.h"

namespace edgeserve::transport {

class Delivery {
 public:
  // `sender`: see sender() (transport/sender.h makes them).
  Delivery(uint64_t recv_ns, uint64_t sender) : recv_ns_(recv_ns), sender_(sender) {}
  virtual ~Delivery() = default;
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;

  virtual std::span<const std::byte> header() const = 0;
  virtual std::span<const std::byte> payload() const = 0;
  // Sends the header and `payload` (null: none) without copying the payload: the transport owns it until its
  // bytes have left (tcp: ZeroMQ's free callback, on its I/O thread; ucx: the send's completion; local: the
  // client's next call), then drops it, which hands a pool block back to its pool (core/buffer_pool.h).
  // Call once; thread-safe.
  virtual void send_reply(const core::ResponseHeaderBytes& header, std::unique_ptr<core::MemoryBuffer> payload) = 0;
  // Short description of the sender for log lines ("tcp client", "local client").
  virtual const char* peer() const = 0;
  // True when payload() points into GPU memory (it landed there, or a local client put it there).
  virtual bool payload_on_device() const { return false; }

  // The monotonic time the last byte of the request arrived (core::now_ns()).
  uint64_t recv_ns() const { return recv_ns_; }
  // Who sent it, as the transport knows them: the connection, or the authenticated CURVE key. Per-client
  // limits are keyed on this, never on the header's client-chosen client_id.
  uint64_t sender() const { return sender_; }

 private:
  uint64_t recv_ns_;
  uint64_t sender_;
};

// What a transport hands a delivery to. process() runs the request to completion on the calling thread
// and always calls send_reply exactly once.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual void process(Delivery& delivery) = 0;
};

}  // namespace edgeserve::transport
