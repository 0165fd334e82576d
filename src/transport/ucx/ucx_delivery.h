// UCX transport, server side: one request as it landed in its client's slot, and the way back through the
// I/O worker's outbox. Exactly one reply per request, even when a bug drops the delivery.
#pragma once

#include <memory>
#include <span>

#include "transport/delivery.h"
#include "transport/ucx/ucx_peer.h"

namespace edgeserve::transport::ucx {

class UcxDelivery final : public Delivery {
 public:
  UcxDelivery(std::shared_ptr<Slot> slot, core::RequestHeader&& request, std::shared_ptr<Outbox> outbox)
      : Delivery(slot->recv_ns, slot->sender, std::move(request)), slot_(std::move(slot)), outbox_(std::move(outbox)) {
    outbox_->unanswered.fetch_add(1);
  }
  ~UcxDelivery() override { reply_if_dropped(); }

  std::span<const std::byte> payload() const override {
    return slot_->payload_bytes ? std::span<const std::byte>(slot_->landing->bytes().first(slot_->payload_bytes))
                                : std::span<const std::byte>();
  }
  bool payload_on_device() const override { return slot_->landing && slot_->landing->on_device(); }
  const char* peer() const override { return "ucx client"; }

 private:
  // Encoded straight into the slot's reply header, which the I/O thread sends from.
  void transmit(const core::ResponseHeader& header, std::unique_ptr<core::MemoryBuffer> payload) override {
    core::encode(header, slot_->reply_header);
    slot_->reply = std::move(payload);
    outbox_->push(slot_);
    outbox_->unanswered.fetch_sub(1);
  }

  std::shared_ptr<Slot> slot_;
  std::shared_ptr<Outbox> outbox_;
};

}  // namespace edgeserve::transport::ucx
