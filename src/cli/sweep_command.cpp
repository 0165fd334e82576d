// `edgeserve sweep`: run the points of experiment files (one per paper figure), each into DIR/<point>/.
#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <memory>

#include "bench/experiment.h"
#include "bench/sweep_runner.h"
#include "cli/commands.h"
#include "cli/usage.h"
#include "core/log.h"

namespace edgeserve::cli {

namespace {

std::atomic<bool> g_sweep_interrupted{false};

extern "C" void on_sweep_signal(int) { g_sweep_interrupted = true; }

struct SweepFlags {
  std::vector<std::string> files;
  bench::SweepOptions options;
};

int run_sweep_command(SweepFlags& f) {
  auto log = core::logger("sweep");
  std::vector<bench::Experiment> experiments;
  for (const auto& file : f.files) {
    auto e = bench::parse_experiment(file);
    if (!e.ok()) {
      log->error("{}", e.status().message());
      return kExitUsage;
    }
    experiments.push_back(std::move(e.value()));
  }
  if (auto points = bench::sweep_points(experiments); !points.ok()) {
    log->error("{}", points.status().message());
    return kExitUsage;
  }
  struct sigaction sa {};
  sa.sa_handler = on_sweep_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  f.options.interrupted = &g_sweep_interrupted;
  const auto outcome = bench::run_sweep(experiments, f.options);
  fmt::print(stderr, "sweep: {} point(s): {} measured, {} skipped (measured before), {} failed{} | {}/sweep.json\n",
             outcome.points, outcome.ok, outcome.skipped, outcome.failed, outcome.interrupted ? ", interrupted" : "",
             f.options.out.string());
  if (outcome.interrupted) return kExitInterrupted;
  return outcome.failed > 0 ? kExitFailed : kExitOk;
}

}  // namespace

Command add_sweep_command(CLI::App& app) {
  auto f = std::make_shared<SweepFlags>();
  f->options.out = "results/sweep";
  auto* cmd = add_described_subcommand(
      app, "sweep", "Run experiment files (one per paper figure): every point of their grid, resumable.",
      "Experiment files (experiments/figNN_<what>.toml) name the processes, the grid and what to plot. For each point "
      "of the\n"
      "grid, start the servers / gateway it needs (port 0, --ready-file), run `edgeserve bench` into DIR/<point>/\n"
      "(summary.json, requests.csv, logs), stop them (SIGTERM, then SIGKILL). Progress: [k/N] point … ETA mm:ss.\n"
      "A failed point is recorded in DIR/sweep.json with its reason and the sweep goes on. Run it again to resume:\n"
      "points with a summary.json are skipped. Ctrl-C keeps what was measured (summary.interrupted.json) and exits\n"
      "130. Exit 1 if a point failed, 2 for a malformed experiment file (file:line:column and the reason).\n"
      "Examples:\n"
      "  edgeserve sweep experiments/smoke_tiny.toml --out results/smoke && edgeserve report results/smoke\n"
      "  edgeserve sweep experiments/fig05_06_resnet50_transports.toml --out results/fig05 --repo models");
  cmd->add_option("files", f->files, "Experiment files (TOML)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", f->options.out, "Folder for the results: DIR/<point>/, DIR/sweep.json")
      ->capture_default_str();
  cmd->add_option("--repo", f->options.repo, "Model repository the servers and local benches load")
      ->capture_default_str();
  cmd->add_option("--device", f->options.device, "Replace the files' [run] device (cpu or cuda:N)");
  cmd->add_flag("--dry-run", f->options.dry_run, "List the points and start nothing");
  return [f] { return run_sweep_command(*f); };
}

}  // namespace edgeserve::cli
