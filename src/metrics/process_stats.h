// This process's CPU time and resident memory, read from the kernel, and a sampler that keeps the RSS
// fresh off the hot path.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace edgeserve::metrics {

// User + system CPU time of the whole process (all threads), in nanoseconds.
uint64_t process_cpu_ns();

// Resident set size from /proc/self/statm, in bytes (0 if unreadable).
uint64_t process_rss_bytes();

// Reads the RSS every `period` on its own thread, so request handling only loads an atomic.
class RssSampler {
 public:
  explicit RssSampler(std::chrono::milliseconds period = std::chrono::milliseconds(50));
  ~RssSampler();
  RssSampler(const RssSampler&) = delete;
  RssSampler& operator=(const RssSampler&) = delete;

  uint64_t rss_bytes() const { return rss_.load(std::memory_order_relaxed); }
  uint64_t peak_rss_bytes() const { return peak_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> rss_{0};
  std::atomic<uint64_t> peak_{0};
  std::jthread thread_;
};

}  // namespace edgeserve::metrics
