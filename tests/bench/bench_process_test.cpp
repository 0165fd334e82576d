// `edgeserve bench` as a real process, against `local` and a real server: well-formed summary.json and
// requests.csv, an image file decoded by the client, and an exit code scripts can trust.
#include <gtest/gtest.h>
#include <stb_image_write.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <zmq.hpp>

#include "../support/child_process.h"
#include "../support/server_process.h"

namespace edgeserve {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::TempDir;

struct BenchRun {
  int exit_code = -1;
  std::string log;
  nlohmann::json summary;
  std::vector<std::string> csv_lines;
};

BenchRun run_bench(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"--out", (dir.path() / "out").string(), "--no-progress"});
  ChildProcess p(testing::bench_argv(args), dir.path() / "bench.log");
  BenchRun run;
  auto code = p.wait(300s);
  run.exit_code = code ? *code : -1;
  run.log = p.log();
  std::ifstream js(dir.path() / "out" / "summary.json");
  if (js) run.summary = nlohmann::json::parse(js);
  std::ifstream csv(dir.path() / "out" / "requests.csv");
  for (std::string line; std::getline(csv, line);) run.csv_lines.push_back(line);
  return run;
}

// The summary a user reads: every Table I metric with its statistics, consistent with the request count.
void expect_well_formed(const BenchRun& run, uint64_t requests) {
  ASSERT_FALSE(run.summary.is_null()) << run.log;
  const auto& rq = run.summary["requests"];
  EXPECT_EQ(rq["sent"].get<uint64_t>(), requests);
  EXPECT_EQ(rq["ok"].get<uint64_t>(), requests);
  EXPECT_EQ(rq["unanswered"].get<uint64_t>(), 0u);
  EXPECT_GT(run.summary["throughput_rps"].get<double>(), 0);
  for (const char* name : {"total-time", "request-time", "response-time", "copy-time", "preprocessing-time",
                           "inference-time", "postprocessing-time", "queue-time"}) {
    const auto& m = run.summary["metrics"][name];
    ASSERT_TRUE(m.is_object()) << name;
    EXPECT_EQ(m["count"].get<uint64_t>(), requests) << name;
    for (const char* stat : {"mean", "std", "cov", "p50", "p90", "p99", "max"})
      EXPECT_TRUE(m.contains(stat)) << name << "." << stat;
    EXPECT_LE(m["p50"].get<double>(), m["p99"].get<double>()) << name;
    EXPECT_LE(m["p99"].get<double>(), m["max"].get<double>()) << name;
  }
  const auto& total = run.summary["metrics"]["total-time"];
  const auto& inference = run.summary["metrics"]["inference-time"];
  EXPECT_GT(inference["mean"].get<double>(), 0);
  EXPECT_GE(total["mean"].get<double>(), inference["mean"].get<double>());
  EXPECT_FALSE(run.summary["cpu-usage"]["server_cpu_ms_per_request"].is_null());
  EXPECT_GT(run.summary["memory-usage"]["server_rss_mb_max"].get<double>(), 0);
  ASSERT_EQ(run.csv_lines.size(), requests + 1) << "header + one row per request";
  EXPECT_EQ(run.csv_lines[0].rfind(
                "client,seq,request_id,status,sent-at-s,total-time-ms,request-time-ms,response-time-ms,"
                "copy-time-ms,decode-time-ms,preprocessing-time-ms,inference-time-ms,postprocessing-time-ms,"
                "queue-time-ms,batching-time-ms",
                0),
            0u)
      << run.csv_lines[0];
  EXPECT_NE(run.csv_lines[0].find(",cpu-usage-cumulative-ms,memory-usage-mb,memory-usage-gpu-mb,"), std::string::npos)
      << run.csv_lines[0];
  EXPECT_EQ(run.csv_lines[1].rfind("0,0,1,", 0), 0u) << "client 0's first measured request is request 1, whatever "
                                                        "the warm-up sent: "
                                                     << run.csv_lines[1];
  // The run describes itself.
  EXPECT_NE(run.summary["edgeserve"]["commit"].get<std::string>(), "");
#if EDGESERVE_TEST_TCMALLOC
  EXPECT_NE(run.summary["edgeserve"]["allocator"].get<std::string>().find("tcmalloc"), std::string::npos);
#else
  EXPECT_NE(run.summary["edgeserve"]["allocator"].get<std::string>(), "");
#endif
  EXPECT_GT(run.summary["client-usage"]["cpu_ms_per_request"].get<double>(), 0);
  EXPECT_EQ(run.summary["date"].get<std::string>().size(), 20u) << "UTC ISO-8601, e.g. 2026-11-30T06:00:00Z";
  EXPECT_NE(run.summary["machine"]["host"].get<std::string>(), "");
  EXPECT_NE(run.summary["command_line"].get<std::string>().find(" bench "), std::string::npos);
  EXPECT_TRUE(run.summary["environment"].is_object());
  EXPECT_EQ(run.summary["metrics"]["total-time"]["p99_reliable"].get<bool>(), requests >= 100);
}

