// The priority admission gate: normal requests wait while priority work runs, and only that long (bounded).
#include "server/priority_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "../support/child_process.h"  // testing::scaled

namespace edgeserve::server {
namespace {

using namespace std::chrono_literals;

TEST(PriorityGate, OffLetsEveryoneThrough) {
  PriorityGate gate({.enabled = false});
  EXPECT_EQ(gate.enter(true), 0u);
  EXPECT_EQ(gate.enter(false), 0u);
  gate.leave(false);
  gate.leave(true);
  EXPECT_EQ(gate.held_requests(), 0u);
}

TEST(PriorityGate, NormalRequestsPassWhenNoPriorityWorkIsAround) {
  PriorityGate gate({.enabled = true, .window = 1000us, .max_hold = 10s});
  EXPECT_EQ(gate.enter(false), 0u);
  gate.leave(false);
  EXPECT_EQ(gate.held_requests(), 0u);
}

TEST(PriorityGate, ANormalRequestWaitsUntilThePriorityOneLeavesAndItsWindowEnds) {
  PriorityGate gate({.enabled = true, .window = 20ms, .max_hold = 60s});
  EXPECT_EQ(gate.enter(true), 0u) << "priority requests are never held";
  std::atomic<bool> entered = false;
  auto normal = std::async(std::launch::async, [&] {
    const uint64_t held = gate.enter(false);
    entered = true;
    gate.leave(false);
    return held;
  });
  // While the priority request runs the normal one stays out (the hold bound is a minute away).
  EXPECT_EQ(normal.wait_for(300ms), std::future_status::timeout);
  EXPECT_FALSE(entered);
  const auto left = std::chrono::steady_clock::now();
  gate.leave(true);
  ASSERT_EQ(normal.wait_for(30s), std::future_status::ready) << "the normal request was never let in";
  const auto waited_after_leave = std::chrono::steady_clock::now() - left;
  EXPECT_GE(waited_after_leave, 19ms) << "the window after a priority request keeps the GPU reserved";
  EXPECT_GE(normal.get(), 300'000'000u) << "the hold is reported in ns";
  EXPECT_EQ(gate.held_requests(), 1u);
}

TEST(PriorityGate, NoNormalRequestIsHeldLongerThanTheBound) {
  PriorityGate gate({.enabled = true, .window = 0us, .max_hold = 50ms});
  gate.enter(true);  // never leaves: a stuck priority request must not starve the others
  auto normal = std::async(std::launch::async, [&] { return gate.enter(false); });
  ASSERT_EQ(normal.wait_for(30s), std::future_status::ready) << "a normal request waited past its bound";
  EXPECT_GE(normal.get(), 50'000'000u);
  gate.leave(true);
}

TEST(PriorityGate, TheWindowIsLearnedFromTheGapsBetweenPriorityRequests) {
  PriorityGate gate({.enabled = true, .window = 0us, .max_hold = 10s});
  EXPECT_EQ(gate.window(), 1ms) << "before any gap is seen";
  for (int i = 0; i < 4; ++i) {
    gate.enter(true);
    gate.leave(true);
    std::this_thread::sleep_for(20ms);  // the priority client's reply trip and next request
  }
  EXPECT_GE(gate.window(), 29ms) << "1.5 x gaps of at least 20 ms";
  EXPECT_LE(gate.window(), 10s) << "never beyond the hold bound";
  gate.enter(true);
  gate.leave(true);
  // A normal request right after a priority one waits out the learned window.
  EXPECT_GE(gate.enter(false), 25'000'000u);
}

TEST(PriorityGate, WhileAPriorityClientIsActiveAtMostTheLimitOfNormalRequestsRun) {
  PriorityGate gate({.enabled = true, .window = 1us, .max_hold = 10s, .normal_limit = 2});
  // No priority client yet: no limit.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(gate.enter(false), 0u);
  for (int i = 0; i < 3; ++i) gate.leave(false);
  gate.enter(true);
  gate.leave(true);                  // a priority client is active now, for a second
  std::this_thread::sleep_for(2ms);  // past the 1 µs window: only the limit holds anyone back
  EXPECT_EQ(gate.enter(false), 0u);
  EXPECT_EQ(gate.enter(false), 0u);
  std::atomic<bool> third_in = false;
  auto third = std::async(std::launch::async, [&] {
    const uint64_t held = gate.enter(false);
    third_in = true;
    return held;
  });
  EXPECT_EQ(third.wait_for(200ms), std::future_status::timeout) << "a third normal request ran beside two";
  EXPECT_FALSE(third_in);
  gate.leave(false);  // one of the two leaves: the third takes its place
  ASSERT_EQ(third.wait_for(30s), std::future_status::ready) << "the freed place was not taken";
  EXPECT_GE(third.get(), 100'000'000u)
      << "the hold is reported (it began when the thread asked, after the 200 ms began)";
  gate.leave(false);
  gate.leave(false);
  EXPECT_EQ(gate.held_requests(), 1u);
}

TEST(PriorityGate, TheLimitLiftsASecondAfterThePriorityClientsLastRequest) {
  PriorityGate gate({.enabled = true, .window = 1us, .max_hold = 10s, .normal_limit = 1});
  gate.enter(true);
  gate.leave(true);
  const auto last_priority = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(2ms);  // past the 1 µs window: only the limit holds anyone back
  EXPECT_EQ(gate.enter(false), 0u);
  // The one place is taken and nobody leaves: the second waits until the priority client has been quiet 1 s.
  const uint64_t held = gate.enter(false);
  EXPECT_GE(std::chrono::steady_clock::now() - last_priority, 1s);
  EXPECT_GE(held, 500'000'000u);
  gate.leave(false);
  gate.leave(false);
}

TEST(PriorityGate, UnderTheLimitHeldRequestsGoInFirstComeFirstServed) {
  PriorityGate gate({.enabled = true, .window = 1us, .max_hold = 10s, .normal_limit = 1});
  gate.enter(true);
  gate.leave(true);
  std::this_thread::sleep_for(2ms);
  ASSERT_EQ(gate.enter(false), 0u);  // the one place
  std::mutex order_mutex;
  std::vector<char> order;
  auto record = [&](char who) {
    std::lock_guard lock(order_mutex);
    order.push_back(who);
  };
  auto first = std::async(std::launch::async, [&] {
    gate.enter(false);
    record('A');
    std::this_thread::sleep_for(50ms);
    gate.leave(false);
  });
  std::this_thread::sleep_for(testing::scaled(200ms));  // A is waiting for the place (slower under the sanitizers)
  // The place frees and a newcomer asks at once: it must not take the place A has been waiting for.
  gate.leave(false);
  gate.enter(false);
  record('N');
  gate.leave(false);
  first.get();
  EXPECT_EQ(order, (std::vector<char>{'A', 'N'})) << "a newcomer went in before the request waiting for the place";
}

}  // namespace
}  // namespace edgeserve::server
