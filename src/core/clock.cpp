// The monotonic clock's domain: a hash of this boot's kernel boot id.
#include "core/clock.h"

#include <fstream>
#include <string>

namespace edgeserve::core {

uint64_t clock_domain() {
  static const uint64_t domain = [] {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    std::getline(in, id);
    uint64_t h = 1469598103934665603ULL;  // FNV-1a: stable across builds, unlike std::hash
    for (unsigned char c : id) h = (h ^ c) * 1099511628211ULL;
    return id.empty() ? 1 : (h | 1);
  }();
  return domain;
}

}  // namespace edgeserve::core
