// The fuzzers' own consistency checks: a failed one aborts, which libFuzzer reports as a crash and keeps.
#pragma once

#include <cstdlib>

namespace edgeserve::fuzz {

inline void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace edgeserve::fuzz
