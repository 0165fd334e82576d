// Every way a new user can get a command wrong, through the real `edgeserve` binary: the exit code (2 for bad
// usage and set-up errors), a message that says what was wrong (and what was meant, for a misspelt name), no
// internal status names, no abort, and for serve a refusal before any model loads.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <regex>
#include <sstream>

#include "../support/child_process.h"
#include "../support/server_process.h"

namespace edgeserve {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::TempDir;

struct Case {
  std::vector<std::string> args;  // {MODELS}, {TMP}, {BUSY} (a port in use) are replaced
  int exit_code;
  std::string says;  // a part of the output (stdout + stderr) that must be there
};

// Bad usage and set-up errors. Every serve case names a real repository, so a refusal that came only after
// loading would show "loaded model" in its output.
const Case kCases[] = {
    // serve: listen addresses
    {{"serve", "--repo", "{MODELS}", "--listen", "tcp://127.0.0.1:99999"}, 2, "port 99999 is out of range"},
    {{"serve", "--repo", "{MODELS}", "--listen", "tcp://127.0.0.1:65537"}, 2, "port 65537 is out of range"},
    {{"serve", "--repo", "{MODELS}", "--listen", "tcp://127.0.0.1:-1"}, 2, "port '-1' is not a number"},
#if EDGESERVE_WITH_UCX
    {{"serve", "--repo", "{MODELS}", "--listen", "ucx://127.0.0.1:99999"}, 2, "port 99999 is out of range"},
#endif
    {{"serve", "--repo", "{MODELS}", "--listen", "tcp://127.0.0.1"}, 2, "no port"},
    {{"serve", "--repo", "{MODELS}", "--listen", "tcp://:5555"}, 2, "no host"},
    {{"serve", "--repo", "{MODELS}", "--listen", "udp://127.0.0.1:5555"}, 2, "unknown scheme"},
    {{"serve", "--repo", "{MODELS}", "--listen", "tcp://no-such-host.invalid:0"}, 2, "cannot resolve host"},
    {{"serve", "--repo", "{MODELS}", "--listen", "tcp://[::1]:5555"}, 2, "IPv6"},
    // serve: limits and the ready file
    {{"serve", "--repo", "{MODELS}", "--max-payload-mb", "nan"}, 2, "--max-payload-mb"},
    {{"serve", "--repo", "{MODELS}", "--priority-gate-normal-limit", "2"},
     2,
     "--priority-gate-normal-limit requires --priority-gate"},
    {{"serve", "--repo", "{MODELS}", "--max-payload-mb", "1e13"}, 2, "at most 4096"},
    {{"serve", "--repo", "{MODELS}", "--max-payload-mb", "1e30"}, 2, "at most 4096"},
    {{"serve", "--repo", "{MODELS}", "--max-payload-mb", "0"}, 2, "more than 0"},
    {{"serve", "--repo", "{MODELS}", "--ready-file", "/nonexistent-dir/ready"}, 2, "does not exist"},
    {{"serve", "--repo", "{MODELS}", "--ready-file", "{TMP}"}, 2, "is a folder"},
    {{"serve", "--repo", "{MODELS}", "--ready-file", "/proc/edgeserve-ready"}, 2, "cannot write"},
#if EDGESERVE_WITH_UCX
    {{"serve", "--repo", "{MODELS}", "--listen", "ucx://127.0.0.1:0", "--landing", "cuda"},
     2,
     "--landing cuda needs models on a GPU"},
#else
    // A build without UCX (-DEDGESERVE_WITH_UCX=OFF) says so, rather than "unknown scheme".
    {{"serve", "--repo", "{MODELS}", "--listen", "ucx://127.0.0.1:0"},
     2,
     "ucx:// is not built in: rebuild with -DEDGESERVE_WITH_UCX=ON"},
    {{"bench", "--target", "ucx://127.0.0.1:6000"}, 2, "ucx:// is not built in"},
    {{"gateway", "--backend", "ucx://127.0.0.1:6000"}, 2, "ucx:// is not built in"},
#endif
    // serve: set-up errors
    {{"serve", "--repo", "{TMP}/no-such-repo", "--listen", "tcp://127.0.0.1:0"}, 2, "manifest.json"},
    {{"serve", "--repo", "{MODELS}", "--models", "nope", "--listen", "tcp://127.0.0.1:0"}, 2, "model 'nope' is not in"},
    {{"serve", "--repo", "{MODELS}", "--models", "tiny", "--listen", "tcp://127.0.0.1:{BUSY}"},
     2,
     "Address already in use"},
#if EDGESERVE_WITH_UCX
    {{"serve", "--repo", "{MODELS}", "--listen", "ucx://127.0.0.1:{BUSY}"}, 2, "Address already in use"},
#endif
    // gateway
    {{"gateway", "--backend", "tcp://"}, 2, "no port"},
    {{"gateway", "--backend", "tcp://:5555"}, 2, "no host"},
    {{"gateway", "--backend", "tcp://gpu1:http"}, 2, "port 'http' is not a number"},
    {{"gateway", "--backend", "tcp://127.0.0.1:0"}, 2, "port 0 cannot be connected to"},
    {{"gateway", "--listen", "tcp://127.0.0.1:99999", "--backend", "tcp://127.0.0.1:5555"}, 2, "out of range"},
    {{"gateway", "--max-payload-mb", "nan", "--backend", "tcp://127.0.0.1:5555"}, 2, "--max-payload-mb"},
    {{"gateway", "--ready-file", "/nonexistent-dir/ready", "--backend", "tcp://127.0.0.1:5555"}, 2, "does not exist"},
    {{"gateway"}, 2, "--backend is required"},
    // bench (the old BenchProcess.BadUsageExitsTwo cases, the missing repository now really reached)
    {{"bench", "--target", "tcp://127.0.0.1", "--model", "tiny"}, 2, "no port"},
    {{"bench", "--target", "udp://x", "--model", "tiny", "--requests", "1"}, 2, "unknown scheme"},
    {{"bench", "--clients", "0"}, 2, "--clients"},
    {{"bench", "--modle", "tiny"}, 2, "did you mean '--model'?"},
    {{"bench", "--target", "local", "--repo", "{TMP}", "--model", "tiny", "--requests", "1"}, 2, "manifest.json"},
    {{"bench", "--target", "local", "--repo", "{MODELS}", "--model", "nope", "--requests", "1"}, 2, "'nope'"},
    {{"bench", "--log-level", "loud"}, 2, "--log-level"},
    // subcommands
    {{"serv"}, 2, "did you mean 'serve'?"},
    {{"frobnicate"}, 2, "unknown subcommand 'frobnicate'"},
    {{}, 2, "a subcommand is required"},
    // what works: --log-level after the subcommand, help, version
    {{"info", "--repo", "{TMP}", "--log-level", "debug"}, 0, "edgeserve"},
    {{"info", "--json", "--repo", "{TMP}"}, 0, "\"commit\": "},
    {{"--help"}, 0, "Examples"},
    {{"--version"}, 0, "edgeserve"},
};

// A loopback TCP port that stays in use while the object lives.
class BusyPort {
 public:
  BusyPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), n) == 0 && listen(fd_, 1) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &n) == 0)
      port_ = ntohs(a.sin_port);
  }
  ~BusyPort() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

