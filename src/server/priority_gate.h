// The admission gate for priority requests (beyond the paper's Fig. 16, whose priority is non-preemptive):
// while priority work is in flight — or finished less than `window` ago, so a closed-loop priority client's
// next request finds the GPU free — normal requests wait before they start, for at most `max_hold` each, so
// they are slowed, never starved. The window is learned unless given: 1.5 × the running mean of the gaps
// between one priority request's end and the next one's start (its reply's trip, the client, its next request's
// trip), because a fixed 1 ms let YOLOv4's 2.5 ms gaps through and normal work filled the GPU in them. The window
// cannot stop what already runs: a priority request arriving at a full GPU still shares it with every normal
// request in flight (YOLOv4 at 16 lanes: 3.6 ms of inference against 1.8 alone). `normal_limit` bounds that: while
// a priority client is active (a priority request in flight or finished within the last second) at most that many
// normal requests run at once. Off by default:
// it trades the normal clients' throughput for the priority client's latency, and that is the user's choice (serve
// --priority-gate). Thread-safe: every worker calls enter() before it runs a request and leave() after.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace edgeserve::server {

struct PriorityGateOptions {
  bool enabled = false;
  std::chrono::microseconds window{0};        // how long after a priority request the GPU stays reserved; 0: learned
  std::chrono::microseconds max_hold{10000};  // the longest one normal request is held back by the window
  int normal_limit = 0;  // at most this many normal requests at once while a priority client is active; 0: no limit
};

class PriorityGate {
 public:
  explicit PriorityGate(PriorityGateOptions options) : options_(options) {}

  // Before a request runs. A priority request passes at once and reserves the GPU; a normal one waits while
  // the GPU is reserved (bounded by max_hold), then for a free place under normal_limit (a normal request
  // leaving makes one), first come, first served. Returns how long it was held, in ns.
  uint64_t enter(bool priority);
  // After the request ran.
  void leave(bool priority);

  // Normal requests held back so far, and for how long in all (for the server's log).
  uint64_t held_requests() const;
  uint64_t held_ns() const;
  // The window in force now (the learned one, or the one given).
  std::chrono::nanoseconds window() const;

 private:
  bool reserved(std::chrono::steady_clock::time_point now) const;         // with mutex_ held
  bool at_normal_limit(std::chrono::steady_clock::time_point now) const;  // with mutex_ held
  std::chrono::nanoseconds window_locked() const;

  PriorityGateOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int priority_in_flight_ = 0;
  int normal_in_flight_ = 0;
  uint64_t next_ticket_ = 0;      // under a normal limit, held normal requests are let in in ticket order
  uint64_t admitted_ticket_ = 0;  // the next ticket to go in
  std::chrono::steady_clock::time_point reserved_until_{};
  std::chrono::steady_clock::time_point last_priority_end_{};
  double mean_gap_ns_ = 0;  // running mean of the gaps between priority requests (0: none seen yet)
  uint64_t held_requests_ = 0;
  uint64_t held_ns_ = 0;
};

}  // namespace edgeserve::server
