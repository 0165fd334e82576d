// --max-clients on grpc:// (transport/grpc/peer_table.h): new peers beyond the limit are refused until an active
// one has been idle long enough.
#include "transport/grpc/peer_table.h"

#include <gtest/gtest.h>

namespace edgeserve::transport::grpc {
namespace {

TEST(PeerTable, ANewClientBeyondTheLimitWaitsForAnIdleOne) {
  constexpr uint64_t kSecond = 1'000'000'000;
  PeerTable table(2, std::chrono::seconds(10));
  EXPECT_TRUE(table.admit("ipv4:127.0.0.1:1000", 1 * kSecond));
  EXPECT_TRUE(table.admit("ipv4:127.0.0.1:1001", 2 * kSecond));
  EXPECT_FALSE(table.admit("ipv4:127.0.0.1:1002", 3 * kSecond)) << "a third client while two are active";
  EXPECT_TRUE(table.admit("ipv4:127.0.0.1:1000", 9 * kSecond)) << "an admitted client stays admitted";
  // At 13 s the second client has been idle 11 s: its slot goes to the new one; the first (idle 4 s) stays.
  EXPECT_TRUE(table.admit("ipv4:127.0.0.1:1002", 13 * kSecond));
  EXPECT_FALSE(table.admit("ipv4:127.0.0.1:1001", 13 * kSecond)) << "the idle client came back to a full table";
}

}  // namespace
}  // namespace edgeserve::transport::grpc
