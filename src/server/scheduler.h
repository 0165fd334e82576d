// The scheduler between the transports' I/O threads and the workers. Worker i owns lane i of every engine
// (on GPU: its own CUDA streams, buffers and graphs). Policies:
//   per-client  each client's requests go to worker (client id mod workers): one lane per client when
//               workers >= clients, as in the paper's default; requests flagged priority > 0 run on their
//               lane's high-priority CUDA stream (the paper's Fig. 16 set-up)
//   pool        one FIFO shared by all workers: at most `workers` requests run at once (the paper's
//               limited concurrency, Fig. 15)
//   priority    like pool, but requests flagged priority > 0 jump the queue and run on their lane's
//               high-priority CUDA stream (Fig. 16)
// Dynamic batching (per model, engine::BatchingSpec): a worker takes the oldest job and every queued job of the
// same model, up to the model's max batch, then waits for more until the batch is full, the oldest job has
// waited max_queue_delay_us, the latency budget says close (the budget less the measured run time of a batch
// of this size), or a priority job arrives; it closes at once when the queue is idle (its recent batches held
// one job each: a moving average), so batch 1 costs nothing at low load. While one worker fills a batch from a shared
// queue, the others wait for the next batch rather than split this one. Bounded: beyond `capacity` waiting jobs in all,
// or `per_client_capacity` from one sender, push() refuses and the caller answers "overloaded" — so one client flooding
// requests cannot crowd out the others. The sender is the transport's (Job::sender: the connection or CURVE key), not
// the header's client id, which a client can change with every request; the client id only picks the worker under
// per-client.
#pragma once

#include <array>
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

// Why a batch closed (kSingle: its model does not batch).
enum class BatchClose { kSingle, kFull, kDelay, kBudget, kIdle, kPriority, kDraining };
const char* to_string(BatchClose reason);

// Jobs of one model that run as one forward pass. The worker keeps one Batch for its life: `jobs` is reserved
// for engine::kMaxBatchSize once, so forming a batch allocates nothing.
struct Batch {
  std::vector<Job> jobs;
  engine::RunContext context;
  uint64_t taken_ns = 0;   // the worker took the first job
  uint64_t closed_ns = 0;  // the batch closed: batching-time of a job is closed_ns − max(taken_ns, admitted_ns)
  BatchClose closed_by = BatchClose::kSingle;

  Batch() { jobs.reserve(engine::kMaxBatchSize); }
};

class Scheduler {
 public:
  Scheduler(SchedulingPolicy policy, int workers, size_t capacity, size_t per_client_capacity);

  // An error (overloaded, shutting down) when refused; `job` is then left intact so the caller can still
  // answer it.
  core::Status push(Job&& job);
  // Blocks until worker `worker` has a job; nullopt once closed and drained. One job, never a batch.
  std::optional<ScheduledJob> pop(int worker);
  // Blocks until worker `worker` has a batch (see above) and fills `batch`; false once closed and drained.
  bool pop_batch(int worker, Batch& batch);
  // How long a batch took to run, for the latency budget's estimate of the next one.
  void batch_ran(const Batch& batch, uint64_t run_ns);
  // Whether any job of the batch is flagged priority > 0 (the batch then counts as priority work).
  static bool has_priority(const Batch& batch);
  // Workers finish what is queued, then pop() returns nullopt.
  void close();
  // Times a worker woke and found nothing to take (another took it, or a wake-up meant for another worker).
  uint64_t idle_wakeups() const;

 private:
  SchedulingPolicy policy_;
  int workers_;
  size_t capacity_;
  mutable std::mutex mutex_;
  // Each queue has its own condition variable, so a push wakes only the workers that can take the job: under
  // per-client, one worker (one shared variable woke all of them, a herd of `workers` wake-ups per request).
  struct Queue {
    std::condition_variable ready;
    std::deque<Job> jobs;
    bool forming = false;          // a worker is filling a batch from this queue
    double recent_batch_size = 1;  // moving average of the batches taken from it: ~1 means the queue is idle
  };
  // Per model: an estimate of how long a batch of n runs (moving average), for the latency budget.
  struct RunTimes {
    const engine::Engine* engine = nullptr;
    std::array<uint64_t, engine::kMaxBatchSize + 1> ns{};
  };
  Queue& queue_of(int worker);
  // Waits on `q.ready` until `can_take`, counting the wake-ups that found nothing.
  template <typename Predicate>
  void wait_for_work(std::unique_lock<std::mutex>& lock, Queue& q, Predicate can_take);
  void take(std::deque<Job>& from, std::deque<Job>::iterator it, Batch& batch);
  void gather(std::deque<Job>& from, Batch& batch, size_t max);
  uint64_t estimated_run_ns(const engine::Engine* engine, size_t size) const;

  std::vector<Queue> queues_;        // one per worker (per-client) or one shared (pool, priority); never resized
  std::deque<Job> urgent_;           // priority policy: requests with priority > 0
  std::condition_variable filling_;  // wakes a worker filling a batch
  int forming_ = 0;                  // workers filling a batch now
  std::vector<RunTimes> run_times_;
  size_t waiting_ = 0;
  uint64_t idle_wakeups_ = 0;
  transport::SenderShares per_client_;  // waiting jobs per Job::sender
  bool closed_ = false;
};

}  // namespace edgeserve::server
