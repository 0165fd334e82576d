// edgeserve: one binary, subcommands serve / gateway / bench / sweep / report / info / keygen.
#include <algorithm>
#include <thread>

#include "cli/commands.h"
#include "core/log.h"
#include "transport/connection_limits.h"

namespace edgeserve::cli {

int default_intra_op_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }
int default_io_threads() { return static_cast<int>(std::clamp(std::thread::hardware_concurrency() / 4, 1u, 4u)); }

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size() && !s.empty()) {
    const size_t comma = s.find(',', start);
    const std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace edgeserve::cli

int main(int argc, char** argv) {
  using namespace edgeserve::cli;
  CLI::App app{
      "edgeserve " EDGESERVE_VERSION
      " — model serving for edge offloading, with every stage of every request timed.\n\n"
      "  edgeserve serve --repo models --listen tcp://0.0.0.0:5555     serve the models of a repository\n"
      "  edgeserve gateway --listen tcp://0.0.0.0:5556 --backend ucx://gpu1:6000 --backend ucx://gpu2:6000\n"
      "                                                                  forward clients to GPU servers\n"
      "  edgeserve bench --target tcp://127.0.0.1:5555 --model resnet50 --clients 4 --out results/run1\n"
      "  edgeserve bench --target local --model tiny --out results/local   (in-process lower bound)\n"
      "  edgeserve sweep experiments/fig11_12_13_clients.toml --out results/fig11   one paper figure's runs\n"
      "  edgeserve report results/fig11                                  its CSV, Markdown table and PNG plot\n"
      "  edgeserve info                                                  versions, devices, models\n"
      "  edgeserve keygen --out keys/server                              CURVE keys for authenticated links\n\n"
      "Exit codes: 0 success, 1 the run had failed or unanswered requests, 2 bad usage or set-up error.",
      "edgeserve"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.set_version_flag("--version", std::string("edgeserve ") + EDGESERVE_VERSION);

  const Command serve = add_serve_command(app);
  const Command bench = add_bench_command(app);
  const Command info = add_info_command(app);
  const Command keygen = add_keygen_command(app);
  const Command gateway = add_gateway_command(app);
  const Command sweep = add_sweep_command(app);
  const Command report = add_report_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  edgeserve::core::set_log_level(log_level);
  edgeserve::transport::raise_open_file_limit();  // each connection holds a descriptor (serve, gateway, bench)
  if (app.got_subcommand("serve")) return serve();
  if (app.got_subcommand("bench")) return bench();
  if (app.got_subcommand("keygen")) return keygen();
  if (app.got_subcommand("gateway")) return gateway();
  if (app.got_subcommand("sweep")) return sweep();
  if (app.got_subcommand("report")) return report();
  return info();
}
