// Per-model inference statistics of one KServe listener (http://, grpc://), in Triton's form (GET
// /v2/models[/{m}]/stats, which perf_analyzer and tritonclient's get_inference_statistics read), from the stage times
// every reply carries: success = receipt → reply handed back (server_ns), queue = queue_ns, compute_input = decode +
// preprocess + copy, compute_infer = inference_ns, compute_output = postprocess_ns. Counts are requests answered
// through this listener.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/wire.h"

namespace edgeserve::transport::http {

class ModelStatistics {
 public:
  // Counts one reply for `model` (a model the listener serves: names from clients are never keys). Thread-safe.
  void record(const std::string& model, const core::ResponseHeader& reply);
  // {"model_stats": [...]} for `models`, in that order (zeros for a model with no request yet).
  std::string to_json(const std::vector<std::string>& models) const;

  struct Totals {
    uint64_t success_count = 0, success_ns = 0, fail_count = 0, fail_ns = 0;
    uint64_t queue_ns = 0, input_ns = 0, infer_ns = 0, output_ns = 0;
    uint64_t last_inference_ms = 0;  // wall clock, ms since the epoch
  };
  // `model`'s totals so far (zeros before its first request), for a transport that writes them in its own form.
  Totals totals(const std::string& model) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Totals, std::less<>> by_model_;
};

}  // namespace edgeserve::transport::http
