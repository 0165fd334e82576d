// The libtorch engine is a module that edgeserve opens when a model loads (src/engine/engine_module.h): a server
// maps it, a gateway (no model) never starts libtorch, and a missing module is an error that says where it looked.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "../support/server_process.h"

namespace edgeserve {
namespace {

using namespace std::chrono_literals;

// The shared objects mapped into process `pid`, as /proc/PID/maps lists them.
std::string mapped_files(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

TEST(EngineModule, AServerMapsLibtorchThroughTheModuleAndAGatewayNeverDoes) {
  testing::ServerProcess server;
  ASSERT_FALSE(server.endpoint().empty()) << server.log_tail();
  testing::EdgeserveProcess gateway({"gateway", "--backend", server.endpoint(), "--listen", "tcp://127.0.0.1:0"},
                                    "gateway");
  ASSERT_FALSE(gateway.endpoint().empty()) << gateway.log_tail();

  const std::string served = mapped_files(server.process().pid());
  EXPECT_NE(served.find("libedgeserve_torch.so"), std::string::npos) << "the server did not open the engine module";
  EXPECT_NE(served.find("libtorch_cpu"), std::string::npos) << "the server runs a model without libtorch?";
  const std::string forwarded = mapped_files(gateway.process().pid());
  EXPECT_EQ(forwarded.find("libtorch"), std::string::npos) << "the gateway loaded libtorch, which it never uses";
  EXPECT_EQ(forwarded.find("libedgeserve_torch.so"), std::string::npos);
}

TEST(EngineModule, AMissingModuleIsAnErrorThatSaysWhereItLooked) {
  testing::TempDir dir;
  const std::string missing = (dir.path() / "no-such-libedgeserve_torch.so").string();
  ASSERT_EQ(setenv("EDGESERVE_ENGINE_MODULE", missing.c_str(), 1), 0);  // the child inherits it
  testing::ChildProcess serve({testing::edgeserve_binary(), "serve", "--repo", testing::test_models_dir().string(),
                               "--models", "tiny", "--listen", "tcp://127.0.0.1:0"},
                              dir.path() / "serve.log");
  unsetenv("EDGESERVE_ENGINE_MODULE");
  const auto code = serve.wait(60s);
  ASSERT_TRUE(code.has_value()) << "serve kept running without an engine:\n" << serve.log_tail();
  EXPECT_NE(*code, 0);
  const std::string log = serve.log();
  EXPECT_NE(log.find(missing), std::string::npos) << log;
  EXPECT_NE(log.find("EDGESERVE_ENGINE_MODULE"), std::string::npos) << "the error should say how to point at it:\n"
                                                                    << log;
}

}  // namespace
}  // namespace edgeserve
