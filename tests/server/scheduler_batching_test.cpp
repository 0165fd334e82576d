// Dynamic batching in the scheduler: what a batch gathers, and each rule that closes it (full, delay, budget,
// idle, priority, draining), seen through the batch's close reason and its stamps, never through sleeps.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "../support/status_assert.h"
#include "core/clock.h"
#include "server/scheduler.h"

namespace edgeserve::server {
namespace {

using namespace std::chrono_literals;

// The scheduler asks a job's engine for its batching limits only: this one has the limits and runs nothing.
class LimitsOnly final : public engine::Engine {
 public:
  LimitsOnly(int max_batch, uint64_t delay_us, uint64_t budget_us = 0) : max_batch_(max_batch) {
    spec_.name = "limits-only";
    spec_.batching = {max_batch, delay_us, budget_us};
  }
  const engine::ModelSpec& spec() const override { return spec_; }
  std::string device() const override { return "cpu"; }
  std::string execution_mode() const override { return "none"; }
  int lanes() const override { return 1; }
  int max_batch() const override { return max_batch_; }
  core::Status run(const engine::InferenceInput&, const engine::ResolvedOutputs&, engine::InferenceOutput&,
                   engine::StageDurations&, const engine::RunContext&) override {
    return {core::StatusCode::kInternal, "not for running"};
  }

