// Where an input read from a shared memory region lands. A CUDA region on the server's own GPU is not copied at all:
// the engine reads the tensor in place (its copy into the graph's input is device to device on the lane's stream),
// and the request holds the region until it is answered. A CUDA region on another GPU is copied into the server's
// GPU memory, from a pool of GPU blocks made on the first such request; a system region's tensor, or a CUDA
// region's on a server without a GPU, goes to the listener's host landing pool.
#pragma once

#include <memory>
#include <mutex>

#include "core/buffer_pool.h"
#include "core/wire.h"
#include "transport/http/shared_memory_regions.h"
#include "transport/listener.h"

namespace edgeserve::transport::http {

class SharedInputLanding {
 public:
  // `block`, `count`: the GPU pool's, as the listener's host pool (count: one per connection thread).
  SharedInputLanding(const MemoryAllocator& allocate, size_t block, size_t count)
      : allocate_(allocate), block_(block), count_(count) {}

  // The landing block of `view`'s bytes, filled; `host` is the listener's own pool. `kind`: a JPEG lands in host
  // memory whatever its region (decoders parse it there). Thread-safe.
  core::Result<std::unique_ptr<core::MemoryBuffer>> land(const SharedMemoryView& view, core::InputKind kind,
                                                         core::BufferPool& host);

 private:
  core::BufferPool* gpu_pool();  // null when the server has no GPU

  MemoryAllocator allocate_;
  size_t block_, count_;
  std::once_flag made_;
  std::shared_ptr<core::BufferPool> gpu_;
  int device_ = -1;  // the GPU the pool's blocks are on
};

}  // namespace edgeserve::transport::http
