// The gateway between real processes: clients → `edgeserve gateway` → `edgeserve serve` backends, over tcp
// and ucx on either side. Replies equal the direct path's; the gateway adds its own times; load is spread;
// a backend killed mid-run costs error replies, never lost requests, and is taken back when it returns.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "../support/child_process.h"
#include "../support/server_process.h"
#include "../support/tcp_flood.h"
#include "../support/tiny_client.h"
#include "core/wire.h"
#include "transport/client_connection.h"

namespace edgeserve {
namespace {

using namespace std::chrono_literals;
using core::StatusCode;
using testing::ChildProcess;
using testing::connect_or_fail;
using testing::kTinyInputBytes;
using testing::ServerProcess;
using testing::TempDir;
using testing::tiny_input;
using testing::tiny_request;

// A gateway process in front of `backends`, listening on each of `listen`.
class GatewayProcess : public testing::EdgeserveProcess {
 public:
  GatewayProcess(const std::vector<std::string>& backends, const std::vector<std::string>& listen,
                 const std::vector<std::string>& extra = {})
      : EdgeserveProcess(arguments(backends, listen, extra), "gateway") {}

 private:
  static std::vector<std::string> arguments(const std::vector<std::string>& backends,
                                            const std::vector<std::string>& listen,
                                            const std::vector<std::string>& extra) {
    std::vector<std::string> args{"gateway", "--retry-ms", "300", "--backend-timeout-ms", "2000"};
    args.insert(args.end(), extra.begin(), extra.end());
    for (const auto& b : backends) args.insert(args.end(), {"--backend", b});
    for (const auto& l : listen) args.insert(args.end(), {"--listen", l});
    return args;
  }
};

uint64_t served_count(ServerProcess& server) {
  server.process().signal(SIGTERM);
  EXPECT_TRUE(server.process().wait(30s));
  const std::string log = server.log();
  const auto at = log.find("stopped: ");
  return at == std::string::npos ? 0 : std::stoull(log.substr(at + 9));
}

TEST(Gateway, ForwardsEveryFrontToEveryBackWithTheDirectPathsRepliesAndItsOwnTimes) {
  ServerProcess tcp_backend;
  ServerProcess ucx_backend({}, "ucx://127.0.0.1:0");
  ASSERT_FALSE(tcp_backend.endpoint().empty() || ucx_backend.endpoint().empty());
  const auto input = tiny_input(1.25f);
  std::vector<std::byte> expected;
  {
    auto c = connect_or_fail(tcp_backend.endpoint());
    transport::Reply direct;
    ASSERT_TRUE(c && c->call(tiny_request(1), input, direct, 10s).ok());
    expected.assign(direct.payload.begin(), direct.payload.end());  // the payload lives in the connection
  }
  ASSERT_EQ(expected.size(), 40u);

  for (const auto& backend : {tcp_backend.endpoint(), ucx_backend.endpoint()}) {
    GatewayProcess gateway({backend}, {"tcp://127.0.0.1:0", "ucx://127.0.0.1:0"});
    ASSERT_EQ(gateway.endpoints().size(), 2u) << gateway.log();
    for (const auto& front : gateway.endpoints()) {
      SCOPED_TRACE(front + " → " + backend);
      auto c = connect_or_fail(front);
      ASSERT_TRUE(c);
      for (uint64_t id = 10; id < 15; ++id) {
        transport::Reply reply;
        const core::Status s = c->call(tiny_request(id), input, reply, 10s);
        ASSERT_TRUE(s.ok()) << s.to_string() << "\n" << gateway.log();
        ASSERT_EQ(reply.header.status, StatusCode::kOk) << reply.header.error;
        EXPECT_EQ(reply.header.request_id, id);
        EXPECT_TRUE(std::equal(reply.payload.begin(), reply.payload.end(), expected.begin(), expected.end()));
        const auto& t = reply.header.timings;
        EXPECT_GT(t.inference_ns, 0u) << "the server's stage times survive the gateway";
        EXPECT_GT(t.backend_ns, t.server_ns) << "the backend hop includes the server's time";
        EXPECT_GE(t.gateway_ns, t.backend_ns) << "the time in the gateway includes the hop";
      }
    }
  }
}

TEST(Gateway, SpreadsLoadOverBackends) {
  ServerProcess a, b;
  GatewayProcess gateway({a.endpoint(), b.endpoint()}, {"tcp://127.0.0.1:0"});
  ASSERT_FALSE(gateway.endpoints().empty());
  constexpr int kClients = 4, kRequests = 40;
  std::atomic<int> ok{0};
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < kClients; ++i)
      threads.emplace_back([&, i] {
        auto c = transport::connect(gateway.endpoints()[0]);
        if (!c.ok()) return;
        const auto input = tiny_input(static_cast<float>(i));
        for (int r = 0; r < kRequests; ++r) {
          transport::Reply reply;
          if ((*c)->call(tiny_request(static_cast<uint64_t>(i * 1000 + r)), input, reply, 10s).ok() &&
              reply.header.status == StatusCode::kOk)
            ok.fetch_add(1);
        }
      });
  }
  EXPECT_EQ(ok.load(), kClients * kRequests) << gateway.log();
  const uint64_t on_a = served_count(a), on_b = served_count(b);
  EXPECT_EQ(on_a + on_b, static_cast<uint64_t>(kClients * kRequests));
  EXPECT_GT(on_a, 0u) << "backend a got nothing";
  EXPECT_GT(on_b, 0u) << "backend b got nothing";
}

