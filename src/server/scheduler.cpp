// Scheduling policies: which worker (lane) runs an admitted job, in which order, and in which batch.
#include "server/scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "core/clock.h"

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

const char* to_string(BatchClose reason) {
  switch (reason) {
    case BatchClose::kSingle:
      return "single";
    case BatchClose::kFull:
      return "full";
    case BatchClose::kDelay:
      return "delay";
    case BatchClose::kBudget:
      return "budget";
    case BatchClose::kIdle:
      return "idle";
    case BatchClose::kPriority:
      return "priority";
    case BatchClose::kDraining:
      return "draining";
  }
  return "unknown";
}

namespace {

struct BatchLimits {
  size_t max = 1;
  uint64_t delay_ns = 0, budget_ns = 0;
};

BatchLimits limits_of(const Job& job) {
  if (!job.engine) return {};
  const auto& b = job.engine->spec().batching;
  return {static_cast<size_t>(std::clamp(job.engine->max_batch(), 1, engine::kMaxBatchSize)),
          b.max_queue_delay_us * 1000, b.latency_budget_us * 1000};
}

}  // namespace

Scheduler::Scheduler(SchedulingPolicy policy, int workers, size_t capacity, size_t per_client_capacity)
    : policy_(policy),
      workers_(std::max(1, workers)),
      capacity_(capacity),
      queues_(policy == SchedulingPolicy::kPerClient ? static_cast<size_t>(workers_) : 1),
      per_client_(per_client_capacity) {}

Scheduler::Queue& Scheduler::queue_of(int worker) {
  return queues_[policy_ == SchedulingPolicy::kPerClient ? static_cast<size_t>(worker) : 0];
}

template <typename Predicate>
void Scheduler::wait_for_work(std::unique_lock<std::mutex>& lock, Queue& q, Predicate can_take) {
  while (!can_take()) {
    q.ready.wait(lock);
    if (!can_take()) ++idle_wakeups_;
  }
}

core::Status Scheduler::push(Job&& job) {
  bool wake_filler = false;
  Queue* woken = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return {core::StatusCode::kShuttingDown, "the server is stopping"};
    if (waiting_ >= capacity_)
      return {core::StatusCode::kOverloaded, fmt::format("server queue is full ({} waiting requests)", capacity_)};
    if (!per_client_.take(job.sender))
      return {core::StatusCode::kOverloaded,
              fmt::format("this client already has {} requests waiting (the limit per client)", per_client_.limit())};
    // Urgent jobs exist only under the priority policy, whose workers all wait on the one shared queue.
    woken = policy_ == SchedulingPolicy::kPerClient ? &queues_[job.header.client_id % static_cast<uint32_t>(workers_)]
                                                    : &queues_[0];
    if (policy_ == SchedulingPolicy::kPriority && job.header.priority > 0)
      urgent_.push_back(std::move(job));
    else
      woken->jobs.push_back(std::move(job));
    ++waiting_;
    wake_filler = forming_ > 0;
  }
  woken->ready.notify_one();  // per-client: the job's own worker, the only one waiting on its queue
  if (wake_filler) filling_.notify_all();
  return {};
}

