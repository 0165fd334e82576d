// inference.GRPCInferenceService on gRPC's callback API: health, metadata, config and statistics answered on
// gRPC's threads; ModelInfer decoded there into a GrpcDelivery for the server's pipeline, whose reply finishes the
// call later from a worker thread, so calls in flight hold no thread. The shared memory RPCs (system and CUDA) are
// in shared_memory_service.cpp; streaming and repository RPCs answer UNIMPLEMENTED, saying so.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

#include "core/buffer_pool.h"
#include "core/log_limiter.h"
#include "grpc_service.grpc.pb.h"
#include "transport/grpc/infer_message_pool.h"
#include "transport/grpc/peer_table.h"
#include "transport/http/http_settings.h"
#include "transport/http/kserve_statistics.h"
#include "transport/http/shared_input_landing.h"
#include "transport/http/shared_memory_regions.h"
#include "transport/listener.h"

namespace edgeserve::transport::grpc {

using DeliveryHandler = std::function<void(std::unique_ptr<Delivery>)>;

// ModelInfer is a raw method (byte buffers in and out): raw_infer_messages.h keeps the tensors out of protobuf.
class InferenceService final : public inference::GRPCInferenceService::WithRawCallbackMethod_ModelInfer<
                                   inference::GRPCInferenceService::CallbackService> {
 public:
  // `models`: what the metadata RPCs describe and how names map onto the models; null (a gateway) serves infer
  // without the name checks and answers the metadata RPCs NOT_FOUND. `landing`: where tensors are copied to.
  InferenceService(const ListenOptions& options, std::shared_ptr<const http::HttpServerSettings> models,
                   std::shared_ptr<core::BufferPool> landing);

  // Infer calls go to `handler` from now on (before: UNAVAILABLE); it must outlive the server.
  void start(const DeliveryHandler* handler) { handler_.store(handler); }
  // Refuses new infer calls (UNAVAILABLE) and ServerReady answers false from now on; then waits up to `limit` for
  // the infer calls in flight to be answered. False when some were not.
  bool drain(std::chrono::milliseconds limit);

  using Reactor = ::grpc::ServerUnaryReactor;
  using Context = ::grpc::CallbackServerContext;
  Reactor* ServerLive(Context* context, const inference::ServerLiveRequest* request,
                      inference::ServerLiveResponse* response) override;
  Reactor* ServerReady(Context* context, const inference::ServerReadyRequest* request,
                       inference::ServerReadyResponse* response) override;
  Reactor* ModelReady(Context* context, const inference::ModelReadyRequest* request,
                      inference::ModelReadyResponse* response) override;
  Reactor* ServerMetadata(Context* context, const inference::ServerMetadataRequest* request,
                          inference::ServerMetadataResponse* response) override;
  Reactor* ModelMetadata(Context* context, const inference::ModelMetadataRequest* request,
                         inference::ModelMetadataResponse* response) override;
  Reactor* ModelConfig(Context* context, const inference::ModelConfigRequest* request,
                       inference::ModelConfigResponse* response) override;
  Reactor* ModelStatistics(Context* context, const inference::ModelStatisticsRequest* request,
                           inference::ModelStatisticsResponse* response) override;
  Reactor* ModelInfer(Context* context, const ::grpc::ByteBuffer* request, ::grpc::ByteBuffer* response) override;
  Reactor* SystemSharedMemoryStatus(Context* context, const inference::SystemSharedMemoryStatusRequest* request,
                                    inference::SystemSharedMemoryStatusResponse* response) override;
  Reactor* SystemSharedMemoryRegister(Context* context, const inference::SystemSharedMemoryRegisterRequest* request,
                                      inference::SystemSharedMemoryRegisterResponse* response) override;
  Reactor* SystemSharedMemoryUnregister(Context* context, const inference::SystemSharedMemoryUnregisterRequest* request,
                                        inference::SystemSharedMemoryUnregisterResponse* response) override;
  Reactor* CudaSharedMemoryStatus(Context* context, const inference::CudaSharedMemoryStatusRequest* request,
                                  inference::CudaSharedMemoryStatusResponse* response) override;
  Reactor* CudaSharedMemoryRegister(Context* context, const inference::CudaSharedMemoryRegisterRequest* request,
                                    inference::CudaSharedMemoryRegisterResponse* response) override;
  Reactor* CudaSharedMemoryUnregister(Context* context, const inference::CudaSharedMemoryUnregisterRequest* request,
                                      inference::CudaSharedMemoryUnregisterResponse* response) override;
  ::grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse>* ModelStreamInfer(
      Context* context) override;
  Reactor* RepositoryIndex(Context* context, const inference::RepositoryIndexRequest* request,
                           inference::RepositoryIndexResponse* response) override;
  Reactor* RepositoryModelLoad(Context* context, const inference::RepositoryModelLoadRequest* request,
                               inference::RepositoryModelLoadResponse* response) override;
  Reactor* RepositoryModelUnload(Context* context, const inference::RepositoryModelUnloadRequest* request,
                                 inference::RepositoryModelUnloadResponse* response) override;

 private:
  // The model a metadata request names, or null after finishing `reactor` with NOT_FOUND.
  const http::ServedModel* known_model(const std::string& name, const std::string& version, Reactor* reactor) const;
  // ModelInfer past its in-flight count: the call handed to the server (null), or the reactor it was refused on.
  Reactor* infer(Context* context, const ::grpc::ByteBuffer& message, ::grpc::ByteBuffer* response, Reactor* reactor,
                 uint64_t recv_ns);
  // Finishes an infer call the server's edge refused, answered as the server's own error path answers (its log
  // line, its error count).
  Reactor* fail(Reactor* reactor, uint64_t id, const core::Status& status, uint64_t recv_ns);
  // Finishes a region RPC (shared_memory_service.cpp): OK, or refused with a rate-limited log line and the status
  // as a gRPC code.
  Reactor* refuse_region_call(Context* context, const core::Status& status);
  Reactor* finish_region_call(Context* context, const core::Status& status, bool logged = false);

  ListenOptions options_;
  std::shared_ptr<const http::HttpServerSettings> models_;
  std::shared_ptr<core::BufferPool> landing_;
  http::SharedInputLanding shared_landing_;
  http::ModelStatistics statistics_;
  http::SharedMemoryRegions shared_memory_;
  PeerTable clients_;
  InferMessagePool messages_;  // ModelInfer's parsed messages, kept from call to call
  core::LogLimiter error_log_;
  std::atomic<const DeliveryHandler*> handler_{nullptr};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> in_flight_{0};  // infer calls handed to the server and not yet answered
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace edgeserve::transport::grpc
