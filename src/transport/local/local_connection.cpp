// Local transport: requests go through the server's pipeline without leaving the process. The header is
// still encoded and decoded, so `local` differs from the network transports only in moving bytes.
#include "transport/local/local_connection.h"

#include <vector>

#include "core/clock.h"
#include "transport/sender.h"

namespace edgeserve::transport::local {

namespace {

class LocalDelivery final : public Delivery {
 public:
  LocalDelivery(std::span<const std::byte> header, std::span<const std::byte> payload, bool payload_on_device,
                uint64_t sender, std::unique_ptr<core::MemoryBuffer>& reply_payload,
                core::ResponseHeaderBytes& reply_header)
      : Delivery(core::now_ns(), sender),
        header_(header),
        payload_(payload),
        payload_on_device_(payload_on_device),
        reply_payload_(reply_payload),
        reply_header_(reply_header) {}

  std::span<const std::byte> header() const override { return header_; }
  std::span<const std::byte> payload() const override { return payload_; }
  void send_reply(const core::ResponseHeaderBytes& header, std::unique_ptr<core::MemoryBuffer> payload) override {
    reply_header_ = header;
    reply_payload_ = std::move(payload);  // the client reads it where the engine put it, until its next call
    replied_ = true;
  }
  const char* peer() const override { return "local client"; }
  bool payload_on_device() const override { return payload_on_device_; }

  bool replied() const { return replied_; }

 private:
  std::span<const std::byte> header_, payload_;
  bool payload_on_device_;
  std::unique_ptr<core::MemoryBuffer>& reply_payload_;
  core::ResponseHeaderBytes& reply_header_;
  bool replied_ = false;
};

class LocalConnection final : public ClientConnection {
 public:
  LocalConnection(RequestHandler& handler, bool payload_on_device)
      : handler_(handler), payload_on_device_(payload_on_device) {}

  core::Status call(const core::RequestHeader& header, std::span<const std::byte> payload, Reply& reply,
                    std::chrono::milliseconds /*timeout: the call runs inline*/) override {
    core::encode(header, request_header_);
    reply_payload_.reset();  // the previous reply's block goes back to its pool
    LocalDelivery delivery(request_header_, payload, payload_on_device_, sender_, reply_payload_, reply_header_);
    handler_.process(delivery);
    reply.recv_clock_ns = core::now_ns();
    if (!delivery.replied()) return {core::StatusCode::kInternal, "local pipeline returned without a reply"};
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
