// `edgeserve report DIR`: per figure of a sweep folder a CSV, a Markdown table and a PNG in the paper's form.
#include <fmt/format.h>

#include <memory>

#include "bench/report.h"
#include "cli/commands.h"
#include "cli/usage.h"
#include "core/log.h"

namespace edgeserve::cli {

Command add_report_command(CLI::App& app) {
  auto o = std::make_shared<bench::ReportOptions>();
  if (const char* python = std::getenv("EDGESERVE_PYTHON")) o->python = python;
  auto* cmd = add_described_subcommand(
      app, "report", "The figures of a folder written by `edgeserve sweep`: CSV, Markdown and PNG per figure.",
      "For every [[plot]] of its experiment files:\n"
      "DIR/report/figNN.csv (one row per point: its axes, mean/std/p50/p99/CoV of every stage metric, server CPU\n"
      "per request, throughput, priority vs normal clients), figNN.md (a table) and figNN.png, drawn by\n"
      "tools/plot.py with matplotlib (stacked stage bars, latency vs clients, CoV, CDFs, as in the paper).\n"
      "Without python3 or matplotlib it still writes the CSV and Markdown files and says why there is no PNG.\n"
      "Example:\n"
      "  edgeserve sweep experiments/smoke_tiny.toml --out results/smoke && edgeserve report results/smoke");
  cmd->add_option("dir", o->dir, "The sweep's --out folder")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--python", o->python, "Python with matplotlib (default: $EDGESERVE_PYTHON or /usr/bin/python3)")
      ->capture_default_str();
  cmd->add_option("--plot-script", o->plot_script, "The plotting script (default: tools/plot.py)");
  cmd->add_option("--slo-ms", o->slo_ms,
                  "For latency vs offered load (x = rate): name the highest rate whose total-time p99 stays under this")
      ->check(CLI::NonNegativeNumber);
  return [o] {
    auto outcome = bench::write_report(*o);
    if (!outcome.ok()) {
      core::logger("report")->error("{}", outcome.status().message());
      return kExitUsage;
    }
    for (const auto& f : outcome->written) fmt::print("wrote {}\n", f);
    for (const auto& n : outcome->notes) fmt::print("note: {}\n", n);
    return kExitOk;
  };
}

}  // namespace edgeserve::cli
