// The scheduler between the transports' I/O threads and the workers. Worker i owns lane i of every engine
// (on GPU: its own CUDA streams, buffers and graphs). Policies:
//   per-client  each client's requests go to worker (client id mod workers): one lane per client when
//               workers >= clients, as in the paper's default; requests flagged priority > 0 run on their
//               lane's high-priority CUDA stream (the paper's Fig. 16 set-up)
//   pool        one FIFO shared by all workers: at most `workers` requests run at once (the paper's
//               limited concurrency, Fig. 15)
//   priority    like pool, but requests flagged priority > 0 jump the queue and run on their lane's
//               high-priority CUDA stream (Fig. 16)
// Bounded: beyond `capacity` waiting jobs in all, or `per_client_capacity` from one sender, push() refuses and
// the caller answers "overloaded" — so one client flooding requests cannot crowd out the others. The sender is
// the transport's (Job::sender: the connection or CURVE key), not the header's client id, which a client can
// change with every request; the client id only picks the worker under per-client.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "server/pipeline.h"
#include "transport/sender.h"

namespace edgeserve::server {

enum class SchedulingPolicy { kPerClient, kPool, kPriority };
const char* to_string(SchedulingPolicy policy);
std::optional<SchedulingPolicy> parse_policy(std::string_view name);

struct ScheduledJob {
  Job job;
  engine::RunContext context;
};

class Scheduler {
 public:
  Scheduler(SchedulingPolicy policy, int workers, size_t capacity, size_t per_client_capacity);

  // An error (overloaded, shutting down) when refused; `job` is then left intact so the caller can still
  // answer it.
  core::Status push(Job&& job);
  // Blocks until worker `worker` has a job; nullopt once closed and drained.
  std::optional<ScheduledJob> pop(int worker);
  // Workers finish what is queued, then pop() returns nullopt.
  void close();

 private:
  SchedulingPolicy policy_;
  int workers_;
  size_t capacity_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<std::deque<Job>> queues_;  // one per worker (per-client) or one shared (pool, priority)
  std::deque<Job> urgent_;               // priority policy: requests with priority > 0
  size_t waiting_ = 0;
  transport::SenderShares per_client_;  // waiting jobs per Job::sender
  bool closed_ = false;
};

}  // namespace edgeserve::server
