// Triton-style inference statistics.
#include "transport/http/kserve_statistics.h"

#include <chrono>
#include <nlohmann/json.hpp>

namespace edgeserve::transport::http {

using nlohmann::json;

void ModelStatistics::record(const std::string& model, const core::ResponseHeader& reply) {
  const auto& t = reply.timings;
  const auto now_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::lock_guard lock(mutex_);
  Totals& m = by_model_[model];
  if (reply.status != core::StatusCode::kOk) {
    ++m.fail_count;
    m.fail_ns += t.server_ns;
    return;
  }
  ++m.success_count;
  m.success_ns += t.server_ns;
  m.queue_ns += t.queue_ns;
  m.input_ns += t.decode_ns + t.preprocess_ns + t.copy_ns;
  m.infer_ns += t.inference_ns;
  m.output_ns += t.postprocess_ns;
  m.last_inference_ms = now_ms;
}

ModelStatistics::Totals ModelStatistics::totals(const std::string& model) const {
  std::lock_guard lock(mutex_);
  const auto it = by_model_.find(model);
  return it == by_model_.end() ? Totals{} : it->second;
}

std::string ModelStatistics::to_json(const std::vector<std::string>& models) const {
  auto duration = [](uint64_t count, uint64_t ns) { return json{{"count", count}, {"ns", ns}}; };
  json stats = json::array();
  for (const auto& name : models) {
    const Totals m = totals(name);
    stats.push_back({{"name", name},
                     {"version", "1"},
                     {"last_inference", m.last_inference_ms},
                     {"inference_count", m.success_count},
                     {"execution_count", m.success_count},
                     {"inference_stats",
                      {{"success", duration(m.success_count, m.success_ns)},
                       {"fail", duration(m.fail_count, m.fail_ns)},
                       {"queue", duration(m.success_count, m.queue_ns)},
                       {"compute_input", duration(m.success_count, m.input_ns)},
                       {"compute_infer", duration(m.success_count, m.infer_ns)},
                       {"compute_output", duration(m.success_count, m.output_ns)},
                       {"cache_hit", duration(0, 0)},
                       {"cache_miss", duration(0, 0)}}},
                     {"batch_stats", json::array()}});
  }
  return json{{"model_stats", std::move(stats)}}.dump();
}

}  // namespace edgeserve::transport::http
