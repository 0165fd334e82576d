// Rate-limited logging for what remote peers can trigger at will (refused handshakes, bad or refused requests):
// at most `lines` log lines of one kind per window; the rest are counted and summed up in the next window's
// first line. A client that floods bad requests or retries a refused handshake cannot flood the log.
#pragma once

#include <array>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "core/status.h"

namespace edgeserve::core {

class LogLimiter {
 public:
  explicit LogLimiter(int lines = 5, std::chrono::seconds window = std::chrono::seconds(10))
      : lines_(lines), window_(window) {}
  // True when this occurrence may be logged; `note` is then a suffix to append (what was left out before, or
  // that further ones will be). Thread-safe.
  bool allow(std::string& note);

 private:
  std::mutex mutex_;
  int lines_;
  std::chrono::seconds window_;
  std::chrono::steady_clock::time_point window_start_{};
  int logged_ = 0, suppressed_ = 0;
};

// One LogLimiter per status code: a flood of one kind of error does not hide the first lines of another.
class LogLimiterByStatus {
 public:
  explicit LogLimiterByStatus(int lines = 20) {
    for (auto& limiter : limiters_) limiter.emplace(lines);
  }
  bool allow(StatusCode code, std::string& note);

 private:
  static constexpr size_t kCodes = static_cast<size_t>(kLastStatusCode) + 1;
  std::array<std::optional<LogLimiter>, kCodes + 1> limiters_;  // the last: codes from a newer peer
};

}  // namespace edgeserve::core
