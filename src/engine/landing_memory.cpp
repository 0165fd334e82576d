// Landing memory: the choice of allocator. The CUDA allocators live in engine/cuda/cuda_memory.cpp, built
// only with the GPU engine.
#include "engine/landing_memory.h"

#include <fmt/format.h>

#include <charconv>

namespace edgeserve::engine {

#ifdef EDGESERVE_HAVE_GPU_ENGINE
namespace cuda {
core::Result<std::unique_ptr<core::MemoryBuffer>> allocate_pinned(int device, size_t bytes);
core::Result<std::unique_ptr<core::MemoryBuffer>> allocate_device(int device, size_t bytes);
}  // namespace cuda
#endif

core::Result<std::unique_ptr<core::MemoryBuffer>> allocate_landing_memory(core::MemoryKind kind,
                                                                          const std::string& device, size_t bytes) {
  if (device == "cpu") {
    if (kind == core::MemoryKind::kCuda)
      return core::Status(core::StatusCode::kInternal,
                          "landing memory 'cuda' needs models on a GPU (--device cuda:N); this server runs on the CPU");
    try {
      return core::allocate_host_memory(bytes);
    } catch (const std::bad_alloc&) {
      return core::Status(core::StatusCode::kInternal, fmt::format("cannot allocate {} bytes of host memory", bytes));
    }
  }
  int index = -1;
  if (device.starts_with("cuda:")) {
    const char* first = device.data() + 5;
    const char* last = device.data() + device.size();
    if (auto [p, ec] = std::from_chars(first, last, index); ec != std::errc() || p != last) index = -1;
  }
  if (index < 0)
    return core::Status(core::StatusCode::kInternal,
                        fmt::format("unknown device '{}': expected cpu or cuda:N", device));
#ifdef EDGESERVE_HAVE_GPU_ENGINE
  return kind == core::MemoryKind::kCuda ? cuda::allocate_device(index, bytes) : cuda::allocate_pinned(index, bytes);
#else
  return core::Status(core::StatusCode::kInternal,
                      fmt::format("device '{}' needs the GPU engine, which this build does not have", device));
#endif
}

}  // namespace edgeserve::engine
