// Summary statistics: values checked against numpy (percentile, linear interpolation).
#include "metrics/summary_stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

namespace edgeserve::metrics {
namespace {

TEST(SummaryStats, MatchesNumpyOnOneToHundred) {
  std::vector<double> v(100);
  std::iota(v.rbegin(), v.rend(), 1.0);  // 100..1: order must not matter
  const auto s = summarize(v);
  EXPECT_EQ(s.count, 100u);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
  EXPECT_DOUBLE_EQ(s.p50, 50.5);   // np.percentile(range(1,101), 50)
  EXPECT_DOUBLE_EQ(s.p90, 90.1);   // np.percentile(..., 90)
  EXPECT_DOUBLE_EQ(s.p99, 99.01);  // np.percentile(..., 99)
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 100);
  EXPECT_NEAR(s.std, 28.866070047722118, 1e-12);  // np.std (population)
  EXPECT_NEAR(s.cov, 28.866070047722118 / 50.5, 1e-12);
}

TEST(SummaryStats, SkipsNaNAndHandlesEdgeCases) {
  const double nan = std::nan("");
  const std::vector<double> v{nan, 2.0, nan, 4.0};
  const auto s = summarize(v);
  EXPECT_EQ(s.count, 2u);
  EXPECT_DOUBLE_EQ(s.mean, 3.0);
  EXPECT_DOUBLE_EQ(s.p50, 3.0);

  EXPECT_EQ(summarize(std::vector<double>{}).count, 0u);
  const auto one = summarize(std::vector<double>{7.0});
  EXPECT_DOUBLE_EQ(one.p99, 7.0);
  EXPECT_DOUBLE_EQ(one.std, 0.0);
  EXPECT_DOUBLE_EQ(one.cov, 0.0);
}

}  // namespace
}  // namespace edgeserve::metrics
