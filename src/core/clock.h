// Monotonic time in nanoseconds, and the identity of the clock so two processes can tell whether their
// timestamps are comparable.
#pragma once

#include <chrono>
#include <cstdint>

namespace edgeserve::core {

inline uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// steady_clock is CLOCK_MONOTONIC, which every process of one kernel boot shares. The domain is a hash of
// the kernel's boot id: equal domains mean the client may subtract the server's timestamps from its own,
// which splits transport time exactly into request-time and response-time. Never 0.
uint64_t clock_domain();

inline double ns_to_ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

}  // namespace edgeserve::core
