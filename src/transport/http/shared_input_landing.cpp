#include "transport/http/shared_input_landing.h"

#include "core/log.h"

namespace edgeserve::transport::http {

namespace {

// A tensor read in place from a CUDA region on the server's GPU; the region stays open while the request holds it.
class RegionTensor final : public core::MemoryBuffer {
 public:
  RegionTensor(const SharedMemoryView& view, std::byte* at)
      : region_(view.region), bytes_(at, static_cast<size_t>(view.byte_size)) {}
  std::span<std::byte> bytes() override { return bytes_; }
  bool on_device() const override { return true; }

 private:
  std::shared_ptr<const SharedRegion> region_;
  std::span<std::byte> bytes_;
};

}  // namespace

core::BufferPool* SharedInputLanding::gpu_pool() {
  std::call_once(made_, [this] {
    if (!allocate_) return;
    // A server on the CPU cannot make GPU memory: its allocator refuses, and CUDA regions land in host memory.
    auto probe = allocate_(1, core::MemoryKind::kCuda);
    if (!probe.ok() || !probe.value()->on_device()) return;
    device_ = cuda_device_of(probe.value()->bytes().data());
    auto pool = core::BufferPool::create("CUDA shared memory landing buffers", block_, count_,
                                         [this](size_t bytes) { return allocate_(bytes, core::MemoryKind::kCuda); });
    if (!pool.ok()) {
      core::logger("transport")->warn("CUDA shared memory inputs land in host memory: {}", pool.status().to_string());
      return;
    }
    gpu_ = std::move(pool.value());
  });
  return gpu_.get();
}

core::Result<std::unique_ptr<core::MemoryBuffer>> SharedInputLanding::land(const SharedMemoryView& view,
                                                                           core::InputKind kind,
                                                                           core::BufferPool& host) {
  const bool to_gpu = view.region->status().kind == RegionKind::kCuda && kind != core::InputKind::kJpeg;
  core::BufferPool* gpu = to_gpu ? gpu_pool() : nullptr;
  if (gpu != nullptr && device_ >= 0)
    if (std::byte* base = view.region->device_base(device_); base != nullptr)
      return std::unique_ptr<core::MemoryBuffer>(std::make_unique<RegionTensor>(view, base + view.offset));
  // A GPU pool that is out of blocks lends plain host memory (buffer_pool.h): the region's copy suits either.
  std::unique_ptr<core::MemoryBuffer> landing = (gpu != nullptr ? *gpu : host).take(view.byte_size);
  if (core::Status s = view.read(landing->bytes().first(view.byte_size)); !s.ok()) return s;
  return landing;
}

}  // namespace edgeserve::transport::http
