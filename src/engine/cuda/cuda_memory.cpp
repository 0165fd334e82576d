// Landing memory on a GPU host: cudaMallocHost (pinned) and cudaMalloc (device) blocks for transport/ucx.
#include <cuda_runtime.h>
#include <fmt/format.h>

#include <memory>

#include "core/memory_buffer.h"
#include "core/status.h"

namespace edgeserve::engine::cuda {

namespace {

template <bool kOnDevice>
class CudaMemory final : public core::MemoryBuffer {
 public:
  CudaMemory(void* data, size_t bytes) : data_(static_cast<std::byte*>(data)), bytes_(bytes) {}
  ~CudaMemory() override { kOnDevice ? cudaFree(data_) : cudaFreeHost(data_); }
  CudaMemory(const CudaMemory&) = delete;
  CudaMemory& operator=(const CudaMemory&) = delete;
  std::span<std::byte> bytes() override { return {data_, bytes_}; }
  bool on_device() const override { return kOnDevice; }

 private:
  std::byte* data_;
  size_t bytes_;
};

template <bool kOnDevice>
core::Result<std::unique_ptr<core::MemoryBuffer>> allocate(int device, size_t bytes) {
  void* p = nullptr;
  cudaError_t e = cudaSetDevice(device);
  if (e == cudaSuccess)
    e = kOnDevice ? cudaMalloc(&p, std::max<size_t>(bytes, 1)) : cudaMallocHost(&p, std::max<size_t>(bytes, 1));
  if (e != cudaSuccess)
    return core::Status(core::StatusCode::kInternal,
                        fmt::format("cannot allocate {} bytes of {} on cuda:{}: {}", bytes,
                                    kOnDevice ? "device memory" : "pinned host memory", device, cudaGetErrorString(e)));
  return std::unique_ptr<core::MemoryBuffer>(std::make_unique<CudaMemory<kOnDevice>>(p, bytes));
}

}  // namespace

core::Result<std::unique_ptr<core::MemoryBuffer>> allocate_pinned(int device, size_t bytes) {
  return allocate<false>(device, bytes);
}
core::Result<std::unique_ptr<core::MemoryBuffer>> allocate_device(int device, size_t bytes) {
  return allocate<true>(device, bytes);
}

}  // namespace edgeserve::engine::cuda
