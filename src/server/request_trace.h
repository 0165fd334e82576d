// `serve --trace FILE`: sampled requests' stage times, written as a Chrome trace-event / Perfetto JSON timeline
// ({"traceEvents": [...]}, opens in ui.perfetto.dev). Each lane is a named track with the engine's stages of the
// requests it ran; each client connection is a track with its requests' whole span, handling and queue.
// Recording is cheap: a worker copies one fixed-size record into its lane's buffer, made at start-up; nothing is
// formatted or written until write(), after the workers have stopped. Bounded: when a lane's buffer is full, its
// later samples are dropped and counted (the first ones are kept; write() says how many were lost).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace edgeserve::server {

struct TraceOptions {
  std::filesystem::path file;    // empty: no trace
  uint64_t sample_every = 1;     // record 1 request in N, per lane
  size_t max_requests = 200000;  // recorded requests kept, over all lanes (112 bytes each)
};

// One sampled request: its clocks (core::now_ns) and the engine's stage times.
struct TracedRequest {
  uint64_t request_id = 0;
  uint64_t sender = 0;  // Delivery::sender(): one track per connection
  uint32_t client_id = 0;
  uint32_t listener = 0;  // Delivery::listener()
  uint16_t model = 0;     // index into the model names
  uint16_t batch_size = 1;
  uint64_t recv_ns = 0, admitted_ns = 0, started_ns = 0, run_end_ns = 0, send_ns = 0;
  uint64_t decode_ns = 0, preprocess_ns = 0, copy_ns = 0, inference_ns = 0, postprocess_ns = 0;
};

class RequestTrace {
 public:
  // `models`: names by model index; `listener_schemes`: by listener index (beyond them: "local").
  RequestTrace(TraceOptions options, int lanes, std::vector<std::string> models,
               std::vector<std::string> listener_schemes);
  RequestTrace(const RequestTrace&) = delete;
  RequestTrace& operator=(const RequestTrace&) = delete;

  // Whether lane `lane`'s current request is one to record (1 in sample_every). Lock-free; any thread.
  bool sample(int lane) noexcept;
  // Keeps a sampled request (or counts it dropped when the lane's buffer is full). Lock-free; any thread.
  void record(int lane, const TracedRequest& request) noexcept;
  // Writes the JSON file (atomically: a temporary, then renamed). Call once nothing records any more.
  core::Status write() const;

  uint64_t recorded() const;
  uint64_t dropped() const;
  const TraceOptions& options() const { return options_; }

 private:
  struct alignas(64) Lane {
    std::atomic<uint64_t> seen{0};
    std::atomic<size_t> used{0};
    std::atomic<uint64_t> dropped{0};
    std::unique_ptr<TracedRequest[]> slots;
  };
  Lane& lane(int i) noexcept { return lanes_[static_cast<size_t>(i) % lane_count_]; }

  TraceOptions options_;
  size_t lane_count_;
  size_t per_lane_;
  std::unique_ptr<Lane[]> lanes_;
  std::vector<std::string> models_, listener_schemes_;
  uint64_t origin_ns_;  // the timeline's zero: when the trace began
};

}  // namespace edgeserve::server
