// The serving process's metric series, made once at start-up.
#include "server/server_metrics.h"

#include <algorithm>

#include "metrics/process_stats.h"

namespace edgeserve::server {

const char* to_string(Stage stage) {
  switch (stage) {
    case Stage::kRequest:
      return "request";
    case Stage::kQueue:
      return "queue";
    case Stage::kCopy:
      return "copy";
    case Stage::kPreprocess:
      return "preprocess";
    case Stage::kInference:
      return "inference";
    case Stage::kResponse:
      return "response";
  }
  return "unknown";
}

namespace {
constexpr const char* kLocal = "local";
}

ServerMetrics::ServerMetrics(metrics::Registry& registry, const std::vector<const engine::Engine*>& engines,
                             const std::vector<std::string>& names, const std::vector<std::string>& listener_schemes,
                             std::function<uint64_t()> gpu_memory)
    : engines_(engines) {
  for (const auto& scheme : listener_schemes) {
    auto it = std::find(transports_.begin(), transports_.end(), scheme);
    if (it == transports_.end()) it = transports_.insert(transports_.end(), scheme);
    listener_transport_.push_back(static_cast<uint16_t>(it - transports_.begin()));
  }
  const size_t local_slot = transports_.size();
  transports_.emplace_back(kLocal);

  // A request for no served model counts under model="" (clients choose names: they are never labels).
  std::vector<std::string> models = names;
  models.emplace_back();
  cells_.resize(models.size() * transports_.size());
  for (size_t m = 0; m < models.size(); ++m) {
    for (size_t t = 0; t < transports_.size(); ++t) {
      // Series of a model or transport no listener serves appear once used.
      const auto shown =
          m + 1 == models.size() || t == local_slot ? metrics::Shown::kOnceUsed : metrics::Shown::kAlways;
      const metrics::Labels labels{{"model", models[m]}, {"transport", transports_[t]}};
      Cell& c = cells_[m * transports_.size() + t];
      c.requests =
          &registry.counter("edgeserve_requests_total", "Requests answered, with a result or an error.", labels, shown);
      for (size_t code = 1; code < kStatusCodes; ++code) {
        metrics::Labels with_status = labels;
        with_status.push_back({"status", core::to_string(static_cast<core::StatusCode>(code))});
        c.failures[code] =
            &registry.counter("edgeserve_request_failures_total", "Requests answered with an error, by status.",
                              std::move(with_status), metrics::Shown::kOnceUsed);
      }
    }
  }
  // Histograms after the counters: each family is one block of the scrape.
  for (size_t m = 0; m + 1 < models.size(); ++m)
    for (size_t t = 0; t < transports_.size(); ++t)
      for (size_t s = 0; s < kStages; ++s)
        cells_[m * transports_.size() + t].stages[s] = &registry.histogram(
            "edgeserve_stage_seconds",
            "Server stage times of requests answered with a result: request (receipt to reply), queue, copy, "
            "preprocess, inference, response (engine done to reply).",
            {{"model", models[m]}, {"transport", transports_[t]}, {"stage", to_string(static_cast<Stage>(s))}},
            metrics::latency_buckets_s(), t == local_slot ? metrics::Shown::kOnceUsed : metrics::Shown::kAlways);
  for (const auto& model : names)  // only admitted requests are in flight: a served model's
    inflight_.push_back(&registry.gauge("edgeserve_inflight_requests",
                                        "Requests admitted and not yet answered (queued or running).",
                                        {{"model", model}}));
  registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", {},
                 [] { return static_cast<double>(metrics::process_rss_bytes()); });
  if (gpu_memory)
    registry.gauge("edgeserve_gpu_memory_used_bytes", "Device memory in use on the models' GPU.", {},
                   [probe = std::move(gpu_memory)] { return static_cast<double>(probe()); });
}

uint16_t ServerMetrics::model_slot(const engine::Engine* engine) const {
  const auto it = std::find(engines_.begin(), engines_.end(), engine);
  return static_cast<uint16_t>(it - engines_.begin());  // unknown_model() when not found
}

uint16_t ServerMetrics::transport_slot(uint32_t listener) const {
  return listener < listener_transport_.size() ? listener_transport_[listener]
                                               : static_cast<uint16_t>(transports_.size() - 1);
}

uint16_t ServerMetrics::transport_slot_of_peer(std::string_view peer) const {
  for (size_t t = 0; t + 1 < transports_.size(); ++t)
    if (peer.starts_with(transports_[t]) && peer.size() > transports_[t].size() && peer[transports_[t].size()] == ' ')
      return static_cast<uint16_t>(t);
  return static_cast<uint16_t>(transports_.size() - 1);
}

void ServerMetrics::answered(MetricSlots slots, const core::ServerTimings& t, uint64_t response_ns) {
  Cell& c = cell(slots);
  c.requests->add();
  if (slots.model >= engines_.size()) return;
  const uint64_t ns[kStages] = {t.server_ns,    t.queue_ns, t.copy_ns, t.decode_ns + t.preprocess_ns,
                                t.inference_ns, response_ns};
  for (size_t s = 0; s < kStages; ++s) c.stages[s]->observe_ns(ns[s]);
}

void ServerMetrics::failed(MetricSlots slots, core::StatusCode status) {
  Cell& c = cell(slots);
  c.requests->add();
  const auto code = static_cast<size_t>(status);
  if (code > 0 && code < kStatusCodes) c.failures[code]->add();
}

}  // namespace edgeserve::server
