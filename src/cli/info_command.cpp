// `edgeserve info`: versions, devices, and the models a repository holds.
#include <fmt/format.h>
#include <zmq.h>

#include <thread>

#include "cli/commands.h"
#include "cli/usage.h"
#include "core/build_info.h"
#include "engine/engine.h"
#include "transport/ucx/ucx_info.h"

namespace edgeserve::cli {

namespace {

struct InfoFlags {
  std::string repo = kDefaultRepo;
  std::string device = "cpu";
  bool load = false;
};

std::string zmq_version_text() {
  int major = 0, minor = 0, patch = 0;
  zmq_version(&major, &minor, &patch);
  return fmt::format("{}.{}.{}", major, minor, patch);
}

int run_info(const InfoFlags& f) {
  const std::string& repo = f.repo;
  fmt::print("edgeserve {} (commit {})\n", core::build_version(), core::build_commit());
  fmt::print("  {}\n  ZeroMQ {}\n", engine::torch_version(), zmq_version_text());
  fmt::print("devices:\n  cpu ({} hardware threads)\n", std::thread::hardware_concurrency());
  fmt::print("  cuda: {}; GPU engine {}\n",
             engine::cuda_available() ? "available" : "not available in this libtorch / machine",
             engine::gpu_engine_built() ? "built" : "not built (CPU-only libtorch)");
  fmt::print("transports: local, tcp (ZeroMQ), ucx ({})\n", transport::ucx::describe());
  auto specs = engine::load_manifest(repo);
  if (!specs.ok()) {
    fmt::print("models: {}\n", specs.status().message());
    return kExitOk;
  }
  fmt::print("models in {}:\n", repo);
  for (const auto& s : *specs) {
    std::string outputs;
    for (const auto& o : s.outputs) outputs += (outputs.empty() ? "" : " ") + o.shape.to_string();
    fmt::print("  {:<16} {:<15} input {} {:<16} outputs {}{}\n", s.name, s.task, core::to_string(s.input.dtype),
               s.input.shape.to_string(), outputs.empty() ? "(found at load)" : outputs,
               std::filesystem::exists(s.file) ? "" : "  [file missing: " + s.file.string() + "]");
    if (f.load) {
      auto engine = engine::load_engine(s, {f.device, 1, true});
      if (engine.ok())
        fmt::print("  {:<16} on {}: {}\n", "", (*engine)->device(), (*engine)->execution_mode());
      else
        fmt::print("  {:<16} on {}: cannot load: {}\n", "", f.device, user_text(engine.status()));
    }
  }
  return kExitOk;
}

}  // namespace

Command add_info_command(CLI::App& app) {
  auto f = std::make_shared<InfoFlags>();
  auto* cmd = add_described_subcommand(app, "info", "Versions, devices, and the models of a repository.",
                                       "Examples:\n"
                                       "  edgeserve info --repo models\n"
                                       "  edgeserve info --load --device cuda:0   # also load each model: eager or "
                                       "CUDA graph?");
  cmd->add_option("--repo", f->repo, "Model repository folder")->capture_default_str();
  cmd->add_flag("--load", f->load, "Load every model on --device and say how it runs (eager, cuda-graph, or why not)");
  cmd->add_option("--device", f->device, "Device for --load: cpu or cuda:N")->capture_default_str();
  return [f] { return run_info(*f); };
}

}  // namespace edgeserve::cli
