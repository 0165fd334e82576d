// Dynamic batching and JPEG input through real `serve` and `bench` processes over tcp: every request answered
// once, batches seen in the replies' batch sizes and batching-times, JPEGs decoded by the server (decode-time),
// and a corrupt JPEG answered with an error while the server keeps serving.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "../support/child_process.h"
#include "../support/server_process.h"
#include "../support/status_assert.h"
#include "../support/tiny_client.h"

namespace edgeserve {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

nlohmann::json bench_summary(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"--out", (dir.path() / "out").string(), "--no-progress", "--model", "tiny"});
  testing::ChildProcess bench(testing::bench_argv(args), dir.path() / "bench.log");
  const auto code = bench.wait(300s);
  EXPECT_EQ(code.value_or(-1), 0) << bench.log_tail();
  std::ifstream js(dir.path() / "out" / "summary.json");
  return js ? nlohmann::json::parse(js) : nlohmann::json();
}

// One worker, four clients: requests queue while a batch runs, so batches form; one that does not fill closes
// on its 20 ms delay. Every request is answered once, and what each waited for its batch is reported apart.
TEST(BatchingProcess, ClientsSharingOneWorkerAreServedInBatchesAndEachRequestIsAnsweredOnce) {
  testing::ServerProcess server(
      {"--policy", "pool", "--workers", "1", "--max-batch-size", "4", "--max-queue-delay-us", "20000"});
  ASSERT_FALSE(server.endpoint().empty());
  TempDir dir;
  const auto s = bench_summary(
      dir, {"--target", server.endpoint(), "--clients", "4", "--requests", "40", "--input", "preprocessed"});
  ASSERT_FALSE(s.is_null());
  EXPECT_EQ(s["requests"]["sent"].get<uint64_t>(), 160u);
  EXPECT_EQ(s["requests"]["ok"].get<uint64_t>(), 160u);
  EXPECT_EQ(s["requests"]["unanswered"].get<uint64_t>(), 0u);
  const auto& size = s["metrics"]["batch-size"];
  EXPECT_EQ(size["count"].get<uint64_t>(), 160u);
  EXPECT_GT(size["max"].get<double>(), 1) << "no request ran in a batch";
  EXPECT_LE(size["max"].get<double>(), 4) << "a batch beyond --max-batch-size";
  const auto& batching = s["metrics"]["batching-time"];
  EXPECT_GT(batching["max"].get<double>(), 0) << "no request waited for its batch to fill";
  EXPECT_LE(batching["mean"].get<double>(), s["metrics"]["queue-time"]["mean"].get<double>())
      << "batching-time is part of queue-time";
}

TEST(BatchingProcess, WithoutBatchingEveryRequestRunsAlone) {
  testing::ServerProcess server({"--policy", "pool", "--workers", "1"});
  TempDir dir;
  const auto s = bench_summary(
      dir, {"--target", server.endpoint(), "--clients", "4", "--requests", "20", "--input", "preprocessed"});
  ASSERT_FALSE(s.is_null());
  EXPECT_EQ(s["metrics"]["batch-size"]["max"].get<double>(), 1);
  EXPECT_EQ(s["metrics"]["batching-time"]["max"].get<double>(), 0);
}

TEST(JpegProcess, JpegFramesAreDecodedByTheServerAndTimedApart) {
  testing::ServerProcess server;
  TempDir dir;
  const auto s = bench_summary(dir, {"--target", server.endpoint(), "--clients", "2", "--requests", "20", "--input",
                                     "jpeg", "--image-size", "320x240", "--jpeg-quality", "90"});
  ASSERT_FALSE(s.is_null());
  EXPECT_EQ(s["requests"]["ok"].get<uint64_t>(), 40u);
  EXPECT_EQ(s["config"]["input_kind"].get<std::string>(), "jpeg");
  const auto& decode = s["metrics"]["decode-time"];
  EXPECT_EQ(decode["count"].get<uint64_t>(), 40u);
  EXPECT_GT(decode["p50"].get<double>(), 0);
  EXPECT_GT(s["metrics"]["preprocessing-time"]["p50"].get<double>(), 0);
}

core::RequestHeader jpeg_request(uint64_t id, size_t bytes) {
  core::RequestHeader h = testing::tiny_request(id);
  h.input_kind = core::InputKind::kJpeg;
  h.dtype = core::DType::kUInt8;
  h.shape = core::TensorShape{static_cast<int64_t>(bytes)};
  h.payload_bytes = bytes;
  return h;
}

TEST(JpegProcess, ACorruptJpegGetsAClearErrorAndTheServerKeepsServing) {
  testing::ServerProcess server;
  auto conn = testing::connect_or_fail(server.endpoint());
  ASSERT_TRUE(conn);
  transport::Reply reply;
  // SOI, then a header cut short: neither a frame nor a crash.
  const std::vector<std::byte> corrupt{std::byte{0xFF}, std::byte{0xD8}, std::byte{0xFF}, std::byte{0xC0},
                                       std::byte{0x00}, std::byte{0x11}, std::byte{0x08}};
  ASSERT_OK(conn->call(jpeg_request(1, corrupt.size()), corrupt, reply, 20s));
  EXPECT_EQ(reply.header.status, core::StatusCode::kBadInputKind);
  EXPECT_NE(reply.header.error.find("JPEG"), std::string::npos) << reply.header.error;
  const std::vector<std::byte> not_jpeg(64, std::byte{0x42});
  ASSERT_OK(conn->call(jpeg_request(2, not_jpeg.size()), not_jpeg, reply, 20s));
  EXPECT_NE(reply.header.error.find("not a JPEG"), std::string::npos) << reply.header.error;
  const auto input = testing::tiny_input(0.5f);
  ASSERT_OK(conn->call(testing::tiny_request(3), input, reply, 20s));
  EXPECT_EQ(reply.header.status, core::StatusCode::kOk) << reply.header.error;
}

}  // namespace
}  // namespace edgeserve
