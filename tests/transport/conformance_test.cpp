// The conformance suite: every transport in the registry (transport/registry.h) passes the same tests, with
// real servers (an `edgeserve serve` process on loopback) or, for in-process transports, the server's own
// pipeline in this process. CMake runs it once as is and once more with UCX_TLS=tcp for the ucx cases.
#include <gtest/gtest.h>

#include <csignal>
#include <optional>
#include <thread>

#include "../support/child_process.h"
#include "../support/server_process.h"
#include "../support/status_assert.h"
#include "../support/tiny_client.h"
#include "core/wire.h"
#include "engine/engine.h"
#include "server/model_repository.h"
#include "server/pipeline.h"
#include "transport/client_connection.h"
#include "transport/registry.h"

namespace edgeserve {
namespace {

using namespace std::chrono_literals;
using core::StatusCode;
using testing::tiny_request;

// The in-process reference: the server's pipeline with the tiny test model, loaded once and only where a test
// talks to it (one lane per test thread at most: the concurrent test uses its own connections over the network
// transports only).
struct Reference {
  server::ModelRepository models;
  server::Pipeline pipeline;
  explicit Reference(server::ModelRepository m)
      : models(std::move(m)), pipeline(models, {static_cast<uint64_t>(testing::kMaxPayloadMb * (1 << 20))}) {}
};
Reference& reference() {
  static Reference* r = [] {
    engine::set_torch_threads(1);  // as the servers below (--intra-op-threads 1): outputs are then byte-exact
    auto loaded = server::ModelRepository::load(testing::test_models_dir(), {"tiny"}, {"cpu", 4, true});
    if (!loaded.ok()) {
      ADD_FAILURE() << loaded.status().to_string();
      std::abort();
    }
    return new Reference(std::move(loaded.value()));  // NOLINT: lives as long as the test process
  }();
  return *r;
}

std::string scheme_of(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

class Conformance : public ::testing::TestWithParam<std::string> {
 protected:
  bool in_process() const { return GetParam() == "local"; }
  std::string target_prefix() const { return in_process() ? GetParam() : GetParam() + "://"; }

  bool path_address() const {
    return transport::find_transport(target_prefix())->address == transport::AddressForm::kPath;
  }
  // Where a server may listen: any free port, or a socket file in this test's folder.
  std::string any_address() const {
    return path_address() ? target_prefix() + (dir_.path() / "server.sock").string() : target_prefix() + "127.0.0.1:0";
  }
  // An address a restarted server can take again.
  std::string fixed_address() const {
    return path_address() ? any_address()
                          : target_prefix() + "127.0.0.1:" + std::to_string(testing::free_fixed_port(21000));
  }
  // Starts what serves this transport (a process for network transports) and returns the target to connect to.
  std::string start(const std::string& listen_address = "") {
    if (in_process()) return GetParam();
    server_.reset();
    // On the CPU even on a GPU host: the suite checks transports, and the reference it compares with byte for
    // byte is the CPU pipeline (a GPU's kernels agree with it to float precision, not to the bit).
    server_.emplace(std::vector<std::string>{"--intra-op-threads", "1", "--workers", "2", "--device", "cpu"},
                    listen_address.empty() ? any_address() : listen_address);
    return server_->endpoint();
  }
  std::unique_ptr<transport::ClientConnection> connect(const std::string& target) {
    transport::ConnectOptions options;
    if (target == "local") options.local_handler = &reference().pipeline;
    auto c = transport::connect(target, options);
    EXPECT_OK(c);
    return c.ok() ? std::move(c.value()) : nullptr;
  }
  // The reference reply payload for `input`, from the pipeline in this process.
  std::vector<std::byte> expected(const std::vector<std::byte>& input) {
    auto local = connect("local");
    transport::Reply reply;
    EXPECT_OK(local->call(tiny_request(1), input, reply, 20s));
    return {reply.payload.begin(), reply.payload.end()};
  }

  testing::TempDir dir_;
  std::optional<testing::ServerProcess> server_;  // after dir_: stops before its socket file's folder goes
};

TEST_P(Conformance, RepliesAreByteExactAndMatchTheirRequests) {
  const std::string target = start();
  ASSERT_FALSE(target.empty());
  auto conn = connect(target);
  ASSERT_TRUE(conn);
  for (uint64_t id = 1; id <= 5; ++id) {
    const auto input = testing::tiny_input(0.1f * static_cast<float>(id));
    transport::Reply reply;
    ASSERT_OK(conn->call(tiny_request(id, 7), input, reply, 20s));
    EXPECT_EQ(reply.header.status, StatusCode::kOk) << reply.header.error;
    EXPECT_EQ(reply.header.request_id, id);
    const std::vector<std::byte> got(reply.payload.begin(), reply.payload.end());
    EXPECT_EQ(got, expected(input)) << "request " << id << ": the reply's bytes differ from the in-process pipeline's";
  }
}

// Every class of bad input gets its own error reply, and the connection and server go on serving.
TEST_P(Conformance, EveryBadInputClassIsAnsweredWithItsOwnError) {
  const std::string target = start();
  ASSERT_FALSE(target.empty());
  auto conn = connect(target);
  ASSERT_TRUE(conn);
  const auto input = testing::tiny_input(0.5f);
  // A well-formed request (its shape says as many bytes as it carries) over the 1 MiB the servers allow.
  const std::vector<std::byte> too_large(3 * 320 * 320 * 4);
  struct Case {
    const char* what;
    core::RequestHeader header;
    std::span<const std::byte> payload;
    StatusCode code;
  };
  std::vector<Case> cases;
  auto h = tiny_request(10);
  h.model = "no-such-model";
  cases.push_back({"unknown model", h, input, StatusCode::kUnknownModel});
  h = tiny_request(11);
  h.shape = core::TensorShape{1, 3, 16, 16};
  h.payload_bytes = 3 * 16 * 16 * 4;
  cases.push_back({"wrong shape", h, std::span(input).first(h.payload_bytes), StatusCode::kBadShape});
  h = tiny_request(12);
  h.dtype = core::DType::kUInt8;
  h.payload_bytes = 3 * 32 * 32;
  cases.push_back({"wrong dtype", h, std::span(input).first(h.payload_bytes), StatusCode::kBadDtype});
  cases.push_back({"payload shorter than its header says", tiny_request(14), std::span(input).first(100),
                   StatusCode::kPayloadSizeMismatch});
  h = tiny_request(13);
  h.shape = core::TensorShape{1, 3, 320, 320};
  h.payload_bytes = too_large.size();
  cases.push_back({"payload over --max-payload-mb", h, too_large, StatusCode::kPayloadTooLarge});
  for (const auto& c : cases) {
    transport::Reply reply;
    ASSERT_OK(conn->call(c.header, c.payload, reply, 20s)) << c.what;
    EXPECT_EQ(reply.header.status, c.code) << c.what << ": " << reply.header.error;
    EXPECT_EQ(reply.header.request_id, c.header.request_id) << c.what;
    EXPECT_FALSE(reply.header.error.empty()) << c.what << ": an error reply says why";
    transport::Reply good;
    ASSERT_OK(conn->call(tiny_request(c.header.request_id + 100), input, good, 20s)) << "after " << c.what;
    EXPECT_EQ(good.header.status, StatusCode::kOk) << "after " << c.what << ": " << good.header.error;
  }
}

TEST_P(Conformance, ConcurrentClientsEachGetTheirOwnReplies) {
  const std::string target = start();
  ASSERT_FALSE(target.empty());
  constexpr int kClients = 4, kRequests = 20;
  std::vector<std::vector<std::byte>> inputs, outputs;
  for (int c = 0; c < kClients; ++c) {
    inputs.push_back(testing::tiny_input(0.2f + 0.1f * static_cast<float>(c)));
    outputs.push_back(expected(inputs.back()));
  }
  std::vector<std::unique_ptr<transport::ClientConnection>> conns;
  for (int c = 0; c < kClients; ++c) conns.push_back(connect(target));
  std::atomic<int> ok{0};
  std::vector<std::string> failures(kClients);
  {
    std::vector<std::jthread> threads;
    for (int c = 0; c < kClients; ++c)
      threads.emplace_back([&, c] {
        if (!conns[c]) return;
        for (uint64_t i = 1; i <= kRequests; ++i) {
          transport::Reply reply;
          const auto s = conns[c]->call(tiny_request(i, static_cast<uint32_t>(c)), inputs[c], reply, 20s);
          const std::vector<std::byte> got(reply.payload.begin(), reply.payload.end());
          if (!s.ok() || reply.header.status != StatusCode::kOk || reply.header.request_id != i || got != outputs[c]) {
            failures[c] = s.ok() ? "request " + std::to_string(i) + ": " + reply.header.error : s.to_string();
            return;
          }
          ok.fetch_add(1);
        }
      });
  }
  for (int c = 0; c < kClients; ++c) EXPECT_TRUE(failures[c].empty()) << "client " << c << ": " << failures[c];
  EXPECT_EQ(ok.load(), kClients * kRequests);
}

// A client killed in the middle of a run (a bench process, SIGKILL) costs the server nothing it cannot free:
// the next client is served.
TEST_P(Conformance, AKilledClientLeavesTheServerServing) {
  if (in_process()) GTEST_SKIP() << GetParam() << " has no server of its own to lose a client";
  const std::string target = start();
  ASSERT_FALSE(target.empty());
  testing::TempDir dir;
  testing::ChildProcess bench({testing::edgeserve_binary(), "bench", "--target", target, "--model", "tiny", "--repo",
                               testing::test_models_dir().string(), "--input", "preprocessed", "--requests", "100000",
                               "--warmup", "1", "--no-progress", "--out", (dir.path() / "out").string()},
                              dir.path() / "bench.log");
  std::this_thread::sleep_for(1500ms);
  ASSERT_FALSE(bench.wait(0ms)) << "bench ended early:\n" << bench.log_tail();
  ASSERT_TRUE(bench.signal(SIGKILL));
  ASSERT_TRUE(bench.wait(10s));
  auto conn = connect(target);
  ASSERT_TRUE(conn);
  transport::Reply reply;
  ASSERT_OK(conn->call(tiny_request(1), testing::tiny_input(0.3f), reply, 20s)) << server_->log_tail();
  EXPECT_EQ(reply.header.status, StatusCode::kOk) << reply.header.error;
}

// A killed server is an error for its client within a bounded time, never a hang; a server started again at
// the same address serves the same connection again.
TEST_P(Conformance, AKilledServerIsAnErrorAndARestartedOneServesAgain) {
  if (in_process()) GTEST_SKIP() << GetParam() << " has no server of its own to kill";
  const std::string address = fixed_address();
  const std::string target = start(address);
  ASSERT_EQ(target, address) << server_->log_tail();
  auto conn = connect(target);
  ASSERT_TRUE(conn);
  const auto input = testing::tiny_input(0.4f);
  transport::Reply reply;
  ASSERT_OK(conn->call(tiny_request(1), input, reply, 20s));
  ASSERT_TRUE(server_->process().signal(SIGKILL));
  ASSERT_TRUE(server_->process().wait(10s));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(conn->call(tiny_request(2), input, reply, 2s).ok()) << "a call to a dead server succeeded";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s) << "a call to a dead server outlived its timeout";
  ASSERT_EQ(start(address), address) << server_->log_tail();
  const bool back = testing::wait_until(
      [&] { return conn->call(tiny_request(3), input, reply, 1s).ok() && reply.header.status == StatusCode::kOk; }, 30s,
      100ms);
  EXPECT_TRUE(back) << "the connection did not serve again after the server came back";
}

// Limits hold on every transport: a client beyond --max-clients is not served (refused at connection set-up,
// or answered 'overloaded'), while the first client is.
TEST_P(Conformance, AClientBeyondMaxClientsIsNotServed) {
  if (in_process()) GTEST_SKIP() << GetParam() << " has no server of its own to limit";
  server_.emplace(std::vector<std::string>{"--max-clients", "1"}, any_address());
  const std::string target = server_->endpoint();
  ASSERT_FALSE(target.empty());
  const auto input = testing::tiny_input(0.6f);
  auto first = connect(target);
  ASSERT_TRUE(first);
  transport::Reply reply;
  ASSERT_OK(first->call(tiny_request(1), input, reply, 20s));
  ASSERT_EQ(reply.header.status, StatusCode::kOk) << reply.header.error;
  transport::ConnectOptions options;
  auto second = transport::connect(target, options);
  if (second.ok()) {
    const auto s = (*second)->call(tiny_request(2), input, reply, 3s);
    EXPECT_TRUE(!s.ok() || reply.header.status == StatusCode::kOverloaded)
        << "a second client was served: " << (s.ok() ? core::to_string(reply.header.status) : s.to_string());
  }
  ASSERT_OK(first->call(tiny_request(3), input, reply, 20s));
  EXPECT_EQ(reply.header.status, StatusCode::kOk) << "the first client is still served: " << reply.header.error;
}

std::vector<std::string> registry_schemes() {
  std::vector<std::string> out;
  for (const auto& t : transport::transports()) out.emplace_back(t.scheme);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Registry, Conformance, ::testing::ValuesIn(registry_schemes()), scheme_of);

}  // namespace
}  // namespace edgeserve