 private:
  engine::ModelSpec spec_;
  int max_batch_;
};

Job job_for(engine::Engine& model, uint64_t id, uint8_t priority = 0) {
  Job job;
  job.engine = &model;
  job.header.request_id = id;
  job.header.client_id = static_cast<uint32_t>(id);
  job.header.priority = priority;
  job.sender = 1000 + id;
  job.admitted_ns = core::now_ns();
  return job;
}

std::vector<uint64_t> ids_of(const Batch& batch) {
  std::vector<uint64_t> ids;
  for (const auto& j : batch.jobs) ids.push_back(j.header.request_id);
  return ids;
}

// pop_batch on another thread, so a test can push while a batch fills; fails (not hangs) after 10 s.
std::future<bool> pop_async(Scheduler& s, Batch& batch, int worker = 0) {
  return std::async(std::launch::async, [&s, &batch, worker] { return s.pop_batch(worker, batch); });
}

TEST(SchedulerBatching, TakesQueuedJobsOfOneModelOldestFirstUpToItsMax) {
  LimitsOnly a(3, 1'000'000), b(3, 0);
  Scheduler s(SchedulingPolicy::kPool, 1, 64, 64);
  for (uint64_t id : {1, 2}) ASSERT_OK(s.push(job_for(a, id)));
  ASSERT_OK(s.push(job_for(b, 3)));
  for (uint64_t id : {4, 5}) ASSERT_OK(s.push(job_for(a, id)));
  Batch batch;
  ASSERT_TRUE(s.pop_batch(0, batch));
  EXPECT_EQ(ids_of(batch), (std::vector<uint64_t>{1, 2, 4})) << "model b's job keeps its place";
  EXPECT_EQ(batch.closed_by, BatchClose::kFull);
  ASSERT_TRUE(s.pop_batch(0, batch));
  EXPECT_EQ(ids_of(batch), (std::vector<uint64_t>{3})) << "then the oldest waiting job, of model b";
}

TEST(SchedulerBatching, ALoneJobOnAnIdleQueueRunsAtOnce) {
  LimitsOnly model(8, 10'000'000);  // a 10 s delay that an idle queue must never pay
  Scheduler s(SchedulingPolicy::kPool, 1, 64, 64);
  ASSERT_OK(s.push(job_for(model, 1)));
  Batch batch;
  auto popped = pop_async(s, batch);
  ASSERT_EQ(popped.wait_for(5s), std::future_status::ready) << "a lone job waited for its batch to fill";
  ASSERT_TRUE(popped.get());
  EXPECT_EQ(batch.jobs.size(), 1u);
  EXPECT_EQ(batch.closed_by, BatchClose::kIdle);
}

TEST(SchedulerBatching, ABatchThatDoesNotFillClosesWhenItsOldestJobsDelayRunsOut) {
  LimitsOnly model(8, 30'000);  // 30 ms
  Scheduler s(SchedulingPolicy::kPool, 1, 64, 64);
  for (uint64_t id : {1, 2}) ASSERT_OK(s.push(job_for(model, id)));
  Batch batch;
  ASSERT_TRUE(s.pop_batch(0, batch));
  EXPECT_EQ(ids_of(batch), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(batch.closed_by, BatchClose::kDelay);
  EXPECT_GE(batch.closed_ns - batch.jobs.front().admitted_ns, 30'000'000u) << "closed before the delay ran out";
}

TEST(SchedulerBatching, JobsArrivingWhileABatchFillsJoinItAndAFullBatchClosesAtOnce) {
  LimitsOnly model(3, 10'000'000);
  Scheduler s(SchedulingPolicy::kPool, 1, 64, 64);
  for (uint64_t id : {1, 2}) ASSERT_OK(s.push(job_for(model, id)));
  Batch batch;
  auto popped = pop_async(s, batch);
  std::this_thread::sleep_for(20ms);  // let it start waiting (if it has not, the job is simply gathered)
  ASSERT_OK(s.push(job_for(model, 3)));
  ASSERT_EQ(popped.wait_for(5s), std::future_status::ready) << "a full batch did not close";
  ASSERT_TRUE(popped.get());
  EXPECT_EQ(ids_of(batch), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(batch.closed_by, BatchClose::kFull);
}

TEST(SchedulerBatching, APriorityJobClosesTheBatchBeingFilledAndRunsNextOnTheHighPriorityStream) {
  LimitsOnly model(8, 10'000'000);
  Scheduler s(SchedulingPolicy::kPriority, 1, 64, 64);
  for (uint64_t id : {1, 2}) ASSERT_OK(s.push(job_for(model, id)));
  Batch batch;
  auto popped = pop_async(s, batch);
  std::this_thread::sleep_for(20ms);
  ASSERT_OK(s.push(job_for(model, 9, /*priority=*/1)));
  ASSERT_EQ(popped.wait_for(5s), std::future_status::ready) << "the priority job did not close the batch";
  ASSERT_TRUE(popped.get());
  EXPECT_EQ(ids_of(batch), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(batch.closed_by, BatchClose::kPriority);
  ASSERT_TRUE(s.pop_batch(0, batch));
  EXPECT_EQ(ids_of(batch), (std::vector<uint64_t>{9}));
  EXPECT_TRUE(batch.context.high_priority);
}

TEST(SchedulerBatching, PerClientRunsABatchHoldingAPriorityJobAtOnceOnTheHighPriorityStream) {
  LimitsOnly model(8, 10'000'000);
  Scheduler s(SchedulingPolicy::kPerClient, 2, 64, 64);  // clients 1, 3, 5 share lane 1
  ASSERT_OK(s.push(job_for(model, 1)));
  Batch batch;
  ASSERT_TRUE(s.pop_batch(1, batch));
  EXPECT_EQ(ids_of(batch), (std::vector<uint64_t>{1}));
  EXPECT_FALSE(batch.context.high_priority);
  ASSERT_OK(s.push(job_for(model, 3)));
  ASSERT_OK(s.push(job_for(model, 5, /*priority=*/1)));
  auto popped = pop_async(s, batch, 1);
  ASSERT_EQ(popped.wait_for(5s), std::future_status::ready) << "a batch holding priority work waited to fill";
  ASSERT_TRUE(popped.get());
  EXPECT_EQ(ids_of(batch), (std::vector<uint64_t>{3, 5})) << "per-client keeps each lane's order";
  EXPECT_EQ(batch.closed_by, BatchClose::kPriority);
  EXPECT_TRUE(batch.context.high_priority) << "as pop(): per-client runs priority work on the high-priority stream";
  EXPECT_EQ(batch.context.lane, 1);
  EXPECT_TRUE(Scheduler::has_priority(batch));
}

TEST(SchedulerBatching, ThePoolIgnoresThePriorityFlagOfABatch) {
  LimitsOnly model(8, 0);
  Scheduler s(SchedulingPolicy::kPool, 1, 64, 64);
  for (uint64_t id : {1, 2}) ASSERT_OK(s.push(job_for(model, id, /*priority=*/1)));
  Batch batch;
  ASSERT_TRUE(s.pop_batch(0, batch));
  EXPECT_EQ(ids_of(batch), (std::vector<uint64_t>{1, 2}));
  EXPECT_FALSE(batch.context.high_priority);
}

TEST(SchedulerBatching, TheLatencyBudgetClosesABatchBeforeTheDelayDoes) {
  LimitsOnly model(8, 10'000'000, /*budget_us=*/20'000);
  Scheduler s(SchedulingPolicy::kPool, 1, 64, 64);
  for (uint64_t id : {1, 2}) ASSERT_OK(s.push(job_for(model, id)));
  Batch batch;
  auto popped = pop_async(s, batch);
  ASSERT_EQ(popped.wait_for(5s), std::future_status::ready) << "the 20 ms budget did not close the batch";
  ASSERT_TRUE(popped.get());
  EXPECT_EQ(batch.closed_by, BatchClose::kBudget);
  // A batch of 3 measured at 15 ms leaves 5 ms of the budget to wait in: the next batch of 2 closes sooner.
  s.batch_ran(Batch{}, 0);  // an empty batch teaches nothing (and must not crash)
  Batch three;
  for (uint64_t id : {7, 8, 9}) three.jobs.push_back(job_for(model, id));
  s.batch_ran(three, 15'000'000);
  for (uint64_t id : {3, 4}) ASSERT_OK(s.push(job_for(model, id)));
  ASSERT_TRUE(s.pop_batch(0, batch));
  EXPECT_EQ(batch.closed_by, BatchClose::kBudget);
  EXPECT_LT(batch.closed_ns - batch.jobs.front().admitted_ns, 20'000'000u)
      << "the measured run time of a batch of 3 was not taken off the budget";
}

TEST(SchedulerBatching, CloseEndsAFillingBatchAndItsJobsStillRun) {
  LimitsOnly model(8, 10'000'000);
  Scheduler s(SchedulingPolicy::kPool, 1, 64, 64);
  for (uint64_t id : {1, 2}) ASSERT_OK(s.push(job_for(model, id)));
  Batch batch;
  auto popped = pop_async(s, batch);
  std::this_thread::sleep_for(20ms);
  s.close();
  ASSERT_EQ(popped.wait_for(5s), std::future_status::ready);
  ASSERT_TRUE(popped.get());
  EXPECT_EQ(ids_of(batch), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(batch.closed_by, BatchClose::kDraining);
  EXPECT_FALSE(s.pop_batch(0, batch)) << "closed and drained";
}

TEST(SchedulerBatching, AModelThatDoesNotBatchRunsOneJobAtATime) {
  LimitsOnly model(1, 10'000'000);
  Scheduler s(SchedulingPolicy::kPool, 1, 64, 64);
  for (uint64_t id : {1, 2}) ASSERT_OK(s.push(job_for(model, id)));
  Batch batch;
  ASSERT_TRUE(s.pop_batch(0, batch));
  EXPECT_EQ(ids_of(batch), (std::vector<uint64_t>{1}));
  EXPECT_EQ(batch.closed_by, BatchClose::kSingle);
}

}  // namespace
}  // namespace edgeserve::server