struct CommandRun {
  int exit_code = -1;
  std::string output;
};

std::unique_ptr<ChildProcess> start_edgeserve(const std::vector<std::string>& args, const TempDir& dir) {
  std::vector<std::string> argv{testing::edgeserve_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return std::make_unique<ChildProcess>(argv, dir.path() / "out.log");
}

CommandRun finish(ChildProcess& p) {
  const auto code = p.wait(120s);
  return {code ? *code : -1, p.log()};
}

CommandRun run_edgeserve(const std::vector<std::string>& args, const TempDir& dir) {
  return finish(*start_edgeserve(args, dir));
}

std::string shown(const std::vector<std::string>& args) {
  std::string s = "edgeserve";
  for (const auto& a : args) s += " " + a;
  return s;
}

TEST(UsageErrors, EachCaseExitsWithItsCodeAndATellingMessage) {
  BusyPort busy;
  ASSERT_NE(busy.port(), 0);
  // The cases run a few at a time, each its own process (most of a case is loading the binary and libtorch).
  constexpr size_t kAtOnce = 4;
  const size_t count = std::size(kCases);
  for (size_t first = 0; first < count; first += kAtOnce) {
    const size_t last = std::min(count, first + kAtOnce);
    std::vector<std::unique_ptr<TempDir>> dirs;
    std::vector<std::vector<std::string>> argses;
    std::vector<std::unique_ptr<ChildProcess>> runs;
    for (size_t i = first; i < last; ++i) {
      dirs.push_back(std::make_unique<TempDir>());
      std::vector<std::string> args;
      for (auto a : kCases[i].args) {
        a = std::regex_replace(a, std::regex("\\{MODELS\\}"), testing::test_models_dir().string());
        a = std::regex_replace(a, std::regex("\\{TMP\\}"), dirs.back()->path().string());
        a = std::regex_replace(a, std::regex("\\{BUSY\\}"), std::to_string(busy.port()));
        args.push_back(a);
      }
      runs.push_back(start_edgeserve(args, *dirs.back()));
      argses.push_back(std::move(args));
    }
    for (size_t i = first; i < last; ++i) {
      const Case& c = kCases[i];
      const auto& args = argses[i - first];
      const CommandRun run = finish(*runs[i - first]);
      SCOPED_TRACE(shown(args) + "\n" + run.output);
      EXPECT_EQ(run.exit_code, c.exit_code);
      EXPECT_NE(run.output.find(c.says), std::string::npos) << "expected to say: " << c.says;
      if (c.exit_code == 0) continue;
      for (const char* internal : {"internal:", "unknown-model:", "transport-error:", "terminate", "Aborted"})
        EXPECT_EQ(run.output.find(internal), std::string::npos) << "shows '" << internal << "'";
      const bool loads_first = c.says.starts_with("model '");
      if (!args.empty() && args[0] == "serve" && !loads_first) {
        EXPECT_EQ(run.output.find("loaded model"), std::string::npos) << "refused only after loading models";
      }
    }
  }
}

TEST(UsageErrors, HelpFitsATerminal) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--help"},
                                               {"serve", "--help"},
                                               {"gateway", "--help"},
                                               {"bench", "--help"},
                                               {"info", "--help"},
                                               {"keygen", "--help"},
                                               {"sweep", "--help"},
                                               {"report", "--help"}}) {
    TempDir dir;
    const CommandRun run = run_edgeserve(args, dir);
    SCOPED_TRACE(shown(args) + "\n" + run.output);
    EXPECT_EQ(run.exit_code, 0);
    std::istringstream lines(run.output);
    size_t count = 0;
    for (std::string line; std::getline(lines, line); ++count) {
      // Columns, not bytes: "—" and "×" are one column each.
      const size_t columns = std::count_if(line.begin(), line.end(), [](char ch) { return (ch & 0xC0) != 0x80; });
      EXPECT_LE(columns, 120u) << line;
    }
    if (args.size() == 1) {
      EXPECT_LE(count, 30u) << "the top-level help is a page, not a manual";
    }
    EXPECT_NE(run.output.find("edgeserve "), std::string::npos) << "ends with a working example";
  }
}

TEST(UsageErrors, ServeResolvesAHostNameItListensOn) {
  testing::ServerProcess server({}, "tcp://localhost:0");
  ASSERT_FALSE(server.endpoint().empty()) << server.log();
  EXPECT_TRUE(server.endpoint().starts_with("tcp://127.0.0.1:")) << server.endpoint();
}

}  // namespace
}  // namespace edgeserve