TEST(BenchProcess, LocalTargetWritesWellFormedResults) {
  TempDir dir;
  auto run = run_bench(dir, {"--target", "local", "--model", "tiny", "--requests", "30"});
  ASSERT_EQ(run.exit_code, 0) << run.log;
  expect_well_formed(run, 30);
  EXPECT_GT(run.summary["metrics"]["preprocessing-time"]["mean"].get<double>(), 0) << "raw input is the default";
  EXPECT_EQ(run.summary["config"]["input"].get<std::string>(), "synthetic 640x480 frame");
}

TEST(BenchProcess, TcpTargetWithSeveralClientsAndPreprocessedInput) {
  testing::ServerProcess server({"--models", testing::kWithMobilenet});
  ASSERT_FALSE(server.endpoint().empty());
  TempDir dir;
  auto run = run_bench(dir, {"--target", server.endpoint(), "--model", "mobilenetv3", "--clients", "2", "--requests",
                             "15", "--input", "preprocessed"});
  ASSERT_EQ(run.exit_code, 0) << run.log << server.log();
  expect_well_formed(run, 30);
  EXPECT_EQ(run.summary["metrics"]["preprocessing-time"]["max"].get<double>(), 0);
  EXPECT_EQ(run.summary["config"]["input_bytes"].get<uint64_t>(), 3u * 224 * 224 * 4);
  EXPECT_NE(run.summary["timing_split"].get<std::string>().find("same-clock"), std::string::npos);
  EXPECT_GT(run.summary["metrics"]["request-time"]["p50"].get<double>(), 0);
  EXPECT_NE(run.log.find("total-time"), std::string::npos) << "prints the table";
}

TEST(BenchProcess, DecodesAnImageFileWithARealCodec) {
  TempDir dir;
  std::vector<uint8_t> pixels(90 * 120 * 3);
  std::mt19937 rng(1);
  for (auto& p : pixels) p = static_cast<uint8_t>(rng());
  const auto png = (dir.path() / "frame.png").string();
  ASSERT_NE(stbi_write_png(png.c_str(), 120, 90, 3, pixels.data(), 120 * 3), 0);
  auto run = run_bench(dir, {"--target", "local", "--model", "tiny", "--requests", "5", "--image", png});
  ASSERT_EQ(run.exit_code, 0) << run.log;
  EXPECT_EQ(run.summary["config"]["input"].get<std::string>(), "image frame.png 120x90");
  EXPECT_EQ(run.summary["config"]["input_bytes"].get<uint64_t>(), 120u * 90 * 3);
}

TEST(BenchProcess, ExitsNonZeroWhenRequestsGoUnanswered) {
  TempDir dir;
  // A ZeroMQ peer that accepts the connection and never answers: every request times out. (With nothing
  // listening at all, bench now refuses to start: UnreachableTcpServerFailsFastWithExitTwo.)
  zmq::context_t context;
  zmq::socket_t silent(context, zmq::socket_type::router);
  silent.set(zmq::sockopt::linger, 0);
  silent.bind("tcp://127.0.0.1:*");
  auto run = run_bench(dir, {"--target", silent.get(zmq::sockopt::last_endpoint), "--model", "tiny", "--requests", "3",
                             "--warmup", "0", "--timeout-ms", "200"});
  EXPECT_EQ(run.exit_code, 1) << run.log;
  ASSERT_FALSE(run.summary.is_null()) << run.log;
  EXPECT_EQ(run.summary["requests"]["timeouts"].get<uint64_t>(), 3u);
  EXPECT_EQ(run.summary["requests"]["ok"].get<uint64_t>(), 0u);
  EXPECT_EQ(run.summary["requests"]["unanswered"].get<uint64_t>(), 3u);
}

TEST(BenchProcess, UnknownModelFailsClearly) {
  testing::ServerProcess server;
  ASSERT_FALSE(server.endpoint().empty());
  TempDir dir;
  auto run = run_bench(dir, {"--target", server.endpoint(), "--model", "nope", "--requests", "3"});
  EXPECT_EQ(run.exit_code, 2) << "a set-up error, as documented: the server refused the warm-up";
  EXPECT_NE(run.log.find("refused by the server: no model 'nope' here"), std::string::npos) << run.log;
  EXPECT_EQ(run.log.find("unknown-model"), std::string::npos) << "no internal status name: " << run.log;
}

