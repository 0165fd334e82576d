// Which malloc this process runs on, read at run time (a build may link gperftools' tcmalloc, a user may
// LD_PRELOAD another): results record it, because a client that receives replies over 32 MB pays a page
// fault per 4 KiB of every reply under glibc's malloc (README, "Memory allocator").
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace edgeserve::core {

// "gperftools 2.10 (tcmalloc)", "jemalloc", "AddressSanitizer", "ThreadSanitizer", "glibc 2.36 malloc", or the
// file that defines malloc.
std::string allocator_name();

// While it lives, hands the memory the allocator holds free back to the kernel every `period`, where the
// allocator caches it (tcmalloc: MallocExtension_ReleaseFreeMemory, looked up at run time; otherwise it starts no
// thread). A server's RSS then falls once a burst is over (dropped 8 MiB half-requests, say), while a client,
// which has no releaser, keeps its receive blocks for the next reply.
class FreeMemoryReleaser {
 public:
  explicit FreeMemoryReleaser(std::chrono::milliseconds period = std::chrono::milliseconds(1000));
  ~FreeMemoryReleaser();
  FreeMemoryReleaser(const FreeMemoryReleaser&) = delete;
  FreeMemoryReleaser& operator=(const FreeMemoryReleaser&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::jthread thread_;
};

}  // namespace edgeserve::core
