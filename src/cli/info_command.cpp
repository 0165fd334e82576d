// `edgeserve info`: versions, devices, and the models a repository holds.
#include <fmt/format.h>
#include <zmq.h>

#include <thread>

#include "cli/commands.h"
#include "engine/engine.h"

namespace edgeserve::cli {

namespace {

int run_info(const std::string& repo) {
  int major = 0, minor = 0, patch = 0;
  zmq_version(&major, &minor, &patch);
  fmt::print("edgeserve {}\n", EDGESERVE_VERSION);
  fmt::print("  {}\n  ZeroMQ {}.{}.{}\n", engine::torch_version(), major, minor, patch);
  fmt::print("devices:\n  cpu ({} hardware threads)\n", std::thread::hardware_concurrency());
  fmt::print("  cuda: {}\n", engine::cuda_available() ? "available" : "not available in this libtorch / machine");
  fmt::print("transports: local, tcp (ZeroMQ)\n");
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
  }
  return kExitOk;
}

}  // namespace

Command add_info_command(CLI::App& app) {
  auto repo = std::make_shared<std::string>(kDefaultRepo);
  auto* cmd = app.add_subcommand(
      "info", "Versions, devices, and the models of a repository.\nExample:\n  edgeserve info --repo models");
  cmd->add_option("--repo", *repo, "Model repository folder")->capture_default_str();
  return [repo] { return run_info(*repo); };
}

}  // namespace edgeserve::cli
