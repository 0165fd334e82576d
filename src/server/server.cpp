// A serving process: listeners, the scheduler and the worker threads.
#include "server/server.h"

#include <fmt/format.h>

#include <thread>

#include "core/log.h"
#include "server/pipeline.h"
#include "transport/listen.h"

namespace edgeserve::server {

struct Server::State {
  const ModelRepository& models;
  ServerOptions options;
  Pipeline pipeline;
  Scheduler scheduler;
  transport::ListenerSet listeners;
  std::atomic<bool> stop_requested{false};

  State(const ModelRepository& m, ServerOptions o)
      : models(m),
        options(std::move(o)),
        pipeline(m, {options.max_payload_bytes}),
        scheduler(options.policy, options.workers, options.max_queue, options.max_queue_per_client),
        listeners(options.listen.size()) {}
};

Server::Server(const ModelRepository& models, ServerOptions options)
    : state_(std::make_unique<State>(models, std::move(options))) {}

Server::~Server() = default;

void Server::stop() {
  state_->stop_requested.store(true);
  // Listeners are only added before the stop flag is read by run(), so this walk is safe.
  state_->listeners.stop();
}

core::Status Server::run() {
  State& s = *state_;
  auto log = core::logger("server");
  transport::ListenOptions listen_options;
  listen_options.tcp.max_payload_bytes = s.options.max_payload_bytes;
  listen_options.tcp.curve = s.options.curve;
  listen_options.tcp.limits = s.options.limits;
  listen_options.tcp.io_threads = std::max(1, s.options.io_threads);
  auto& ucx_options = listen_options.ucx;
  ucx_options.max_payload_bytes = s.options.max_payload_bytes;
  ucx_options.limits = s.options.limits;
  ucx_options.landing_on_device = s.options.landing == engine::LandingKind::kCuda;
  ucx_options.io_threads = static_cast<size_t>(std::max(1, s.options.io_threads));
  const std::string device = s.models.device();
  ucx_options.allocate = [device](size_t bytes, bool on_device) {
    return engine::allocate_landing_memory(on_device ? engine::LandingKind::kCuda : engine::LandingKind::kHost, device,
                                           bytes);
  };
  for (const auto& address : s.options.listen) {
    if (address.starts_with("ucx://") && ucx_options.landing_on_device && device == "cpu")
      return {core::StatusCode::kTransportError,
              "--landing cuda needs models on a GPU (--device cuda:N): requests would land where no engine reads"};
    if (core::Status bound = s.listeners.add(address, listen_options); !bound.ok()) return bound;
  }
  if (s.stop_requested.load()) return {};

  std::vector<std::jthread> workers;
  for (int i = 0; i < std::max(1, s.options.workers); ++i)
    workers.emplace_back([&s, i] {
      Batch batch;
      while (s.scheduler.pop_batch(i, batch)) s.scheduler.batch_ran(batch, s.pipeline.execute_batch(batch));
    });

  if (!s.options.ready_file.empty())
    if (core::Status written = s.listeners.write_ready_file(s.options.ready_file); !written.ok()) {
      s.scheduler.close();  // the workers return and are joined on the way out
      return written;
    }
  const std::vector<std::string> endpoints = s.listeners.endpoints();
  log->info("serving {} on {} with {} worker(s), {} I/O thread(s) per listener, scheduling {}", s.models.names_joined(),
            fmt::join(endpoints, ", "), workers.size(), std::max(1, s.options.io_threads), to_string(s.options.policy));

  auto on_delivery = [&s](std::unique_ptr<transport::Delivery> delivery) {
    Job job;
    if (!s.pipeline.admit(*delivery, job)) return;
    job.owned = std::move(delivery);
    // push() leaves `job` intact when it refuses, so the delivery can still be answered.
    if (const core::Status refused = s.scheduler.push(std::move(job)); !refused.ok()) s.pipeline.reject(job, refused);
  };
  const core::Status ran = s.listeners.run(on_delivery);  // returns once every listener has drained its replies
  s.scheduler.close();
  workers.clear();  // joins
  log->info("stopped: {} request(s) served, {} answered with an error", s.pipeline.served(), s.pipeline.failed());
  return ran;
}

}  // namespace edgeserve::server
