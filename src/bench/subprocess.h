// A child process of the sweep (an `edgeserve serve`, `gateway` or `bench`, or the MPS control daemon): spawned
// with posix_spawn, output to a log file, stopped with SIGTERM and then SIGKILL after a bound, always reaped.
// Used by one thread (the sweep's); move-only, the destructor stops a child still running.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace edgeserve::bench {

class Subprocess {
 public:
  // Starts argv[0] (a path, or a name looked up in PATH) with the parent's environment plus `env`; stdout and
  // stderr go to `log` (appended), stdin comes from `stdin_file` (empty: /dev/null).
  static core::Result<Subprocess> spawn(const std::vector<std::string>& argv,
                                        const std::map<std::string, std::string>& env, const std::filesystem::path& log,
                                        const std::filesystem::path& stdin_file = {});
  Subprocess() = default;
  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  bool running();
  // Exit code (128 + signal for a killed child), or nullopt while it runs after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  void signal(int sig) const;
  // SIGTERM, then SIGKILL if it has not exited after `grace`; reaps it. Returns the exit code.
  int stop(std::chrono::milliseconds grace);
  const std::filesystem::path& log() const { return log_; }
  // The last `lines` lines of the log, for failure reasons.
  std::string log_tail(size_t lines) const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::filesystem::path log_;
};

// The running binary's own path (/proc/self/exe): the sweep starts its servers and benches from it.
std::string self_executable();

}  // namespace edgeserve::bench
