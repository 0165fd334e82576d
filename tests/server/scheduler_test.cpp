// Scheduling policies: which worker gets a job, in which order, on which stream, and the bound.
#include "server/scheduler.h"

#include <gtest/gtest.h>

#include <thread>

namespace edgeserve::server {
namespace {

Job job_from(uint32_t client, uint64_t id, uint8_t priority = 0) {
  Job job;
  job.header.client_id = client;
  job.header.request_id = id;
  job.header.priority = priority;
  return job;
}

TEST(Scheduler, PoolIsOneFifoSharedByAllWorkers) {
  Scheduler s(SchedulingPolicy::kPool, 2, 16);
  for (uint64_t id = 1; id <= 3; ++id) ASSERT_TRUE(s.push(job_from(static_cast<uint32_t>(id), id)));
  auto a = s.pop(1), b = s.pop(0), c = s.pop(1);
  EXPECT_EQ(a->job.header.request_id, 1u);
  EXPECT_EQ(a->context.lane, 1) << "a worker runs on its own lane";
  EXPECT_EQ(b->job.header.request_id, 2u);
  EXPECT_EQ(c->job.header.request_id, 3u);
  EXPECT_FALSE(a->context.high_priority);
}

TEST(Scheduler, PerClientPinsEachClientToOneWorker) {
  Scheduler s(SchedulingPolicy::kPerClient, 3, 16);
  ASSERT_TRUE(s.push(job_from(4, 40)));  // 4 mod 3 = worker 1
  ASSERT_TRUE(s.push(job_from(2, 20)));  // worker 2
  ASSERT_TRUE(s.push(job_from(1, 10)));  // worker 1
  auto w2 = s.pop(2);
  EXPECT_EQ(w2->job.header.request_id, 20u);
  auto first = s.pop(1), second = s.pop(1);
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
  Scheduler s(SchedulingPolicy::kPriority, 1, 16);
  ASSERT_TRUE(s.push(job_from(0, 1)));
  ASSERT_TRUE(s.push(job_from(0, 2)));
  ASSERT_TRUE(s.push(job_from(7, 3, /*priority=*/1)));
  auto first = s.pop(0);
  EXPECT_EQ(first->job.header.request_id, 3u);
  EXPECT_TRUE(first->context.high_priority);
  EXPECT_EQ(s.pop(0)->job.header.request_id, 1u);
  EXPECT_FALSE(s.pop(0)->context.high_priority);
}

TEST(Scheduler, PriorityFlagIsIgnoredByThePool) {
  Scheduler s(SchedulingPolicy::kPool, 1, 16);
  ASSERT_TRUE(s.push(job_from(0, 1)));
  ASSERT_TRUE(s.push(job_from(0, 2, 1)));
  EXPECT_EQ(s.pop(0)->job.header.request_id, 1u);
  EXPECT_FALSE(s.pop(0)->context.high_priority);
}

TEST(Scheduler, RefusesBeyondCapacityAndAfterClose) {
  Scheduler s(SchedulingPolicy::kPool, 1, 2);
  ASSERT_TRUE(s.push(job_from(0, 1)));
  ASSERT_TRUE(s.push(job_from(0, 2)));
  Job third = job_from(0, 3);
  EXPECT_FALSE(s.push(std::move(third)));
  EXPECT_EQ(third.header.request_id, 3u) << "a refused job stays intact for its error reply";
  s.close();
  EXPECT_FALSE(s.push(job_from(0, 4)));
  EXPECT_EQ(s.pop(0)->job.header.request_id, 1u) << "queued jobs still drain after close";
  EXPECT_EQ(s.pop(0)->job.header.request_id, 2u);
  EXPECT_FALSE(s.pop(0).has_value());
}

TEST(Scheduler, ParsesPolicyNames) {
  EXPECT_EQ(parse_policy("per-client"), SchedulingPolicy::kPerClient);
  EXPECT_EQ(parse_policy("pool"), SchedulingPolicy::kPool);
  EXPECT_EQ(parse_policy("priority"), SchedulingPolicy::kPriority);
  EXPECT_FALSE(parse_policy("fifo").has_value());
}

}  // namespace
}  // namespace edgeserve::server
