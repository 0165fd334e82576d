// The KServe v2 gRPC service's shared memory RPCs: system and CUDA regions, registered, listed and removed on the
// regions ModelInfer reads inputs from and writes outputs into.
#include "core/log.h"
#include "transport/grpc/inference_service.h"
#include "transport/grpc/kserve_grpc_codec.h"

namespace edgeserve::transport::grpc {

using core::Status;
using http::RegionKind;

InferenceService::Reactor* InferenceService::SystemSharedMemoryStatus(
    Context* context, const inference::SystemSharedMemoryStatusRequest* request,
    inference::SystemSharedMemoryStatusResponse* response) {
  auto listed = shared_memory_.status(request->name(), RegionKind::kSystem);
  if (!listed.ok()) return refuse_region_call(context, listed.status());
  auto& regions = *response->mutable_regions();
  for (const auto& r : listed.value()) {
    auto& out = regions[r.name];
    out.set_name(r.name);
    out.set_key(r.key);
    out.set_offset(r.offset);
    out.set_byte_size(r.byte_size);
  }
  return finish_region_call(context, {});
}

InferenceService::Reactor* InferenceService::SystemSharedMemoryRegister(
    Context* context, const inference::SystemSharedMemoryRegisterRequest* request,
    inference::SystemSharedMemoryRegisterResponse*) {
  const Status s = shared_memory_.add(request->name(), request->key(), request->offset(), request->byte_size());
  if (s.ok())
    core::logger("transport")->info("system shared memory region '{}' registered", request->name().substr(0, 64));
  return finish_region_call(context, s);
}

InferenceService::Reactor* InferenceService::SystemSharedMemoryUnregister(
    Context* context, const inference::SystemSharedMemoryUnregisterRequest* request,
    inference::SystemSharedMemoryUnregisterResponse*) {
  return finish_region_call(context, shared_memory_.remove(request->name(), RegionKind::kSystem));
}

InferenceService::Reactor* InferenceService::CudaSharedMemoryStatus(
    Context* context, const inference::CudaSharedMemoryStatusRequest* request,
    inference::CudaSharedMemoryStatusResponse* response) {
  auto listed = shared_memory_.status(request->name(), RegionKind::kCuda);
  if (!listed.ok()) return refuse_region_call(context, listed.status());
  auto& regions = *response->mutable_regions();
  for (const auto& r : listed.value()) {
    auto& out = regions[r.name];
    out.set_name(r.name);
    out.set_device_id(static_cast<uint64_t>(r.device_id));
    out.set_byte_size(r.byte_size);
  }
  return finish_region_call(context, {});
}

InferenceService::Reactor* InferenceService::CudaSharedMemoryRegister(
    Context* context, const inference::CudaSharedMemoryRegisterRequest* request,
    inference::CudaSharedMemoryRegisterResponse*) {
  const std::string& handle = request->raw_handle();
  const Status s = shared_memory_.add_cuda(request->name(), std::as_bytes(std::span(handle.data(), handle.size())),
                                           request->device_id(), request->byte_size());
  if (s.ok())
    core::logger("transport")->info("CUDA shared memory region '{}' registered", request->name().substr(0, 64));
  return finish_region_call(context, s);
}

InferenceService::Reactor* InferenceService::CudaSharedMemoryUnregister(
    Context* context, const inference::CudaSharedMemoryUnregisterRequest* request,
    inference::CudaSharedMemoryUnregisterResponse*) {
  return finish_region_call(context, shared_memory_.remove(request->name(), RegionKind::kCuda));
}

InferenceService::Reactor* InferenceService::refuse_region_call(Context* context, const Status& status) {
  if (std::string note; error_log_.allow(note))
    core::logger("transport")->warn("shared memory: {}{}", status.to_string(), note);
  return finish_region_call(context, status, /*logged=*/true);
}

InferenceService::Reactor* InferenceService::finish_region_call(Context* context, const Status& status, bool logged) {
  if (!status.ok() && !logged) return refuse_region_call(context, status);
  auto* reactor = context->DefaultReactor();
  reactor->Finish(status.ok() ? ::grpc::Status() : to_grpc_status(status));
  return reactor;
}

}  // namespace edgeserve::transport::grpc
