// Runs the points of experiments: for each point it starts the processes the point needs (K `edgeserve serve`,
// a `gateway` for FRONT/BACK transports, the MPS control daemon), runs `edgeserve bench` into DIR/<point>/, and
// records the outcome in DIR/sweep.json. Processes are kept for the next point when it needs exactly the same
// ones, and stopped (SIGTERM, then SIGKILL after a bound) otherwise. A point whose DIR/<point>/summary.json
// exists was measured before and is skipped; a failed point is recorded with its reason and the sweep goes on;
// on an interrupt the running bench writes what it measured, the processes are stopped and the sweep returns.
#pragma once

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/experiment.h"

namespace edgeserve::bench {

struct SweepOptions {
  std::filesystem::path out;
  std::string repo = "models";
  std::string device;                              // non-empty: replaces every experiment's [run] device
  std::string binary;                              // the edgeserve binary to start (default: this one)
  bool dry_run = false;                            // list the points, start nothing
  const std::atomic<bool>* interrupted = nullptr;  // set by SIGINT/SIGTERM
};

struct SweepOutcome {
  int points = 0, ok = 0, skipped = 0, failed = 0;
  bool interrupted = false;
};

// The experiments' points in order; fails when two points would share a name (and so a results folder).
core::Result<std::vector<Point>> sweep_points(const std::vector<Experiment>& experiments);

SweepOutcome run_sweep(const std::vector<Experiment>& experiments, const SweepOptions& options);

}  // namespace edgeserve::bench
