// Experiments as data: one TOML file per paper figure (experiments/figNN_<what>.toml) says which processes to
// start, the grid of points to measure, and what the figure plots. parse_experiment() is strict: a malformed
// file or an unknown key is refused with file:line:column and the reason. expand_grid() turns an experiment
// into its points, in a fixed order and with stable names (the sweep resumes by name).
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"

namespace edgeserve::bench {

// A named change to the process layout of a point: the grid's `variant` axis. Fig. 17 uses three (one server
// with a lane per client; one server process per client; the same under MPS); others add flags or environment.
struct Variant {
  std::string name;
  int servers = -1;  // -1: the experiment's; 0: one per client
  int lanes = -1;    // -1: the grid's; 0: one per client
  int mps = -1;      // -1: the experiment's; else 0/1
  std::vector<std::string> server_args, gateway_args, bench_args;
  std::map<std::string, std::string> env;
};

struct Experiment {
  std::filesystem::path file;
  std::string name, description;
  std::vector<std::string> figures;
  // [run]
  int requests = 100, warmup = 10, repetitions = 1, timeout_ms = 10000, priority_clients = 0;
  double point_timeout_s = 1800;
  std::string device = "cpu";
  // [processes]
  int servers = 1;  // K servers (0: one per client); clients are spread over them, or a gateway balances them
  bool mps = false;
  std::vector<int> gpus;    // server i runs on cuda:gpus[i % n] (empty: `device` for all)
  int gateway_workers = 0;  // 0: one per client
  std::vector<std::string> server_args, gateway_args, bench_args;
  std::map<std::string, std::string> env;
  // [grid]
  std::vector<std::string> transports{"tcp"}, models{"tiny"}, inputs{"raw"}, policies{"per-client"};
  std::vector<int> clients{1}, lanes{0};  // lanes 0: one per client (the paper's default)
  std::vector<double> rates{0};           // open-loop requests/s over all clients; 0: closed loop
  std::vector<Variant> variants{Variant{}};
  // [[plot]]: what the figure shows, kept as JSON for the report and tools/plot.py.
  std::vector<nlohmann::json> plots;
};

// One measurement: every axis fixed.
struct Point {
  std::string name;  // unique within a sweep folder; DIR/<name>/ holds its results
  const Experiment* experiment = nullptr;
  std::string transport, model, input, policy, variant;
  int clients = 1, lanes = 1, servers = 1, rep = 0;
  double rate = 0;
  bool mps = false;
  std::vector<std::string> server_args, gateway_args, bench_args;
  std::map<std::string, std::string> env;
  // The axis values as strings, for the report ("transport" → "tcp", "clients" → "4", ...).
  std::map<std::string, std::string> axes() const;
};

// The axes a plot may put on x, series or panels.
inline constexpr const char* kAxes[] = {"transport", "model",   "input", "clients", "lanes",
                                        "policy",    "variant", "rate",  "servers"};

core::Result<Experiment> parse_experiment(const std::filesystem::path& file);
std::vector<Point> expand_grid(const Experiment& experiment);

// "rdma/gdr" → {"rdma", "gdr"}; "tcp" → {"", "tcp"} (no gateway).
std::pair<std::string, std::string> split_transport(const std::string& transport);

}  // namespace edgeserve::bench