TEST(Gateway, MalformedRequestsAreAnsweredAtTheGateway) {
  ServerProcess backend;
  GatewayProcess gateway({backend.endpoint()}, {"tcp://127.0.0.1:0"});
  ASSERT_FALSE(gateway.endpoints().empty());
  zmq::context_t context;
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(gateway.endpoints()[0]);
  std::array<std::byte, core::kRequestHeaderBytes> garbage;
  garbage.fill(std::byte{0x33});
  dealer.send(zmq::buffer(garbage), zmq::send_flags::sndmore);
  dealer.send(zmq::buffer(tiny_input(1.0f)));
  std::vector<zmq::message_t> frames;
  zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
  ASSERT_EQ(zmq::poll(&item, 1, 10s), 1) << gateway.log();
  ASSERT_TRUE(zmq::recv_multipart(dealer, std::back_inserter(frames)));
  ASSERT_EQ(frames.size(), 2u);
  auto reply = core::decode_response_header({frames[0].data<std::byte>(), frames[0].size()});
  ASSERT_TRUE(reply.ok()) << reply.status().to_string();
  EXPECT_EQ(reply->status, StatusCode::kBadMagic) << reply->error;
  EXPECT_GT(reply->timings.gateway_ns, 0u);

  auto c = connect_or_fail(gateway.endpoints()[0]);
  transport::Reply good;
  ASSERT_TRUE(c && c->call(tiny_request(2), tiny_input(1.0f), good, 10s).ok());
  EXPECT_EQ(good.header.status, StatusCode::kOk) << "the gateway keeps serving";
  EXPECT_EQ(served_count(backend), 1u) << "the malformed request never reached the backend";
}

