// `edgeserve bench`: the load generator (closed or open loop); writes requests.csv and summary.json and prints a
// table. Ctrl-C (SIGINT) stops the clients after their requests in flight and writes what was measured (exit 130).
#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>

#include "bench/input_source.h"
#include "bench/load_generator.h"
#include "bench/results.h"
#include "cli/commands.h"
#include "cli/usage.h"
#include "core/log.h"
#include "engine/engine.h"
#include "server/model_repository.h"
#include "server/pipeline.h"
#include "transport/registry.h"
#if EDGESERVE_WITH_ZMQ
#include "transport/tcp/tcp_settings.h"
#endif

namespace edgeserve::cli {

namespace {

std::atomic<bool> g_bench_stop{false};

extern "C" void on_bench_interrupt(int) { g_bench_stop = true; }

struct BenchFlags {
  bench::BenchOptions options;
  std::string input = "raw";
  std::string image;
  std::string image_size = "640x480";
  int jpeg_quality = 90;
  std::string input_shape;
  std::string repo = kDefaultRepo;
  std::string device = "cpu";
  std::string out;
  int timeout_ms = 10000;
  int intra_op_threads = 0;
  bool no_progress = false;
  bool no_cuda_graphs = false;
  bool local_input_on_host = false;
  std::string curve_server_key;
  std::string curve_key;
  std::vector<int> outputs;
  std::string output_dtype;
  std::string postprocess;
  int topk = 5;
};

// --outputs, --output-dtype, --postprocess, --topk → the request's output choice (unset: the model's defaults).
core::Result<core::OutputChoice> output_choice(const BenchFlags& f) {
  core::OutputChoice c;
  for (int i : f.outputs) c.select |= static_cast<uint8_t>(1u << i);
  if (!f.output_dtype.empty()) c.dtype = core::parse_dtype(f.output_dtype);
  if (f.postprocess == "none") c.postprocess = core::Postprocess::kNone;
  if (f.postprocess == "argmax") c.postprocess = core::Postprocess::kArgmax;
  if (f.postprocess == "topk") {
    c.postprocess = core::Postprocess::kTopk;
    c.k = static_cast<uint16_t>(f.topk);
  }
  return c;
}

std::optional<core::TensorShape> parse_shape(const std::string& s) {
  core::TensorShape shape;
  for (const auto& d : split_list(s)) {
    try {
      if (!shape.push_back(std::stoll(d))) return std::nullopt;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (!shape.numel()) return std::nullopt;
  return shape;
}

// The input tensor for --input preprocessed: --input-shape (float32), else the model's entry in the
// repository (its shape and dtype).
core::Result<core::TensorSpec> preprocessed_spec(const BenchFlags& f) {
  if (!f.input_shape.empty()) {
    auto shape = parse_shape(f.input_shape);
    if (!shape) return core::Status(core::StatusCode::kBadShape, "--input-shape must look like 1,3,224,224");
    return core::TensorSpec{"input", core::DType::kFloat32, *shape};
  }
  auto specs = engine::load_manifest(f.repo);
  if (!specs.ok())
    return core::Status(core::StatusCode::kUnknownModel,
                        "--input preprocessed needs the model's input shape: pass --input-shape, or --repo with the "
                        "model's manifest (" +
                            specs.status().message() + ")");
  for (const auto& s : *specs)
    if (s.name == f.options.model) return s.input;
  return core::Status(
      core::StatusCode::kUnknownModel,
      fmt::format("model '{}' is not in {}/manifest.json; pass --input-shape", f.options.model, f.repo));
}

core::Result<bench::Input> make_input(const BenchFlags& f) {
  if (f.input == "preprocessed") {
    auto spec = preprocessed_spec(f);
    if (!spec.ok()) return spec.status();
    return bench::preprocessed_tensor(spec->shape, spec->dtype);
  }
  if (f.input == "jpeg" && !f.image.empty()) return bench::jpeg_input(f.image, f.jpeg_quality);
  if (!f.image.empty()) return bench::load_image(f.image);
  int w = 0, h = 0;
  if (std::sscanf(f.image_size.c_str(), "%dx%d", &w, &h) != 2 || w <= 0 || h <= 0 || w > engine::kMaxRawImageSide ||
      h > engine::kMaxRawImageSide)
    return core::Status(core::StatusCode::kBadShape,
                        fmt::format("--image-size must be WIDTHxHEIGHT, each 1..{}", engine::kMaxRawImageSide));
  if (f.input == "jpeg") return bench::encode_jpeg(bench::synthetic_image(w, h), f.jpeg_quality);
  return bench::synthetic_image(w, h);
}

int run_bench_command(BenchFlags& f) {
  auto log = core::logger("bench");
  // From the start, so that a Ctrl-C while a model loads ends the run as one during the measurements does.
  struct sigaction sa {};
  sa.sa_handler = on_bench_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  f.options.stop = &g_bench_stop;
  const transport::TransportEntry* in_process = transport::find_transport(f.options.target);
  const bool local = in_process != nullptr && in_process->address == transport::AddressForm::kInProcess;
  if (!local) {
    for (const auto& target : split_list(f.options.target))
      if (auto parsed = transport::parse_endpoint(target, transport::EndpointUse::kConnect); !parsed.ok())
        return usage_error("bench",
                           "--target " + parsed.status().message() + ", or local (or a comma list of network targets)");
  }
  if (!f.curve_key.empty()) {
#if EDGESERVE_WITH_ZMQ
    auto curve = transport::tcp::read_curve_client_config(f.curve_server_key, f.curve_key);
    if (!curve.ok()) return usage_error("bench", user_text(curve.status()));
    f.options.transports.set("tcp", std::make_shared<transport::tcp::TcpClientSettings>(std::move(curve.value())));
#else
    return usage_error("bench", "--curve-key needs tcp://, and " + transport::not_built_in("tcp://"));
#endif
  }
  f.options.timeout = std::chrono::milliseconds(f.timeout_ms);
  f.options.output = *output_choice(f);
  f.options.progress = !f.no_progress;
  auto input = make_input(f);
  if (!input.ok()) return usage_error("bench", user_text(input.status()));
  // target local: the server's pipeline, in this process.
  std::optional<server::ModelRepository> models;
  std::unique_ptr<server::Pipeline> pipeline;
  if (local) {
    engine::set_torch_threads(f.intra_op_threads > 0 ? f.intra_op_threads : default_intra_op_threads());
    // One lane per client: local clients run on lane (client id), never sharing one.
    auto loaded =
        server::ModelRepository::load(f.repo, {f.options.model}, {f.device, f.options.clients, !f.no_cuda_graphs});
    if (!loaded.ok()) {
      log->error("{}", user_text(loaded.status()));
      return kExitUsage;
    }
    models.emplace(std::move(loaded.value()));
    pipeline = std::make_unique<server::Pipeline>(*models, server::PipelineOptions{});
  }
  log->info("{} client(s) × {} requests (+{} warm-up each) of '{}' to {}, input {}", f.options.clients,
            f.options.requests, f.options.warmup, f.options.model, f.options.target, input->description);
  // On a GPU, `local` is the paper's lower bound: the input already sits in device memory.
  std::unique_ptr<engine::DeviceBytes> device_input;
  // A JPEG stays on the host: the server decodes it from host memory.
  if (models && f.device != "cpu" && !f.local_input_on_host && input->kind != core::InputKind::kJpeg) {
    auto copied = models->find(f.options.model)->copy_to_device(input->bytes);
    if (!copied.ok()) {
      log->error("{}", user_text(copied.status()));
      return kExitUsage;
    }
    device_input = std::move(copied.value());
    f.options.payload_on_device = true;
  }
  const auto result = bench::run_bench(f.options, *input, pipeline.get(),
                                       device_input ? device_input->bytes() : std::span<const std::byte>());
  if (!result.setup_error.empty()) {
    // Nothing was measured: the server cannot be reached, or refused the warm-up (unknown model, bad input).
    log->error("{}", result.setup_error);
    return result.interrupted ? kExitInterrupted : kExitUsage;
  }
  auto summary =
      bench::summarize(result, f.options, *input,
                       bench::RunContext{command_line(), engine::cuda_runtime_version(), start_environment()});
  summary["config"]["load"] =
      f.options.rate > 0 ? "open loop (Poisson arrivals; total-time from the intended send)" : "closed loop";
  summary["config"]["offered_rate_rps"] = f.options.rate;
  summary["config"]["interrupted"] = result.interrupted;
  if (!f.out.empty()) {
    if (auto s = bench::write_results(f.out, result, summary); !s.ok()) {
      log->error("{}", user_text(s));
      return kExitFailed;
    }
  }
  std::fputs(bench::format_table(summary).c_str(), stdout);
  if (!f.out.empty()) std::printf("results: %s/requests.csv, %s/summary.json\n", f.out.c_str(), f.out.c_str());
  if (result.interrupted) {
    log->warn("interrupted: {} of {} requests measured and written", result.sent,
              static_cast<uint64_t>(f.options.clients) * static_cast<uint64_t>(f.options.requests));
    return kExitInterrupted;
  }
  if (result.ok != result.sent || result.not_sent > 0) {
    for (const auto& r : result.records)
      if (r.status != "ok") {
        log->error("first failed request (client {}, seq {}): {}: {}", r.client, r.seq, r.status, r.error);
        break;
      }
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto f = std::make_shared<BenchFlags>();
  auto* cmd = add_described_subcommand(
      app, "bench", "Load generator: N clients sending M requests each, closed loop or on a Poisson schedule.",
      "Closed loop: each client sends its next request when the last reply came. Open loop (--rate R): R\n"
      "requests/s in all on a Poisson schedule, and total-time counts from each intended send time.\n"
      "Writes OUT/requests.csv (one row per request, every stage, units in the column names) and OUT/summary.json\n"
      "(per metric: count, mean, std, CoV, p50, p90, p99, max; throughput; errors; cpu-usage; memory-usage; and\n"
      "the run's configuration: version, commit, host, GPU, command line, UCX_* and EDGESERVE_* variables).\n"
      "Exits 1 if any request failed or went unanswered, 2 on bad usage or when the server cannot be reached or\n"
      "refuses the warm-up (unknown model), 130 on Ctrl-C (what was measured is written).\n"
      "UCX targets report the landing memory the server uses (host = the paper's rdma, cuda = gdr) and the UCX\n"
      "transports each side really uses (summary.json \"link\"): on one host that is shared memory or TCP, not an\n"
      "RDMA NIC. UCX_TLS / UCX_NET_DEVICES choose transports; EDGESERVE_UCX_SPIN_US (default 100) is how long a\n"
      "waiting client busy-polls before it sleeps.\n"
      "Examples:\n"
      "  edgeserve bench --target local --model tiny --out results/local\n"
      "  edgeserve bench --target tcp://127.0.0.1:5555 --model resnet50 --clients 4 --requests 1000 \\\n"
      "      --input preprocessed --out results/tcp4\n"
      "  edgeserve bench --target ucx://127.0.0.1:6000 --model resnet50 --out results/rdma\n"
      "  edgeserve bench --target tcp://127.0.0.1:5555 --model resnet50 --input jpeg --jpeg-quality 90 --out "
      "results/jpeg");
  cmd->add_option("--target", f->options.target,
                  "tcp://HOST:PORT, ucx://HOST:PORT, ipc://PATH, http://HOST:PORT or grpc://HOST:PORT of a server, or "
                  "local (in-process, from --repo); a comma list of servers spreads the clients over them (client i → "
                  "the (i mod n)-th)")
      ->capture_default_str();
  cmd->add_option("--model", f->options.model, "Model name, as in the server's repository")->capture_default_str();
  cmd->add_option("--clients", f->options.clients, "Concurrent clients (one thread and connection each)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--requests", f->options.requests, "Measured requests per client")
      ->check(CLI::Range(1, 100000000))
      ->capture_default_str();
  cmd->add_option("--rate", f->options.rate,
                  "Open loop: requests/s over all clients, Poisson arrivals (0 = closed loop). A client still waiting "
                  "for a reply sends late, and that lateness counts in total-time")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--warmup", f->options.warmup, "Unrecorded warm-up requests per client")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--input", f->input,
                  "raw (uint8 image, preprocessed by the server), jpeg (the image as a JPEG, decoded then "
                  "preprocessed by the server: --image, or the synthetic frame encoded at --jpeg-quality) or "
                  "preprocessed (model input tensor)")
      ->check(CLI::IsMember({"raw", "jpeg", "preprocessed"}))
      ->capture_default_str();
  cmd->add_option("--image", f->image,
                  "Image file (JPEG/PNG/BMP/...) to send as raw input (decoded here), or with --input jpeg as a JPEG "
                  "(a JPEG file byte for byte, another format encoded at --jpeg-quality)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--jpeg-quality", f->jpeg_quality, "--input jpeg: JPEG quality of encoded frames, 1..100")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--image-size", f->image_size, "Synthetic raw frame WIDTHxHEIGHT when no --image is given")
      ->capture_default_str();
  cmd->add_option("--input-shape", f->input_shape,
                  "Tensor shape for --input preprocessed, e.g. 1,3,224,224 (default: from --repo's manifest)");
  cmd->add_option("--repo", f->repo, "Model repository: loaded for --target local; read for input shapes")
      ->capture_default_str();
  cmd->add_option("--device", f->device, "Device for --target local: cpu or cuda:N")->capture_default_str();
  cmd->add_option("--intra-op-threads", f->intra_op_threads,
                  "For --target local: threads per libtorch operator (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--timeout-ms", f->timeout_ms,
                  "Per-request timeout; a request without a reply by then counts as failed")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-consecutive-failures", f->options.max_consecutive_failures,
                  "A client stops after this many timeouts/transport errors in a row (0 = never): a dead server "
                  "ends the run instead of costing timeout × requests")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  auto* server_key = cmd->add_option("--curve-server-key", f->curve_server_key,
                                     "For a server that requires CURVE: its public key file (*.pub)")
                         ->check(CLI::ExistingFile);
  auto* client_key =
      cmd->add_option("--curve-key", f->curve_key, "With --curve-server-key: this client's key pair file")
          ->check(CLI::ExistingFile);
  server_key->needs(client_key);
  client_key->needs(server_key);
  cmd->add_option("--out", f->out, "Folder for requests.csv and summary.json (created if needed)");
  cmd->add_flag("--no-progress", f->no_progress, "No progress lines on stderr");
  cmd->add_flag("--no-cuda-graphs", f->no_cuda_graphs, "For --target local on GPU: eager forward passes");
  cmd->add_flag("--local-input-on-host", f->local_input_on_host,
                "For --target local on GPU: send the input from host memory (timed H2D copies) instead of placing "
                "it in device memory once (the paper's local: no data movement)");
  cmd->add_option(
         "--priority-clients", f->options.priority_clients,
         "The first K clients flag their requests priority 1 (servers with --policy priority serve them first)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--outputs", f->outputs,
                  "Outputs to get back, by index in the model's order (e.g. 0 for DeepLabV3 without aux); "
                  "default: the manifest's \"reply\" choice, else all")
      ->delimiter(',')
      ->check(CLI::Range(0, static_cast<int>(core::kMaxOutputs) - 1));
  cmd->add_option("--output-dtype", f->output_dtype,
                  "Dtype of floating outputs: float32 or float16 (default: the manifest's, else the model's own)")
      ->check(CLI::IsMember({"float32", "float16"}));
  cmd->add_option("--postprocess", f->postprocess,
                  "On the server, along the class axis: none, argmax (uint8 mask up to 256 classes, else int32) or "
                  "topk (int32 ids, then scores; K from --topk); default: the manifest's, else none")
      ->check(CLI::IsMember({"none", "argmax", "topk"}));
  cmd->add_option("--topk", f->topk, "K for --postprocess topk")
      ->check(CLI::Range(1, static_cast<int>(core::kMaxTopk)))
      ->capture_default_str();
  return [f] { return run_bench_command(*f); };
}

}  // namespace edgeserve::cli
