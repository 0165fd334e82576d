// The subcommands of the edgeserve binary. Each adds itself to the app and returns the exit code to use
// when it was the one chosen.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace edgeserve::cli {

// Exit codes scripts can trust.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;         // the run happened but something failed (errors, unanswered requests)
inline constexpr int kExitUsage = 2;          // bad flags or a set-up error (no model repository, port in use)
inline constexpr int kExitInterrupted = 130;  // Ctrl-C: bench and sweep wrote what was measured

using Command = std::function<int()>;

Command add_serve_command(CLI::App& app);
Command add_bench_command(CLI::App& app);
Command add_info_command(CLI::App& app);
Command add_keygen_command(CLI::App& app);
Command add_gateway_command(CLI::App& app);
Command add_sweep_command(CLI::App& app);
Command add_report_command(CLI::App& app);

// Defaults shared by subcommands.
inline const std::string kDefaultRepo = "models";
// Threads each libtorch operator may use, when not set: every core. Dividing the cores among concurrent
// callers looks tidier but is slower: with one thread per operator, Debian's libtorch 1.13 takes a
// convolution path 13x slower for ResNet50 (476 ms vs 37 ms on the 2-core dev machine), while 4 clients
// sharing 2 cores at 2 threads each still got 98 ms p50 (experiments/cpu_baseline.toml).
int default_intra_op_threads();
// I/O threads per listener: a quarter of the cores, 1 to 4.
int default_io_threads();
// The command line this process was started with, and its UCX_* and EDGESERVE_* variables before edgeserve
// set any UCX defaults (both recorded in result files); set once by main, first thing.
void set_command_line(std::vector<std::string> argv);
const std::vector<std::string>& command_line();
const std::map<std::string, std::string>& start_environment();
// "a,b" → {"a","b"}; empty → {}.
std::vector<std::string> split_list(const std::string& s);

}  // namespace edgeserve::cli
