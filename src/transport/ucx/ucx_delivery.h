// UCX transport, server side: one request as it landed in its client's slot, and the way back through the
// I/O worker's outbox. Exactly one reply per request, even when a bug drops the delivery.
#pragma once

#include <memory>
#include <span>

#include "core/log.h"
#include "transport/delivery.h"
#include "transport/ucx/ucx_peer.h"

namespace edgeserve::transport::ucx {

class UcxDelivery final : public Delivery {
 public:
  UcxDelivery(std::shared_ptr<Slot> slot, std::shared_ptr<Outbox> outbox, const UcxListenerOptions& options)
      : Delivery(slot->recv_ns, slot->sender), slot_(std::move(slot)), outbox_(std::move(outbox)), options_(options) {
    outbox_->unanswered.fetch_add(1);
  }

  // Guarantees every request exactly one reply, even if a bug drops a delivery unanswered.
  ~UcxDelivery() override {
    if (!replied_) {
      core::logger("transport")
          ->error("request from {} dropped without a reply; answering with an internal error", peer());
      core::ResponseHeaderBytes bytes;
      core::encode(core::error_response(core::peek_request_id(header()),
                                        core::Status(core::StatusCode::kInternal, "request dropped by the server")),
                   bytes);
      send_reply(bytes, nullptr);
    }
  }

  std::span<const std::byte> header() const override { return slot_->header; }
  std::span<const std::byte> payload() const override {
    return slot_->payload_bytes ? std::span<const std::byte>(slot_->landing->bytes().first(slot_->payload_bytes))
                                : std::span<const std::byte>();
  }
  bool payload_on_device() const override { return slot_->landing && slot_->landing->on_device(); }

  void send_reply(const core::ResponseHeaderBytes& header, std::unique_ptr<core::MemoryBuffer> payload) override {
    if (replied_) return;
    replied_ = true;
    slot_->reply_header = header;
    slot_->reply = std::move(payload);
    outbox_->push(slot_);
    outbox_->unanswered.fetch_sub(1);
  }

  const char* peer() const override { return "ucx client"; }

 private:
  std::shared_ptr<Slot> slot_;
  std::shared_ptr<Outbox> outbox_;
  const UcxListenerOptions& options_;
  bool replied_ = false;
};

}  // namespace edgeserve::transport::ucx
