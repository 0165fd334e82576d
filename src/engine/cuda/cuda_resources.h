// Small RAII owners of CUDA runtime handles: streams, events, pinned host and device buffers. Movable, not
// copyable; each frees its handle in its destructor. Errors at creation throw (engine set-up only, never
// on the request path).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace edgeserve::engine::cuda {

inline void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

template <class Handle, class Deleter>
class Owned {
 public:
  Owned() = default;
  explicit Owned(Handle h) : h_(h) {}
  ~Owned() { reset(); }
  Owned(Owned&& o) noexcept : h_(std::exchange(o.h_, Handle{})) {}
  Owned& operator=(Owned&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, Handle{});
    }
    return *this;
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  Handle get() const { return h_; }
  void reset() {
    if (h_) Deleter{}(h_);
    h_ = Handle{};
  }

 private:
  Handle h_{};
};

struct StreamDeleter {
  void operator()(cudaStream_t s) const { cudaStreamDestroy(s); }
};
struct EventDeleter {
  void operator()(cudaEvent_t e) const { cudaEventDestroy(e); }
};

class Stream : public Owned<cudaStream_t, StreamDeleter> {
 public:
  Stream() = default;
  // priority: lower numbers are higher priority (cudaDeviceGetStreamPriorityRange).
  static Stream create(int priority) {
    cudaStream_t s = nullptr;
    check_cuda(cudaStreamCreateWithPriority(&s, cudaStreamNonBlocking, priority), "cudaStreamCreateWithPriority");
    return Stream(s);
  }

 private:
  using Owned::Owned;
};

class Event : public Owned<cudaEvent_t, EventDeleter> {
 public:
  Event() = default;
  static Event create() {
    cudaEvent_t e = nullptr;
    check_cuda(cudaEventCreate(&e), "cudaEventCreate");
    return Event(e);
  }
  // Milliseconds between two recorded events, in nanoseconds.
  static uint64_t elapsed_ns(const Event& from, const Event& to) {
    float ms = 0;
    if (cudaEventElapsedTime(&ms, from.get(), to.get()) != cudaSuccess) return 0;
    return static_cast<uint64_t>(static_cast<double>(ms) * 1e6);
  }

 private:
  using Owned::Owned;
};

// Page-locked host memory (cudaMallocHost) or device memory (cudaMalloc), grown on demand.
template <bool kPinned>
class Buffer {
 public:
  Buffer() = default;
  ~Buffer() { release(); }
  Buffer(Buffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      release();
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  // Ensures at least `bytes`; returns true if it had to reallocate (the contents are then undefined).
  bool reserve(size_t bytes) {
    if (bytes <= bytes_) return false;
    release();
    check_cuda(kPinned ? cudaMallocHost(&ptr_, bytes) : cudaMalloc(&ptr_, bytes),
               kPinned ? "cudaMallocHost" : "cudaMalloc");
    bytes_ = bytes;
    return true;
  }
  void* get() const { return ptr_; }
  size_t size() const { return bytes_; }

 private:
  void release() {
    if (ptr_) kPinned ? cudaFreeHost(ptr_) : cudaFree(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

using PinnedBuffer = Buffer<true>;
using DeviceBuffer = Buffer<false>;

}  // namespace edgeserve::engine::cuda
