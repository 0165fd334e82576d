// A serving process: listeners, the scheduler and the worker threads.
#include "server/server.h"

#include <fmt/format.h>

#include <fstream>
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
  std::vector<std::unique_ptr<transport::Listener>> listeners;
  std::atomic<bool> stop_requested{false};
  std::atomic<int> listeners_bound{0};

  State(const ModelRepository& m, ServerOptions o)
      : models(m),
        options(std::move(o)),
        pipeline(m, {options.max_payload_bytes}),
        scheduler(options.policy, options.workers, options.max_queue, options.max_queue_per_client) {}
};

Server::Server(const ModelRepository& models, ServerOptions options)
    : state_(std::make_unique<State>(models, std::move(options))) {}

Server::~Server() = default;

void Server::stop() {
  state_->stop_requested.store(true);
  // Listeners are only added before the stop flag is read by run(), so this walk is safe.
  const int bound = state_->listeners_bound.load();
  for (int i = 0; i < bound; ++i) state_->listeners[static_cast<size_t>(i)]->stop();
}

core::Status Server::run() {
  State& s = *state_;
  auto log = core::logger("server");
  transport::ListenOptions listen_options;
  listen_options.tcp.max_payload_bytes = s.options.max_payload_bytes;
  listen_options.tcp.curve = s.options.curve;
  listen_options.tcp.max_clients = s.options.max_clients;
  listen_options.tcp.io_threads = std::max(1, s.options.io_threads);
  auto& ucx_options = listen_options.ucx;
  ucx_options.max_payload_bytes = s.options.max_payload_bytes;
  ucx_options.max_clients = s.options.max_clients;
  ucx_options.landing_on_device = s.options.landing == engine::LandingKind::kCuda;
  ucx_options.io_threads = static_cast<size_t>(std::max(1, s.options.io_threads));
  const std::string device = s.models.device();
  ucx_options.allocate = [device](size_t bytes, bool on_device) {
    return engine::allocate_landing_memory(on_device ? engine::LandingKind::kCuda : engine::LandingKind::kHost, device,
                                           bytes);
  };
  s.listeners.reserve(s.options.listen.size());
  for (const auto& address : s.options.listen) {
    if (address.starts_with("ucx://") && ucx_options.landing_on_device && device == "cpu")
      return {core::StatusCode::kTransportError,
              "--landing cuda needs models on a GPU (--device cuda:N): requests would land where no engine reads"};
    auto listener = transport::listen(address, listen_options);
    if (!listener.ok()) return listener.status();
    s.listeners.push_back(std::move(listener.value()));
    s.listeners_bound.fetch_add(1);
  }
  if (s.stop_requested.load()) return {};

  std::vector<std::jthread> workers;
  for (int i = 0; i < std::max(1, s.options.workers); ++i)
    workers.emplace_back([&s, i] {
      while (auto scheduled = s.scheduler.pop(i)) s.pipeline.execute(scheduled->job, scheduled->context);
    });

  std::vector<std::string> endpoints;
  for (const auto& l : s.listeners) endpoints.push_back(l->endpoint());
  log->info("serving {} on {} with {} worker(s), {} I/O thread(s) per listener, scheduling {}", s.models.names_joined(),
            fmt::join(endpoints, ", "), workers.size(), std::max(1, s.options.io_threads), to_string(s.options.policy));
  if (!s.options.ready_file.empty()) {
    const auto tmp = s.options.ready_file.string() + ".tmp";
    std::ofstream(tmp) << fmt::format("{}\n", fmt::join(endpoints, "\n"));
    std::filesystem::rename(tmp, s.options.ready_file);
  }

  auto on_delivery = [&s](std::unique_ptr<transport::Delivery> delivery) {
    Job job;
    if (!s.pipeline.admit(*delivery, job)) return;
    job.owned = std::move(delivery);
    // push() leaves `job` intact when it refuses, so the delivery can still be answered.
    if (const core::Status refused = s.scheduler.push(std::move(job)); !refused.ok()) s.pipeline.reject(job, refused);
  };
  {
    std::vector<std::jthread> io;
    for (size_t i = 1; i < s.listeners.size(); ++i) io.emplace_back([&, i] { s.listeners[i]->run(on_delivery); });
    s.listeners[0]->run(on_delivery);
  }  // every listener has drained its replies
  s.scheduler.close();
  workers.clear();  // joins
  log->info("stopped: {} request(s) served, {} answered with an error", s.pipeline.served(), s.pipeline.failed());
  return {};
}

}  // namespace edgeserve::server
