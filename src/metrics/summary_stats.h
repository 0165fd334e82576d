// Summary statistics of one metric over many requests: count, mean, std, CoV and percentiles.
#pragma once

#include <cstddef>
#include <span>

namespace edgeserve::metrics {

struct SummaryStats {
  size_t count = 0;
  double mean = 0, std = 0, cov = 0, min = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};

// NaN samples (metric not measured for that request) are left out. Percentiles interpolate linearly
// between order statistics (numpy's default), std is the population standard deviation, cov = std/mean.
SummaryStats summarize(std::span<const double> samples);

// q in [0, 1] of already sorted, non-empty samples.
double percentile_sorted(std::span<const double> sorted, double q);

}  // namespace edgeserve::metrics
