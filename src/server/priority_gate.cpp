#include "server/priority_gate.h"

#include <algorithm>

namespace edgeserve::server {

using Clock = std::chrono::steady_clock;

bool PriorityGate::reserved(Clock::time_point now) const { return priority_in_flight_ > 0 || now < reserved_until_; }

uint64_t PriorityGate::enter(bool priority) {
  if (!options_.enabled) return 0;
  std::unique_lock lock(mutex_);
  if (priority) {
    const Clock::time_point now = Clock::now();
    // A gap longer than the hold bound is the priority client pausing, not the rhythm of its requests.
    if (priority_in_flight_ == 0 && last_priority_end_ != Clock::time_point{} &&
        now - last_priority_end_ < options_.max_hold) {
      const auto gap =
          static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_priority_end_).count());
      mean_gap_ns_ = mean_gap_ns_ == 0 ? gap : 0.8 * mean_gap_ns_ + 0.2 * gap;
    }
    ++priority_in_flight_;
    return 0;
  }
  const Clock::time_point arrived = Clock::now();
  if (!reserved(arrived)) return 0;
  const Clock::time_point give_up = arrived + options_.max_hold;
  // Wakes when the last priority request leaves, and again when its window runs out.
  for (Clock::time_point now = arrived; reserved(now) && now < give_up; now = Clock::now()) {
    const Clock::time_point until = priority_in_flight_ > 0 ? give_up : std::min(give_up, reserved_until_);
    changed_.wait_until(lock, until);
  }
  const auto held =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - arrived).count());
  ++held_requests_;
  held_ns_ += held;
  return held;
}

void PriorityGate::leave(bool priority) {
  if (!options_.enabled || !priority) return;
  {
    std::lock_guard lock(mutex_);
    --priority_in_flight_;
    last_priority_end_ = Clock::now();
    reserved_until_ = std::max(reserved_until_, last_priority_end_ + window_locked());
  }
  changed_.notify_all();
}

std::chrono::nanoseconds PriorityGate::window_locked() const {
  if (options_.window.count() > 0) return options_.window;
  constexpr std::chrono::nanoseconds kFirst = std::chrono::milliseconds(1);  // before any gap was seen
  const auto learned = mean_gap_ns_ == 0 ? kFirst : std::chrono::nanoseconds(static_cast<int64_t>(1.5 * mean_gap_ns_));
  return std::min<std::chrono::nanoseconds>(learned, options_.max_hold);
}

std::chrono::nanoseconds PriorityGate::window() const {
  std::lock_guard lock(mutex_);
  return window_locked();
}

uint64_t PriorityGate::held_requests() const {
  std::lock_guard lock(mutex_);
  return held_requests_;
}

uint64_t PriorityGate::held_ns() const {
  std::lock_guard lock(mutex_);
  return held_ns_;
}

}  // namespace edgeserve::server
