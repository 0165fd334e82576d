// The request pipeline every transport feeds: admit (validate what the transport decoded) → [queue] → preprocess →
// inference → respond, with each stage timed into the reply's ServerTimings.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/log_limiter.h"
#include "core/wire.h"
#include "engine/engine.h"
#include "metrics/process_stats.h"
#include "server/model_repository.h"
#include "server/request_trace.h"
#include "server/server_metrics.h"
#include "transport/delivery.h"

namespace edgeserve::server {

struct Batch;

// A request that passed admission, waiting for (or holding) a worker.
struct Job {
  std::unique_ptr<transport::Delivery> owned;  // set when the job was queued; null when run inline
  transport::Delivery* delivery = nullptr;
  core::RequestHeader header;  // the request's fields but its model name (the delivery keeps that)
  uint64_t sender = 0;         // Delivery::sender(): per-client limits are keyed on it
  engine::Engine* engine = nullptr;
  uint64_t admitted_ns = 0;
  engine::ResolvedOutputs outputs;  // what the reply carries: the request's choice, the model's defaults filled in
  uint16_t model_slot = 0;          // the model's index in ModelRepository::names() (metrics and trace labels)
  uint32_t listener = transport::Delivery::kNoListener;
};

struct PipelineOptions {
  uint64_t max_payload_bytes = 64ull << 20;
  // Both optional (null: not recorded), made with the models in ModelRepository::names() order; they outlive it.
  ServerMetrics* metrics = nullptr;
  RequestTrace* trace = nullptr;
};

class Pipeline final : public transport::RequestHandler {
 public:
  Pipeline(const ModelRepository& models, PipelineOptions options);

  // Checks the request its transport decoded (payload size, model, input shape and dtype, output choice). On
  // failure it replies with the error, logs it, and returns false.
  bool admit(transport::Delivery& delivery, Job& job);
  // Runs the stages on the given lane and replies (a result or an error). Safe from several threads at
  // once, each on its own lane.
  void execute(Job& job, const engine::RunContext& context);
  // Runs a batch (jobs of one model, see Scheduler) as one forward pass and replies to each job: its own stage
  // times, or its own error (a bad job fails alone). Returns how long the engine took (for the latency budget).
  uint64_t execute_batch(Batch& batch);
  // Replies with `status` to a request that will not be executed (overload, shutdown).
  void reject(Job& job, const core::Status& status);
  // admit + execute on the calling thread: the `local` transport. Runs on lane (client id mod lanes), so
  // concurrent local clients with distinct ids below the engine's lane count never share a lane.
  void process(transport::Delivery& delivery) override;

  // The server's error reply (logged rate-limited, counted in failed()), for requests answered without a
  // delivery: a header its transport could not decode (transport::EdgeErrorReply).
  core::ResponseHeader error_reply(uint64_t request_id, const core::Status& status, uint64_t recv_ns,
                                   std::string_view peer);

  uint64_t served() const { return served_.load(); }
  uint64_t failed() const { return failed_.load(); }

 private:
  core::ServerTimings base_timings(uint64_t recv_ns) const;
  // Where the job runs and how it finished, for reply_result's metrics and trace.
  struct Run {
    int lane = 0;
    uint64_t started_ns = 0, ended_ns = 0;  // the engine's run (a batch's: shared by its jobs)
    uint64_t batching_ns = 0;
    size_t batch_size = 1;
  };
  // Sends `out` (its payload handed to the transport) with the job's stage times.
  void reply_result(Job& job, engine::InferenceOutput& out, const engine::StageDurations& stages, const Run& run);
  // An error reply to an admitted job (it leaves the in-flight count).
  void fail_job(Job& job, const core::Status& status);
  // `model_slot`: the request's model, or none (ServerMetrics::unknown_model()).
  void reply_error(transport::Delivery& delivery, uint64_t request_id, const core::Status& status, uint16_t model_slot);
  core::ResponseHeader make_error_reply(uint64_t request_id, const core::Status& status, uint64_t recv_ns,
                                        std::string_view peer);
  MetricSlots slots_of(uint16_t model_slot, uint32_t listener) const {
    return {model_slot, options_.metrics->transport_slot(listener)};
  }

  const ModelRepository& models_;
  PipelineOptions options_;
  std::vector<const engine::Engine*> engines_;  // by model slot
  metrics::ResourceSampler resources_;
  std::atomic<uint64_t> served_{0}, failed_{0};
  core::LogLimiterByStatus error_log_;  // clients choose how many errors they cause; the log stays bounded
};

}  // namespace edgeserve::server
