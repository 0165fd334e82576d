// This process's CPU time and resident memory, read from the kernel, and a sampler that keeps the RSS
// fresh off the hot path.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

namespace edgeserve::metrics {

// User + system CPU time of the whole process (all threads), in nanoseconds.
uint64_t process_cpu_ns();

// Minor page faults of the whole process so far (getrusage): each is a page touched for the first time since
// it was mapped, so a steady rate per request means memory mapped afresh per request.
uint64_t process_minor_faults();

// Resident set size from /proc/self/statm, in bytes (0 if unreadable).
uint64_t process_rss_bytes();

// Reads the RSS (and, given a probe, GPU memory in use) every `period` on its own thread, so request
// handling only loads atomics.
class ResourceSampler {
 public:
  explicit ResourceSampler(std::function<uint64_t()> gpu_memory_probe = {},
                           std::chrono::milliseconds period = std::chrono::milliseconds(50));
  ~ResourceSampler();
  ResourceSampler(const ResourceSampler&) = delete;
  ResourceSampler& operator=(const ResourceSampler&) = delete;

  uint64_t rss_bytes() const { return rss_.load(std::memory_order_relaxed); }
  uint64_t gpu_memory_bytes() const { return gpu_.load(std::memory_order_relaxed); }

 private:
  void sample();

  std::function<uint64_t()> gpu_probe_;
  std::atomic<uint64_t> rss_{0};
  std::atomic<uint64_t> gpu_{0};
  std::jthread thread_;
};

}  // namespace edgeserve::metrics
