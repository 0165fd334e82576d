// Local transport: requests go through the server's pipeline without leaving the process. Both headers are
// still encoded and decoded (the wire codec's checks and limits), so `local` differs from the network
// transports only in moving bytes.
#include "transport/local/local_connection.h"

#include <vector>

#include "core/clock.h"
#include "transport/sender.h"

namespace edgeserve::transport::local {

namespace {

class LocalDelivery final : public Delivery {
 public:
  LocalDelivery(core::RequestHeader&& request, std::span<const std::byte> payload, bool payload_on_device,
                uint64_t sender, std::unique_ptr<core::MemoryBuffer>& reply_payload,
                core::ResponseHeaderBytes& reply_header)
      : Delivery(core::now_ns(), sender, std::move(request)),
        payload_(payload),
        payload_on_device_(payload_on_device),
        reply_payload_(reply_payload),
        reply_header_(reply_header) {}

  std::span<const std::byte> payload() const override { return payload_; }
  const char* peer() const override { return "local client"; }
  bool payload_on_device() const override { return payload_on_device_; }

 private:
  void transmit(const core::ResponseHeader& header, std::unique_ptr<core::MemoryBuffer> payload) override {
    core::encode(header, reply_header_);
    reply_payload_ = std::move(payload);  // the client reads it where the engine put it, until its next call
  }

  std::span<const std::byte> payload_;
  bool payload_on_device_;
  std::unique_ptr<core::MemoryBuffer>& reply_payload_;
  core::ResponseHeaderBytes& reply_header_;
};

class LocalConnection final : public ClientConnection {
 public:
  LocalConnection(RequestHandler& handler, bool payload_on_device)
      : handler_(handler), payload_on_device_(payload_on_device) {}

  core::Status call(const core::RequestHeader& header, std::span<const std::byte> payload, Reply& reply,
                    std::chrono::milliseconds /*timeout: the call runs inline*/) override {
    core::encode(header, request_header_);
    reply_payload_.reset();  // the previous reply's block goes back to its pool
    auto request = core::decode_request_header(request_header_);
    if (!request.ok()) {  // answered as a network transport answers it: the handler never sees it
      core::encode(core::error_response(header.request_id, request.status()), reply_header_);
    } else {
      LocalDelivery delivery(std::move(request.value()), payload, payload_on_device_, sender_, reply_payload_,
                             reply_header_);
      handler_.process(delivery);
      if (!delivery.replied()) return {core::StatusCode::kInternal, "local pipeline returned without a reply"};
    }
    reply.recv_clock_ns = core::now_ns();
    auto decoded = core::decode_response_header(reply_header_);
    if (!decoded.ok()) return {core::StatusCode::kInternal, "malformed reply: " + decoded.status().to_string()};
    reply.header = std::move(decoded.value());
    reply.payload = reply_payload_ ? std::span<const std::byte>(reply_payload_->bytes()) : std::span<const std::byte>();
    return {};
  }

  std::string target() const override { return "local"; }
  LinkReport link() const override { return {"local", "", "", {}, {}}; }

 private:
  RequestHandler& handler_;
  bool payload_on_device_;
  uint64_t sender_ = new_connection_sender();
  core::RequestHeaderBytes request_header_{};
  core::ResponseHeaderBytes reply_header_{};
  std::unique_ptr<core::MemoryBuffer> reply_payload_;  // the last reply's: Reply::payload points into it
};

}  // namespace

std::unique_ptr<ClientConnection> connect_local(RequestHandler& handler, bool payload_on_device) {
  return std::make_unique<LocalConnection>(handler, payload_on_device);
}

}  // namespace edgeserve::transport::local
