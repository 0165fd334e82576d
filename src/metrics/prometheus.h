// Prometheus metrics in the text exposition format, version 0.0.4 (Debian 12 has no prometheus-cpp): counters,
// gauges and fixed-bucket histograms. Series are made at start-up; the hot path only adds to relaxed atomics (no
// lock, no allocation); render() reads them on a scrape.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace edgeserve::metrics {

inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

class Counter {
 public:
  void add(uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void add(int64_t n) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  void set(int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Observations in nanoseconds, exposed in seconds. Buckets count their own observations; render() makes them
// cumulative, and _count is their sum, so a scrape during updates is still consistent (+Inf == _count).
class Histogram {
 public:
  explicit Histogram(std::span<const double> upper_bounds_s);
  void observe_ns(uint64_t ns) noexcept;

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf
    uint64_t count = 0;
    double sum_s = 0;
  };
  Snapshot snapshot() const;
  std::span<const double> upper_bounds_s() const { return bounds_s_; }

 private:
  std::vector<double> bounds_s_;
  std::vector<uint64_t> bounds_ns_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds + 1 (+Inf)
  std::atomic<uint64_t> sum_ns_{0};
};

// Request stage times from 50 µs to 10 s.
std::span<const double> latency_buckets_s();

struct Label {
  std::string name;
  std::string value;
};
using Labels = std::vector<Label>;

// When a series appears in a scrape: always (its zero means "none yet"), or once it is non-zero (a series for each
// failure status, or a label that is rarely used, would otherwise fill every scrape with zeros).
enum class Shown { kAlways, kOnceUsed };

// The metrics of one process. Adding a series is for start-up (it takes a lock); the references returned stay
// valid for the registry's life. render() may run on any thread at any time.
class Registry {
 public:
  Counter& counter(std::string_view name, std::string_view help, Labels labels, Shown shown = Shown::kAlways);
  Gauge& gauge(std::string_view name, std::string_view help, Labels labels);
  // A gauge read when scraped (process memory): `read` runs on the scraping thread.
  void gauge(std::string_view name, std::string_view help, Labels labels, std::function<double()> read);
  Histogram& histogram(std::string_view name, std::string_view help, Labels labels, std::span<const double> bounds_s,
                       Shown shown = Shown::kAlways);
  std::string render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    Labels labels;
    Shown shown = Shown::kAlways;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::function<double()> read;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string name, help;
    Type type;
    std::deque<Series> series;
  };
  Series& add(std::string_view name, std::string_view help, Type type, Labels labels);

  mutable std::mutex mutex_;
  std::deque<Family> families_;  // in registration order, which is the order of a scrape
};

// The text format's escaping: label values escape backslash, double quote and newline; help text backslash and
// newline.
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);
// A sample value as the format writes it: integers exactly, others shortest round-trip, "+Inf"/"-Inf"/"NaN".
std::string format_value(double value);

}  // namespace edgeserve::metrics
