// Faults with real processes: the server killed mid-run (clients end with errors, never hang), the server
// restarted (clients reconnect), and a bounded soak (every request answered, memory stable).
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <zmq.hpp>

#include "../support/child_process.h"
#include "../support/raw_peer.h"
#include "../support/server_process.h"
#include "../support/status_assert.h"
#include "../support/tcp_flood.h"
#include "../support/tiny_client.h"
#include "core/wire.h"
#include "transport/client_connection.h"

namespace edgeserve {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::ServerProcess;
using testing::TempDir;
using testing::tiny_request;

nlohmann::json read_summary(const std::filesystem::path& dir) {
  std::ifstream in(dir / "summary.json");
  return in ? nlohmann::json::parse(in) : nlohmann::json();
}

TEST(FaultInjection, ServerKilledMidRunEndsTheBenchWithErrorsNotAHang) {
  ServerProcess server;
  ASSERT_FALSE(server.endpoint().empty());
  TempDir dir;
  ChildProcess bench(
      testing::bench_argv({"--target", server.endpoint(), "--model", "tiny", "--clients", "2", "--requests", "100000",
                           "--warmup", "2", "--timeout-ms", "2000", "--max-consecutive-failures", "2", "--no-progress",
                           "--out", (dir.path() / "out").string()}),
      dir.path() / "bench.log");
  // Timeouts are generous: on a loaded machine (8 tests at once on the GPU host) a 300 ms warm-up timed
  // out. After the kill each client gives up after 2 × 2 s.
  std::this_thread::sleep_for(3s);  // let requests flow
  ASSERT_FALSE(bench.wait(0ms)) << "bench ended before its server was killed";
  ASSERT_TRUE(server.process().signal(SIGKILL));
  const auto code = bench.wait(60s);
  ASSERT_TRUE(code) << "bench hung after its server died";
  EXPECT_EQ(*code, 1) << "bench's exit code when requests failed";
  const auto s = read_summary(dir.path() / "out");
  ASSERT_FALSE(s.is_null()) << "bench wrote no summary.json";
  const auto& rq = s["requests"];
  EXPECT_GT(rq["ok"].get<uint64_t>(), 0u) << "requests were answered before the kill";
  EXPECT_EQ(rq["gave_up"].size(), 2u) << "both clients stop on their own";
  EXPECT_GT(rq["not_sent"].get<uint64_t>(), 0u);
  EXPECT_GE(rq["timeouts"].get<uint64_t>() + rq["transport_errors"].get<uint64_t>(), 2u);
  // Exactly one outcome per request sent: nothing lost between the counters.
  EXPECT_EQ(rq["sent"].get<uint64_t>(), rq["ok"].get<uint64_t>() + rq["server_errors"].get<uint64_t>() +
                                            rq["timeouts"].get<uint64_t>() + rq["transport_errors"].get<uint64_t>());
  EXPECT_NE(bench.log().find("gave up"), std::string::npos) << bench.log();
}

// A server killed while a request is in flight is an error at once (the connection went down), not a wait for
// the timeout: a client, or a gateway forwarding to that server, fails over in milliseconds.
TEST(FaultInjection, AServerKilledMidRequestIsAnErrorAtOnceNotATimeout) {
  // On the CPU also on the GPU host: the queued request must still be waiting 50 ms later, when the kill comes.
  ServerProcess server({"--device", "cpu", "--models", testing::kWithMobilenet});
  ASSERT_FALSE(server.endpoint().empty());
  auto conn = testing::connect_or_fail(server.endpoint());
  ASSERT_TRUE(conn);
  transport::Reply reply;
  const auto input = testing::tiny_input(0.5f);
  ASSERT_OK(conn->call(tiny_request(1), input, reply, 20s));
  // Another client fills the queue with MobileNetV3 requests (many client ids: both workers are busy), so the
  // next tiny request waits long enough to be in flight when the server dies.
  zmq::context_t context;
  zmq::socket_t flood(context, zmq::socket_type::dealer);
  flood.set(zmq::sockopt::linger, 0);
  flood.connect(server.endpoint());
  std::vector<std::byte> frame(testing::mobilenet_request(0).payload_bytes);
  for (uint64_t id = 1; id <= 30; ++id) {
    core::RequestHeaderBytes header;
    core::encode(testing::mobilenet_request(id, static_cast<uint32_t>(id)), header);
    flood.send(zmq::buffer(header), zmq::send_flags::sndmore);
    flood.send(zmq::buffer(frame));
  }
  std::this_thread::sleep_for(20ms);  // the flood is in the server's queue before the request
  std::thread killer([&] {
    std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(server.process().signal(SIGKILL));
  });
  const auto t0 = std::chrono::steady_clock::now();
  const auto s = conn->call(tiny_request(2), input, reply, 20s);
  const auto waited = std::chrono::steady_clock::now() - t0;
  killer.join();
  if (s.ok()) GTEST_SKIP() << "the request was answered before the kill (a faster machine): nothing to check";
  EXPECT_EQ(s.code(), core::StatusCode::kTransportError) << s.to_string();
  EXPECT_NE(s.message().find("lost while waiting"), std::string::npos) << s.to_string();
  EXPECT_LT(waited, 5s) << "the client waited for its timeout instead of noticing the lost connection";
}

TEST(FaultInjection, ClientReconnectsWhenTheServerComesBack) {
  std::string endpoint;
  auto first = std::make_unique<ServerProcess>();
  endpoint = first->endpoint();
  ASSERT_FALSE(endpoint.empty());
  auto conn = transport::connect(endpoint);
  ASSERT_OK(conn);
  std::vector<float> input(3 * 32 * 32, 0.5f);
  const auto payload = std::as_bytes(std::span(input));
  transport::Reply reply;
  ASSERT_OK((*conn)->call(tiny_request(1), payload, reply, 20s));
  EXPECT_EQ(reply.header.status, core::StatusCode::kOk) << reply.header.error;

  ASSERT_TRUE(first->process().signal(SIGKILL));
  ASSERT_TRUE(first->process().wait(10s));
  // Down: an error, never a hang. Which one depends on whether the client has seen the connection drop yet
  // (ZeroMQ's monitor: "connection lost", at once) or not (no reply within the call's 300 ms).
  const auto down = (*conn)->call(tiny_request(2), payload, reply, 300ms);
  EXPECT_TRUE(down.code() == core::StatusCode::kTimeout || down.code() == core::StatusCode::kTransportError)
      << down.to_string();

  ServerProcess second({}, endpoint);  // the same port
  ASSERT_EQ(second.endpoint(), endpoint) << second.log();
  uint64_t id = 3;
  core::Status last;
  const bool served = testing::wait_until(
      [&] {
        last = (*conn)->call(tiny_request(id), payload, reply, 500ms);
        return last.ok() && reply.header.status == core::StatusCode::kOk && reply.header.request_id == id++;
      },
      20s, 1ms);
  EXPECT_TRUE(served) << "the client never got through to the restarted server; the last call: " << last.to_string();
}

// On the GPU machine (EDGESERVE_TEST_DEVICE=cuda:0) the server runs on the GPU and its device memory, which
// every reply reports, is held to a bound too.
TEST(FaultInjection, BoundedSoakAnswersEveryRequestWithStableMemory) {
  const bool on_gpu = testing::on_gpu();
  ServerProcess server;  // on test_device()
  ASSERT_FALSE(server.endpoint().empty());
  TempDir dir;
  auto run = [&](const std::string& name, const std::string& requests) {
    ChildProcess bench(
        testing::bench_argv({"--target", server.endpoint(), "--model", "tiny", "--clients", "4", "--requests", requests,
                             "--no-progress", "--out", (dir.path() / name).string()}),
        dir.path() / (name + ".log"));
    EXPECT_EQ(bench.wait(300s), 0) << "bench " << name << " did not end well";
    return read_summary(dir.path() / name);
  };
  const auto warm = run("warm", "200");  // first-touch allocations (and the CUDA caching allocator's) out of the way
  const uint64_t before = testing::resident_bytes(server.process().pid());
  const auto soak = run("soak", "1500");
  const uint64_t after = testing::resident_bytes(server.process().pid());
  ASSERT_FALSE(soak.is_null() || warm.is_null());
  EXPECT_EQ(soak["requests"]["ok"].get<uint64_t>(), 6000u);
  EXPECT_EQ(soak["requests"]["unanswered"].get<uint64_t>(), 0u);
  // null where no GPU memory was measured (a CPU server), never 0.
  const auto gpu_mb = [](const nlohmann::json& s) {
    const auto& v = s["memory-usage"]["gpu_mem_mb_max"];
    return v.is_null() ? 0.0 : v.get<double>();
  };
  const double gpu_warm = gpu_mb(warm), gpu_soak = gpu_mb(soak);
  if (on_gpu) {
    EXPECT_GT(gpu_warm, 0.0) << "a GPU server reports its device memory";
    EXPECT_LE(gpu_soak, gpu_warm + 16.0) << "device memory grew from " << gpu_warm << " to " << gpu_soak << " MB";
  } else {
    EXPECT_TRUE(soak["memory-usage"]["gpu_mem_mb_max"].is_null()) << "a CPU server measures no device memory";
  }
  // 6000 requests of ~12 KB raw frames: a per-request leak of even 4 KB would add 24 MB. Not under ASan (its
  // quarantine keeps freed memory resident by design); everything else above was checked, so the test is not
  // reported as skipped there.
#if defined(__SANITIZE_ADDRESS__)
  std::cout << "note: RSS bound not checked under ASan (" << before << " -> " << after << " bytes)" << std::endl;
#else
  EXPECT_LT(after, before + (16u << 20)) << "server RSS grew from " << before << " to " << after << " bytes";
#endif
}

// A client that floods requests and never reads its replies: the server bounds what it holds for it
// (its share of the queue, then `overloaded` replies; ZeroMQ's send high-water mark, then dropped replies,
// logged) and keeps serving everyone else promptly.
TEST(FaultInjection, ClientThatNeverReadsCostsBoundedMemoryAndOthersAreServed) {
  ServerProcess server;
  ASSERT_FALSE(server.endpoint().empty());
  const uint64_t before = testing::resident_bytes(server.process().pid());
  zmq::context_t ctx;
  zmq::socket_t flood(ctx, zmq::socket_type::dealer);
  flood.set(zmq::sockopt::linger, 0);
  flood.set(zmq::sockopt::rcvhwm, 8);
  flood.set(zmq::sockopt::rcvbuf, 4096);  // a tiny kernel window: replies back up into the server
  flood.set(zmq::sockopt::sndhwm, 0);     // never block this test's sends
  flood.connect(server.endpoint());
  std::vector<float> input(3 * 32 * 32, 0.5f);
  for (uint64_t id = 1; id <= 6000; ++id) {
    auto request = tiny_request(id);
    request.client_id = 7;  // the flooder; the well-behaved client below is client 0
    core::RequestHeaderBytes header;
    core::encode(request, header);
    flood.send(zmq::buffer(header), zmq::send_flags::sndmore);
    flood.send(zmq::buffer(input));
  }
  // Meanwhile another client is served, promptly.
  auto conn = transport::connect(server.endpoint());
  ASSERT_OK(conn);
  transport::Reply reply;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_OK((*conn)->call(tiny_request(99999), std::as_bytes(std::span(input)), reply, 10s));
  EXPECT_EQ(reply.header.status, core::StatusCode::kOk) << reply.header.error;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  std::this_thread::sleep_for(3s);  // let the server work through (or refuse) the flood
  EXPECT_OK((*conn)->call(tiny_request(100000), std::as_bytes(std::span(input)), reply, 10s));
  const uint64_t after = testing::resident_bytes(server.process().pid());
#if !defined(__SANITIZE_ADDRESS__)
  // 6000 requests are 74 MB; the bounds keep well under that.
  EXPECT_LT(after, before + (48u << 20)) << "server RSS grew from " << before << " to " << after << " bytes";
#endif
  (void)after;
}

// The per-client share is the connection's, whatever client ids its requests carry: a flood that changes its
// id with every request is still held to --max-queue-per-client, and every request is answered.
TEST(Limits, AClientCannotEscapeItsShareByChangingItsClientId) {
  ServerProcess server({"--max-queue-per-client", "4"});
  ASSERT_FALSE(server.endpoint().empty());
  const auto got = testing::flood_with_changing_client_ids(server.endpoint(), 200);
  EXPECT_EQ(got.replies, 200u) << "every request of the flood is answered";
  EXPECT_GT(got.refused_per_client, 0u) << "200 pipelined requests, 2 workers, a share of 4: some must wait too many";
  EXPECT_GT(got.ok, 0u);
  auto other = testing::connect_or_fail(server.endpoint());
  ASSERT_TRUE(other);
  transport::Reply reply;
  const auto input = testing::tiny_input(0.5f);
  ASSERT_OK(other->call(tiny_request(1, 1), input, reply, 20s));
  EXPECT_EQ(reply.header.status, core::StatusCode::kOk) << "another connection, even with the flood's ids, is served";
}

TEST(Limits, ClientsBeyondMaxClientsAreAnsweredOverloaded) {
  ServerProcess server({"--max-clients", "2"});
  ASSERT_FALSE(server.endpoint().empty());
  std::vector<float> input(3 * 32 * 32, 0.5f);
  const auto payload = std::as_bytes(std::span(input));
  auto a = transport::connect(server.endpoint()), b = transport::connect(server.endpoint()),
       c = transport::connect(server.endpoint());
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_OK(c);
  transport::Reply reply;
  ASSERT_OK((*a)->call(tiny_request(1), payload, reply, 20s));
  EXPECT_EQ(reply.header.status, core::StatusCode::kOk) << reply.header.error;
  ASSERT_OK((*b)->call(tiny_request(2), payload, reply, 20s));
  EXPECT_EQ(reply.header.status, core::StatusCode::kOk) << reply.header.error;
  ASSERT_OK((*c)->call(tiny_request(3), payload, reply, 20s));
  EXPECT_EQ(reply.header.status, core::StatusCode::kOverloaded) << reply.header.error;
  EXPECT_NE(reply.header.error.find("limit of 2 clients"), std::string::npos) << reply.header.error;
  ASSERT_OK((*a)->call(tiny_request(4), payload, reply, 20s));
  EXPECT_EQ(reply.header.status, core::StatusCode::kOk) << "admitted clients keep being served";
  EXPECT_NE(server.log().find("limit of 2 clients"), std::string::npos) << "the refusal is not logged";
}

}  // namespace
}  // namespace edgeserve
