// The test harness's own child process: it must never signal or reap anything but the process it started.
#include "child_process.h"

#include <gtest/gtest.h>

namespace edgeserve::testing {
namespace {

using namespace std::chrono_literals;

TEST(ChildProcess, ABinaryThatCannotStartIsNeverSignalledNorWaitedFor) {
  TempDir dir;
  ChildProcess p({(dir.path() / "no-such-binary").string()}, dir.path() / "log");
  EXPECT_FALSE(p.started());
  EXPECT_LE(p.pid(), 0);
  // Signal 0 only checks that a signal could be sent: with pid -1 kill() would say yes for every process the
  // user may signal (with SIGKILL, it would kill them all).
  // ASSERT: with a broken guard the SIGKILL below must never be reached.
  ASSERT_FALSE(p.signal(0)) << "a process that never started was signalled (pid " << p.pid() << ")";
  EXPECT_FALSE(p.signal(SIGKILL));
  EXPECT_EQ(p.wait(0ms), 127) << "a command that cannot run exits 127, as in a shell";
  EXPECT_NE(p.log().find("cannot start"), std::string::npos) << p.log();
  EXPECT_NE(p.log().find("no-such-binary"), std::string::npos) << p.log();
}

TEST(ChildProcess, AReapedProcessIsNotSignalledAgain) {
  TempDir dir;
  ChildProcess p({"/bin/sh", "-c", "echo hello; exit 3"}, dir.path() / "log");
  ASSERT_TRUE(p.started()) << p.log();
  EXPECT_EQ(p.wait(10s), 3) << p.log();
  EXPECT_EQ(p.log(), "hello\n");
  EXPECT_FALSE(p.signal(0)) << "the pid of a reaped process may already name another one";
}

TEST(ChildProcess, SignalReachesTheChildAndTheExitCodeSaysWhichOne) {
  TempDir dir;
  ChildProcess p({"/bin/sleep", "60"}, dir.path() / "log");
  ASSERT_TRUE(p.started()) << p.log();
  EXPECT_FALSE(p.wait(0ms));
  EXPECT_TRUE(p.signal(SIGTERM));
  EXPECT_EQ(p.wait(10s), 128 + SIGTERM);
}

TEST(TimeScale, DeadlinesScaleWithTheEnvironment) {
  EXPECT_GE(time_scale(), 1.0);
  EXPECT_EQ(scaled(std::chrono::milliseconds(100)).count(), static_cast<int64_t>(100 * time_scale()));
  EXPECT_TRUE(wait_until([] { return true; }, 0ms));
  EXPECT_FALSE(wait_until([] { return false; }, 30ms, 5ms));
}

}  // namespace
}  // namespace edgeserve::testing
