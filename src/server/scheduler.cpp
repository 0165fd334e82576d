// Scheduling policies: which worker (lane) runs an admitted job, and in which order.
#include "server/scheduler.h"

#include <fmt/format.h>

namespace edgeserve::server {

const char* to_string(SchedulingPolicy policy) {
  switch (policy) {
    case SchedulingPolicy::kPerClient:
      return "per-client";
    case SchedulingPolicy::kPool:
      return "pool";
    case SchedulingPolicy::kPriority:
      return "priority";
  }
  return "unknown";
}

std::optional<SchedulingPolicy> parse_policy(std::string_view name) {
  if (name == "per-client") return SchedulingPolicy::kPerClient;
  if (name == "pool") return SchedulingPolicy::kPool;
  if (name == "priority") return SchedulingPolicy::kPriority;
  return std::nullopt;
}

Scheduler::Scheduler(SchedulingPolicy policy, int workers, size_t capacity, size_t per_client_capacity)
    : policy_(policy),
      workers_(std::max(1, workers)),
      capacity_(capacity),
      queues_(policy == SchedulingPolicy::kPerClient ? static_cast<size_t>(workers_) : 1),
      per_client_(per_client_capacity) {}

core::Status Scheduler::push(Job&& job) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return {core::StatusCode::kShuttingDown, "the server is stopping"};
    if (waiting_ >= capacity_)
      return {core::StatusCode::kOverloaded, fmt::format("server queue is full ({} waiting requests)", capacity_)};
    if (!per_client_.take(job.sender))
      return {core::StatusCode::kOverloaded,
              fmt::format("this client already has {} requests waiting (the limit per client)", per_client_.limit())};
    if (policy_ == SchedulingPolicy::kPriority && job.header.priority > 0)
      urgent_.push_back(std::move(job));
    else if (policy_ == SchedulingPolicy::kPerClient)
      queues_[job.header.client_id % static_cast<uint32_t>(workers_)].push_back(std::move(job));
    else
      queues_[0].push_back(std::move(job));
    ++waiting_;
  }
  // Per-client jobs wait for one particular worker, so every worker must look.
  if (policy_ == SchedulingPolicy::kPerClient)
    ready_.notify_all();
  else
    ready_.notify_one();
  return {};
}

std::optional<ScheduledJob> Scheduler::pop(int worker) {
  std::deque<Job>& mine = queues_[policy_ == SchedulingPolicy::kPerClient ? static_cast<size_t>(worker) : 0];
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [&] { return closed_ || !urgent_.empty() || !mine.empty(); });
  std::deque<Job>& from = !urgent_.empty() ? urgent_ : mine;
  if (from.empty()) return std::nullopt;
  ScheduledJob out{std::move(from.front()), {}};
  from.pop_front();
  --waiting_;
  per_client_.give_back(out.job.sender);
  out.context.lane = worker;
  // Per-client honours the flag as the paper does (the client's own lane, on its high-priority stream); priority
  // also jumps the queue; the pool ignores it (Fig. 15 measures lanes, not priorities).
  out.context.high_priority = policy_ != SchedulingPolicy::kPool && out.job.header.priority > 0;
  return out;
}

void Scheduler::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  ready_.notify_all();
}

}  // namespace edgeserve::server
