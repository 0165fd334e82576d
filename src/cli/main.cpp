// edgeserve: one binary, subcommands serve / gateway / bench / sweep / report / info / keygen.
#include <algorithm>
#include <thread>

#include <cstdio>
#include <cstdlib>

#include "bench/results.h"
#include "cli/commands.h"
#include "cli/usage.h"
#include "core/build_info.h"
#include "core/log.h"
#include "metrics/host_info.h"
#include "transport/connection_limits.h"

namespace edgeserve::cli {

int default_intra_op_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }
int default_io_threads() { return static_cast<int>(std::clamp(std::thread::hardware_concurrency() / 4, 1u, 4u)); }

namespace {
std::vector<std::string> g_command_line;
std::map<std::string, std::string> g_start_environment;
}  // namespace

void set_command_line(std::vector<std::string> argv) {
  g_command_line = std::move(argv);
  g_start_environment = metrics::environment_with_prefixes(bench::kRecordedEnvironment);
}
const std::vector<std::string>& command_line() { return g_command_line; }
const std::map<std::string, std::string>& start_environment() { return g_start_environment; }

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
  const std::vector<std::string> args(argv + 1, argv + argc);
  // Each GPU lane has a normal and a high-priority CUDA stream. With CUDA's default of 8 hardware work queues,
  // 16 lanes' 32 streams share them, and a high-priority stream's kernels wait behind a normal stream's in the
  // same queue (issue 19). 32 is CUDA's maximum; read when CUDA starts, so set before it; a user's value wins.
  setenv("CUDA_DEVICE_MAX_CONNECTIONS", "32", /*overwrite=*/0);
  set_command_line(std::vector<std::string>(argv, argv + argc));
  CLI::App app{"edgeserve " EDGESERVE_VERSION
               " — model serving for edge offloading, with every stage of every request timed.",
               "edgeserve"};
  app.formatter(narrow_formatter());
  app.footer(
      "Exit codes: 0 success, 1 the run had failed or unanswered requests, 2 bad usage or set-up error.\n"
      "Examples (each subcommand's --help has more):\n"
      "  edgeserve serve --repo models --listen tcp://0.0.0.0:5555\n"
      "  edgeserve bench --target tcp://127.0.0.1:5555 --model tiny --out results/run1\n"
      "  edgeserve bench --target local --model tiny --out results/local   # in-process lower bound\n"
      "  edgeserve sweep experiments/fig05_06_resnet50_transports.toml --out results/study   # one paper figure\n"
      "  edgeserve report results/study                                  # its CSV, Markdown table and PNG");
  app.require_subcommand(1);
  app.fallthrough();  // --log-level works after the subcommand too
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.set_version_flag("--version",
                       std::string("edgeserve ") + EDGESERVE_VERSION + " (" + edgeserve::core::build_commit() + ")");

  const Command serve = add_serve_command(app);
  const Command gateway = add_gateway_command(app);
  const Command bench = add_bench_command(app);
  const Command info = add_info_command(app);
  const Command keygen = add_keygen_command(app);
  const Command sweep = add_sweep_command(app);
  const Command report = add_report_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return report_parse_error(app, e, args);
  }
  edgeserve::core::set_log_level(log_level);
  edgeserve::transport::raise_open_file_limit();  // each connection holds a descriptor (serve, gateway, bench)
  // Exceptions stop here, never past main or out of a thread: the user gets a message and exit 1, not abort.
  try {
    if (app.got_subcommand("serve")) return serve();
    if (app.got_subcommand("bench")) return bench();
    if (app.got_subcommand("keygen")) return keygen();
    if (app.got_subcommand("gateway")) return gateway();
    if (app.got_subcommand("sweep")) return sweep();
    if (app.got_subcommand("report")) return report();
    return info();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "edgeserve: error: %s\n", e.what());
    return kExitFailed;
  }
}
