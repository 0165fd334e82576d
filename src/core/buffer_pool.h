// Reply memory made once at start and lent out per request, so no tensor-sized allocation (and no page
// faults, no cudaMallocHost) happens on the request path. A lease is a MemoryBuffer: whoever holds the reply
// last (a ZeroMQ free callback on its I/O thread, a UCX send completion, the local client's next call) drops
// it, and the block goes back to its pool. Leases keep the pool alive, so a reply still in a transport's
// queue at shutdown is safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/memory_buffer.h"
#include "core/status.h"

namespace edgeserve::core {

class BufferPool {
 public:
  // Makes the blocks (e.g. CUDA-pinned host memory for a GPU engine).
  using Allocate = std::function<Result<std::unique_ptr<MemoryBuffer>>(size_t bytes)>;

  // `count` blocks of `block_bytes` each, all made now; `name` is for log lines ("reply buffers of 'resnet50'").
  static Result<std::shared_ptr<BufferPool>> create(std::string name, size_t block_bytes, size_t count,
                                                    Allocate allocate);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A lease of exactly `bytes` (its bytes() has that size). Never blocks: when every block is out (replies
  // are leaving slower than they are made) or `bytes` is larger than a block, it allocates plain host memory
  // for this one reply, freed when released, and says so in a rate-limited log line. Thread-safe.
  std::unique_ptr<MemoryBuffer> take(size_t bytes);

  size_t block_bytes() const;
  size_t available() const;    // blocks not lent out
  uint64_t fallbacks() const;  // leases that had to allocate

  struct State;

 private:
  explicit BufferPool(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace edgeserve::core
