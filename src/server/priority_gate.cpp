#include "server/priority_gate.h"

#include <algorithm>

namespace edgeserve::server {

using Clock = std::chrono::steady_clock;

// How long after its last request a priority client still counts as active for normal_limit.
constexpr std::chrono::seconds kPriorityActiveFor{1};

bool PriorityGate::reserved(Clock::time_point now) const { return priority_in_flight_ > 0 || now < reserved_until_; }

bool PriorityGate::at_normal_limit(Clock::time_point now) const {
  if (options_.normal_limit <= 0 || normal_in_flight_ < options_.normal_limit) return false;
  return priority_in_flight_ > 0 ||
         (last_priority_end_ != Clock::time_point{} && now - last_priority_end_ < kPriorityActiveFor);
}

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
  // Normal requests are counted (and, when held, let in in ticket order) only under a limit: leave() keeps no
  // count without one.
  const bool limited = options_.normal_limit > 0;
  if (!reserved(arrived) && !at_normal_limit(arrived) && (!limited || next_ticket_ == admitted_ticket_)) {
    if (limited) ++normal_in_flight_;
    return 0;
  }
  // Under a limit, held requests go in first come, first served: without the order, one arriving as a place frees
  // took it before the woken waiters did, and some waited many turns (p99 96-120 ms at 16 clients on an H100).
  const uint64_t ticket = limited ? next_ticket_++ : 0;
  const Clock::time_point give_up = arrived + options_.max_hold;
  // Wakes when the last priority request leaves, and again when its window runs out.
  for (Clock::time_point now = arrived; reserved(now) && now < give_up; now = Clock::now()) {
    const Clock::time_point until = priority_in_flight_ > 0 ? give_up : std::min(give_up, reserved_until_);
    changed_.wait_until(lock, until);
  }
  // Then its turn and a place under the limit: a normal request leaving frees one, and the priority client going
  // quiet lifts the limit (checked again a second after its last request at the latest).
  for (Clock::time_point now = Clock::now(); (limited && ticket != admitted_ticket_) || at_normal_limit(now);
       now = Clock::now())
    changed_.wait_until(lock, priority_in_flight_ > 0 || !at_normal_limit(now)
                                  ? now + kPriorityActiveFor
                                  : last_priority_end_ + kPriorityActiveFor);
  if (limited) {
    ++normal_in_flight_;
    if (++admitted_ticket_ != next_ticket_) changed_.notify_all();  // the next in line may fit too
  }
  const auto held =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - arrived).count());
  ++held_requests_;
  held_ns_ += held;
  return held;
}

void PriorityGate::leave(bool priority) {
  if (!options_.enabled) return;
  if (!priority) {
    if (options_.normal_limit <= 0) return;  // nobody waits for a place: no count to keep
    bool someone_may_wait = false;
    {
      std::lock_guard lock(mutex_);
      someone_may_wait = normal_in_flight_ >= options_.normal_limit;
      --normal_in_flight_;
    }
    if (someone_may_wait) changed_.notify_all();
    return;
  }
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
