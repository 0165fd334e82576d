// The serving process's Prometheus metrics (metrics/prometheus.h): requests, failures by status, stage-time
// histograms per model and transport, requests in flight per model, memory. Every label is resolved at start-up
// into slots, so recording a request is a few relaxed atomic adds.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/wire.h"
#include "engine/engine.h"
#include "metrics/prometheus.h"

namespace edgeserve::server {

// The stages of edgeserve_stage_seconds{stage=...}, from a reply's ServerTimings:
//   request    receipt → reply handed to the transport (server_ns)
//   queue      admitted → a worker took it (queue_ns, batching included)
//   copy, preprocess (JPEG decode included), inference: the engine's own times
//   response   the engine finished → reply handed to the transport (the reply's assembly)
enum class Stage : uint8_t { kRequest, kQueue, kCopy, kPreprocess, kInference, kResponse };
inline constexpr size_t kStages = 6;
const char* to_string(Stage stage);

// Where a request came from and what it asked for, as metric slots (ServerMetrics::model_slot/transport_slot).
struct MetricSlots {
  uint16_t model = 0;
  uint16_t transport = 0;
};

class ServerMetrics {
 public:
  // `engines` and their `names`: the served models. `listener_schemes`: each listener's scheme, in listener order
  // ("tcp", "http"). `gpu_memory`: reads the GPU memory in use (empty on CPU). Adds the series to `registry`.
  ServerMetrics(metrics::Registry& registry, const std::vector<const engine::Engine*>& engines,
                const std::vector<std::string>& names, const std::vector<std::string>& listener_schemes,
                std::function<uint64_t()> gpu_memory);

  // The slot of a model (unknown_model() for none: a request for no served model).
  uint16_t model_slot(const engine::Engine* engine) const;
  uint16_t unknown_model() const { return static_cast<uint16_t>(engines_.size()); }
  // The slot of listener `listener` (Delivery::listener()); a request from no listener (the in-process `local`
  // transport) counts as transport "local".
  uint16_t transport_slot(uint32_t listener) const;
  // A transport's edge error names only its peer ("http client"): the listener scheme it starts with, else local.
  uint16_t transport_slot_of_peer(std::string_view peer) const;

  void admitted(MetricSlots slots) { inflight_[slots.model]->add(1); }
  void left(MetricSlots slots) { inflight_[slots.model]->add(-1); }
  // A reply with a result: counts it and its stage times; `response_ns`: the engine's end → reply hand-off.
  void answered(MetricSlots slots, const core::ServerTimings& t, uint64_t response_ns);
  // An error reply.
  void failed(MetricSlots slots, core::StatusCode status);

 private:
  static constexpr size_t kStatusCodes = static_cast<size_t>(core::kLastStatusCode) + 1;
  struct Cell {
    metrics::Counter* requests = nullptr;
    std::array<metrics::Histogram*, kStages> stages{};
    std::array<metrics::Counter*, kStatusCodes> failures{};
  };
  Cell& cell(MetricSlots slots) { return cells_[slots.model * transports_.size() + slots.transport]; }

  std::vector<const engine::Engine*> engines_;
  std::vector<std::string> transports_;       // distinct listener schemes, then "local"
  std::vector<uint16_t> listener_transport_;  // listener index → transport slot
  std::vector<Cell> cells_;                   // (models + unknown) × transports
  std::vector<metrics::Gauge*> inflight_;     // per served model
};

}  // namespace edgeserve::server
