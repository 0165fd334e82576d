#include "core/log_limiter.h"

#include <fmt/format.h>

#include <algorithm>

namespace edgeserve::core {

bool LogLimiter::allow(std::string& note) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  note.clear();
  if (now - window_start_ >= window_) {
    if (suppressed_ > 0)
      note = fmt::format(" ({} more like this in the last {} s were not logged)", suppressed_, window_.count());
    window_start_ = now;
    logged_ = 0;
    suppressed_ = 0;
  }
  if (logged_ < lines_) {
    if (++logged_ == lines_)
      note += fmt::format(" (further ones in the next {} s are counted, not logged)", window_.count());
    return true;
  }
  ++suppressed_;
  return false;
}

bool LogLimiterByStatus::allow(StatusCode code, std::string& note) {
  const auto index = std::min(static_cast<size_t>(code), kCodes);
  return limiters_[index]->allow(note);
}

}  // namespace edgeserve::core
