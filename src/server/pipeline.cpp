// The request pipeline: admission checks, stage execution and timing, replies.
#include "server/pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "core/clock.h"
#include "core/log.h"
#include "server/scheduler.h"

namespace edgeserve::server {

using core::Status;
using core::StatusCode;

Pipeline::Pipeline(const ModelRepository& models, PipelineOptions options)
    : models_(models), options_(options), resources_(models.gpu_memory_probe()) {
  for (const auto& name : models.names()) engines_.push_back(models.find(name));
}

core::ServerTimings Pipeline::base_timings(uint64_t recv_ns) const {
  core::ServerTimings t;
  t.recv_clock_ns = recv_ns;
  t.clock_domain = core::clock_domain();
  t.server_cpu_ns = metrics::process_cpu_ns();
  t.server_rss_bytes = resources_.rss_bytes();
  t.gpu_mem_bytes = resources_.gpu_memory_bytes();
  return t;
}

core::ResponseHeader Pipeline::error_reply(uint64_t request_id, const Status& status, uint64_t recv_ns,
                                           std::string_view peer) {
  // The transport refused it before any model was looked up; it names itself only by its peer.
  if (options_.metrics)
    options_.metrics->failed({options_.metrics->unknown_model(), options_.metrics->transport_slot_of_peer(peer)},
                             status.code());
  return make_error_reply(request_id, status, recv_ns, peer);
}

core::ResponseHeader Pipeline::make_error_reply(uint64_t request_id, const Status& status, uint64_t recv_ns,
                                                std::string_view peer) {
  failed_.fetch_add(1, std::memory_order_relaxed);
  if (std::string note; error_log_.allow(status.code(), note))
    core::logger("server")->warn("request {} from {}: {}{}", request_id, peer, status.to_string(), note);
  auto header = core::error_response(request_id, status);
  header.timings = base_timings(recv_ns);
  const uint64_t now = core::now_ns();
  header.timings.server_ns = now - recv_ns;
  header.timings.send_clock_ns = now;
  return header;
}

void Pipeline::reply_error(transport::Delivery& delivery, uint64_t request_id, const Status& status,
                           uint16_t model_slot) {
  if (options_.metrics) options_.metrics->failed(slots_of(model_slot, delivery.listener()), status.code());
  delivery.send_reply(make_error_reply(request_id, status, delivery.recv_ns(), delivery.peer()), nullptr);
}

void Pipeline::fail_job(Job& job, const Status& status) {
  if (options_.metrics) options_.metrics->left(slots_of(job.model_slot, job.listener));
  reply_error(*job.delivery, job.header.request_id, status, job.model_slot);
}

namespace {

// The fields the scheduler and the stages read, without the model name (the engine is already resolved): the
// name stays with the delivery, so admitting a request copies nothing that allocates.
core::RequestHeader job_fields(const core::RequestHeader& r) {
  core::RequestHeader h;
  h.request_id = r.request_id;
  h.client_id = r.client_id;
  h.input_kind = r.input_kind;
  h.dtype = r.dtype;
  h.priority = r.priority;
  h.shape = r.shape;
  h.payload_bytes = r.payload_bytes;
  h.client_send_ns = r.client_send_ns;
  h.output = r.output;
  return h;
}

}  // namespace

bool Pipeline::admit(transport::Delivery& delivery, Job& job) {
  const core::RequestHeader& request = delivery.request();
  const uint64_t id = request.request_id;
  const auto unknown = static_cast<uint16_t>(engines_.size());
  if (Status s = core::check_payload(request, delivery.payload().size(), options_.max_payload_bytes); !s.ok()) {
    reply_error(delivery, id, s, unknown);
    return false;
  }
  engine::Engine* engine = models_.find(request.model);
  if (!engine) {
    reply_error(delivery, id,
                {StatusCode::kUnknownModel,
                 fmt::format("no model '{}' here (serving: {})", request.model, models_.names_joined())},
                unknown);
    return false;
  }
  const auto slot = static_cast<uint16_t>(std::find(engines_.begin(), engines_.end(), engine) - engines_.begin());
  const engine::InferenceInput input{request.input_kind, request.dtype, request.shape, delivery.payload(),
                                     delivery.payload_on_device()};
  if (Status s = engine::check_input(engine->spec(), input); !s.ok()) {
    reply_error(delivery, id, s, slot);
    return false;
  }
  auto outputs = engine::resolve_output_choice(engine->spec(), request.output);
  if (!outputs.ok()) {
    reply_error(delivery, id, outputs.status(), slot);
    return false;
  }
  job.outputs = outputs.value();
  job.delivery = &delivery;
  job.header = job_fields(request);
  job.sender = delivery.sender();
  job.engine = engine;
  job.model_slot = slot;
  job.listener = delivery.listener();
  if (options_.metrics) options_.metrics->admitted(slots_of(slot, job.listener));
  job.admitted_ns = core::now_ns();
  return true;
}

void Pipeline::reject(Job& job, const Status& status) { fail_job(job, status); }

void Pipeline::execute(Job& job, const engine::RunContext& context) {
  transport::Delivery& delivery = *job.delivery;
  const uint64_t started = core::now_ns();
  const engine::InferenceInput input{job.header.input_kind, job.header.dtype, job.header.shape, delivery.payload(),
                                     delivery.payload_on_device()};
  engine::StageDurations stages;
  engine::InferenceOutput out;
  const Status s = job.engine->run(input, job.outputs, out, stages, context);
  if (!s.ok()) {
    fail_job(job, s);
    return;
  }
  // The end of the run only matters to the metrics and the trace; the clock is read only for them.
  const uint64_t ended = options_.metrics || options_.trace ? core::now_ns() : started;
  reply_result(job, out, stages, {context.lane, started, ended, 0, 1});
}

uint64_t Pipeline::execute_batch(Batch& batch) {
  if (batch.jobs.empty()) return 0;
  const uint64_t started = core::now_ns();
  engine::Engine& engine = *batch.jobs.front().engine;
  std::array<engine::BatchItem, engine::kMaxBatchSize> items;  // on the stack: no allocation per batch
  const size_t n = std::min(batch.jobs.size(), items.size());
  for (size_t i = 0; i < n; ++i) {
    Job& job = batch.jobs[i];
    transport::Delivery& delivery = *job.delivery;
    items[i].input = {job.header.input_kind, job.header.dtype, job.header.shape, delivery.payload(),
                      delivery.payload_on_device()};
    items[i].outputs = &job.outputs;
    items[i].out = {};
    items[i].durations = {};
    items[i].status = {};
  }
  engine.run_batch(std::span(items.data(), n), batch.context);
  const uint64_t ran = core::now_ns() - started;
  for (size_t i = 0; i < n; ++i) {
    Job& job = batch.jobs[i];
    if (!items[i].status.ok()) {
      fail_job(job, items[i].status);
      continue;
    }
    const uint64_t waited_from = std::max(batch.taken_ns, job.admitted_ns);
    const uint64_t batching = batch.closed_ns > waited_from ? batch.closed_ns - waited_from : 0;
    reply_result(job, items[i].out, items[i].durations, {batch.context.lane, started, started + ran, batching, n});
  }
  return ran;
}

void Pipeline::reply_result(Job& job, engine::InferenceOutput& out, const engine::StageDurations& stages,
                            const Run& run) {
  transport::Delivery& delivery = *job.delivery;
  core::ResponseHeader header;
  header.request_id = job.header.request_id;
  header.n_outputs = out.n_outputs;
  header.outputs = out.outputs;
  header.payload_bytes = out.payload ? out.payload->bytes().size() : 0;
  header.timings = base_timings(delivery.recv_ns());
  header.timings.handling_ns = job.admitted_ns - delivery.recv_ns();
  header.timings.queue_ns = run.started_ns - job.admitted_ns;  // the batching delay included
  header.timings.batching_ns = run.batching_ns;
  header.timings.batch_size = run.batch_size;
  header.timings.copy_ns = stages.copy_ns;
  header.timings.decode_ns = stages.decode_ns;
  header.timings.preprocess_ns = stages.preprocess_ns;
  header.timings.inference_ns = stages.inference_ns;
  header.timings.postprocess_ns = stages.postprocess_ns;
  const uint64_t now = core::now_ns();
  header.timings.server_ns = now - delivery.recv_ns();
  header.timings.send_clock_ns = now;
  // Recorded before the reply leaves, so a client that has its answer finds it counted.
  if (options_.metrics) {
    const MetricSlots slots = slots_of(job.model_slot, job.listener);
    options_.metrics->answered(slots, header.timings, now > run.ended_ns ? now - run.ended_ns : 0);
    options_.metrics->left(slots);
  }
  if (options_.trace && options_.trace->sample(run.lane))
    options_.trace->record(
        run.lane,
        {job.header.request_id, job.sender, job.header.client_id, job.listener, job.model_slot,
         static_cast<uint16_t>(run.batch_size), delivery.recv_ns(), job.admitted_ns, run.started_ns, run.ended_ns, now,
         stages.decode_ns, stages.preprocess_ns, stages.copy_ns, stages.inference_ns, stages.postprocess_ns});
  delivery.send_reply(header, std::move(out.payload));
  served_.fetch_add(1, std::memory_order_relaxed);
}

void Pipeline::process(transport::Delivery& delivery) {
  Job job;
  if (!admit(delivery, job)) return;
  const auto lane = static_cast<int>(job.header.client_id % static_cast<uint32_t>(job.engine->lanes()));
  execute(job, {lane, false});
}

}  // namespace edgeserve::server
