// Real `edgeserve serve` (and gateway) processes on free loopback ports, for integration tests.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"

namespace edgeserve::testing {

using namespace std::chrono_literals;

constexpr double kMaxPayloadMb = 1.0;

// Runs `edgeserve ARGS --ready-file F` and waits until the process has written its bound endpoints to F
// (it is serving). `what` names it in failure messages.
class EdgeserveProcess {
 public:
  EdgeserveProcess(std::vector<std::string> args, const std::string& what) {
    std::vector<std::string> argv{edgeserve_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--ready-file", (dir_.path() / "ready").string()});
    process_.emplace(argv, dir_.path() / (what + ".log"));
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (!std::filesystem::exists(dir_.path() / "ready")) {
      if (const auto code = process_->wait(0ms); code || std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << what << " did not start (" << (code ? "exit code " + std::to_string(*code) : "timed out")
                      << "):\n"
                      << process_->log();
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

 private:
  TempDir dir_;
  std::optional<ChildProcess> process_;
  std::string endpoint_;
  std::vector<std::string> endpoints_;
};

// A server with the test models (tiny, mobilenetv3) on a free loopback port, once it has loaded them.
class ServerProcess : public EdgeserveProcess {
 public:
  // `listen`: port 0 picks a free port; a fixed endpoint restarts a server where clients expect it.
  explicit ServerProcess(const std::vector<std::string>& extra = {}, const std::string& listen = "tcp://127.0.0.1:0")
      : EdgeserveProcess(arguments(extra, listen), "server") {}

 private:
  static std::vector<std::string> arguments(const std::vector<std::string>& extra, const std::string& listen) {
    std::vector<std::string> args{"serve",
                                  "--repo",
                                  test_models_dir().string(),
                                  "--models",
                                  "tiny,mobilenetv3",
                                  "--listen",
                                  listen,
                                  "--workers",
                                  "2",
                                  "--max-payload-mb",
                                  std::to_string(kMaxPayloadMb)};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
};

}  // namespace edgeserve::testing
