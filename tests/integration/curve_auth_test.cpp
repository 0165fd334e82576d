// Authenticated client links: a server started with CURVE keys serves authorized clients only; clients with
// unknown keys and plain clients are refused during the handshake and logged, and never reach the pipeline.
#include <gtest/gtest.h>

#include "../support/child_process.h"
#include "../support/server_process.h"
#include "core/wire.h"
#include "transport/client_connection.h"
#include "transport/tcp/curve_keys.h"

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

transport::tcp::CurveClientConfig client_keys(const TempDir& dir, const std::string& key) {
  auto config = transport::tcp::read_curve_client_config(dir.path() / "server.pub", dir.path() / key);
  EXPECT_TRUE(config.ok()) << config.status().to_string();
  return config.value();
}

// One tiny request; true when it was answered with a result.
bool served(const std::string& endpoint, const transport::ConnectOptions& options, std::chrono::milliseconds timeout) {
  auto conn = transport::connect(endpoint, options);
  if (!conn.ok()) return false;
  core::RequestHeader h;
  h.request_id = 1;
  h.model = "tiny";
  h.shape = core::TensorShape{1, 3, 32, 32};
  h.payload_bytes = 3 * 32 * 32 * 4;
  std::vector<float> input(3 * 32 * 32, 0.25f);
  transport::Reply reply;
  return (*conn)->call(h, std::as_bytes(std::span(input)), reply, timeout).ok() &&
         reply.header.status == core::StatusCode::kOk;
}

TEST(CurveAuth, OnlyAuthorizedClientsAreServedAndRefusalsAreLogged) {
  TempDir keys;
  std::filesystem::create_directories(keys.path() / "clients");
  std::filesystem::create_directories(keys.path() / "others");
  keygen(keys, "server");
  keygen(keys, "clients/cam1");
  keygen(keys, "others/intruder");
  testing::ServerProcess server(
      {"--curve-key", (keys.path() / "server.key").string(), "--curve-clients", (keys.path() / "clients").string()});
  ASSERT_FALSE(server.endpoint().empty());

  transport::ConnectOptions authorized;
  authorized.curve = client_keys(keys, "clients/cam1.key");
  EXPECT_TRUE(served(server.endpoint(), authorized, 20s)) << server.log();

  transport::ConnectOptions intruder;
  intruder.curve = client_keys(keys, "others/intruder.key");
  EXPECT_FALSE(served(server.endpoint(), intruder, 1s));
  EXPECT_FALSE(served(server.endpoint(), {}, 1s)) << "a plain (unencrypted) client must be refused";

  const std::string log = server.log();
  EXPECT_NE(log.find("is not authorized"), std::string::npos) << log;
  EXPECT_NE(log.find("CURVE handshake failed"), std::string::npos) << log;
  EXPECT_TRUE(served(server.endpoint(), authorized, 20s)) << "refusals leave the server serving:\n" << log;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(CurveAuth, AClientRetryingARefusedHandshakeCannotFloodTheLog) {
  TempDir keys;
  std::filesystem::create_directories(keys.path() / "clients");
  keygen(keys, "server");
  keygen(keys, "clients/cam1");
  testing::ServerProcess server(
      {"--curve-key", (keys.path() / "server.key").string(), "--curve-clients", (keys.path() / "clients").string()});
  ASSERT_FALSE(server.endpoint().empty());
  // Twelve plain clients, each refused at least once (each also retries every 100 ms while it waits).
  for (int i = 0; i < 12; ++i) EXPECT_FALSE(served(server.endpoint(), {}, 300ms));
  const std::string log = server.log();
  EXPECT_GE(count(log, "CURVE handshake failed"), 1u) << log;
  EXPECT_LE(count(log, "CURVE handshake failed"), 5u) << "refusals must be rate-limited:\n" << log;
  EXPECT_NE(log.find("counted, not logged"), std::string::npos) << log;
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
  ASSERT_FALSE(pair.ok());
  EXPECT_NE(pair.status().message().find("Z85"), std::string::npos) << pair.status().message();
}

}  // namespace
}  // namespace edgeserve
