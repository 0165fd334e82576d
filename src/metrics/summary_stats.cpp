// Summary statistics over samples.
#include "metrics/summary_stats.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace edgeserve::metrics {

double percentile_sorted(std::span<const double> sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

SummaryStats summarize(std::span<const double> samples) {
  std::vector<double> v;
  v.reserve(samples.size());
  for (double x : samples)
    if (!std::isnan(x)) v.push_back(x);
  SummaryStats s;
  s.count = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  double sq = 0;
  for (double x : v) sq += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(sq / static_cast<double>(v.size()));
  s.cov = s.mean != 0 ? s.std / s.mean : 0;
  s.min = v.front();
  s.max = v.back();
  s.p50 = percentile_sorted(v, 0.50);
  s.p90 = percentile_sorted(v, 0.90);
  s.p99 = percentile_sorted(v, 0.99);
  return s;
}

}  // namespace edgeserve::metrics
