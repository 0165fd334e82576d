// The request and response messages of ModelInfer calls, kept from call to call: a message kept here is cleared,
// not freed, so its strings, repeated fields and maps keep their memory and the next call parses into memory already
// mapped. The tensors themselves stay out of these messages (raw_infer_messages.h); a message given a tensor all the
// same (gRPC's own MessageAllocator use) keeps its bytes field's capacity too.
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
  // A pair for a call this service parses itself; it comes back when the handle goes.
  struct GiveBack {
    void operator()(::grpc::MessageHolder<inference::ModelInferRequest, inference::ModelInferResponse>* held) const {
      held->Release();
    }
  };
  using Held =
      std::unique_ptr<::grpc::MessageHolder<inference::ModelInferRequest, inference::ModelInferResponse>, GiveBack>;
  Held take() { return Held(AllocateMessages()); }

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
