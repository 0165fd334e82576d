// --max-clients on grpc:// (transport/grpc/peer_table.h): new peers beyond the limit are refused until an active
// one has been idle long enough, and each active peer has the lowest number free when it came.
#include "transport/grpc/peer_table.h"

#include <gtest/gtest.h>

namespace edgeserve::transport::grpc {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;

TEST(PeerTable, ANewClientBeyondTheLimitWaitsForAnIdleOne) {
  PeerTable table(2, std::chrono::seconds(10));
  EXPECT_EQ(table.admit("ipv4:127.0.0.1:1000", 1 * kSecond), 0u);
  EXPECT_EQ(table.admit("ipv4:127.0.0.1:1001", 2 * kSecond), 1u);
  EXPECT_FALSE(table.admit("ipv4:127.0.0.1:1002", 3 * kSecond)) << "a third client while two are active";
  EXPECT_EQ(table.admit("ipv4:127.0.0.1:1000", 9 * kSecond), 0u) << "an admitted client keeps its number";
  // At 13 s the second client has been idle 11 s: its slot and number go to the new one; the first (idle 4 s)
  // stays.
  EXPECT_EQ(table.admit("ipv4:127.0.0.1:1002", 13 * kSecond), 1u);
  EXPECT_FALSE(table.admit("ipv4:127.0.0.1:1001", 13 * kSecond)) << "the idle client came back to a full table";
}

TEST(PeerTable, NumbersAreTheLowestFree) {
  PeerTable table(8, std::chrono::seconds(10));
  EXPECT_EQ(table.admit("a", 0), 0u);
  EXPECT_EQ(table.admit("b", 5 * kSecond), 1u);
  EXPECT_EQ(table.admit("c", 5 * kSecond), 2u);
  // At 12 s "a" has been idle 12 s: the next new client gets its 0, the one after that 3.
  EXPECT_EQ(table.admit("d", 12 * kSecond), 0u);
  EXPECT_EQ(table.admit("e", 12 * kSecond), 3u);
}

}  // namespace
}  // namespace edgeserve::transport::grpc
