// Scheduling policies: which worker gets a job, in which order, on which stream, and the bound.
#include "server/scheduler.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>
#include <vector>

#include "../support/status_assert.h"

namespace edgeserve::server {
namespace {

// `sender` is the transport's name for the connection; by default each client id has its own.
Job job_from(uint32_t client, uint64_t id, uint8_t priority = 0, uint64_t sender = ~0ull) {
  Job job;
  job.header.client_id = client;
  job.sender = sender == ~0ull ? 1000 + client : sender;
  job.header.request_id = id;
  job.header.priority = priority;
  return job;
}

// pop(worker), but a test never hangs on a worker that was given nothing: after `wait` the scheduler is closed,
// so pop returns what that worker has queued, or nothing.
std::optional<ScheduledJob> pop_within(Scheduler& s, int worker,
                                       std::chrono::milliseconds wait = std::chrono::seconds(2)) {
  auto popped = std::async(std::launch::async, [&s, worker] { return s.pop(worker); });
  if (popped.wait_for(wait) != std::future_status::ready) s.close();
  return popped.get();
}

// Pops a job for `worker` into `var`, or fails the test saying which worker got none.
#define ASSERT_POP(var, scheduler, worker)  \
  auto var = pop_within(scheduler, worker); \
  ASSERT_TRUE(var.has_value()) << "worker " << (worker) << " was given no job (" #var ")"

TEST(Scheduler, PoolIsOneFifoSharedByAllWorkers) {
  Scheduler s(SchedulingPolicy::kPool, 2, 16, 16);
  for (uint64_t id = 1; id <= 3; ++id) ASSERT_OK(s.push(job_from(static_cast<uint32_t>(id), id)));
  ASSERT_POP(a, s, 1);
  ASSERT_POP(b, s, 0);
  ASSERT_POP(c, s, 1);
  EXPECT_EQ(a->job.header.request_id, 1u);
  EXPECT_EQ(a->context.lane, 1) << "a worker runs on its own lane";
  EXPECT_EQ(b->job.header.request_id, 2u);
  EXPECT_EQ(c->job.header.request_id, 3u);
  EXPECT_FALSE(a->context.high_priority);
}

TEST(Scheduler, PerClientPinsEachClientToOneWorker) {
  Scheduler s(SchedulingPolicy::kPerClient, 3, 16, 16);
  ASSERT_OK(s.push(job_from(4, 40)));  // 4 mod 3 = worker 1
  ASSERT_OK(s.push(job_from(2, 20)));  // worker 2
  ASSERT_OK(s.push(job_from(1, 10)));  // worker 1
  ASSERT_POP(w2, s, 2);
  EXPECT_EQ(w2->job.header.request_id, 20u);
  ASSERT_POP(first, s, 1);
  ASSERT_POP(second, s, 1);
  EXPECT_EQ(first->job.header.request_id, 40u);
  EXPECT_EQ(second->job.header.request_id, 10u);
  // Worker 0 has nothing: it waits until closed.
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    s.close();
  });
  EXPECT_FALSE(s.pop(0).has_value());
  closer.join();
}

TEST(Scheduler, PriorityJobsJumpTheQueueOntoHighPriorityStreams) {
  Scheduler s(SchedulingPolicy::kPriority, 1, 16, 16);
  ASSERT_OK(s.push(job_from(0, 1)));
  ASSERT_OK(s.push(job_from(0, 2)));
  ASSERT_OK(s.push(job_from(7, 3, /*priority=*/1)));
  ASSERT_POP(first, s, 0);
  EXPECT_EQ(first->job.header.request_id, 3u);
  EXPECT_TRUE(first->context.high_priority);
  ASSERT_POP(second, s, 0);
  EXPECT_EQ(second->job.header.request_id, 1u);
  ASSERT_POP(third, s, 0);
  EXPECT_EQ(third->job.header.request_id, 2u);
  EXPECT_FALSE(third->context.high_priority);
}

TEST(Scheduler, PerClientRunsAPriorityClientOnItsLanesHighPriorityStream) {
  // The paper's Fig. 16 set-up: a lane per client, the priority client's work on its high-priority stream.
  Scheduler s(SchedulingPolicy::kPerClient, 2, 16, 16);
  ASSERT_OK(s.push(job_from(1, 10)));
  ASSERT_OK(s.push(job_from(1, 11, /*priority=*/1)));
  ASSERT_POP(normal, s, 1);
  ASSERT_POP(priority, s, 1);
  EXPECT_EQ(normal->job.header.request_id, 10u) << "per-client keeps each client's order: no queue jump";
  EXPECT_FALSE(normal->context.high_priority);
  EXPECT_EQ(priority->job.header.request_id, 11u);
  EXPECT_TRUE(priority->context.high_priority) << "the priority flag picks the lane's high-priority stream";
  EXPECT_EQ(priority->context.lane, 1);
}

