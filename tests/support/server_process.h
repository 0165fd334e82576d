// Real `edgeserve serve` (and gateway) processes on free loopback ports, for integration tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"

namespace edgeserve::testing {

using namespace std::chrono_literals;

constexpr double kMaxPayloadMb = 1.0;

// The device the tests' servers run their models on: EDGESERVE_TEST_DEVICE (scripts/gpu_host_all.sh exports
// cuda:0 for the whole suite on the GPU host), empty for the CPU.
inline std::string test_device() {
  const char* env = std::getenv("EDGESERVE_TEST_DEVICE");
  return env == nullptr || std::string(env) == "cpu" ? std::string() : std::string(env);
}
inline bool on_gpu() { return !test_device().empty(); }

// The reason a GPU-only test gives when it skips.
inline constexpr const char* kNeedsGpu =
    "needs a CUDA device: set EDGESERVE_TEST_DEVICE=cuda:0 (scripts/gpu_host_all.sh does on the GPU host)";

// Runs `edgeserve ARGS --ready-file F` and waits until the process has written its bound endpoints to F
// (it is serving). `what` names it in failure messages.
class EdgeserveProcess {
 public:
  EdgeserveProcess(std::vector<std::string> args, const std::string& what) {
    std::vector<std::string> argv{edgeserve_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--ready-file", (dir_.path() / "ready").string()});
    process_.emplace(argv, dir_.path() / (what + ".log"));
    const auto deadline = std::chrono::steady_clock::now() + scaled(120s);
    while (!std::filesystem::exists(dir_.path() / "ready")) {
      if (const auto code = process_->wait(0ms); code || std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << what << " did not start (" << (code ? "exit code " + std::to_string(*code) : "timed out")
                      << ", " << process_->log_path().string() << "):\n"
                      << process_->log_tail();
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
    std::ifstream ready(dir_.path() / "ready");
    for (std::string line; std::getline(ready, line);)
      if (!line.empty()) endpoints_.push_back(line);
    if (!endpoints_.empty()) endpoint_ = endpoints_.front();
  }
  // The first listen address's endpoint; endpoints() has one per --listen, in order.
  const std::string& endpoint() const { return endpoint_; }
  const std::vector<std::string>& endpoints() const { return endpoints_; }
  ChildProcess& process() { return *process_; }
  std::string log() const { return process_->log(); }
  std::string log_tail() const { return process_->log_tail(); }

 private:
  TempDir dir_;
  std::optional<ChildProcess> process_;
  std::string endpoint_;
  std::vector<std::string> endpoints_;
};

// A server with the tiny test model on a free loopback port, once it has loaded it, with 2 workers, on
// test_device(); `extra` may replace any of these. Tests that need a worker busy for a while add mobilenetv3
// (kWithMobilenet): loading and warming it costs each server start 1.7 s of CPU under TSan.
inline const std::string kWithMobilenet = "tiny,mobilenetv3";

class ServerProcess : public EdgeserveProcess {
 public:
  // `listen`: port 0 picks a free port; a fixed endpoint restarts a server where clients expect it.
  explicit ServerProcess(const std::vector<std::string>& extra = {}, const std::string& listen = "tcp://127.0.0.1:0")
      : EdgeserveProcess(arguments(extra, listen), "server") {}

 private:
  static std::vector<std::string> arguments(const std::vector<std::string>& extra, const std::string& listen) {
    std::vector<std::string> args{"serve", "--repo", test_models_dir().string(), "--listen", listen};
    // Defaults that `extra` may replace (a flag given twice is a usage error).
    const std::pair<std::string, std::string> defaults[] = {{"--models", "tiny"},
                                                            {"--workers", "2"},
                                                            {"--max-payload-mb", std::to_string(kMaxPayloadMb)},
                                                            {"--device", on_gpu() ? test_device() : "cpu"}};
    for (const auto& [flag, value] : defaults)
      if (std::find(extra.begin(), extra.end(), flag) == extra.end()) args.insert(args.end(), {flag, value});
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
};

}  // namespace edgeserve::testing
