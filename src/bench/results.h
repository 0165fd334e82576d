// Turning a bench run into files and a table: requests.csv (one row per request), summary.json (per metric
// statistics, throughput, errors, server CPU and memory) and a readable table for the terminal.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/input_source.h"
#include "bench/load_generator.h"
#include "core/status.h"

namespace edgeserve::bench {

// Metric names exactly as in the paper's Table I (plus queue-time and the server's own totals), in
// milliseconds; the order is the table's.
inline constexpr const char* kTimeMetrics[] = {
    "total-time",        "request-time", "response-time",   "copy-time",   "preprocessing-time",
    "inference-time",    "queue-time",   "handling-time",   "server-time", "transport-time",
    "request-post-time", "gateway-time", "backend-hop-time"};

nlohmann::json summarize(const BenchResult& result, const BenchOptions& options, const Input& input);

core::Status write_results(const std::filesystem::path& dir, const BenchResult& result, const nlohmann::json& summary);

std::string format_table(const nlohmann::json& summary);

}  // namespace edgeserve::bench
