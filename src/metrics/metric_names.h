// The one list of metric names. The terminal table, summary.json and requests.csv all take their names from
// here, so a metric is called the same everywhere: the paper's Table I names, plus ours.
#pragma once

#include <string>
#include <string_view>

namespace edgeserve::metrics {

// Per-request stage times, in milliseconds, in table order.
inline constexpr const char* kTimeMetrics[] = {
    "total-time",     "request-time",        "response-time", "copy-time",       "decode-time",   "preprocessing-time",
    "inference-time", "postprocessing-time", "queue-time",    "batching-time",   "handling-time", "server-time",
    "transport-time", "request-post-time",   "gateway-time",  "backend-hop-time"};
inline constexpr std::string_view kTimeUnit = "ms";

// preprocessing-time + inference-time; its CoV is the paper's predictability measure (Fig. 15c).
inline constexpr const char* kProcessingTime = "processing-time";

// Server process CPU (user + system). Per run: ms of CPU per request (the growth of the server's CPU clock
// over the measured replies). Per request (requests.csv): the server's cumulative CPU when it replied, since a
// request's own share cannot be told apart from its neighbours' when several run at once.
inline constexpr const char* kCpuUsage = "cpu-usage";
// Server resident memory (RSS), MB; on GPU builds also the GPU memory in use, MB.
inline constexpr const char* kMemoryUsage = "memory-usage";
// The load generator's own process over the measured phase: CPU ms and minor page faults per request.
inline constexpr const char* kClientUsage = "client-usage";

// requests.csv names its columns `<metric>-<unit>`; these are its columns beyond the stage times.
inline constexpr const char* kCsvSentAt = "sent-at-s";                       // since the first measured send
inline constexpr const char* kCsvCpuCumulative = "cpu-usage-cumulative-ms";  // see kCpuUsage
inline constexpr const char* kCsvRss = "memory-usage-mb";
inline constexpr const char* kCsvGpuMemory = "memory-usage-gpu-mb";  // empty where no GPU memory was measured

inline std::string csv_column(std::string_view metric, std::string_view unit) {
  return std::string(metric) + "-" + std::string(unit);
}

// Dynamic batching: how many requests ran in the request's forward pass (1 unbatched). Not a time: requests.csv
// has it as a plain column, summary.json its mean and percentiles.
inline constexpr const char* kBatchSize = "batch-size";

// A percentile from fewer samples than this is flagged: p99 of 20 samples is the second-largest value.
inline constexpr size_t kMinSamplesForP99 = 100;

}  // namespace edgeserve::metrics
