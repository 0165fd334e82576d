// The Prometheus text exposition: names, label escaping, cumulative histogram buckets, _sum and _count.
#include "metrics/prometheus.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <thread>
#include <vector>

namespace edgeserve::metrics {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text))
    if (l == line) return true;
  return false;
}

TEST(Prometheus, CounterAndGaugeHaveHelpTypeAndLabels) {
  Registry r;
  Counter& c = r.counter("edgeserve_requests_total", "Requests answered.", {{"model", "tiny"}, {"transport", "tcp"}});
  Gauge& g = r.gauge("edgeserve_inflight_requests", "Requests in the server.", {{"model", "tiny"}});
  r.gauge("process_resident_memory_bytes", "Resident memory.", {}, [] { return 4096.0; });
  c.add();
  c.add(2);
  g.add(3);
  g.add(-1);
  const std::string text = r.render();
  EXPECT_TRUE(has_line(text, "# HELP edgeserve_requests_total Requests answered.")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE edgeserve_requests_total counter")) << text;
  EXPECT_TRUE(has_line(text, R"(edgeserve_requests_total{model="tiny",transport="tcp"} 3)")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE edgeserve_inflight_requests gauge")) << text;
  EXPECT_TRUE(has_line(text, R"(edgeserve_inflight_requests{model="tiny"} 2)")) << text;
  EXPECT_TRUE(has_line(text, "process_resident_memory_bytes 4096")) << text;
  EXPECT_EQ(text.back(), '\n');
}

TEST(Prometheus, SeriesOfOneNameShareOneHeader) {
  Registry r;
  r.counter("x_total", "X.", {{"model", "a"}}).add();
  r.counter("x_total", "X.", {{"model", "b"}});
  const std::string text = r.render();
  EXPECT_EQ(text, "# HELP x_total X.\n# TYPE x_total counter\nx_total{model=\"a\"} 1\nx_total{model=\"b\"} 0\n");
  EXPECT_THROW(r.gauge("x_total", "X.", {}), std::invalid_argument) << "one name, one type";
}

TEST(Prometheus, LabelValuesAndHelpAreEscaped) {
  EXPECT_EQ(escape_label_value(R"(a\b"c)"
                               "\nd"),
            R"(a\\b\"c\nd)");
  EXPECT_EQ(escape_help("a\\b\"c\nd"), "a\\\\b\"c\\nd");
  Registry r;
  r.counter("y_total", "line one\nline two", {{"model", "we\"ird\\name"}});
  const std::string text = r.render();
  EXPECT_TRUE(has_line(text, R"(# HELP y_total line one\nline two)")) << text;
  EXPECT_TRUE(has_line(text, R"(y_total{model="we\"ird\\name"} 0)")) << text;
}

TEST(Prometheus, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry r;
  const double bounds[] = {0.001, 0.01, 0.1};
  Histogram& h = r.histogram("edgeserve_stage_seconds", "Stage time.", {{"stage", "queue"}}, bounds);
  h.observe_ns(500'000);        // 0.5 ms: first bucket
  h.observe_ns(1'000'000);      // exactly 1 ms: le is inclusive, still the first
  h.observe_ns(20'000'000);     // 20 ms: third
  h.observe_ns(3'000'000'000);  // 3 s: +Inf only
  const std::string text = r.render();
  EXPECT_TRUE(has_line(text, "# TYPE edgeserve_stage_seconds histogram")) << text;
  EXPECT_TRUE(has_line(text, R"(edgeserve_stage_seconds_bucket{stage="queue",le="0.001"} 2)")) << text;
  EXPECT_TRUE(has_line(text, R"(edgeserve_stage_seconds_bucket{stage="queue",le="0.01"} 2)")) << text;
  EXPECT_TRUE(has_line(text, R"(edgeserve_stage_seconds_bucket{stage="queue",le="0.1"} 3)")) << text;
  EXPECT_TRUE(has_line(text, R"(edgeserve_stage_seconds_bucket{stage="queue",le="+Inf"} 4)")) << text;
  EXPECT_TRUE(has_line(text, R"(edgeserve_stage_seconds_sum{stage="queue"} 3.0215)")) << text;
  EXPECT_TRUE(has_line(text, R"(edgeserve_stage_seconds_count{stage="queue"} 4)")) << text;
}

TEST(Prometheus, LatencyBucketsSpan50MicrosecondsTo10Seconds) {
  const auto b = latency_buckets_s();
  ASSERT_GE(b.size(), 10u);
  EXPECT_DOUBLE_EQ(b.front(), 50e-6);
  EXPECT_DOUBLE_EQ(b.back(), 10.0);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
  EXPECT_EQ(format_value(b.front()), "5e-05");
}

TEST(Prometheus, SeriesShownOnceUsedStayOutUntilNonZero) {
  Registry r;
  Counter& c = r.counter("f_total", "F.", {{"status", "overloaded"}}, Shown::kOnceUsed);
  Histogram& h = r.histogram("h_seconds", "H.", {{"transport", "local"}}, latency_buckets_s(), Shown::kOnceUsed);
  EXPECT_EQ(r.render().find("f_total{"), std::string::npos);
  EXPECT_EQ(r.render().find("h_seconds_count"), std::string::npos);
  c.add();
  h.observe_ns(1000);
  EXPECT_TRUE(has_line(r.render(), R"(f_total{status="overloaded"} 1)"));
  EXPECT_TRUE(has_line(r.render(), R"(h_seconds_count{transport="local"} 1)"));
}

TEST(Prometheus, ConcurrentObservationsAreAllCounted) {
  Registry r;
  Histogram& h = r.histogram("c_seconds", "C.", {}, latency_buckets_s());
  Counter& c = r.counter("c_total", "C.", {});
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 10000; ++i) {
          h.observe_ns(static_cast<uint64_t>(i) * 1000);
          c.add();
        }
      });
    std::string scraped = r.render();  // a scrape while they run is fine
    EXPECT_FALSE(scraped.empty());
  }
  EXPECT_EQ(h.snapshot().count, 40000u);
  EXPECT_EQ(c.value(), 40000u);
}

TEST(Prometheus, FormatValue) {
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
}

}  // namespace
}  // namespace edgeserve::metrics
