#include "core/allocator_info.h"

#include <dlfcn.h>
#include <gnu/libc-version.h>

#include <string>

namespace edgeserve::core {

std::string allocator_name() {
  // Whoever defines the `malloc` every library of this process calls: the first definition in symbol lookup
  // order (LD_PRELOAD, the executable and its libraries, libc last), whatever else is loaded.
  void* malloc_address = dlsym(RTLD_DEFAULT, "malloc");
  Dl_info info{};
  if (malloc_address == nullptr || dladdr(malloc_address, &info) == 0 || info.dli_fname == nullptr) return "unknown";
  const std::string file = info.dli_fname;
  const auto has = [&file](const char* part) { return file.find(part) != std::string::npos; };
  if (has("tcmalloc")) {
    // gperftools: const char* tc_version(int* major, int* minor, const char** patch) -> "gperftools 2.10".
    using TcVersion = const char* (*)(int*, int*, const char**);
    auto* tc_version = reinterpret_cast<TcVersion>(dlsym(RTLD_DEFAULT, "tc_version"));
    const char* version = tc_version != nullptr ? tc_version(nullptr, nullptr, nullptr) : nullptr;
    return std::string(version != nullptr ? version : "gperftools") + " (tcmalloc)";
  }
  if (has("libasan")) return "AddressSanitizer";
  if (has("libtsan")) return "ThreadSanitizer";
  if (has("jemalloc")) return "jemalloc";
  if (has("mimalloc")) return "mimalloc";
  if (has("/libc.so")) return std::string("glibc ") + gnu_get_libc_version() + " malloc";
  return file;  // another allocator, or one linked statically into the executable: name its file
}

FreeMemoryReleaser::FreeMemoryReleaser(std::chrono::milliseconds period) {
  using Release = void (*)();
  auto* release = reinterpret_cast<Release>(dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory"));
  if (release == nullptr) return;
  thread_ = std::jthread([this, release, period] {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, period, [this] { return stop_; })) release();
  });
}

FreeMemoryReleaser::~FreeMemoryReleaser() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
}

}  // namespace edgeserve::core
