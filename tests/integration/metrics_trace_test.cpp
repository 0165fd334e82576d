// `serve`'s Prometheus /metrics (on an http:// listener and on --metrics HOST:PORT) and its --trace timeline, on
// real processes: requests sent by `bench` are all counted, and all traced, stage by stage.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "../support/child_process.h"
#include "../support/server_process.h"

namespace edgeserve {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::ServerProcess;
using testing::TempDir;

constexpr const char* kStages[] = {"request", "queue", "copy", "preprocess", "inference", "response"};

void run_bench(const std::string& target, int clients, int requests) {
  TempDir dir;
  ChildProcess bench(testing::bench_argv({"--target", target, "--model", "tiny", "--clients", std::to_string(clients),
                                          "--requests", std::to_string(requests), "--warmup", "0", "--no-progress",
                                          "--out", (dir.path() / "out").string()}),
                     dir.path() / "bench.log");
  const auto code = bench.wait(120s);
  ASSERT_EQ(code, 0) << bench.log_tail();
}

// GET http://HOST:PORT/metrics of an "http://HOST:PORT" endpoint.
std::string scrape(const std::string& endpoint) {
  const std::regex hostport(R"(http://([^:/]+):(\d+))");
  std::smatch m;
  EXPECT_TRUE(std::regex_search(endpoint, m, hostport)) << endpoint;
  if (m.empty()) return {};
  httplib::Client client(m[1].str(), std::stoi(m[2].str()));
  auto res = client.Get("/metrics");
  EXPECT_TRUE(res) << "no answer from " << endpoint;
  if (!res) return {};
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  return res->body;
}

// The value of the series written exactly as `series` (name and labels), or -1.
double value_of(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  return -1;
}

void expect_counted(const std::string& text, const std::string& transport, int n) {
  const std::string labels = R"(model="tiny",transport=")" + transport + "\"";
  EXPECT_EQ(value_of(text, "edgeserve_requests_total{" + labels + "}"), n) << text;
  for (const char* stage : kStages) {
    const std::string with_stage = labels + ",stage=\"" + stage + "\"";
    EXPECT_EQ(value_of(text, "edgeserve_stage_seconds_count{" + with_stage + "}"), n) << stage;
    EXPECT_EQ(value_of(text, "edgeserve_stage_seconds_bucket{" + with_stage + ",le=\"+Inf\"}"), n) << stage;
    EXPECT_GE(value_of(text, "edgeserve_stage_seconds_sum{" + with_stage + "}"), 0) << stage;
  }
  // The whole request takes at least as long as its inference.
  EXPECT_GE(value_of(text, "edgeserve_stage_seconds_sum{" + labels + ",stage=\"request\"}"),
            value_of(text, "edgeserve_stage_seconds_sum{" + labels + ",stage=\"inference\"}"));
}