// A tcp target with nothing listening used to cost the warm-up's whole timeout (10.8 s) and exit 1.
TEST(BenchProcess, UnreachableTcpServerFailsFastWithExitTwo) {
  TempDir dir;
  const auto t0 = std::chrono::steady_clock::now();
  auto run = run_bench(dir, {"--target", "tcp://127.0.0.1:1", "--model", "tiny", "--requests", "3"});
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(run.exit_code, 2) << run.log;
  EXPECT_LT(took, 5s) << run.log;
  EXPECT_NE(run.log.find("cannot reach tcp://127.0.0.1:1"), std::string::npos) << run.log;
}

// Open loop: Poisson arrivals at --rate requests/s in all; latency from the intended send time.
TEST(BenchProcess, OpenLoopRateProducesResults) {
  TempDir dir;
  const auto t0 = std::chrono::steady_clock::now();
  auto run = run_bench(dir, {"--target", "local", "--model", "tiny", "--clients", "2", "--requests", "15", "--rate",
                             "100", "--intra-op-threads", "1"});
  const double took_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(run.exit_code, 0) << run.log;
  expect_well_formed(run, 30);
  EXPECT_EQ(run.summary["config"]["offered_rate_rps"].get<double>(), 100);
  EXPECT_NE(run.summary["config"]["load"].get<std::string>().find("open loop"), std::string::npos);
  EXPECT_GT(took_s, 0.1) << "30 requests at 100/s take about 0.3 s, not a closed loop's burst";
  EXPECT_LT(run.summary["throughput_rps"].get<double>(), 300) << "the schedule, not the server, sets the pace";
}

// Ctrl-C keeps what was measured: results are written and the exit code says it was interrupted.
TEST(BenchProcess, InterruptWritesWhatWasMeasured) {
  TempDir dir;
  const auto argv = testing::bench_argv({"--out", (dir.path() / "out").string(), "--target", "local", "--model", "tiny",
                                         "--requests", "10000000", "--intra-op-threads", "1"});
  ChildProcess p(argv, dir.path() / "bench.log");
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (p.log().find(" req/s") == std::string::npos && std::chrono::steady_clock::now() < deadline && !p.wait(0ms))
    std::this_thread::sleep_for(50ms);  // the first progress line: measuring
  p.signal(SIGINT);
  const auto code = p.wait(60s);
  ASSERT_TRUE(code.has_value()) << p.log();
  EXPECT_EQ(*code, 130) << p.log();
  std::ifstream js(dir.path() / "out" / "summary.json");
  ASSERT_TRUE(js) << p.log();
  const auto summary = nlohmann::json::parse(js);
  EXPECT_GT(summary["requests"]["ok"].get<uint64_t>(), 0u);
  EXPECT_LT(summary["requests"]["sent"].get<uint64_t>(), 10000000u);
  EXPECT_TRUE(summary["config"]["interrupted"].get<bool>());
}

// Bad usage (exit 2) is covered, case by case, by tests/cli/usage_errors_test.cpp.

// glibc's malloc maps every block over 32 MiB afresh and unmaps it on free, so a client receiving hugeout's
// 36 MiB replies (9216 pages) over tcp:// faulted in each reply page by page (DeepLabV3's 45 MB: 36-42 ms p50 on
// the H200, 16-20 ms with tcmalloc). With tcmalloc the receive buffers are reused.
TEST(BenchProcess, ALargeReplyCostsTheClientNoFreshPagesPerReply) {
#if !EDGESERVE_TEST_TCMALLOC
  GTEST_SKIP() << "edgeserve is built without tcmalloc (EDGESERVE_TCMALLOC=OFF, not found, or a sanitizer preset, "
                  "whose allocator maps large blocks per allocation): nothing to check";
#endif
  testing::ServerProcess server({"--models", "hugeout", "--workers", "1"});
  ASSERT_FALSE(server.endpoint().empty());
  TempDir dir;
  auto run = run_bench(dir, {"--target", server.endpoint(), "--model", "hugeout", "--requests", "12", "--warmup", "3",
                             "--input", "preprocessed"});
  ASSERT_EQ(run.exit_code, 0) << run.log << server.log();
  ASSERT_EQ(run.summary["requests"]["ok"].get<uint64_t>(), 12u) << run.log;
  const double faults = run.summary["client-usage"]["minor_page_faults_per_request"].get<double>();
  EXPECT_LT(faults, 1000) << "a 36 MiB reply is 9216 pages; the bench faulted in " << faults
                          << " per reply, so it maps its receive buffers afresh (allocator: "
                          << run.summary["edgeserve"]["allocator"] << ")";
}

}  // namespace
}  // namespace edgeserve
