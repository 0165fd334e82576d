// KServe's CUDA shared memory: a client's cudaMalloc'd range, opened here through its IPC handle. Copies run on the
// calling thread (an httplib or gRPC thread) with the region's GPU current and end before the call returns, so the
// tensor is in landing memory (or back in the client's region) when the pipeline (or the client) looks.
#include <fmt/format.h>

#include <cstring>

#include "transport/http/shared_memory_regions.h"

#ifdef EDGESERVE_HAVE_CUDA_IPC
#include <cuda_runtime.h>
#endif

namespace edgeserve::transport::http {

using core::Status;
using core::StatusCode;

#ifdef EDGESERVE_HAVE_CUDA_IPC

bool cuda_regions_supported() { return true; }

int cuda_device_of(const void* device_memory) {
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, device_memory) != cudaSuccess) {
    cudaGetLastError();  // not sticky: clear it for the next caller on this thread
    return -1;
  }
  return attributes.type == cudaMemoryTypeDevice ? attributes.device : -1;
}

namespace {

class CudaIpcRegion final : public SharedRegion {
 public:
  CudaIpcRegion(SharedMemoryRegionStatus status, std::byte* base) : SharedRegion(std::move(status)), base_(base) {}
  ~CudaIpcRegion() override {
    cudaSetDevice(static_cast<int>(status().device_id));
    cudaIpcCloseMemHandle(base_);
  }

  Status read(uint64_t offset, std::span<std::byte> dst) const override {
    return copy(dst.data(), base_ + offset, dst.size(), "read");
  }
  Status write(uint64_t offset, std::span<const std::byte> src) const override {
    return copy(base_ + offset, src.data(), src.size(), "write");
  }
  std::byte* device_base(int device) const override { return device == status().device_id ? base_ : nullptr; }

 private:
  // `to` or `from` may be host memory or the server's own GPU memory: unified addressing tells which.
  Status copy(void* to, const void* from, size_t bytes, const char* what) const {
    if (bytes == 0) return {};
    // On this thread's own default stream, so that the copy waits for no other stream's work (the lanes').
    cudaError_t e = cudaSetDevice(static_cast<int>(status().device_id));
    if (e == cudaSuccess) e = cudaMemcpyAsync(to, from, bytes, cudaMemcpyDefault, cudaStreamPerThread);
    if (e == cudaSuccess) e = cudaStreamSynchronize(cudaStreamPerThread);
    if (e != cudaSuccess)
      return {StatusCode::kInternal, fmt::format("cannot {} {} bytes of CUDA shared memory region '{}': {}", what,
                                                 bytes, status().name.substr(0, 64), cudaGetErrorString(e))};
    return {};
  }

  std::byte* base_;
};

}  // namespace

core::Result<std::shared_ptr<const SharedRegion>> open_cuda_region(SharedMemoryRegionStatus status,
                                                                   std::span<const std::byte> raw_handle) {
  const std::string name = status.name.substr(0, 64);
  if (raw_handle.size() != sizeof(cudaIpcMemHandle_t))
    return Status(
        StatusCode::kInvalidArgument,
        fmt::format("CUDA shared memory region '{}': a raw_handle is a cudaIpcMemHandle_t of {} bytes; got {}", name,
                    sizeof(cudaIpcMemHandle_t), raw_handle.size()));
  int devices = 0;
  if (cudaError_t e = cudaGetDeviceCount(&devices); e != cudaSuccess) {
    cudaGetLastError();  // not sticky: clear it for the next caller on this thread
    return Status(
        StatusCode::kInvalidArgument,
        fmt::format("CUDA shared memory region '{}': this server sees no GPU ({})", name, cudaGetErrorString(e)));
  }
  if (status.device_id < 0 || status.device_id >= devices)
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("CUDA shared memory region '{}': device_id {} is not one of this server's {} GPUs", name,
                              status.device_id, devices));
  cudaIpcMemHandle_t handle;
  std::memcpy(&handle, raw_handle.data(), sizeof handle);
  void* base = nullptr;
  cudaError_t e = cudaSetDevice(static_cast<int>(status.device_id));
  if (e == cudaSuccess) e = cudaIpcOpenMemHandle(&base, handle, cudaIpcMemLazyEnablePeerAccess);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("CUDA shared memory region '{}': cannot open its IPC handle on GPU {}: {} (the handle "
                              "must come from cudaIpcGetMemHandle in another process on this host)",
                              name, status.device_id, cudaGetErrorString(e)));
  }
  return std::shared_ptr<const SharedRegion>(
      std::make_shared<const CudaIpcRegion>(std::move(status), static_cast<std::byte*>(base)));
}

#else

bool cuda_regions_supported() { return false; }

int cuda_device_of(const void* /*device_memory*/) { return -1; }

core::Result<std::shared_ptr<const SharedRegion>> open_cuda_region(SharedMemoryRegionStatus status,
                                                                   std::span<const std::byte> /*raw_handle*/) {
  return Status(StatusCode::kInvalidArgument,
                fmt::format("CUDA shared memory region '{}': this server was built without the CUDA runtime; "
                            "register a system shared memory region instead",
                            status.name.substr(0, 64)));
}

#endif

}  // namespace edgeserve::transport::http
