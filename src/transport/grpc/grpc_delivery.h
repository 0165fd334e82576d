// One ModelInfer call handed to the server: its tensor copied into landing memory (aligned, pinned next to a GPU),
// and the call's reactor, which the reply finishes from whichever thread sends it: no thread waits on a request.
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include <atomic>
#include <memory>
#include <vector>

#include "core/memory_buffer.h"
#include "grpc_service.pb.h"
#include "transport/delivery.h"
#include "transport/grpc/infer_message_pool.h"
#include "transport/http/http_settings.h"
#include "transport/http/kserve_request.h"
#include "transport/http/kserve_statistics.h"
#include "transport/http/shared_memory_regions.h"

namespace edgeserve::transport::grpc {

// What a reply needs of the call it answers. gRPC keeps `response` alive until the reactor finishes; `messages` holds
// the parsed request (without its tensor, which is in landing memory) and the reply's message until then.
struct InferCall {
  ::grpc::ServerUnaryReactor* reactor = nullptr;
  InferMessagePool::Held messages;
  ::grpc::ByteBuffer* response = nullptr;       // the reply as sent: the reply message, then its outputs' bytes
  const http::ServedModel* served = nullptr;    // null: a model this listener does not know (a gateway)
  uint8_t select = 0;                           // the outputs the request chose
  uint32_t client_id = 0;                       // the client id it is scheduled under (the reply names it)
  http::ModelStatistics* statistics = nullptr;  // the listener's, which outlives every call
  std::atomic<int64_t>* in_flight = nullptr;    // the listener's count of calls not yet answered
  const http::SharedMemoryRegions* shared_memory = nullptr;  // the listener's registered regions
  std::vector<http::InferOutputAsk> shared_outputs;          // outputs that go into a region (usually none)
};

class GrpcDelivery final : public Delivery {
 public:
  GrpcDelivery(uint64_t recv_ns, uint64_t sender, core::RequestHeader&& request,
               std::unique_ptr<core::MemoryBuffer> landing, InferCall call)
      : Delivery(recv_ns, sender, std::move(request)), landing_(std::move(landing)), call_(std::move(call)) {}
  ~GrpcDelivery() override { reply_if_dropped(); }

  std::span<const std::byte> payload() const override {
    return landing_->bytes().first(static_cast<size_t>(request().payload_bytes));
  }
  // In the server's GPU memory when it came from a CUDA shared memory region (shared_input_landing.h).
  bool payload_on_device() const override { return landing_->on_device(); }
  const char* peer() const override { return "grpc client"; }

 private:
  // On a worker thread: writes the outputs asked into shared memory, encodes the reply into the call's response
  // (the outputs as slices of `payload`, which lives until gRPC has sent them) and finishes the call.
  void transmit(const core::ResponseHeader& header, std::unique_ptr<core::MemoryBuffer> payload) override;

  std::unique_ptr<core::MemoryBuffer> landing_;
  InferCall call_;
};

}  // namespace edgeserve::transport::grpc
