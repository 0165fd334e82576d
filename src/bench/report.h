// `edgeserve report DIR`: the figures of a sweep folder. For every [[plot]] of the experiment files the sweep
// copied into DIR/experiments/, it gathers the matching points' summary.json into DIR/report/fig<NN>.csv (one
// row per point: its axes, then count-free statistics of every stage metric, CPU, throughput, priority groups),
// a Markdown table fig<NN>.md, and draws fig<NN>.png with tools/plot.py (matplotlib) in the paper's form.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"

namespace edgeserve::bench {

struct ReportOptions {
  std::filesystem::path dir;
  std::string python = "/usr/bin/python3";
  std::string plot_script;  // empty: tools/plot.py here, else in the source tree edgeserve was built from
  double slo_ms = 0;        // > 0: for latency-vs-rate plots, name the highest rate whose p99 stays under it
};

struct ReportOutcome {
  std::vector<std::string> written;  // files, for the user
  std::vector<std::string> notes;    // why a PNG is missing, points without results, SLO verdicts
};

core::Result<ReportOutcome> write_report(const ReportOptions& options);

// The metrics whose statistics every figure CSV carries, and the statistics.
inline constexpr const char* kReportMetrics[] = {
    "total-time",         "request-time",    "response-time", "copy-time",        "decode-time",
    "preprocessing-time", "inference-time",  "queue-time",    "batching-time",    "server-time",
    "transport-time",     "processing-time", "gateway-time",  "backend-hop-time", "batch-size"};
inline constexpr const char* kReportStats[] = {"mean", "std", "p50", "p99", "cov"};

}  // namespace edgeserve::bench
