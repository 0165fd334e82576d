// The rate limit on client-triggered log lines: the first lines of a window pass, the rest are counted and
// reported with the next window's first line; each status code has its own budget.
#include "core/log_limiter.h"

#include <gtest/gtest.h>

#include <thread>

namespace edgeserve::core {
namespace {

TEST(LogLimiter, PassesTheFirstLinesOfAWindowAndCountsTheRest) {
  LogLimiter limiter(3, std::chrono::seconds(1));
  std::string note;
  EXPECT_TRUE(limiter.allow(note));
  EXPECT_TRUE(note.empty());
  EXPECT_TRUE(limiter.allow(note));
  EXPECT_TRUE(limiter.allow(note));
  EXPECT_NE(note.find("further ones in the next 1 s are counted"), std::string::npos) << note;
  for (int i = 0; i < 7; ++i) EXPECT_FALSE(limiter.allow(note));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_TRUE(limiter.allow(note));
  EXPECT_NE(note.find("7 more like this in the last 1 s were not logged"), std::string::npos) << note;
}

TEST(LogLimiter, EachStatusCodeHasItsOwnBudget) {
  LogLimiterByStatus limiter(2);
  std::string note;
  EXPECT_TRUE(limiter.allow(StatusCode::kOverloaded, note));
  EXPECT_TRUE(limiter.allow(StatusCode::kOverloaded, note));
  EXPECT_FALSE(limiter.allow(StatusCode::kOverloaded, note));
  EXPECT_TRUE(limiter.allow(StatusCode::kBadMagic, note)) << "a flood of one error does not hide another";
  EXPECT_TRUE(limiter.allow(static_cast<StatusCode>(999), note)) << "codes from a newer peer are limited too";
}

}  // namespace
}  // namespace edgeserve::core