TEST(Scheduler, PriorityFlagIsIgnoredByThePool) {
  Scheduler s(SchedulingPolicy::kPool, 1, 16, 16);
  ASSERT_OK(s.push(job_from(0, 1)));
  ASSERT_OK(s.push(job_from(0, 2, 1)));
  ASSERT_POP(first, s, 0);
  EXPECT_EQ(first->job.header.request_id, 1u);
  ASSERT_POP(second, s, 0);
  EXPECT_EQ(second->job.header.request_id, 2u);
  EXPECT_FALSE(second->context.high_priority);
}

TEST(Scheduler, RefusesBeyondCapacityAndAfterClose) {
  Scheduler s(SchedulingPolicy::kPool, 1, 2, 16);
  ASSERT_OK(s.push(job_from(0, 1)));
  ASSERT_OK(s.push(job_from(0, 2)));
  Job third = job_from(0, 3);
  EXPECT_EQ(s.push(std::move(third)).code(), core::StatusCode::kOverloaded);
  EXPECT_EQ(third.header.request_id, 3u) << "a refused job stays intact for its error reply";
  s.close();
  EXPECT_EQ(s.push(job_from(0, 4)).code(), core::StatusCode::kShuttingDown);
  ASSERT_POP(first, s, 0);
  EXPECT_EQ(first->job.header.request_id, 1u) << "queued jobs still drain after close";
  ASSERT_POP(second, s, 0);
  EXPECT_EQ(second->job.header.request_id, 2u);
  EXPECT_FALSE(s.pop(0).has_value());
}

TEST(Scheduler, OneClientCannotFillTheQueueForEveryoneElse) {
  Scheduler s(SchedulingPolicy::kPool, 1, 100, 2);
  ASSERT_OK(s.push(job_from(5, 1)));
  ASSERT_OK(s.push(job_from(5, 2)));
  const auto refused = s.push(job_from(5, 3));
  EXPECT_EQ(refused.code(), core::StatusCode::kOverloaded);
  EXPECT_NE(refused.message().find("limit per client"), std::string::npos) << refused.message();
  EXPECT_OK(s.push(job_from(6, 4))) << "another client still gets in";
  ASSERT_POP(first, s, 0);
  EXPECT_EQ(first->job.header.request_id, 1u);
  EXPECT_OK(s.push(job_from(5, 5))) << "a slot frees when one of the client's jobs starts";
}

// The share belongs to the sender the transport names, not to the client id a client writes into its
// headers: a flooder changing its id with every request is still held to its share, and a client that
// writes the flooder's id is not punished for it.
TEST(Scheduler, TheShareIsKeyedOnTheSenderNotTheHeadersClientId) {
  Scheduler s(SchedulingPolicy::kPool, 1, 100, 2);
  const uint64_t flooder = 77, honest = 78;
  ASSERT_OK(s.push(job_from(1, 1, 0, flooder)));
  ASSERT_OK(s.push(job_from(2, 2, 0, flooder)));
  EXPECT_EQ(s.push(job_from(3, 3, 0, flooder)).code(), core::StatusCode::kOverloaded)
      << "a fresh client id does not buy a fresh share";
  EXPECT_OK(s.push(job_from(1, 4, 0, honest))) << "the flooder's client id does not cost another sender";
}

// Under per-client a job has one worker that can take it, and a push wakes that worker alone: with one shared
// condition variable each request woke every worker (16 lanes, 15 futile wake-ups fighting for the lock in front
// of the one that mattered).
TEST(Scheduler, PerClientWakesOnlyTheJobsOwnWorker) {
  constexpr int kWorkers = 8;
  constexpr uint64_t kJobs = 200;
  Scheduler s(SchedulingPolicy::kPerClient, kWorkers, 16, 16);
  std::vector<std::thread> idle;  // workers 1..7 wait for jobs that never come; close() releases them
  for (int w = 1; w < kWorkers; ++w) idle.emplace_back([&s, w] { EXPECT_FALSE(s.pop(w).has_value()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let them reach their wait
  for (uint64_t id = 1; id <= kJobs; ++id) {  // no ASSERT here: the idle threads must be released and joined
    EXPECT_OK(s.push(job_from(0, id)));       // client 0: worker 0's queue
    const auto mine = pop_within(s, 0);
    if (!mine) {
      ADD_FAILURE() << "worker 0 was given no job " << id;
      break;
    }
    EXPECT_EQ(mine->job.header.request_id, id);
  }
  s.close();
  for (auto& t : idle) t.join();
  // Each of the 200 pushes used to wake the 7 idle workers (~1400); a few stray wake-ups are the OS's business.
  EXPECT_LT(s.idle_wakeups(), kJobs / 10) << "a push woke workers that could not take its job";
}

TEST(Scheduler, ParsesPolicyNames) {
  EXPECT_EQ(parse_policy("per-client"), SchedulingPolicy::kPerClient);
  EXPECT_EQ(parse_policy("pool"), SchedulingPolicy::kPool);
  EXPECT_EQ(parse_policy("priority"), SchedulingPolicy::kPriority);
  EXPECT_FALSE(parse_policy("fifo").has_value());
}

}  // namespace
}  // namespace edgeserve::server
