// Process CPU time, page faults and RSS from the kernel.
#include "metrics/process_stats.h"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>

namespace edgeserve::metrics {

uint64_t process_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t process_minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_minflt);
}

uint64_t process_rss_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

ResourceSampler::ResourceSampler(std::function<uint64_t()> gpu_memory_probe, std::chrono::milliseconds period)
    : gpu_probe_(std::move(gpu_memory_probe)) {
  sample();
  thread_ = std::jthread([this, period](std::stop_token stop) {
    while (!stop.stop_requested()) {
      // Sleep in short slices so the destructor never waits a whole period.
      for (auto slept = std::chrono::milliseconds(0); slept < period && !stop.stop_requested();
           slept += std::chrono::milliseconds(5))
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      sample();
    }
  });
}

void ResourceSampler::sample() {
  rss_.store(process_rss_bytes(), std::memory_order_relaxed);
  if (gpu_probe_) gpu_.store(gpu_probe_(), std::memory_order_relaxed);
}

ResourceSampler::~ResourceSampler() = default;  // jthread requests stop and joins

}  // namespace edgeserve::metrics
