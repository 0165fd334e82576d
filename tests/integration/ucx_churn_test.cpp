// Client churn over ucx://: 200 clients connect, send, and are killed (SIGKILL, no goodbye), 20 at a time. The
// server must notice every death (peer-failure detection), close each endpoint, and give back what each held:
// its descriptors return to where they started, its memory stays bounded, and it still serves.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "../support/child_process.h"
#include "../support/raw_peer.h"
#include "../support/server_process.h"

namespace edgeserve {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::ServerProcess;
using testing::TempDir;

size_t open_descriptors(pid_t pid) {
  size_t n = 0;
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error))
    ++n;
  return n;
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// Small preprocessed tensors at a modest open-loop rate: the churn is the load here, not the bytes. The bench's
// timeout (its connect's too: the server's welcome) is scaled like the test's own waits: under ASan on two busy
// cores, 20 handshakes at once beside 20 dying peers once took over 10 s.
std::unique_ptr<ChildProcess> start_bench(const ServerProcess& server, const TempDir& dir, const std::string& name,
                                          const std::string& clients, const std::string& requests) {
  return std::make_unique<ChildProcess>(
      testing::bench_argv({"--target", server.endpoint(), "--model", "tiny", "--clients", clients, "--requests",
                           requests, "--warmup", "1", "--input", "preprocessed", "--rate", "200", "--timeout-ms",
                           std::to_string(testing::scaled(std::chrono::seconds(10)).count()), "--no-progress", "--out",
                           (dir.path() / name).string()}),
      dir.path() / (name + ".log"));
}

TEST(UcxChurn, TwoHundredKilledClientsGiveBackTheirDescriptorsAndMemory) {
  // Over tcp lanes (unless UCX_TLS says otherwise): a client killed mid-send over UCX's shared memory can leave a
  // slot of the server's FIFO unfilled, and then no same-host client is heard (see README, "The UCX transport").
  // That is UCX's hazard, seen under load natively and under ASan; this test checks our own resources.
  setenv("UCX_TLS", "tcp", /*overwrite=*/0);
  ServerProcess server({}, "ucx://127.0.0.1:0");
  ASSERT_FALSE(server.endpoint().empty());
  TempDir dir;
  const pid_t pid = server.process().pid();
  // One well-behaved run first: UCX's per-worker resources and the first-touch allocations are made.
  ASSERT_EQ(start_bench(server, dir, "warm", "4", "50")->wait(120s), 0) << "the warm-up bench failed";
  ASSERT_TRUE(testing::wait_until([&] { return occurrences(server.log(), " disconnected (") >= 4; }, 30s))
      << server.log_tail();
  const size_t fds_before = open_descriptors(pid);
  const uint64_t rss_before = testing::resident_bytes(pid);

  constexpr int kRounds = 10, kBenchesPerRound = 2, kClientsPerBench = 10;
  size_t connected = occurrences(server.log(), " connected to I/O worker");
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::unique_ptr<ChildProcess>> benches;
    for (int b = 0; b < kBenchesPerRound; ++b)
      benches.push_back(start_bench(server, dir, "r" + std::to_string(round) + "b" + std::to_string(b),
                                    std::to_string(kClientsPerBench), "1000000"));
    connected += kBenchesPerRound * kClientsPerBench;
    ASSERT_TRUE(
        testing::wait_until([&] { return occurrences(server.log(), " connected to I/O worker") >= connected; }, 60s))
        << "round " << round << ": not every client connected\n"
        << server.log_tail();
    for (auto& bench : benches) ASSERT_TRUE(bench->signal(SIGKILL));
    for (auto& bench : benches) bench->wait(30s);
  }
  // Every endpoint is closed once UCX reports its peer gone; then the descriptors are back.
  const bool closed = testing::wait_until(
      [&] { return occurrences(server.log(), " disconnected (") >= 4 + kRounds * kBenchesPerRound * kClientsPerBench; },
      120s);
  EXPECT_TRUE(closed) << occurrences(server.log(), " disconnected (") - 4 << " of 200 killed clients were noticed\n"
                      << server.log_tail();
  EXPECT_TRUE(testing::wait_until([&] { return open_descriptors(pid) <= fds_before + 4; }, 60s))
      << "descriptors: " << fds_before << " before the churn, " << open_descriptors(pid) << " after";
#if !defined(__SANITIZE_ADDRESS__)  // ASan's quarantine keeps freed memory resident by design
  const uint64_t rss_after = testing::resident_bytes(pid);
  EXPECT_LT(rss_after, rss_before + (48u << 20)) << "server RSS grew from " << rss_before << " to " << rss_after;
#endif
  // And it still serves.
  EXPECT_EQ(start_bench(server, dir, "after", "2", "20")->wait(120s), 0) << "the server no longer serves well";
}

}  // namespace
}  // namespace edgeserve