// A backend killed with a request in flight fails that request at once (tcp: the connection drop, seen by a
// socket monitor; ucx: peer failure). An idle tcp connection to it learns only when its next request times out
// (--backend-timeout-ms); an idle ucx one learns at once.
void kill_a_backend_mid_run(const std::string& scheme) {
  ServerProcess steady;
  const std::string flaky_uri = scheme + "://127.0.0.1:" + std::to_string(testing::free_fixed_port(30000));
  auto flaky = std::make_unique<ServerProcess>(std::vector<std::string>{}, flaky_uri);
  ASSERT_EQ(flaky->endpoint(), flaky_uri);
  GatewayProcess gateway({steady.endpoint(), flaky_uri}, {"tcp://127.0.0.1:0"});
  ASSERT_FALSE(gateway.endpoints().empty());

  std::atomic<bool> done{false};
  std::atomic<int> replies{0}, ok{0}, error_replies{0}, lost{0};
  std::jthread client([&] {
    auto c = transport::connect(gateway.endpoints()[0]);
    if (!c.ok()) return void(lost.fetch_add(1));
    const auto input = tiny_input(0.5f);
    for (uint64_t id = 1; !done.load(); ++id) {
      transport::Reply reply;
      if (!(*c)->call(tiny_request(id), input, reply, 15s).ok()) {
        lost.fetch_add(1);  // no reply at all: what must never happen
        continue;
      }
      replies.fetch_add(1);
      (reply.header.status == StatusCode::kOk ? ok : error_replies).fetch_add(1);
    }
  });
  std::this_thread::sleep_for(1s);
  flaky->process().signal(SIGKILL);
  ASSERT_TRUE(flaky->process().wait(10s));
  std::this_thread::sleep_for(1500ms);  // the gateway serves on through the steady backend
  const int ok_while_down = ok.load();
  flaky = std::make_unique<ServerProcess>(std::vector<std::string>{}, flaky_uri);
  // ucx: the gateway saw the backend fail at once and logs when it is back. tcp: ZeroMQ reconnects by
  // itself and may even deliver a request queued while the backend was down, so there may be no failure.
  const bool ucx = scheme == "ucx";
  const auto deadline = std::chrono::steady_clock::now() + (ucx ? 20s : 2s);
  while ((!ucx || gateway.log().find("backend " + flaky_uri + " is back") == std::string::npos) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  std::this_thread::sleep_for(500ms);
  done = true;
  client.join();

  EXPECT_EQ(lost.load(), 0) << "every request gets a reply";
  EXPECT_GT(ok_while_down, 0);
  EXPECT_LE(error_replies.load(), 5) << "only requests in flight on the killed backend fail";
  if (ucx) {
    EXPECT_NE(gateway.log().find("backend " + flaky_uri + " failed"), std::string::npos) << gateway.log();
    EXPECT_NE(gateway.log().find("backend " + flaky_uri + " is back"), std::string::npos) << gateway.log();
  }
  EXPECT_GT(served_count(*flaky), 0u) << "the restarted backend was taken back";
  EXPECT_FALSE(gateway.process().wait(0ms)) << "the gateway died:\n" << gateway.log();
}

TEST(Gateway, AKilledTcpBackendCostsErrorRepliesNotLostRequestsAndIsTakenBack) { kill_a_backend_mid_run("tcp"); }
TEST(Gateway, AKilledUcxBackendCostsErrorRepliesNotLostRequestsAndIsTakenBack) { kill_a_backend_mid_run("ucx"); }

// A tcp backend with nothing listening (dead and not back) costs no request: the gateway finds out before it
// sends (the connection never came up) and goes to the next backend, instead of waiting --backend-timeout-ms
// and answering with an error.
TEST(Gateway, ADeadTcpBackendCostsNoRequests) {
  ServerProcess steady;
  const std::string dead = "tcp://127.0.0.1:" + std::to_string(testing::free_fixed_port(31000));
  GatewayProcess gateway({steady.endpoint(), dead}, {"tcp://127.0.0.1:0"});
  ASSERT_FALSE(gateway.endpoints().empty());
  auto c = connect_or_fail(gateway.endpoints()[0]);
  ASSERT_TRUE(c);
  const auto input = tiny_input(0.5f);
  int ok = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (uint64_t id = 1; id <= 20; ++id) {
    transport::Reply reply;
    ASSERT_TRUE(c->call(tiny_request(id), input, reply, 15s).ok()) << gateway.log();
    EXPECT_EQ(reply.header.status, StatusCode::kOk) << reply.header.error;
    ok += reply.header.status == StatusCode::kOk;
    std::this_thread::sleep_for(50ms);  // past --retry-ms (300) several times: the dead backend is tried again
  }
  EXPECT_EQ(ok, 20);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "requests waited for the dead backend's timeout";
  EXPECT_NE(gateway.log().find("backend " + dead + " failed (transport-error: cannot reach"), std::string::npos)
      << gateway.log();
}

// Untrusted clients meet the gateway first: it holds each front connection to its share of the queue, whatever
// client ids the requests carry, and answers every request.
TEST(Gateway, AClientCannotEscapeItsShareOfTheQueueByChangingItsClientId) {
  ServerProcess backend;
  GatewayProcess gateway({backend.endpoint()}, {"tcp://127.0.0.1:0"},
                         {"--workers", "1", "--max-queue-per-client", "2"});
  ASSERT_FALSE(gateway.endpoints().empty());
  const auto got = testing::flood_with_changing_client_ids(gateway.endpoints()[0], 300);
  EXPECT_EQ(got.replies, 300u) << gateway.log();
  EXPECT_GT(got.refused_per_client, 0u) << "300 pipelined requests, 1 forwarding thread, a share of 2";
  EXPECT_GT(got.ok, 0u);
  EXPECT_NE(gateway.log().find("waiting at the gateway (the limit per client)"), std::string::npos) << gateway.log();
}

TEST(Gateway, NoBackendIsAClearStartupError) {
  TempDir dir;
  ChildProcess gw({testing::edgeserve_binary(), "gateway", "--listen", "tcp://127.0.0.1:0", "--backend", "http://x:1"},
                  dir.path() / "gateway.log");
  const auto code = gw.wait(30s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 2);
  EXPECT_NE(gw.log().find("unknown scheme; expected tcp://HOST:PORT or ucx://HOST:PORT"), std::string::npos)
      << gw.log();
}

}  // namespace
}  // namespace edgeserve
