// The Prometheus registry and its text exposition (https://prometheus.io/docs/instrumenting/exposition_formats/).
#include "metrics/prometheus.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace edgeserve::metrics {

namespace {

constexpr double kLatencyBuckets[] = {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3,
                                      50e-3, 100e-3, 250e-3, 500e-3, 1.0,  2.5,    5.0,  10.0};

void append_labels(std::string& out, const Labels& labels, std::string_view le = {}) {
  if (labels.empty() && le.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& l : labels) {
    if (!first) out += ',';
    first = false;
    out += l.name;
    out += "=\"";
    out += escape_label_value(l.value);
    out += '"';
  }
  if (!le.empty()) {
    if (!first) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

void append_sample(std::string& out, std::string_view name, const Labels& labels, std::string_view value,
                   std::string_view le = {}) {
  out += name;
  append_labels(out, labels, le);
  out += ' ';
  out += value;
  out += '\n';
}

const char* type_name(int type) {
  switch (type) {
    case 0:
      return "counter";
    case 1:
      return "gauge";
    default:
      return "histogram";
  }
}

}  // namespace

std::span<const double> latency_buckets_s() { return kLatencyBuckets; }

Histogram::Histogram(std::span<const double> upper_bounds_s)
    : bounds_s_(upper_bounds_s.begin(), upper_bounds_s.end()),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(upper_bounds_s.size() + 1)) {
  if (!std::is_sorted(bounds_s_.begin(), bounds_s_.end()))
    throw std::invalid_argument("histogram bucket bounds must increase");
  for (double b : bounds_s_) bounds_ns_.push_back(static_cast<uint64_t>(std::llround(b * 1e9)));
}

void Histogram::observe_ns(uint64_t ns) noexcept {
  // le is inclusive: an observation equal to a bound counts in that bound's bucket.
  const auto it = std::lower_bound(bounds_ns_.begin(), bounds_ns_.end(), ns);
  buckets_[static_cast<size_t>(it - bounds_ns_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(ns, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.reserve(bounds_ns_.size() + 1);
  for (size_t i = 0; i <= bounds_ns_.size(); ++i) {
    s.count += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(s.count);
  }
  s.sum_s = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

Registry::Series& Registry::add(std::string_view name, std::string_view help, Type type, Labels labels) {
  std::lock_guard lock(mutex_);
  auto family = std::find_if(families_.begin(), families_.end(), [&](const Family& f) { return f.name == name; });
  if (family == families_.end()) {
    families_.push_back({std::string(name), std::string(help), type, {}});
    family = std::prev(families_.end());
  } else if (family->type != type) {
    throw std::invalid_argument(fmt::format("metric {} registered twice with different types", name));
  }
  family->series.push_back({});
  Series& s = family->series.back();
  s.labels = std::move(labels);
  return s;
}

Counter& Registry::counter(std::string_view name, std::string_view help, Labels labels, Shown shown) {
  Series& s = add(name, help, Type::kCounter, std::move(labels));
  s.shown = shown;
  s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, Labels labels) {
  Series& s = add(name, help, Type::kGauge, std::move(labels));
  s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

void Registry::gauge(std::string_view name, std::string_view help, Labels labels, std::function<double()> read) {
  add(name, help, Type::kGauge, std::move(labels)).read = std::move(read);
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, Labels labels,
                               std::span<const double> bounds_s, Shown shown) {
  Series& s = add(name, help, Type::kHistogram, std::move(labels));
  s.shown = shown;
  s.histogram = std::make_unique<Histogram>(bounds_s);
  return *s.histogram;
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const Family& f : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, escape_help(f.help), f.name,
                       type_name(static_cast<int>(f.type)));
    for (const Series& s : f.series) {
      if (s.counter) {
        const uint64_t v = s.counter->value();
        if (v > 0 || s.shown == Shown::kAlways) append_sample(out, f.name, s.labels, fmt::format("{}", v));
      } else if (s.gauge) {
        append_sample(out, f.name, s.labels, fmt::format("{}", s.gauge->value()));
      } else if (s.read) {
        append_sample(out, f.name, s.labels, format_value(s.read()));
      } else if (s.histogram) {
        const Histogram::Snapshot snap = s.histogram->snapshot();
        if (snap.count == 0 && s.shown == Shown::kOnceUsed) continue;
        const auto bounds = s.histogram->upper_bounds_s();
        const std::string bucket = f.name + "_bucket";
        for (size_t i = 0; i < bounds.size(); ++i)
          append_sample(out, bucket, s.labels, fmt::format("{}", snap.cumulative[i]), format_value(bounds[i]));
        append_sample(out, bucket, s.labels, fmt::format("{}", snap.count), "+Inf");
        append_sample(out, f.name + "_sum", s.labels, format_value(snap.sum_s));
        append_sample(out, f.name + "_count", s.labels, fmt::format("{}", snap.count));
      }
    }
  }
  return out;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

}  // namespace edgeserve::metrics
