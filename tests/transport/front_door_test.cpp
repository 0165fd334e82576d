// The front door shared by `serve` and `gateway` (transport/front_door.h): bind, announce, serve until stopped,
// and a stop that comes before serving, all over a real listener of the first transport this build can listen on.
#include "transport/front_door.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "../support/child_process.h"
#include "transport/registry.h"

namespace edgeserve {
namespace {

using namespace std::chrono_literals;

// "tcp://127.0.0.1:0", or a socket path in `dir` for a transport addressed by path.
std::string any_listen_address(const testing::TempDir& dir) {
  for (const auto& t : transport::transports()) {
    if (t.listen == nullptr) continue;
    if (t.address == transport::AddressForm::kPath)
      return fmt::format("{}://{}/front.sock", t.scheme, dir.path().string());
    return fmt::format("{}://127.0.0.1:0", t.scheme);
  }
  return {};
}

TEST(FrontDoor, BindsAnnouncesItsEndpointsAndServesUntilStopped) {
  testing::TempDir dir;
  transport::FrontDoorOptions options;
  options.listen = {any_listen_address(dir)};
  ASSERT_FALSE(options.listen[0].empty()) << "this build has no transport that listens";
  options.ready_file = dir.path() / "ready";
  transport::FrontDoor front(options);
  ASSERT_TRUE(front.open({}, {}).ok());
  ASSERT_EQ(front.endpoints().size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(options.ready_file)) << "ready only once announced";
  ASSERT_TRUE(front.announce().ok());
  std::ifstream in(options.ready_file);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), front.endpoints()[0] + "\n");

  auto served =
      std::async(std::launch::async, [&] { return front.serve([](std::unique_ptr<transport::Delivery>) {}); });
  EXPECT_EQ(served.wait_for(200ms), std::future_status::timeout) << "serves until stopped";
  front.stop();
  ASSERT_EQ(served.wait_for(10s), std::future_status::ready) << "stop() ends serve()";
  EXPECT_TRUE(served.get().ok());
  EXPECT_TRUE(front.stop_requested());
}

TEST(FrontDoor, AStopBeforeServingReturnsAtOnceAndABadAddressIsAnError) {
  testing::TempDir dir;
  transport::FrontDoorOptions options;
  options.listen = {any_listen_address(dir)};
  transport::FrontDoor front(options);
  front.stop();  // a signal during start-up
  ASSERT_TRUE(front.open({}, {}).ok());
  EXPECT_TRUE(front.announce().ok()) << "no ready file asked for: nothing to write";
  EXPECT_TRUE(front.serve([](std::unique_ptr<transport::Delivery>) {}).ok());

  transport::FrontDoorOptions bad;
  bad.listen = {"nope://127.0.0.1:0"};
  transport::FrontDoor refused(bad);
  const core::Status s = refused.open({}, {});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unknown scheme"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace edgeserve
