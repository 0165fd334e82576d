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
                uint64_t sender, std::vector<std::byte>& reply_buffer, core::ResponseHeaderBytes& reply_header)
      : Delivery(core::now_ns(), sender),
        header_(header),
        payload_(payload),
        payload_on_device_(payload_on_device),
        reply_buffer_(reply_buffer),
        reply_header_(reply_header) {}

  std::span<const std::byte> header() const override { return header_; }
  std::span<const std::byte> payload() const override { return payload_; }
  std::span<std::byte> reply_payload(size_t bytes) override {
    reply_buffer_.resize(bytes);  // keeps its capacity across requests: allocates only when outputs grow
    reply_bytes_ = bytes;
    return {reply_buffer_.data(), bytes};
  }
  void send_reply(const core::ResponseHeaderBytes& header) override {
    reply_header_ = header;
    replied_ = true;
  }
  const char* peer() const override { return "local client"; }
  bool payload_on_device() const override { return payload_on_device_; }

  bool replied() const { return replied_; }
  size_t reply_bytes() const { return reply_bytes_; }

 private:
  std::span<const std::byte> header_, payload_;
  bool payload_on_device_;
  std::vector<std::byte>& reply_buffer_;
  core::ResponseHeaderBytes& reply_header_;
  size_t reply_bytes_ = 0;
  bool replied_ = false;
};

class LocalConnection final : public ClientConnection {
 public:
  LocalConnection(RequestHandler& handler, bool payload_on_device)
      : handler_(handler), payload_on_device_(payload_on_device) {}

  core::Status call(const core::RequestHeader& header, std::span<const std::byte> payload, Reply& reply,
                    std::chrono::milliseconds /*timeout: the call runs inline*/) override {
    core::encode(header, request_header_);
    LocalDelivery delivery(request_header_, payload, payload_on_device_, sender_, reply_buffer_, reply_header_);
    handler_.process(delivery);
    reply.recv_clock_ns = core::now_ns();
    if (!delivery.replied()) return {core::StatusCode::kInternal, "local pipeline returned without a reply"};
    auto decoded = core::decode_response_header(reply_header_);
    if (!decoded.ok()) return {core::StatusCode::kInternal, "malformed reply: " + decoded.status().to_string()};
    reply.header = std::move(decoded.value());
    reply.payload = {reply_buffer_.data(), delivery.reply_bytes()};
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
  std::vector<std::byte> reply_buffer_;
};

}  // namespace

std::unique_ptr<ClientConnection> connect_local(RequestHandler& handler, bool payload_on_device) {
  return std::make_unique<LocalConnection>(handler, payload_on_device);
}

}  // namespace edgeserve::transport::local
