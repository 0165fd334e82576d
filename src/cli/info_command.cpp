// `edgeserve info`: versions, devices, and the models a repository holds.
#include <fmt/format.h>
#if EDGESERVE_WITH_ZMQ
#include <zmq.h>
#endif

#include <nlohmann/json.hpp>
#include <thread>

#include "bench/results.h"
#include "cli/commands.h"
#include "cli/usage.h"
#include "core/allocator_info.h"
#include "core/build_info.h"
#include "engine/engine.h"
#include "engine/engine_module.h"
#include "transport/registry.h"
#if EDGESERVE_WITH_UCX
#include "transport/ucx/ucx_info.h"
#endif

namespace edgeserve::cli {

namespace {

struct InfoFlags {
  std::string repo = kDefaultRepo;
  std::string device = "cpu";
  bool load = false;
  bool json = false;
};

// The optional transports' libraries (CMake's EDGESERVE_WITH_ZMQ, EDGESERVE_WITH_UCX).
std::string zmq_version_text() {
#if EDGESERVE_WITH_ZMQ
  int major = 0, minor = 0, patch = 0;
  zmq_version(&major, &minor, &patch);
  return fmt::format("{}.{}.{}", major, minor, patch);
#else
  return "not built in";
#endif
}
std::string ucx_text() {
#if EDGESERVE_WITH_UCX
  return transport::ucx::describe();
#else
  return "not built in";
#endif
}

// The same facts as the text, for machines: one JSON object on stdout.
int run_info_json(const InfoFlags& f) {
  nlohmann::json j = bench::describe_run({command_line(), engine::cuda_runtime_version(), start_environment()});
  j.erase("command_line");
  j["libraries"] = {{"torch", engine::torch_version()}, {"zeromq", zmq_version_text()}, {"ucx", ucx_text()}};
  j["libtorch_origin"] = engine::libtorch_origin();
  j["cuda"] = {{"available", engine::cuda_available()}, {"gpu_engine_built", engine::gpu_engine_built()}};
  j["transports"] = nlohmann::json::array();
  for (const auto& t : transport::transports()) j["transports"].push_back(t.scheme);
  j["repo"] = f.repo;
  auto specs = engine::load_manifest(f.repo);
  if (!specs.ok()) {
    j["models"] = nullptr;
    j["models_error"] = specs.status().message();
  } else {
    j["models"] = nlohmann::json::array();
    for (const auto& s : *specs) {
      nlohmann::json outputs = nlohmann::json::array();
      for (const auto& o : s.outputs) outputs.push_back(o.shape.to_string());
      nlohmann::json m = {{"name", s.name},
                          {"task", s.task},
                          {"input", {{"dtype", core::to_string(s.input.dtype)}, {"shape", s.input.shape.to_string()}}},
                          {"outputs", outputs},
                          {"file", s.file.string()},
                          {"file_exists", std::filesystem::exists(s.file)}};
      if (f.load) {
        auto engine = engine::load_engine(s, {f.device, 1, true});
        m["load"] = engine.ok() ? nlohmann::json{{"device", (*engine)->device()}, {"mode", (*engine)->execution_mode()}}
                                : nlohmann::json{{"device", f.device}, {"error", user_text(engine.status())}};
      }
      j["models"].push_back(std::move(m));
    }
  }
  fmt::print("{}\n", j.dump(2));
  return kExitOk;
}

int run_info(const InfoFlags& f) {
  if (f.json) return run_info_json(f);
  const std::string& repo = f.repo;
  fmt::print("edgeserve {} (commit {})\n", core::build_version(), core::build_commit());
  fmt::print("  {} ({})\n  ZeroMQ {}\n  memory allocator: {}\n", engine::torch_version(), engine::libtorch_origin(),
             zmq_version_text(), core::allocator_name());
  fmt::print("devices:\n  cpu ({} hardware threads)\n", std::thread::hardware_concurrency());
  fmt::print("  cuda: {}; GPU engine {}\n",
             engine::cuda_available() ? "available" : "not available in this libtorch / machine",
             engine::gpu_engine_built() ? "built" : "not built (CPU-only libtorch)");
  std::vector<std::string> transports;
  for (const auto& t : transport::transports()) transports.push_back(fmt::format("{} ({})", t.scheme, t.describe()));
  fmt::print("transports: {}\n", fmt::join(transports, ", "));
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
                                       "  edgeserve info --json   # the same, as one JSON object\n"
                                       "  edgeserve info --load --device cuda:0   # also load each model: eager or "
                                       "CUDA graph?");
  cmd->add_option("--repo", f->repo, "Model repository folder")->capture_default_str();
  cmd->add_flag("--load", f->load, "Load every model on --device and say how it runs (eager, cuda-graph, or why not)");
  cmd->add_option("--device", f->device, "Device for --load: cpu or cuda:N")->capture_default_str();
  cmd->add_flag("--json", f->json, "Print one JSON object (version, commit, machine, libraries, models) for machines");
  return [f] { return run_info(*f); };
}

}  // namespace edgeserve::cli
