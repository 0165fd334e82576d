// A real child process for integration tests: spawned with posix_spawn, output to a log file, killed and
// reaped when the object goes away. A test that has failed by then gets the tail of the process's log printed,
// so no failure of an integration test comes without what the process said.
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace edgeserve::testing {

// How much slower than native this build runs: EDGESERVE_TEST_TIME_SCALE (the asan and tsan test presets set
// it), 1 by default. Every deadline a test waits for an event is scaled by it; bounds a test asserts on
// (something must happen *within* a time) are not.
inline double time_scale() {
  static const double scale = [] {
    const char* env = std::getenv("EDGESERVE_TEST_TIME_SCALE");
    const double v = env ? std::atof(env) : 1.0;
    return v >= 1.0 ? v : 1.0;
  }();
  return scale;
}
template <class Rep, class Period>
std::chrono::milliseconds scaled(std::chrono::duration<Rep, Period> d) {
  return std::chrono::milliseconds(
      static_cast<int64_t>(std::chrono::duration<double, std::milli>(d).count() * time_scale()));
}

// Polls `condition` every `every` until it holds or `timeout` (scaled) has passed; returns whether it held.
template <class F>
bool wait_until(F&& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds every = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return condition();
    std::this_thread::sleep_for(every);
  }
  return true;
}

class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log) : log_(log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    if (const int e = argv.empty() ? EINVAL : posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
        e != 0 || pid <= 0) {
      // Never started: no pid (so nothing is ever signalled or waited for), and the exit code a shell gives
      // a command it cannot run.
      spawn_error_ = "cannot start " + (argv.empty() ? std::string("(no argv)") : argv[0]) + ": " +
                     std::strerror(e != 0 ? e : ECHILD);
      exit_code_ = 127;
    } else {
      pid_ = pid;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ChildProcess() {
    if (pid_ > 0 && !exit_code_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    if (::testing::Test::HasFailure()) print_log_tail();
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Sends `sig` to this process only. Refused (false) when it never started or has been reaped: kill() with a
  // pid of -1 signals every process the user may signal, 0 the whole process group, and a reaped pid may
  // already name another process.
  bool signal(int sig) const {
    if (pid_ <= 0 || exit_code_) return false;
    return ::kill(pid_, sig) == 0;
  }
  // Exit code (or 128 + signal), or nullopt if still running after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    if (exit_code_ || pid_ <= 0) return exit_code_;  // waitpid(-1) would reap any child of the test
    const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
    while (true) {
      int status = 0;
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exit_code_;
      }
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // What the process wrote (stdout and stderr), or why it never started.
  std::string log() const {
    if (!spawn_error_.empty()) return spawn_error_ + "\n";
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  const std::filesystem::path& log_path() const { return log_; }

  // The last `max_bytes` of the log, for failure messages.
  std::string log_tail(size_t max_bytes = 12000) const {
    const std::string all = log();
    if (all.size() <= max_bytes) return all;
    return "[... " + std::to_string(all.size() - max_bytes) + " bytes before ...]\n" +
           all.substr(all.size() - max_bytes);
  }
  void print_log_tail() const {
    std::cout << "---- log of " << log_.filename().string() << " (pid " << pid_ << ", " << log_.string() << ") ----\n"
              << log_tail() << "---- end of " << log_.filename().string() << " ----" << std::endl;
  }

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
  std::optional<int> exit_code_;
  std::string spawn_error_;
};

// A fresh folder under the system temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "edgeserve-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  // nftw, not std::filesystem::remove_all: PyTorch's pip libtorch exports its own broken copy of
  // remove_all, which crashed these tests on the GPU machine when it interposed libstdc++'s.
  ~TempDir() {
    nftw(
        path_.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
        FTW_DEPTH | FTW_PHYS);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Where the test models were exported (by the ctest fixture) and where the binary is.
inline std::filesystem::path test_models_dir() {
  const char* env = std::getenv("EDGESERVE_TEST_MODELS");
  return env ? env : EDGESERVE_TEST_MODELS_DEFAULT;
}
inline std::string edgeserve_binary() {
  const char* env = std::getenv("EDGESERVE_BINARY");
  return env ? env : EDGESERVE_BINARY_DEFAULT;
}
// The command line of an `edgeserve bench` over the test models: the binary, "bench", --repo, then `args`.
inline std::vector<std::string> bench_argv(const std::vector<std::string>& args) {
  std::vector<std::string> argv{edgeserve_binary(), "bench", "--repo", test_models_dir().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

}  // namespace edgeserve::testing
