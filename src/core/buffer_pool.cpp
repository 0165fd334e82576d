// Pools of reply blocks and the leases that hand them back.
#include "core/buffer_pool.h"

#include <fmt/format.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <vector>

#include "core/log.h"
#include "core/log_limiter.h"

namespace edgeserve::core {

struct BufferPool::State {
  std::string name;
  size_t block_bytes = 0;
  std::vector<std::unique_ptr<MemoryBuffer>> blocks;  // every block, owned here for the pool's whole life
  std::mutex mutex;
  std::vector<MemoryBuffer*> free;  // capacity reserved for every block: giving one back never allocates
  std::atomic<uint64_t> fallbacks{0};
  LogLimiter dry_log{5, std::chrono::seconds(10)};

  void give_back(MemoryBuffer* block) noexcept {
    std::lock_guard lock(mutex);
    free.push_back(block);
  }
};

namespace {

// One block lent out; the block goes back when the lease is dropped, on whatever thread drops it.
class Lease final : public MemoryBuffer {
 public:
  Lease(std::shared_ptr<BufferPool::State> pool, MemoryBuffer* block, size_t bytes)
      : pool_(std::move(pool)), block_(block), bytes_(bytes) {}
  ~Lease() override { pool_->give_back(block_); }
  std::span<std::byte> bytes() override { return block_->bytes().first(bytes_); }
  bool on_device() const override { return block_->on_device(); }

 private:
  std::shared_ptr<BufferPool::State> pool_;
  MemoryBuffer* block_;
  size_t bytes_;
};

// Plain memory for one reply when the pool could not lend a block.
class Spare final : public MemoryBuffer {
 public:
  Spare(std::unique_ptr<MemoryBuffer> memory, size_t bytes) : memory_(std::move(memory)), bytes_(bytes) {}
  std::span<std::byte> bytes() override { return memory_->bytes().first(bytes_); }
  bool on_device() const override { return false; }

 private:
  std::unique_ptr<MemoryBuffer> memory_;
  size_t bytes_;
};

}  // namespace

Result<std::shared_ptr<BufferPool>> BufferPool::create(std::string name, size_t block_bytes, size_t count,
                                                       Allocate allocate) {
  auto state = std::make_shared<State>();
  state->name = std::move(name);
  state->block_bytes = block_bytes;
  state->blocks.reserve(count);
  state->free.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    auto block =
        allocate ? allocate(block_bytes) : Result<std::unique_ptr<MemoryBuffer>>(allocate_host_memory(block_bytes));
    if (!block.ok())
      return Status(block.status().code(), fmt::format("{}: cannot make block {} of {} ({} bytes): {}", state->name,
                                                       i + 1, count, block_bytes, block.status().message()));
    // Touched now: a reply's first use of a block costs no page faults, and the memory shows in RSS from start.
    if (!block.value()->on_device()) std::memset(block.value()->bytes().data(), 0, block.value()->bytes().size());
    state->free.push_back(block.value().get());
    state->blocks.push_back(std::move(block.value()));
  }
  return std::shared_ptr<BufferPool>(new BufferPool(std::move(state)));
}

BufferPool::BufferPool(std::shared_ptr<State> state) : state_(std::move(state)) {}
BufferPool::~BufferPool() = default;

std::unique_ptr<MemoryBuffer> BufferPool::take(size_t bytes) {
  State& s = *state_;
  if (bytes <= s.block_bytes) {
    MemoryBuffer* block = nullptr;
    {
      std::lock_guard lock(s.mutex);
      if (!s.free.empty()) {
        block = s.free.back();
        s.free.pop_back();
      }
    }
    if (block) return std::make_unique<Lease>(state_, block, bytes);
  }
  s.fallbacks.fetch_add(1, std::memory_order_relaxed);
  if (std::string note; s.dry_log.allow(note))
    logger("core")->warn(
        "{}: {}; allocating {} bytes for this reply{}", s.name,
        bytes > s.block_bytes
            ? fmt::format("a reply of {} bytes is larger than a block ({} bytes)", bytes, s.block_bytes)
            : fmt::format("all {} blocks are lent out (replies leave slower than they are made)", s.blocks.size()),
        bytes, note);
  return std::make_unique<Spare>(allocate_host_memory(bytes), bytes);
}

size_t BufferPool::block_bytes() const { return state_->block_bytes; }

size_t BufferPool::available() const {
  std::lock_guard lock(state_->mutex);
  return state_->free.size();
}

uint64_t BufferPool::fallbacks() const { return state_->fallbacks.load(std::memory_order_relaxed); }

}  // namespace edgeserve::core
