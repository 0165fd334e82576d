// The request and response messages of ModelInfer calls, kept from call to call. A parsed request holds its tensor
// in a protobuf bytes field: a fresh message per call allocates that (300 KB for ResNet50 fp16) anew, and glibc
// hands memory that large back to the kernel when it is freed, so every call paid the page faults of a fresh
// buffer. A message kept here is cleared, not freed, so its bytes fields keep their capacity and the next call
// parses into memory already mapped.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "grpc_service.grpc.pb.h"

namespace edgeserve::transport::grpc {

class InferMessagePool final
    : public ::grpc::MessageAllocator<inference::ModelInferRequest, inference::ModelInferResponse> {
 public:
  // Keeps at most `kept` pairs of messages between calls (calls beyond that get fresh ones, freed at their end).
  explicit InferMessagePool(size_t kept);
  ~InferMessagePool() override;
  InferMessagePool(const InferMessagePool&) = delete;
  InferMessagePool& operator=(const InferMessagePool&) = delete;

  ::grpc::MessageHolder<inference::ModelInferRequest, inference::ModelInferResponse>* AllocateMessages() override;

  // Pairs waiting for a call now (for tests).
  size_t idle() const;

 private:
  class Holder;
  void give_back(Holder* holder);

  size_t kept_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Holder>> idle_;
};

}  // namespace edgeserve::transport::grpc
