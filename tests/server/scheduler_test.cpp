// Scheduling policies: which worker gets a job, in which order, on which stream, and the bound.
#include "server/scheduler.h"

#include <gtest/gtest.h>

#include <thread>

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

TEST(Scheduler, PoolIsOneFifoSharedByAllWorkers) {
  Scheduler s(SchedulingPolicy::kPool, 2, 16, 16);
  for (uint64_t id = 1; id <= 3; ++id) ASSERT_TRUE(s.push(job_from(static_cast<uint32_t>(id), id)).ok());
  auto a = s.pop(1), b = s.pop(0), c = s.pop(1);
  EXPECT_EQ(a->job.header.request_id, 1u);
  EXPECT_EQ(a->context.lane, 1) << "a worker runs on its own lane";
  EXPECT_EQ(b->job.header.request_id, 2u);
  EXPECT_EQ(c->job.header.request_id, 3u);
  EXPECT_FALSE(a->context.high_priority);
}

TEST(Scheduler, PerClientPinsEachClientToOneWorker) {
  Scheduler s(SchedulingPolicy::kPerClient, 3, 16, 16);
  ASSERT_TRUE(s.push(job_from(4, 40)).ok());  // 4 mod 3 = worker 1
  ASSERT_TRUE(s.push(job_from(2, 20)).ok());  // worker 2
  ASSERT_TRUE(s.push(job_from(1, 10)).ok());  // worker 1
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
  Scheduler s(SchedulingPolicy::kPriority, 1, 16, 16);
  ASSERT_TRUE(s.push(job_from(0, 1)).ok());
  ASSERT_TRUE(s.push(job_from(0, 2)).ok());
  ASSERT_TRUE(s.push(job_from(7, 3, /*priority=*/1)).ok());
  auto first = s.pop(0);
  EXPECT_EQ(first->job.header.request_id, 3u);
  EXPECT_TRUE(first->context.high_priority);
  EXPECT_EQ(s.pop(0)->job.header.request_id, 1u);
  EXPECT_FALSE(s.pop(0)->context.high_priority);
}

TEST(Scheduler, PriorityFlagIsIgnoredByThePool) {
  Scheduler s(SchedulingPolicy::kPool, 1, 16, 16);
  ASSERT_TRUE(s.push(job_from(0, 1)).ok());
  ASSERT_TRUE(s.push(job_from(0, 2, 1)).ok());
  EXPECT_EQ(s.pop(0)->job.header.request_id, 1u);
  EXPECT_FALSE(s.pop(0)->context.high_priority);
}

TEST(Scheduler, RefusesBeyondCapacityAndAfterClose) {
  Scheduler s(SchedulingPolicy::kPool, 1, 2, 16);
  ASSERT_TRUE(s.push(job_from(0, 1)).ok());
  ASSERT_TRUE(s.push(job_from(0, 2)).ok());
  Job third = job_from(0, 3);
  EXPECT_EQ(s.push(std::move(third)).code(), core::StatusCode::kOverloaded);
  EXPECT_EQ(third.header.request_id, 3u) << "a refused job stays intact for its error reply";
  s.close();
  EXPECT_EQ(s.push(job_from(0, 4)).code(), core::StatusCode::kShuttingDown);
  EXPECT_EQ(s.pop(0)->job.header.request_id, 1u) << "queued jobs still drain after close";
  EXPECT_EQ(s.pop(0)->job.header.request_id, 2u);
  EXPECT_FALSE(s.pop(0).has_value());
}

TEST(Scheduler, OneClientCannotFillTheQueueForEveryoneElse) {
  Scheduler s(SchedulingPolicy::kPool, 1, 100, 2);
  ASSERT_TRUE(s.push(job_from(5, 1)).ok());
  ASSERT_TRUE(s.push(job_from(5, 2)).ok());
  const auto refused = s.push(job_from(5, 3));
  EXPECT_EQ(refused.code(), core::StatusCode::kOverloaded);
  EXPECT_NE(refused.message().find("limit per client"), std::string::npos) << refused.message();
  EXPECT_TRUE(s.push(job_from(6, 4)).ok()) << "another client still gets in";
  EXPECT_EQ(s.pop(0)->job.header.request_id, 1u);
  EXPECT_TRUE(s.push(job_from(5, 5)).ok()) << "a slot frees when one of the client's jobs starts";
}

// The share belongs to the sender the transport names, not to the client id a client writes into its
// headers: a flooder changing its id with every request is still held to its share, and a client that
// writes the flooder's id is not punished for it.
TEST(Scheduler, TheShareIsKeyedOnTheSenderNotTheHeadersClientId) {
  Scheduler s(SchedulingPolicy::kPool, 1, 100, 2);
  const uint64_t flooder = 77, honest = 78;
  ASSERT_TRUE(s.push(job_from(1, 1, 0, flooder)).ok());
  ASSERT_TRUE(s.push(job_from(2, 2, 0, flooder)).ok());
  EXPECT_EQ(s.push(job_from(3, 3, 0, flooder)).code(), core::StatusCode::kOverloaded)
      << "a fresh client id does not buy a fresh share";
  EXPECT_TRUE(s.push(job_from(1, 4, 0, honest)).ok()) << "the flooder's client id does not cost another sender";
}

TEST(Scheduler, ParsesPolicyNames) {
  EXPECT_EQ(parse_policy("per-client"), SchedulingPolicy::kPerClient);
  EXPECT_EQ(parse_policy("pool"), SchedulingPolicy::kPool);
  EXPECT_EQ(parse_policy("priority"), SchedulingPolicy::kPriority);
  EXPECT_FALSE(parse_policy("fifo").has_value());
}

}  // namespace
}  // namespace edgeserve::server
