#include "transport/grpc/infer_message_pool.h"

namespace edgeserve::transport::grpc {

class InferMessagePool::Holder final
    : public ::grpc::MessageHolder<inference::ModelInferRequest, inference::ModelInferResponse> {
 public:
  explicit Holder(InferMessagePool* pool) : pool_(pool) {
    set_request(&request_);
    set_response(&response_);
  }
  // gRPC calls this when the call has ended: the messages are cleared, keeping their fields' memory, and go back.
  void Release() override { pool_->give_back(this); }
  void clear() {
    request_.Clear();
    response_.Clear();
  }

 private:
  InferMessagePool* pool_;
  inference::ModelInferRequest request_;
  inference::ModelInferResponse response_;
};

InferMessagePool::InferMessagePool(size_t kept) : kept_(kept) { idle_.reserve(kept); }

InferMessagePool::~InferMessagePool() = default;

::grpc::MessageHolder<inference::ModelInferRequest, inference::ModelInferResponse>*
InferMessagePool::AllocateMessages() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      Holder* holder = idle_.back().release();
      idle_.pop_back();
      return holder;
    }
  }
  // Owned by gRPC until Release(), which hands it back to give_back().
  return std::make_unique<Holder>(this).release();
}

void InferMessagePool::give_back(Holder* holder) {
  std::unique_ptr<Holder> owned(holder);
  owned->clear();
  std::lock_guard lock(mutex_);
  if (idle_.size() < kept_) idle_.push_back(std::move(owned));
}

size_t InferMessagePool::idle() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

}  // namespace edgeserve::transport::grpc