TEST(Metrics, EveryRequestIsCountedOnTheHttpListenerAndOnMetricsPort) {
  ServerProcess server({"--listen", "http://127.0.0.1:0", "--metrics", "127.0.0.1:0", "--models", "tiny"});
  ASSERT_EQ(server.endpoints().size(), 2u) << server.log_tail();
  std::smatch m;
  const std::string log = server.log();
  ASSERT_TRUE(std::regex_search(log, m, std::regex(R"(metrics at (http://[0-9.]+:\d+)/metrics)"))) << log;
  const std::string metrics_port = m[1].str();

  run_bench(server.endpoints()[0], 2, 10);  // tcp://
  run_bench(server.endpoints()[1], 1, 5);   // http://
  for (const std::string& where : {server.endpoints()[1], metrics_port}) {
    SCOPED_TRACE(where);
    const std::string text = scrape(where);
    expect_counted(text, "tcp", 20);
    expect_counted(text, "http", 5);
    EXPECT_EQ(value_of(text, R"(edgeserve_inflight_requests{model="tiny"})"), 0) << text;
    EXPECT_GT(value_of(text, "process_resident_memory_bytes"), 0) << text;
    EXPECT_EQ(text.find("edgeserve_request_failures_total{"), std::string::npos) << "no failure yet:\n" << text;
  }

  // A request for a model the server does not have: a failure, by status, under model="" (client-chosen names are
  // never labels).
  httplib::Client client("127.0.0.1", std::stoi(server.endpoints()[1].substr(server.endpoints()[1].rfind(':') + 1)));
  auto res =
      client.Post("/v2/models/nope/infer",
                  R"({"inputs":[{"name":"input","datatype":"FP32","shape":[1],"data":[0.5]}]})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  const std::string text = scrape(metrics_port);
  EXPECT_EQ(value_of(text, R"(edgeserve_request_failures_total{model="",transport="http",status="unknown-model"})"), 1)
      << text;
}

TEST(Trace, EverySampledRequestHasItsStagesInOrder) {
  TempDir dir;
  const auto file = dir.path() / "trace.json";
  constexpr int kClients = 2, kRequests = 8;
  ServerProcess server({"--models", "tiny", "--trace", file.string(), "--trace-sample", "1"});
  run_bench(server.endpoint(), kClients, kRequests);
  ASSERT_TRUE(server.process().signal(SIGTERM));
  ASSERT_EQ(server.process().wait(60s), 0) << server.log_tail();
  std::ifstream in(file);
  ASSERT_TRUE(in) << "no trace written:\n" << server.log_tail();
  const nlohmann::json trace = nlohmann::json::parse(in);  // throws (fails the test) when it is not valid JSON
  ASSERT_TRUE(trace["traceEvents"].is_array());

  std::set<int64_t> named_tracks;
  std::map<std::string, int> per_stage;
  struct Span {
    double from, to;
    int64_t tid;
  };
  std::map<std::pair<uint64_t, uint64_t>, std::map<std::string, Span>> by_request;  // (client, id) → stage → span
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] == "M") {
      if (e["name"] == "thread_name") named_tracks.insert(e["tid"].get<int64_t>());
      continue;
    }
    ASSERT_EQ(e["ph"], "X") << e.dump();
    const std::string name = e["name"];
    ++per_stage[name];
    const double ts = e["ts"], dur = e["dur"];
    EXPECT_GE(dur, 0) << e.dump();
    by_request[{e["args"]["client"].get<uint64_t>(), e["args"]["id"].get<uint64_t>()}][name] = {
        ts, ts + dur, e["tid"].get<int64_t>()};
    EXPECT_EQ(e["args"]["model"], "tiny");
    EXPECT_EQ(e["args"]["transport"], "tcp");
  }
  for (const char* stage : kStages) EXPECT_EQ(per_stage[stage], kClients * kRequests) << stage;
  EXPECT_EQ(by_request.size(), static_cast<size_t>(kClients * kRequests));
  constexpr double kSlack = 0.002;  // µs, the rounding of ts and dur
  for (const auto& [key, stages] : by_request) {
    SCOPED_TRACE("client " + std::to_string(key.first) + " request " + std::to_string(key.second));
    const Span& request = stages.at("request");
    // In the order the stages run, each starting after the one before it ended, all inside the request.
    double cursor = request.from;
    for (const char* stage : {"handling", "queue", "preprocess", "copy", "inference", "response"}) {
      ASSERT_TRUE(stages.contains(stage)) << stage;
      const Span& s = stages.at(stage);
      EXPECT_GE(s.from + kSlack, cursor) << stage;
      EXPECT_LE(s.to, request.to + kSlack) << stage;
      EXPECT_TRUE(named_tracks.contains(s.tid)) << stage << " on an unnamed track " << s.tid;
      cursor = s.to;
    }
    EXPECT_NEAR(stages.at("response").to, request.to, kSlack) << "the request ends with its reply";
    EXPECT_NE(stages.at("inference").tid, request.tid) << "engine stages are on the lane's track";
  }
  EXPECT_NE(server.log().find("trace: 16 request(s)"), std::string::npos) << server.log_tail();
}

}  // namespace
}  // namespace edgeserve
