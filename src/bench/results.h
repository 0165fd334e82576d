// Turning a bench run into files and a table: requests.csv (one row per request, units in the column names),
// summary.json (the run's configuration and machine, per metric statistics, throughput, errors, cpu-usage and
// memory-usage; its schema is in the README) and a readable table for the terminal.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench/input_source.h"
#include "bench/load_generator.h"
#include "core/status.h"
#include "metrics/metric_names.h"

namespace edgeserve::bench {

// The metric names (metrics/metric_names.h), under the name this layer has always used.
inline constexpr auto& kTimeMetrics = metrics::kTimeMetrics;

// The environment variables a result records: they change what a run measures (GLIBC_TUNABLES and LD_PRELOAD
// can change the memory allocator, which decides the cost of large replies).
inline const std::vector<std::string> kRecordedEnvironment = {"UCX_", "EDGESERVE_", "CUDA_", "GLIBC_TUNABLES",
                                                              "LD_PRELOAD"};

// How and where a run was made, beyond BenchOptions: recorded at the top of summary.json.
struct RunContext {
  std::vector<std::string> command_line;  // argv, program included
  std::string cuda_runtime;               // "12.4"; "" without a GPU engine
  // UCX_* and EDGESERVE_* variables as the process got them, before edgeserve set its own UCX defaults;
  // nullopt: read them now.
  std::optional<std::map<std::string, std::string>> environment;
};

// summary.json's description of the run: edgeserve version and commit, UTC date, machine (host, CPU, kernel,
// GPUs and driver, or null), command line, UCX_* and EDGESERVE_* environment variables.
nlohmann::json describe_run(const RunContext& context);

nlohmann::json summarize(const BenchResult& result, const BenchOptions& options, const Input& input,
                         const RunContext& context = {});

core::Status write_results(const std::filesystem::path& dir, const BenchResult& result, const nlohmann::json& summary);

std::string format_table(const nlohmann::json& summary);

}  // namespace edgeserve::bench
