// One KServe infer request handed to the server: its tensor copied into landing memory (aligned, pinned next to a
// GPU), and a slot the connection thread that decoded it waits on for the reply.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>

#include "core/memory_buffer.h"
#include "transport/delivery.h"

namespace edgeserve::transport::http {

// Filled once by the delivery's transmit (a worker thread); read by the connection thread after wait().
class ReplySlot {
 public:
  void fill(const core::ResponseHeader& header, std::unique_ptr<core::MemoryBuffer> payload) {
    std::lock_guard lock(mutex_);
    header_ = header;
    payload_ = std::move(payload);
    done_ = true;
    ready_.notify_one();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return done_; });
  }
  const core::ResponseHeader& header() const { return header_; }
  core::MemoryBuffer* payload() const { return payload_.get(); }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  bool done_ = false;
  core::ResponseHeader header_;
  std::unique_ptr<core::MemoryBuffer> payload_;
};

class HttpDelivery final : public Delivery {
 public:
  HttpDelivery(uint64_t recv_ns, uint64_t sender, core::RequestHeader&& request,
               std::unique_ptr<core::MemoryBuffer> landing, std::shared_ptr<ReplySlot> slot)
      : Delivery(recv_ns, sender, std::move(request)), landing_(std::move(landing)), slot_(std::move(slot)) {}
  ~HttpDelivery() override { reply_if_dropped(); }

  std::span<const std::byte> payload() const override {
    return landing_->bytes().first(static_cast<size_t>(request().payload_bytes));
  }
  // In the server's GPU memory when it came from a CUDA shared memory region (shared_input_landing.h).
  bool payload_on_device() const override { return landing_->on_device(); }
  const char* peer() const override { return "http client"; }

 private:
  void transmit(const core::ResponseHeader& header, std::unique_ptr<core::MemoryBuffer> payload) override {
    slot_->fill(header, std::move(payload));
  }

  std::unique_ptr<core::MemoryBuffer> landing_;
  std::shared_ptr<ReplySlot> slot_;
};

}  // namespace edgeserve::transport::http
