// Plain host memory blocks.
#include "core/memory_buffer.h"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace edgeserve::core {

namespace {

constexpr size_t kPageBytes = 4096;

class HostMemory final : public MemoryBuffer {
 public:
  explicit HostMemory(size_t bytes) : bytes_(bytes) {
    // aligned_alloc needs a size that is a multiple of the alignment; at least one page.
    const size_t rounded = (std::max<size_t>(bytes, 1) + kPageBytes - 1) / kPageBytes * kPageBytes;
    data_.reset(static_cast<std::byte*>(std::aligned_alloc(kPageBytes, rounded)));
    if (!data_) throw std::bad_alloc();
  }
  std::span<std::byte> bytes() override { return {data_.get(), bytes_}; }
  bool on_device() const override { return false; }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, Free> data_;
  size_t bytes_;
};

}  // namespace

const char* to_string(MemoryKind kind) { return kind == MemoryKind::kCuda ? "cuda" : "host"; }

std::unique_ptr<MemoryBuffer> allocate_host_memory(size_t bytes) { return std::make_unique<HostMemory>(bytes); }

}  // namespace edgeserve::core
