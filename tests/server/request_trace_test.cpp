// The request trace's sampling and its bound: 1 in N per lane, a full lane drops (and counts) later samples, and
// the file holds exactly what was kept.
#include "server/request_trace.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "../support/child_process.h"

namespace edgeserve::server {
namespace {

TracedRequest request(uint64_t id, uint64_t t0) {
  TracedRequest r;
  r.request_id = id;
  r.sender = 7;
  r.client_id = 3;
  r.listener = 0;
  r.recv_ns = t0;
  r.admitted_ns = t0 + 1000;
  r.started_ns = t0 + 3000;
  r.preprocess_ns = 2000;
  r.copy_ns = 500;
  r.inference_ns = 10000;
  r.run_end_ns = t0 + 16000;
  r.send_ns = t0 + 17000;
  return r;
}

TEST(RequestTrace, SamplesOneInNPerLaneAndDropsBeyondItsBound) {
  testing::TempDir dir;
  // Two lanes of two records each; every second request sampled.
  RequestTrace trace({dir.path() / "t.json", 2, 4}, 2, {"tiny"}, {"tcp"});
  int sampled = 0;
  for (uint64_t id = 0; id < 10; ++id)
    if (trace.sample(0)) {
      ++sampled;
      trace.record(0, request(id, 1'000'000 + id * 100'000));
    }
  EXPECT_EQ(sampled, 5);
  EXPECT_EQ(trace.recorded(), 2u) << "lane 0 keeps its first two";
  EXPECT_EQ(trace.dropped(), 3u);
  EXPECT_TRUE(trace.sample(1)) << "each lane samples on its own: lane 1's first request";
  trace.record(1, request(100, 5'000'000));
  ASSERT_TRUE(trace.write().ok());

  std::ifstream in(dir.path() / "t.json");
  const auto json = nlohmann::json::parse(in);
  EXPECT_EQ(json["otherData"]["dropped"], 3);
  std::map<uint64_t, int> spans_of;
  std::map<int64_t, std::string> tracks;
  for (const auto& e : json["traceEvents"]) {
    if (e["name"] == "thread_name") tracks[e["tid"].get<int64_t>()] = e["args"]["name"];
    if (e["ph"] == "X") {
      ++spans_of[e["args"]["id"].get<uint64_t>()];
      EXPECT_EQ(e["args"]["model"], "tiny");
    }
  }
  // Kept: lane 0's samples 0 and 2, lane 1's 100; each with request, handling, queue, preprocess, copy, inference,
  // response (no decode or postprocess: they took no time).
  EXPECT_EQ(spans_of, (std::map<uint64_t, int>{{0, 7}, {2, 7}, {100, 7}}));
  EXPECT_EQ(tracks[1], "lane 0");
  EXPECT_EQ(tracks[2], "lane 1");
  EXPECT_EQ(tracks[1000], "client 3 (tcp connection)");
}

TEST(RequestTrace, AnUnwritableFileIsAnError) {
  RequestTrace trace({"/nonexistent-dir/t.json", 1, 10}, 1, {"tiny"}, {});
  trace.record(0, request(1, 1000));
  EXPECT_FALSE(trace.write().ok());
}

}  // namespace
}  // namespace edgeserve::server
