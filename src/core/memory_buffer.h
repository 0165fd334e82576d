// A block of memory owned by whoever made it: plain host memory, CUDA-pinned host memory or GPU memory.
// Transports land requests in such blocks without knowing how they were allocated (see
// engine/landing_memory.h for the allocators and transport/ucx for the user).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace edgeserve::core {

// Where a block of memory is: the one name for "landing" memory everywhere (the server's --landing, the ucx
// listener, the welcome message, link reports). Values are on the ucx wire (Welcome::landing): never renumber.
enum class MemoryKind : uint8_t {
  kHost = 1,  // host memory: the paper's RDMA (a copy to the GPU follows)
  kCuda = 2,  // GPU memory: the paper's GDR (no copy)
};
const char* to_string(MemoryKind kind);  // "host", "cuda"

class MemoryBuffer {
 public:
  virtual ~MemoryBuffer() = default;
  virtual std::span<std::byte> bytes() = 0;
  // True when bytes() is device (GPU) memory: the CPU must not touch it.
  virtual bool on_device() const = 0;
};

// Page-aligned host memory (RDMA registration pins whole pages).
std::unique_ptr<MemoryBuffer> allocate_host_memory(size_t bytes);

}  // namespace edgeserve::core
