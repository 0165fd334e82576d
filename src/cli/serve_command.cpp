// `edgeserve serve`: load the repository's models and serve them until SIGINT/SIGTERM.
#include <algorithm>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/front_door_flags.h"
#include "cli/run_until_signal.h"
#include "cli/usage.h"
#include "core/allocator_info.h"
#include "core/log.h"
#include "engine/engine.h"
#include "engine/output_choice.h"
#include "metrics/prometheus.h"
#include "server/model_repository.h"
#include "server/server.h"
#include "transport/http/http_settings.h"
#if EDGESERVE_WITH_HTTP
#include "transport/http/metrics_server.h"
#endif
#include "transport/ucx/ucx_settings.h"

namespace edgeserve::cli {

namespace {

struct ServeFlags {
  std::string repo = kDefaultRepo;
  std::string models;
  FrontDoorFlags front;
  int workers = 4;
  int intra_op_threads = 0;
  std::string device = "cpu";
  std::string policy = "per-client";
  bool priority_gate = false;
  int priority_gate_window_us = 0;
  int priority_gate_max_hold_us = 10000;
  int priority_gate_normal_limit = 0;
  bool no_cuda_graphs = false;
  int reply_buffers = 0;
  std::string landing = "host";
  std::optional<int> max_batch_size;
  std::optional<uint64_t> max_queue_delay_us, latency_budget_us;
  std::string jpeg_decoder = "auto";
  std::string metrics;  // HOST:PORT of a /metrics-only HTTP server
  std::string trace;
  uint64_t trace_sample = 1;
  size_t trace_max_requests = server::TraceOptions{}.max_requests;
};

// What http:// and grpc:// listeners tell KServe clients about the models (metadata, config, input and output names).
std::shared_ptr<transport::http::HttpServerSettings> kserve_models(const server::ModelRepository& models,
                                                                   std::function<std::string()> metrics) {
  std::vector<transport::http::ServedModel> served;
  for (const auto& name : models.names()) {
    const engine::ModelSpec& spec = models.find(name)->spec();
    transport::http::ServedModel m{name, "pytorch_libtorch", spec.input, spec.outputs};
    if (auto resolved = engine::resolve_output_choice(spec, {}); resolved.ok())
      m.default_select = resolved->choice.select;
    served.push_back(std::move(m));
  }
  return std::make_shared<transport::http::HttpServerSettings>(std::move(served), std::move(metrics));
}

int run_serve(ServeFlags& f) {
  auto log = core::logger("server");
  // Everything a user typed is checked before the models load (which can take minutes).
  auto front = front_door_options(f.front, *log);
  if (!front.ok()) return usage_error("serve", front.status().message());
  const bool ucx_listener = std::any_of(f.front.listen.begin(), f.front.listen.end(),
                                        [](const std::string& a) { return a.starts_with("ucx://"); });
  if (ucx_listener && f.landing == "cuda" && f.device == "cpu")
    return usage_error(
        "serve", "--landing cuda needs models on a GPU (--device cuda:N): requests would land where no engine reads");
  if (f.jpeg_decoder == "gpu" && f.device == "cpu")
    return usage_error("serve", "--jpeg-decoder gpu needs models on a GPU (--device cuda:N)");
#if !EDGESERVE_WITH_HTTP
  if (!f.metrics.empty()) return usage_error("serve", "--metrics needs a build with cpp-httplib (libcpp-httplib-dev)");
#endif
  const int intra = f.intra_op_threads > 0 ? f.intra_op_threads : default_intra_op_threads();
  engine::set_torch_threads(intra);
  engine::EngineOptions engine_options{f.device, f.workers, !f.no_cuda_graphs, f.reply_buffers};
  engine_options.max_batch_size = f.max_batch_size;
  engine_options.max_queue_delay_us = f.max_queue_delay_us;
  engine_options.latency_budget_us = f.latency_budget_us;
  engine_options.jpeg_decode = f.jpeg_decoder == "cpu"   ? engine::JpegDecode::kCpu
                               : f.jpeg_decoder == "gpu" ? engine::JpegDecode::kGpu
                                                         : engine::JpegDecode::kAuto;
  auto models = server::ModelRepository::load(f.repo, split_list(f.models), engine_options);
  if (!models.ok()) {
    log->error("{}", user_text(models.status()));
    return kExitUsage;
  }
  // Metrics are recorded only when something can scrape them: an http:// listener (GET /metrics) or --metrics.
  const bool http_listener = std::any_of(f.front.listen.begin(), f.front.listen.end(),
                                         [](const std::string& a) { return a.starts_with("http://"); });
  std::unique_ptr<metrics::Registry> registry;
  std::function<std::string()> render;
  if (http_listener || !f.metrics.empty()) {
    registry = std::make_unique<metrics::Registry>();
    render = [r = registry.get()] { return r->render(); };
  }
  server::ServerOptions options;
  options.metrics = registry.get();
  if (!f.trace.empty()) options.trace = {f.trace, f.trace_sample, f.trace_max_requests};
  options.front = std::move(front.value());
  options.front.transports.set("ucx", std::make_shared<transport::ucx::UcxServerSettings>(
                                          f.landing == "cuda" ? core::MemoryKind::kCuda : core::MemoryKind::kHost));
  const auto kserve = kserve_models(*models, render);
  options.front.transports.set("http", kserve);
  options.front.transports.set("grpc", kserve);
  options.workers = f.workers;
  options.policy = *server::parse_policy(f.policy);
  options.priority_gate = {f.priority_gate, std::chrono::microseconds(f.priority_gate_window_us),
                           std::chrono::microseconds(f.priority_gate_max_hold_us), f.priority_gate_normal_limit};
  server::Server server(*models, options);
#if EDGESERVE_WITH_HTTP
  std::unique_ptr<transport::http::MetricsServer> metrics_server;  // stops before the registry goes
  if (!f.metrics.empty()) {
    auto started = transport::http::MetricsServer::start(f.metrics, render);
    if (!started.ok()) {
      log->error("{}", user_text(started.status()));
      return kExitUsage;
    }
    metrics_server = std::move(started.value());
    log->info("metrics at {}", metrics_server->url());
  }
#endif
  if (!f.trace.empty()) log->info("tracing 1 request in {} to {} (written at shutdown)", f.trace_sample, f.trace);
  log->info("{} intra-op thread(s) per operator; memory allocator {}; stop with Ctrl-C or SIGTERM", intra,
            core::allocator_name());
  return run_until_signal(server, *log);
}

}  // namespace

Command add_serve_command(CLI::App& app) {
  auto flags = std::make_shared<ServeFlags>();
  flags->front.listen = {"tcp://0.0.0.0:5555"};
  flags->front.io_threads = default_io_threads();
  auto* cmd = add_described_subcommand(
      app, "serve", "Serve a repository's models over tcp, ucx, ipc, http or grpc until SIGINT/SIGTERM.",
      "UCX chooses its transports itself (RDMA verbs on an RDMA NIC; shared memory, CUDA IPC or TCP on one host;\n"
      "UCX_TLS restricts them); each client's lanes are logged when it connects.\n"
      "Examples:\n"
      "  edgeserve serve --repo models --models resnet50,tiny --listen tcp://0.0.0.0:5555 --workers 4\n"
      "  edgeserve serve --device cuda:0 --workers 1 --policy pool   # one lane shared by all clients\n"
      "  edgeserve serve --device cuda:0 --listen ucx://0.0.0.0:6000 --landing cuda   # the paper's GDR\n"
      "  edgeserve serve --listen tcp://0.0.0.0:5555 --listen http://0.0.0.0:8000   # + KServe v2 (tritonclient)\n"
      "  edgeserve serve --listen http://0.0.0.0:8000 --listen grpc://0.0.0.0:8001   # KServe v2 REST and gRPC\n"
      "  edgeserve serve --metrics 0.0.0.0:9100 --trace trace.json --trace-sample 10   # Prometheus, Perfetto\n"
      "  edgeserve serve --device cuda:0 --workers 2 --policy pool --max-batch-size 32 --max-queue-delay-us 2000");
  cmd->add_option("--repo", flags->repo, "Model repository folder (with manifest.json, from tools/export_models.py)")
      ->capture_default_str();
  cmd->add_option("--models", flags->models,
                  "Comma-separated model names to load (default: every model in the repository)");
  add_front_door_flags(*cmd, flags->front, {"server", "Address to listen on", "a worker", "served"});
  cmd->add_option(
         "--workers", flags->workers,
         "Worker threads, each owning one lane of every model (on GPU: its CUDA streams, buffers and graph); the "
         "paper uses one per client")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option(
         "--intra-op-threads", flags->intra_op_threads,
         "Threads per libtorch operator (0 = all cores; fewer can be far slower: ResNet50 took 13x longer with 1 "
         "thread on Debian's libtorch)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--device", flags->device, "cpu or cuda:N")->capture_default_str();
  cmd->add_option("--policy", flags->policy,
                  "per-client: a client's requests run on worker (client id mod workers), one lane per client "
                  "(the paper's default); pool: one FIFO shared by all workers (limited concurrency); priority: "
                  "pool, but clients sending priority > 0 jump the queue onto high-priority CUDA streams")
      ->check(CLI::IsMember({"per-client", "pool", "priority"}))
      ->capture_default_str();
  CLI::Option* gate =
      cmd->add_flag("--priority-gate", flags->priority_gate,
                    "Hold normal requests back while a priority request runs (or finished less than "
                    "--priority-gate-window-us ago), so a priority client does not wait behind a full GPU; each normal "
                    "request is held at most --priority-gate-max-hold-us. Costs the normal clients throughput");
  cmd->add_option("--priority-gate-window-us", flags->priority_gate_window_us,
                  "How long the GPU stays reserved after a priority request, for the priority client's next one; 0: "
                  "learned, 1.5 x the mean gap between the priority client's requests")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  cmd->add_option("--priority-gate-max-hold-us", flags->priority_gate_max_hold_us,
                  "The longest the gate's window holds one normal request back")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  cmd->add_option("--priority-gate-normal-limit", flags->priority_gate_normal_limit,
                  "With --priority-gate: while a priority client is active (a priority request in the last second), "
                  "at most this many normal requests run at once, so a priority request finds at most that many on "
                  "the GPU; 0: no limit. Lower is faster for the priority client and slower for the others")
      ->check(CLI::Range(0, 4096))
      ->needs(gate)
      ->capture_default_str();
  cmd->add_option("--landing", flags->landing,
                  "ucx:// listeners: where request payloads land. host: host memory, pinned next to a GPU (the "
                  "paper's RDMA; a host-to-device copy follows); cuda: GPU memory registered with UCX (the paper's "
                  "GDR; needs --device cuda:N and a CUDA-aware UCX)")
      ->check(CLI::IsMember({"host", "cuda"}))
      ->capture_default_str();
  cmd->add_option(
         "--max-batch-size", flags->max_batch_size,
         "Dynamic batching, every model (overrides the manifest's \"batching\"): the largest batch, 1..32; "
         "1 turns batching off. A model whose batch dimension is fixed at 1 says so at load and runs unbatched")
      ->check(CLI::Range(1, 32));
  cmd->add_option("--max-queue-delay-us", flags->max_queue_delay_us,
                  "Dynamic batching: how long a batch may wait for more requests after its oldest arrived (a lone "
                  "request at low load never waits)")
      ->check(CLI::Range(0, 10'000'000));
  cmd->add_option("--latency-budget-us", flags->latency_budget_us,
                  "Dynamic batching: close a batch early enough that its oldest request is answered within this "
                  "budget, by the measured run time of a batch of its size (0: no budget)")
      ->check(CLI::Range(0, 100'000'000));
  cmd->add_option("--jpeg-decoder", flags->jpeg_decoder,
                  "Who decodes JPEG input (bench --input jpeg): gpu: nvJPEG on the model's GPU, straight into device "
                  "memory (needs --device cuda:N and a build with nvJPEG); cpu: libjpeg-turbo on the worker thread; "
                  "auto: nvJPEG where the build has it and the model is on a GPU, else libjpeg-turbo. The load "
                  "log names the decoder")
      ->check(CLI::IsMember({"auto", "cpu", "gpu"}))
      ->capture_default_str();
  cmd->add_option("--metrics", flags->metrics,
                  "Serve Prometheus metrics at http://HOST:PORT/metrics (port 0 picks one; logged), for servers "
                  "without an http:// listener (one serves GET /metrics itself). Without either, none are recorded");
  cmd->add_option("--trace", flags->trace,
                  "Write a Chrome/Perfetto JSON timeline of sampled requests to FILE at shutdown (one track per "
                  "lane and per connection, a span per stage; opens in ui.perfetto.dev)");
  cmd->add_option("--trace-sample", flags->trace_sample, "With --trace: record 1 request in N (per lane)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1000000}))
      ->capture_default_str();
  cmd->add_option("--trace-max-requests", flags->trace_max_requests,
                  "With --trace: requests kept, over all lanes (112 bytes each, reserved at start); later "
                  "samples of a full lane are dropped, and the shutdown log says how many")
      ->check(CLI::Range(size_t{1}, size_t{100'000'000}))
      ->capture_default_str();
  cmd->add_flag("--no-cuda-graphs", flags->no_cuda_graphs,
                "GPU: run the forward pass eagerly instead of replaying a captured CUDA graph");
  cmd->add_option("--reply-buffers", flags->reply_buffers,
                  "Reply blocks per model, made at load (pinned on a GPU), each as large as its largest float32 "
                  "answer; 0: 2 x workers + 2, plus the max batch size for a model that batches. When all are out, "
                  "a reply allocates its own memory (logged)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  return [flags] { return run_serve(*flags); };
}

}  // namespace edgeserve::cli
