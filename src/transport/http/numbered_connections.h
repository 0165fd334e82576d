// httplib's connection thread pool, numbering the connections it serves.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace edgeserve::transport::http {

// httplib hands its task queue one job per accepted connection (the job serves the connection's keep-alive
// requests and returns when it closes). This queue runs those jobs on httplib's own ThreadPool and gives each open
// connection the smallest number no other open connection holds, so that requests from clients that send no
// edgeserve_client_id (tritonclient, perf_analyzer) are still spread one connection per worker, as tcp:// spreads
// its clients: N connections open at once hold the numbers 0..N-1.
class NumberedConnections final : public httplib::TaskQueue {
 public:
  explicit NumberedConnections(size_t threads) : pool_(threads) {}

  void enqueue(std::function<void()> serve_connection) override;
  void shutdown() override { pool_.shutdown(); }

  // The number of the connection the calling thread is serving (0 outside a connection job).
  static uint32_t current();

 private:
  uint32_t acquire();
  void release(uint32_t number);

  httplib::ThreadPool pool_;
  std::mutex mutex_;
  std::vector<bool> taken_;
};

}  // namespace edgeserve::transport::http
