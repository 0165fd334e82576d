// A serving process: listeners, the scheduler and the worker threads.
#include "server/server.h"

#include <fmt/format.h>

#include <thread>

#include "core/log.h"
#include "engine/landing_memory.h"
#include "server/pipeline.h"

namespace edgeserve::server {

namespace {

// Each listen address's scheme, in listener order: the transport label of what arrives through it.
std::vector<std::string> listener_schemes(const std::vector<std::string>& listen) {
  std::vector<std::string> schemes;
  for (const auto& address : listen) schemes.push_back(address.substr(0, address.find("://")));
  return schemes;
}

std::vector<const engine::Engine*> engines_of(const ModelRepository& models) {
  std::vector<const engine::Engine*> engines;
  for (const auto& name : models.names()) engines.push_back(models.find(name));
  return engines;
}

}  // namespace

struct Server::State {
  const ModelRepository& models;
  ServerOptions options;
  std::unique_ptr<ServerMetrics> metrics;
  std::unique_ptr<RequestTrace> trace;
  Pipeline pipeline;
  Scheduler scheduler;
  PriorityGate gate;
  transport::FrontDoor front;

  State(const ModelRepository& m, ServerOptions o)
      : models(m),
        options(std::move(o)),
        metrics(options.metrics
                    ? std::make_unique<ServerMetrics>(*options.metrics, engines_of(m), m.names(),
                                                      listener_schemes(options.front.listen), m.gpu_memory_probe())
                    : nullptr),
        trace(options.trace.file.empty() ? nullptr
                                         : std::make_unique<RequestTrace>(options.trace, options.workers, m.names(),
                                                                          listener_schemes(options.front.listen))),
        pipeline(m, {options.front.max_payload_bytes, metrics.get(), trace.get()}),
        scheduler(options.policy, options.workers, options.front.max_queue, options.front.max_queue_per_client),
        gate(options.priority_gate),
        front(options.front) {}
};

Server::Server(const ModelRepository& models, ServerOptions options)
    : state_(std::make_unique<State>(models, std::move(options))) {}

Server::~Server() = default;

void Server::stop() { state_->front.stop(); }

core::Status Server::run() {
  State& s = *state_;
  auto log = core::logger("server");
  // Requests land in memory that suits the engine (pinned host memory next to a GPU, or the GPU's own); a header
  // that does not decode gets the pipeline's own error reply.
  const auto allocate = [device = s.models.device()](size_t bytes, core::MemoryKind kind) {
    return engine::allocate_landing_memory(kind, device, bytes);
  };
  const auto edge_error = [&s](uint64_t id, const core::Status& status, uint64_t recv_ns, std::string_view peer) {
    return s.pipeline.error_reply(id, status, recv_ns, peer);
  };
  if (core::Status opened = s.front.open(allocate, edge_error); !opened.ok()) return opened;
  if (s.front.stop_requested()) return {};

  std::vector<std::jthread> workers;
  for (int i = 0; i < std::max(1, s.options.workers); ++i)
    workers.emplace_back([&s, i] {
      Batch batch;
      while (s.scheduler.pop_batch(i, batch)) {
        // A batch is priority work when any of its jobs is (a priority arrival closes a batch, so it rides along
        // with at most the jobs already waiting).
        const bool priority = Scheduler::has_priority(batch);
        s.gate.enter(priority);  // the time held counts as queue-time: execute_batch() starts the clock after it
        const uint64_t ran_ns = s.pipeline.execute_batch(batch);
        s.gate.leave(priority);
        s.scheduler.batch_ran(batch, ran_ns);
      }
    });

  if (core::Status written = s.front.announce(); !written.ok()) {
    s.scheduler.close();  // the workers return and are joined on the way out
    return written;
  }
  log->info("serving {} on {} with {} worker(s), {} I/O thread(s) per listener, scheduling {}", s.models.names_joined(),
            fmt::join(s.front.endpoints(), ", "), workers.size(), std::max(1, s.options.front.io_threads),
            to_string(s.options.policy));
  if (s.options.priority_gate.enabled)
    log->info("priority gate on: normal requests wait while priority work runs and {} after it, at most {} µs{}",
              s.options.priority_gate.window.count() > 0 ? fmt::format("{} µs", s.options.priority_gate.window.count())
                                                         : std::string("a learned window"),
              s.options.priority_gate.max_hold.count(),
              s.options.priority_gate.normal_limit > 0
                  ? fmt::format("; at most {} normal request(s) at once while a priority client is active",
                                s.options.priority_gate.normal_limit)
                  : std::string());

  auto on_delivery = [&s](std::unique_ptr<transport::Delivery> delivery) {
    Job job;
    if (!s.pipeline.admit(*delivery, job)) return;
    job.owned = std::move(delivery);
    // push() leaves `job` intact when it refuses, so the delivery can still be answered.
    if (const core::Status refused = s.scheduler.push(std::move(job)); !refused.ok()) s.pipeline.reject(job, refused);
  };
  const core::Status ran = s.front.serve(on_delivery);  // returns once every listener has drained its replies
  s.scheduler.close();
  workers.clear();  // joins
  log->info("stopped: {} request(s) served, {} answered with an error", s.pipeline.served(), s.pipeline.failed());
  if (s.trace) {
    // Written here, after the workers stopped: never by a serving thread.
    if (core::Status written = s.trace->write(); !written.ok()) {
      log->error("{}", written.message());
      if (ran.ok()) return written;
    } else {
      log->info("trace: {} request(s) in {}{}", s.trace->recorded(), s.trace->options().file.string(),
                s.trace->dropped() > 0 ? fmt::format(" ({} more sampled but dropped: the buffer was full; see "
                                                     "--trace-max-requests, --trace-sample)",
                                                     s.trace->dropped())
                                       : std::string());
    }
  }
  if (s.options.priority_gate.enabled)
    log->info("priority gate: {} normal request(s) held back, {:.1f} ms in all; window {:.3f} ms",
              s.gate.held_requests(), static_cast<double>(s.gate.held_ns()) / 1e6,
              static_cast<double>(s.gate.window().count()) / 1e6);
  return ran;
}

}  // namespace edgeserve::server
