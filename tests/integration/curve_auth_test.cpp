// Authenticated client links: a server started with CURVE keys serves authorized clients only; clients with
// unknown keys and plain clients are refused during the handshake and logged, and never reach the pipeline.
#include <gtest/gtest.h>

#include <optional>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "../support/child_process.h"
#include "../support/server_process.h"
#include "../support/status_assert.h"
#include "../support/tiny_client.h"
#include "core/wire.h"
#include "transport/client_connection.h"
#include "transport/tcp/curve_keys.h"
#include "transport/tcp/tcp_settings.h"

namespace edgeserve {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::TempDir;

void keygen(const TempDir& dir, const std::string& prefix) {
  ChildProcess p({testing::edgeserve_binary(), "keygen", "--out", (dir.path() / prefix).string()},
                 dir.path() / "keygen.log");
  ASSERT_EQ(p.wait(30s), 0) << p.log();
}

// The server's key pair, and cam1's under clients/: the folder of keys the server admits.
void server_and_cam1_keys(const TempDir& keys) {
  std::filesystem::create_directories(keys.path() / "clients");
  keygen(keys, "server");
  keygen(keys, "clients/cam1");
}

// serve flags for a server that requires CURVE and admits the keys in clients/, then `extra`.
std::vector<std::string> curve_server_flags(const TempDir& keys, std::vector<std::string> extra = {}) {
  std::vector<std::string> flags{"--curve-key", (keys.path() / "server.key").string(), "--curve-clients",
                                 (keys.path() / "clients").string()};
  flags.insert(flags.end(), extra.begin(), extra.end());
  return flags;
}

transport::tcp::CurveClientConfig client_keys(const TempDir& dir, const std::string& key) {
  auto config = transport::tcp::read_curve_client_config(dir.path() / "server.pub", dir.path() / key);
  EXPECT_OK(config);
  return config.ok() ? config.value() : transport::tcp::CurveClientConfig{};
}

// A client's CURVE keys as cli/ hands them to the tcp transport.
transport::TransportSettings client_settings(const TempDir& dir, const std::string& key) {
  transport::TransportSettings settings;
  settings.set("tcp", std::make_shared<transport::tcp::TcpClientSettings>(client_keys(dir, key)));
  return settings;
}

// One tiny request on a new connection; success when it was answered with a result, else what happened.
::testing::AssertionResult served(const std::string& endpoint, const transport::ConnectOptions& options,
                                  std::chrono::milliseconds timeout) {
  auto conn = transport::connect(endpoint, options);
  if (!conn.ok()) return ::testing::AssertionFailure() << "cannot connect: " << conn.status().to_string();
  core::RequestHeader h;
  h.request_id = 1;
  h.model = "tiny";
  h.shape = core::TensorShape{1, 3, 32, 32};
  h.payload_bytes = 3 * 32 * 32 * 4;
  std::vector<float> input(3 * 32 * 32, 0.25f);
  transport::Reply reply;
  const auto s = (*conn)->call(h, std::as_bytes(std::span(input)), reply, timeout);
  if (!s.ok()) return ::testing::AssertionFailure() << "call failed: " << s.to_string();
  if (reply.header.status != core::StatusCode::kOk)
    return ::testing::AssertionFailure() << "answered " << core::to_string(reply.header.status) << ": "
                                         << reply.header.error;
  return ::testing::AssertionSuccess() << "served";
}

// Success when a new connection with `options` is refused during the CURVE handshake, and a request on it is
// never answered; any other outcome (served, an error reply, a server that is not there) is a failure that
// says what happened instead.
::testing::AssertionResult refused_in_handshake(const std::string& endpoint, const transport::ConnectOptions& options) {
  auto conn = transport::connect(endpoint, options);
  if (!conn.ok()) return ::testing::AssertionFailure() << "connect() itself failed: " << conn.status().to_string();
  const core::Status up = (*conn)->ready(testing::scaled(10s));
  if (up.ok()) return ::testing::AssertionFailure() << "the handshake succeeded";
  if (up.code() != core::StatusCode::kTransportError || up.message().find("handshake failed") == std::string::npos)
    return ::testing::AssertionFailure() << "not refused in the handshake: " << up.to_string();
  transport::Reply reply;
  const core::Status s = (*conn)->call(testing::tiny_request(1), testing::tiny_input(0.25f), reply, 300ms);
  if (s.ok())
    return ::testing::AssertionFailure() << "refused, yet a request was answered "
                                         << core::to_string(reply.header.status) << ": " << reply.header.error;
  return ::testing::AssertionSuccess() << "refused: " << up.to_string();
}

TEST(CurveAuth, OnlyAuthorizedClientsAreServedAndRefusalsAreLogged) {
  TempDir keys;
  server_and_cam1_keys(keys);
  std::filesystem::create_directories(keys.path() / "others");
  keygen(keys, "others/intruder");
  testing::ServerProcess server(curve_server_flags(keys));
  ASSERT_FALSE(server.endpoint().empty());

  transport::ConnectOptions authorized;
  authorized.settings = client_settings(keys, "clients/cam1.key");
  EXPECT_TRUE(served(server.endpoint(), authorized, 20s)) << server.log();

  // Each refusal is the handshake's, and the server logs that one (not just any failure).
  transport::ConnectOptions intruder;
  intruder.settings = client_settings(keys, "others/intruder.key");
  EXPECT_TRUE(refused_in_handshake(server.endpoint(), intruder)) << "a key not in clients/";
  EXPECT_TRUE(testing::wait_until([&] { return server.log().find("is not authorized") != std::string::npos; }, 10s))
      << "the unknown key's refusal was not logged";
  EXPECT_TRUE(refused_in_handshake(server.endpoint(), {})) << "a plain (unencrypted) client";
  EXPECT_TRUE(
      testing::wait_until([&] { return server.log().find("CURVE handshake failed") != std::string::npos; }, 10s))
      << "the plain client's refusal was not logged";
  EXPECT_TRUE(served(server.endpoint(), authorized, 20s)) << "refusals leave the server serving";
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(CurveAuth, AClientRetryingARefusedHandshakeCannotFloodTheLog) {
  TempDir keys;
  server_and_cam1_keys(keys);
  testing::ServerProcess server(curve_server_flags(keys));
  ASSERT_FALSE(server.endpoint().empty());
  // Twelve plain clients at once, each refused at least once (each also retries every 100 ms while it waits).
  // The limit is 5 lines per 10 s window; a slow (sanitizer) build that spreads the refusals over more
  // windows may log 5 per window.
  const auto t0 = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> clients;
    for (int i = 0; i < 12; ++i)
      clients.emplace_back([&] { EXPECT_TRUE(refused_in_handshake(server.endpoint(), {})); });
  }
  const auto windows = static_cast<size_t>(1 + (std::chrono::steady_clock::now() - t0) / 10s);
  ASSERT_TRUE(testing::wait_until([&] { return server.log().find("counted, not logged") != std::string::npos; }, 10s))
      << "no refusal was held back";
  const std::string log = server.log();
  EXPECT_GE(count(log, "CURVE handshake failed"), 1u);
  EXPECT_LE(count(log, "CURVE handshake failed"), 5u * windows)
      << "refusals must be rate-limited (5 lines per 10 s; the refusals took " << windows << " window(s))";
}

// A raw DEALER logged in with `keys`, connected once a first request has been answered.
zmq::socket_t curve_dealer(zmq::context_t& context, const transport::tcp::CurveClientConfig& keys,
                           const std::string& endpoint) {
  zmq::socket_t s(context, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, 0);
  s.set(zmq::sockopt::rcvtimeo, 60'000);  // TSan builds are slow
  s.set(zmq::sockopt::curve_serverkey, keys.server_public_key);
  s.set(zmq::sockopt::curve_publickey, keys.client.public_key);
  s.set(zmq::sockopt::curve_secretkey, keys.client.secret_key);
  s.connect(endpoint);
  return s;
}

void send_request(zmq::socket_t& s, const core::RequestHeader& request) {
  core::RequestHeaderBytes header;
  core::encode(request, header);
  std::vector<std::byte> payload(request.payload_bytes);
  s.send(zmq::buffer(header), zmq::send_flags::sndmore);
  s.send(zmq::buffer(payload));
}

std::optional<core::ResponseHeader> receive_reply(zmq::socket_t& s) {
  std::vector<zmq::message_t> frames;
  if (!zmq::recv_multipart(s, std::back_inserter(frames)) || frames.empty()) return std::nullopt;
  auto reply = core::decode_response_header({frames[0].data<std::byte>(), frames[0].size()});
  if (!reply.ok()) return std::nullopt;
  return std::move(reply.value());
}

// Under CURVE a client's share of the queue is its key's: a second connection with the same key is held to
// the same share, so a key holder cannot buy more by opening connections.
TEST(CurveAuth, OneKeyIsOneShareHoweverManyConnectionsItOpens) {
  TempDir keys;
  server_and_cam1_keys(keys);
  // On the CPU also on the GPU host: the test needs an inference of tens of ms to hold the share full.
  testing::ServerProcess server(curve_server_flags(
      keys, {"--max-queue-per-client", "2", "--device", "cpu", "--models", testing::kWithMobilenet}));
  ASSERT_FALSE(server.endpoint().empty());
  const auto cam1 = client_keys(keys, "clients/cam1.key");
  zmq::context_t context;
  zmq::socket_t first = curve_dealer(context, cam1, server.endpoint());
  zmq::socket_t second = curve_dealer(context, cam1, server.endpoint());
  for (zmq::socket_t* s : {&first, &second}) {  // both logged in before the rounds start
    send_request(*s, testing::tiny_request(1, 1));
    const auto reply = receive_reply(*s);
    ASSERT_TRUE(reply) << "no reply to the login request";
    ASSERT_EQ(reply->status, core::StatusCode::kOk) << reply->error;
  }
  // The first connection sends three MobileNetV3 requests for worker 0 (client ids 0, 2, 4 under per-client
  // scheduling): one runs, two wait, and the key's share of 2 is full until the running one ends (tens of ms
  // on CPU). The second connection's request, for idle worker 1, arrives meanwhile and must be refused. A round
  // shows nothing only if the inference ended before that request arrived, so up to five rounds.
  bool refused = false;
  for (int round = 0; round < 5 && !refused; ++round) {
    for (uint32_t client : {0u, 2u, 4u}) send_request(first, testing::mobilenet_request(100 + client, client));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    send_request(second, testing::tiny_request(2, 1));
    const auto reply = receive_reply(second);
    ASSERT_TRUE(reply) << "no reply on the second connection";
    refused =
        reply->status == core::StatusCode::kOverloaded && reply->error.find("limit per client") != std::string::npos;
    for (int i = 0; i < 3; ++i) {
      const auto flooded = receive_reply(first);
      ASSERT_TRUE(flooded) << "every request is answered";
      // The third is refused too when it arrives before worker 0 has taken the first.
      EXPECT_TRUE(flooded->status == core::StatusCode::kOk || flooded->status == core::StatusCode::kOverloaded)
          << flooded->error;
    }
  }
  EXPECT_TRUE(refused) << "the second connection of the same key got a share of its own:\n" << server.log();
}

TEST(CurveAuth, BadKeyFilesAreClearStartupErrors) {
  TempDir keys;
  std::filesystem::create_directories(keys.path() / "empty");
  keygen(keys, "server");
  ChildProcess p({testing::edgeserve_binary(), "serve", "--repo", testing::test_models_dir().string(), "--models",
                  "tiny", "--listen", "tcp://127.0.0.1:0", "--curve-key", (keys.path() / "server.key").string(),
                  "--curve-clients", (keys.path() / "empty").string()},
                 keys.path() / "serve.log");
  ASSERT_EQ(p.wait(60s), 2) << p.log();
  EXPECT_NE(p.log().find("no client public keys"), std::string::npos) << p.log();

  std::ofstream(keys.path() / "broken.key") << "not a key\n";
  auto pair = transport::tcp::read_curve_key_pair(keys.path() / "broken.key");
  ASSERT_FALSE(pair.ok()) << "a key file without a key was read";
  EXPECT_NE(pair.status().message().find("Z85"), std::string::npos) << pair.status().message();
}

// The gateway's tcp front under CURVE: the same admission as a server's, in front of any backend.
TEST(CurveAuth, AGatewayWithCurveServesAuthorizedClientsOnly) {
  TempDir keys;
  server_and_cam1_keys(keys);
  testing::ServerProcess backend;
  ASSERT_FALSE(backend.endpoint().empty());
  testing::EdgeserveProcess gateway(
      {"gateway", "--backend", backend.endpoint(), "--listen", "tcp://127.0.0.1:0", "--curve-key",
       (keys.path() / "server.key").string(), "--curve-clients", (keys.path() / "clients").string()},
      "gateway");
  ASSERT_FALSE(gateway.endpoint().empty());
  transport::ConnectOptions authorized;
  authorized.settings = client_settings(keys, "clients/cam1.key");
  EXPECT_TRUE(served(gateway.endpoint(), authorized, 20s));
  EXPECT_TRUE(refused_in_handshake(gateway.endpoint(), {})) << "a plain client at the gateway";
  EXPECT_TRUE(
      testing::wait_until([&] { return gateway.log().find("CURVE handshake failed") != std::string::npos; }, 10s))
      << "the gateway did not log the refusal";
  EXPECT_TRUE(served(gateway.endpoint(), authorized, 20s)) << "the refusal leaves the gateway serving";
}

// bench's --curve-server-key / --curve-key: an authorized key runs clean, an unknown one fails the run (exit 1)
// saying why.
TEST(CurveAuth, BenchWithCurveKeys) {
  TempDir keys;
  server_and_cam1_keys(keys);
  std::filesystem::create_directories(keys.path() / "others");
  keygen(keys, "others/intruder");
  testing::ServerProcess server(curve_server_flags(keys));
  ASSERT_FALSE(server.endpoint().empty());
  auto bench = [&](const std::string& key, const std::string& name) {
    auto p = std::make_unique<ChildProcess>(testing::bench_argv({"--target",
                                                                 server.endpoint(),
                                                                 "--model",
                                                                 "tiny",
                                                                 "--input",
                                                                 "preprocessed",
                                                                 "--requests",
                                                                 "5",
                                                                 "--warmup",
                                                                 "1",
                                                                 "--timeout-ms",
                                                                 "2000",
                                                                 "--max-consecutive-failures",
                                                                 "2",
                                                                 "--no-progress",
                                                                 "--out",
                                                                 (keys.path() / name).string(),
                                                                 "--curve-server-key",
                                                                 (keys.path() / "server.pub").string(),
                                                                 "--curve-key",
                                                                 (keys.path() / key).string()}),
                                            keys.path() / (name + ".log"));
    return p;
  };
  auto good = bench("clients/cam1.key", "cam1");
  EXPECT_EQ(good->wait(120s), 0) << "an authorized key";
  auto bad = bench("others/intruder.key", "intruder");
  EXPECT_EQ(bad->wait(120s), 2) << "an unknown key: the server cannot be reached with it, a set-up error";
  EXPECT_NE(server.log().find("is not authorized"), std::string::npos) << "the server refused the unknown key";
}

}  // namespace
}  // namespace edgeserve