std::optional<ScheduledJob> Scheduler::pop(int worker) {
  Queue& q = queue_of(worker);
  std::deque<Job>& mine = q.jobs;
  std::unique_lock lock(mutex_);
  wait_for_work(lock, q, [&] { return closed_ || !urgent_.empty() || !mine.empty(); });
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

void Scheduler::take(std::deque<Job>& from, std::deque<Job>::iterator it, Batch& batch) {
  batch.jobs.push_back(std::move(*it));
  from.erase(it);
  --waiting_;
  per_client_.give_back(batch.jobs.back().sender);
}

// Moves queued jobs of the batch's model into it, oldest first, up to `max`; jobs of other models keep their places.
void Scheduler::gather(std::deque<Job>& from, Batch& batch, size_t max) {
  const engine::Engine* model = batch.jobs.front().engine;
  for (auto it = from.begin(); it != from.end() && batch.jobs.size() < max;) {
    if (it->engine != model) {
      ++it;
      continue;
    }
    const auto offset = it - from.begin();
    take(from, it, batch);
    it = from.begin() + offset;
  }
}

bool Scheduler::has_priority(const Batch& batch) {
  return std::any_of(batch.jobs.begin(), batch.jobs.end(), [](const Job& j) { return j.header.priority > 0; });
}

uint64_t Scheduler::estimated_run_ns(const engine::Engine* engine, size_t size) const {
  for (const auto& r : run_times_)
    if (r.engine == engine) return r.ns[std::min(size, r.ns.size() - 1)];
  return 0;
}

void Scheduler::batch_ran(const Batch& batch, uint64_t run_ns) {
  if (batch.jobs.empty() || !batch.jobs.front().engine) return;
  std::lock_guard lock(mutex_);
  const engine::Engine* engine = batch.jobs.front().engine;
  auto it = std::find_if(run_times_.begin(), run_times_.end(), [&](const RunTimes& r) { return r.engine == engine; });
  if (it == run_times_.end()) it = run_times_.insert(run_times_.end(), RunTimes{engine, {}});  // once per model
  uint64_t& estimate = it->ns[std::min(batch.jobs.size(), it->ns.size() - 1)];
  estimate = estimate == 0 ? run_ns : (estimate * 7 + run_ns) / 8;
}

bool Scheduler::pop_batch(int worker, Batch& batch) {
  Queue& q = queue_of(worker);
  batch.jobs.clear();
  std::unique_lock lock(mutex_);
  wait_for_work(lock, q, [&] { return closed_ || !urgent_.empty() || (!q.jobs.empty() && !q.forming); });
  const bool urgent = !urgent_.empty();
  std::deque<Job>& from = urgent ? urgent_ : q.jobs;
  if (from.empty()) return false;
  batch.taken_ns = core::now_ns();
  batch.context.lane = worker;
  take(from, from.begin(), batch);
  const BatchLimits limits = limits_of(batch.jobs.front());
  gather(from, batch, limits.max);
  const uint64_t oldest = batch.jobs.front().admitted_ns;
  bool waited = false;
  auto has_more = [&] {
    return std::any_of(q.jobs.begin(), q.jobs.end(),
                       [&](const Job& j) { return j.engine == batch.jobs.front().engine; });
  };
  while (true) {
    const uint64_t now = core::now_ns();
    if (limits.max == 1) {
      batch.closed_by = BatchClose::kSingle;
      break;
    }
    if (batch.jobs.size() >= limits.max) {
      batch.closed_by = BatchClose::kFull;
      break;
    }
    // Priority jobs run at once, and one waiting closes the batch being filled (per-client: one in the batch).
    if (urgent || !urgent_.empty() || (policy_ == SchedulingPolicy::kPerClient && has_priority(batch))) {
      batch.closed_by = BatchClose::kPriority;
      break;
    }
    if (closed_) {
      batch.closed_by = BatchClose::kDraining;
      break;
    }
    if (batch.jobs.size() == 1 && q.recent_batch_size < 1.5) {
      batch.closed_by = BatchClose::kIdle;
      break;
    }
    uint64_t deadline = oldest + limits.delay_ns;
    BatchClose reason = BatchClose::kDelay;
    if (limits.budget_ns) {
      const uint64_t run = estimated_run_ns(batch.jobs.front().engine, batch.jobs.size() + 1);
      const uint64_t by_budget = oldest + (limits.budget_ns > run ? limits.budget_ns - run : 0);
      if (by_budget < deadline) deadline = by_budget, reason = BatchClose::kBudget;
    }
    if (now >= deadline) {
      batch.closed_by = reason;
      break;
    }
    q.forming = true;
    waited = true;
    ++forming_;
    filling_.wait_for(lock, std::chrono::nanoseconds(deadline - now),
                      [&] { return closed_ || !urgent_.empty() || has_more(); });
    --forming_;
    q.forming = false;
    gather(q.jobs, batch, limits.max);
  }
  batch.closed_ns = waited ? core::now_ns() : batch.taken_ns;  // closed at once: no batching-time
  // As pop(): per-client and priority run priority work on the lane's high-priority stream; the pool ignores it.
  batch.context.high_priority = policy_ != SchedulingPolicy::kPool && has_priority(batch);
  if (!urgent) q.recent_batch_size = 0.75 * q.recent_batch_size + 0.25 * static_cast<double>(batch.jobs.size());
  lock.unlock();
  // Workers that waited while this batch filled may take the next one (none did if it never filled: no herd of
  // wake-ups per job when batching is off).
  if (waited) q.ready.notify_all();
  return true;
}

void Scheduler::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  for (Queue& q : queues_) q.ready.notify_all();
  filling_.notify_all();
}

uint64_t Scheduler::idle_wakeups() const {
  std::lock_guard lock(mutex_);
  return idle_wakeups_;
}

}  // namespace edgeserve::server
