// The UCX transport between real processes: a real `edgeserve serve` with a ucx:// listener and real UCX
// endpoints (this binary runs once per UCX_TLS choice; see tests/CMakeLists.txt). Replies must equal the TCP
// path's byte for byte; bad requests get error replies and leave the connection serving; dead clients free
// their slots; a restarted server is reached again; the link report names what UCX really used.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "../support/child_process.h"
#include "../support/server_process.h"
#include "../support/tiny_client.h"
#include "core/wire.h"
#include "transport/client_connection.h"
#include "transport/ucx/ucx_common.h"

namespace edgeserve {
namespace {

using namespace std::chrono_literals;
using core::StatusCode;
using testing::ChildProcess;
using testing::connect_or_fail;
using testing::kTinyInputBytes;
using testing::kTinyOutputBytes;
using testing::ServerProcess;
using testing::TempDir;
using testing::tiny_input;
using testing::tiny_request;

// One call; returns the reply payload (empty on failure, with a test failure recorded).
std::vector<std::byte> call_ok(transport::ClientConnection& c, const core::RequestHeader& h,
                               std::span<const std::byte> payload) {
  transport::Reply reply;
  const core::Status s = c.call(h, payload, reply, 10s);
  EXPECT_TRUE(s.ok()) << s.to_string();
  if (!s.ok()) return {};
  EXPECT_EQ(reply.header.status, StatusCode::kOk) << reply.header.error;
  EXPECT_EQ(reply.header.request_id, h.request_id);
  return {reply.payload.begin(), reply.payload.end()};
}

TEST(UcxTransport, RepliesEqualTheTcpPathAndTheLinkIsReported) {
  ServerProcess server({"--listen", "tcp://127.0.0.1:0"}, "ucx://127.0.0.1:0");
  ASSERT_EQ(server.endpoints().size(), 2u) << server.log();
  ASSERT_TRUE(server.endpoints()[0].starts_with("ucx://127.0.0.1:")) << server.endpoints()[0];
  auto ucx = connect_or_fail(server.endpoints()[0]);
  auto tcp = connect_or_fail(server.endpoints()[1]);
  ASSERT_TRUE(ucx && tcp);
  const auto input = tiny_input(1.5f);
  const auto via_ucx = call_ok(*ucx, tiny_request(1), input);
  const auto via_tcp = call_ok(*tcp, tiny_request(2), input);
  ASSERT_EQ(via_ucx.size(), kTinyOutputBytes);
  EXPECT_EQ(via_ucx, via_tcp) << "UCX and TCP replies differ for the same input";

  transport::Reply reply;
  ASSERT_TRUE(ucx->call(tiny_request(3), input, reply, 10s).ok());
  EXPECT_GT(reply.request_post_ns, 0u) << "the client measures post → completion of the request";
  EXPECT_GT(reply.header.timings.server_ns, 0u);

  const transport::LinkReport link = ucx->link();
  EXPECT_EQ(link.kind, "rdma") << "host landing is reported as the paper's rdma";
  EXPECT_EQ(link.landing, "host");
  EXPECT_TRUE(link.library.starts_with("UCX ")) << link.library;
  EXPECT_FALSE(link.client_transports.empty());
  EXPECT_FALSE(link.server_transports.empty());
  // Whatever UCX_TLS allows is all an endpoint may use (tcp-only runs must not report shared memory).
  if (const char* tls = std::getenv("UCX_TLS"); tls && std::string(tls) == "tcp") {
    for (const auto& t : link.client_transports) EXPECT_TRUE(t.starts_with("tcp/")) << t;
  }
  EXPECT_NE(server.log().find("; UCX lanes ["), std::string::npos) << server.log();
}

TEST(UcxTransport, BadRequestsGetErrorRepliesAndTheConnectionKeepsServing) {
  ServerProcess server({}, "ucx://127.0.0.1:0");
  auto c = connect_or_fail(server.endpoint());
  ASSERT_TRUE(c);
  const auto input = tiny_input(1.0f);
  transport::Reply reply;

  auto unknown = tiny_request(1);
  unknown.model = "no-such-model";
  ASSERT_TRUE(c->call(unknown, input, reply, 10s).ok());
  EXPECT_EQ(reply.header.status, StatusCode::kUnknownModel);
  EXPECT_NE(reply.header.error.find("tiny"), std::string::npos) << "the error lists what is served";

  auto wrong_shape = tiny_request(2);
  wrong_shape.shape = core::TensorShape{1, 3, 16, 64};  // same byte count, wrong shape
  ASSERT_TRUE(c->call(wrong_shape, input, reply, 10s).ok());
  EXPECT_EQ(reply.header.status, StatusCode::kBadShape) << reply.header.error;

  // Over the server's limit (ServerProcess: 1 MB): refused before the payload is pulled.
  std::vector<std::byte> big((1 << 20) + 4096);
  auto too_large = tiny_request(3);
  too_large.shape = core::TensorShape{1, 3, 32, 32 * 86};
  too_large.payload_bytes = big.size();
  ASSERT_TRUE(c->call(too_large, big, reply, 10s).ok());
  EXPECT_EQ(reply.header.status, StatusCode::kPayloadTooLarge) << reply.header.error;

  EXPECT_EQ(call_ok(*c, tiny_request(4), input).size(), kTinyOutputBytes) << "the connection still serves";
}

TEST(UcxTransport, ConcurrentClientsGetTheirOwnReplies) {
  // Three UCX workers: the clients are spread over them, so replies cross worker threads too.
  ServerProcess server({"--io-threads", "3"}, "ucx://127.0.0.1:0");
  constexpr int kClients = 4, kRequests = 50;
  std::vector<std::vector<std::byte>> inputs, expected;
  {
    auto c = connect_or_fail(server.endpoint());
    ASSERT_TRUE(c);
    for (int i = 0; i < kClients; ++i) {
      inputs.push_back(tiny_input(static_cast<float>(i + 1)));
      expected.push_back(call_ok(*c, tiny_request(100 + static_cast<uint64_t>(i)), inputs.back()));
    }
    ASSERT_NE(expected[0], expected[1]) << "distinct inputs must give distinct outputs for this check to mean much";
  }
  std::atomic<int> mismatches{0}, failures{0};
  std::vector<std::jthread> threads;
  for (int i = 0; i < kClients; ++i)
    threads.emplace_back([&, i] {
      auto c = transport::connect(server.endpoint());
      if (!c.ok()) return void(failures.fetch_add(kRequests));
      for (int r = 0; r < kRequests; ++r) {
        transport::Reply reply;
        const auto h =
            tiny_request((static_cast<uint64_t>(i) << 32) + static_cast<uint64_t>(r), static_cast<uint32_t>(i));
        if (!(*c)->call(h, inputs[static_cast<size_t>(i)], reply, 10s).ok() || reply.header.status != StatusCode::kOk) {
          failures.fetch_add(1);
          continue;
        }
        if (!std::equal(reply.payload.begin(), reply.payload.end(), expected[static_cast<size_t>(i)].begin(),
                        expected[static_cast<size_t>(i)].end()))
          mismatches.fetch_add(1);
      }
    });
  threads.clear();
  EXPECT_EQ(failures.load(), 0) << server.log();
  EXPECT_EQ(mismatches.load(), 0) << "a client got another client's reply";
  for (const char* worker : {"I/O worker 1", "I/O worker 2"})
    EXPECT_NE(server.log().find(worker), std::string::npos) << "no client was given to " << worker;
}

// A hand-made endpoint that bypasses the client library, to send what it never would.
class RawEndpoint {
 public:
  explicit RawEndpoint(const std::string& uri) {
    auto context = transport::ucx::Context::shared();
    EXPECT_TRUE(context.ok());
    auto worker = transport::ucx::Worker::create(context.value());
    EXPECT_TRUE(worker.ok());
    worker_ = std::move(worker.value());
    EXPECT_TRUE(worker_->set_am_handler(transport::ucx::kReply, &RawEndpoint::on_reply, this).ok());
    auto address = transport::ucx::parse_ucx_uri(uri);
    EXPECT_TRUE(address.ok());
    socklen_t length = 0;
    EXPECT_TRUE(transport::ucx::resolve(address.value(), storage_, length).ok());
    ucp_ep_params_t params{};
    params.field_mask = UCP_EP_PARAM_FIELD_FLAGS | UCP_EP_PARAM_FIELD_SOCK_ADDR | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
    params.flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER;
    params.sockaddr.addr = reinterpret_cast<const sockaddr*>(&storage_);
    params.sockaddr.addrlen = length;
    params.err_mode = UCP_ERR_HANDLING_MODE_PEER;
    EXPECT_EQ(ucp_ep_create(worker_->get(), &params, &ep_), UCS_OK);
  }
  ~RawEndpoint() {
    if (ep_) transport::ucx::close_endpoint(worker_->get(), ep_, true);
  }

  // Sends a request message as given (eagerly when `rendezvous` is false) and waits for the reply's header.
  std::optional<core::ResponseHeader> send(std::span<const std::byte> header, std::span<const std::byte> payload,
                                           bool rendezvous) {
    replied_ = false;
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    p.flags = UCP_AM_SEND_FLAG_REPLY | (rendezvous ? UCP_AM_SEND_FLAG_RNDV : UCP_AM_SEND_FLAG_EAGER);
    ucs_status_ptr_t r = ucp_am_send_nbx(ep_, transport::ucx::kRequest, header.data(), header.size(), payload.data(),
                                         payload.size(), &p);
    transport::ucx::wait_request(worker_->get(), r);  // a refused rendezvous ends with an error: fine here
    if (!transport::ucx::progress_until(
            *worker_, [this] { return replied_; }, std::chrono::steady_clock::now() + 10s, 0us))
      return std::nullopt;
    auto decoded = core::decode_response_header(reply_);
    EXPECT_TRUE(decoded.ok()) << decoded.status().to_string();
    if (!decoded.ok()) return std::nullopt;
    return decoded.value();
  }

 private:
  static ucs_status_t on_reply(void* arg, const void* header, size_t length, void*, size_t,
                               const ucp_am_recv_param_t* param) {
    auto* self = static_cast<RawEndpoint*>(arg);
    if (length == self->reply_.size()) std::memcpy(self->reply_.data(), header, length);
    self->replied_ = true;
    // A reply payload sent by rendezvous is simply dropped (its sender completes).
    (void)param;
    return UCS_OK;
  }

  std::unique_ptr<transport::ucx::Worker> worker_;
  sockaddr_storage storage_{};
  ucp_ep_h ep_ = nullptr;
  core::ResponseHeaderBytes reply_{};
  bool replied_ = false;
};

TEST(UcxTransport, MalformedMessagesFromARawEndpointAreAnsweredNotFatal) {
  ServerProcess server({}, "ucx://127.0.0.1:0");
  RawEndpoint raw(server.endpoint());
  const auto input = tiny_input(2.0f);

  const std::vector<std::byte> short_header(10);
  auto reply = raw.send(short_header, input, /*rendezvous=*/true);
  ASSERT_TRUE(reply) << "no reply to a 10-byte header:\n" << server.log();
  EXPECT_EQ(reply->status, StatusCode::kMalformedHeader) << reply->error;

  core::RequestHeaderBytes garbage;
  garbage.fill(std::byte{0x5a});
  reply = raw.send(garbage, input, true);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, StatusCode::kBadMagic) << reply->error;

  // Declared size and arriving size disagree.
  core::RequestHeaderBytes header;
  core::encode(tiny_request(7), header);
  reply = raw.send(header, std::span(input).first(100), true);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, StatusCode::kPayloadSizeMismatch) << reply->error;

  // An eager payload (not the client library's way) lands in host memory all the same.
  core::encode(tiny_request(8), header);
  reply = raw.send(header, input, /*rendezvous=*/false);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, StatusCode::kOk) << reply->error;

  auto c = connect_or_fail(server.endpoint());
  ASSERT_TRUE(c);
  EXPECT_EQ(call_ok(*c, tiny_request(9), input).size(), kTinyOutputBytes) << "others are still served";
}

TEST(UcxTransport, AKilledClientFreesItsSlotAndOthersAreServed) {
  // One client at a time: the next one gets in only once the killed one's slot is freed.
  ServerProcess server({"--max-clients", "1", "--io-threads", "2"}, "ucx://127.0.0.1:0");
  TempDir dir;
  ChildProcess bench(
      {testing::edgeserve_binary(), "bench", "--target", server.endpoint(), "--model", "mobilenetv3", "--repo",
       testing::test_models_dir().string(), "--requests", "100000", "--warmup", "1", "--no-progress"},
      dir.path() / "bench.log");
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (server.log().find("; UCX lanes [") == std::string::npos && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  std::this_thread::sleep_for(500ms);  // requests in flight
  bench.signal(SIGKILL);
  ASSERT_TRUE(bench.wait(10s));

  bool served = false;
  const auto input = tiny_input(1.0f);
  for (int attempt = 0; attempt < 40 && !served; ++attempt) {
    auto c = transport::connect(server.endpoint());
    if (c.ok()) {
      transport::Reply reply;
      served = (*c)->call(tiny_request(1), input, reply, 5s).ok() && reply.header.status == StatusCode::kOk;
    }
    if (!served) std::this_thread::sleep_for(250ms);
  }
  EXPECT_TRUE(served) << "the killed client's slot was never freed:\n" << server.log();
  EXPECT_NE(server.log().find("disconnected"), std::string::npos) << server.log();
  EXPECT_FALSE(server.process().wait(0ms)) << "the server died:\n" << server.log();
}

TEST(UcxTransport, AClientReconnectsToARestartedServer) {
  const std::string uri = "ucx://127.0.0.1:" + std::to_string(testing::free_fixed_port(20000));
  auto server = std::make_unique<ServerProcess>(std::vector<std::string>{}, uri);
  ASSERT_EQ(server->endpoint(), uri) << server->log();
  auto c = connect_or_fail(uri);
  ASSERT_TRUE(c);
  const auto input = tiny_input(1.0f);
  ASSERT_EQ(call_ok(*c, tiny_request(1), input).size(), kTinyOutputBytes);

  server->process().signal(SIGKILL);
  ASSERT_TRUE(server->process().wait(10s));
  transport::Reply reply;
  const auto t0 = std::chrono::steady_clock::now();
  const core::Status gone = c->call(tiny_request(2), input, reply, 3s);
  EXPECT_FALSE(gone.ok()) << "a call to a dead server must fail";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "and within its timeout";

  server = std::make_unique<ServerProcess>(std::vector<std::string>{}, uri);
  bool again = false;
  for (int attempt = 0; attempt < 20 && !again; ++attempt) {
    again = c->call(tiny_request(3 + static_cast<uint64_t>(attempt)), input, reply, 3s).ok() &&
            reply.header.status == StatusCode::kOk;
    if (!again) std::this_thread::sleep_for(250ms);
  }
  EXPECT_TRUE(again) << "the same connection object did not reach the restarted server:\n" << server->log();
}

TEST(UcxTransport, GpuLandingWithoutAGpuIsRefusedClearly) {
  TempDir dir;
  ChildProcess serve({testing::edgeserve_binary(), "serve", "--repo", testing::test_models_dir().string(), "--models",
                      "tiny", "--listen", "ucx://127.0.0.1:0", "--landing", "cuda"},
                     dir.path() / "serve.log");
  const auto code = serve.wait(60s);
  ASSERT_TRUE(code) << serve.log();
  EXPECT_EQ(*code, 2) << serve.log();
  EXPECT_NE(serve.log().find("--landing cuda needs models on a GPU"), std::string::npos) << serve.log();
}

// On the GPU machine (EDGESERVE_TEST_DEVICE=cuda:0, a CUDA-aware UCX): requests landing in GPU memory give
// the same replies as requests landing in host memory, for preprocessed input and for raw frames that the
// fused kernel preprocesses straight from the landing buffer.
TEST(UcxTransport, GpuLandingRepliesEqualHostLanding) {
  const char* device = std::getenv("EDGESERVE_TEST_DEVICE");
  if (device == nullptr || std::string(device) == "cpu")
    GTEST_SKIP() << "set EDGESERVE_TEST_DEVICE=cuda:0 on a GPU host";
  ServerProcess host({"--device", device, "--landing", "host"}, "ucx://127.0.0.1:0");
  ServerProcess gpu({"--device", device, "--landing", "cuda"}, "ucx://127.0.0.1:0");
  ASSERT_FALSE(host.endpoint().empty() || gpu.endpoint().empty());
  auto via_host = connect_or_fail(host.endpoint());
  auto via_gpu = connect_or_fail(gpu.endpoint());
  ASSERT_TRUE(via_host && via_gpu);
  EXPECT_EQ(via_gpu->link().kind, "gdr");
  EXPECT_EQ(via_gpu->link().landing, "cuda");
  EXPECT_EQ(via_host->link().kind, "rdma");

  auto close_enough = [](const std::vector<std::byte>& a, const std::vector<std::byte>& b) {
    if (a.size() != b.size() || a.empty()) return false;
    std::vector<float> x(a.size() / 4), y(b.size() / 4);
    std::memcpy(x.data(), a.data(), a.size());
    std::memcpy(y.data(), b.data(), b.size());
    for (size_t i = 0; i < x.size(); ++i)
      if (std::abs(x[i] - y[i]) > 1e-3f * (1.0f + std::abs(y[i]))) return false;
    return true;
  };
  const auto input = tiny_input(0.75f);
  EXPECT_TRUE(close_enough(call_ok(*via_gpu, tiny_request(1), input), call_ok(*via_host, tiny_request(1), input)));

  // A raw 640x480 frame for mobilenetv3: preprocessed on the GPU from where it landed.
  std::vector<std::byte> frame(640 * 480 * 3);
  for (size_t i = 0; i < frame.size(); ++i) frame[i] = static_cast<std::byte>((i * 7) % 251);
  core::RequestHeader raw;
  raw.request_id = 2;
  raw.model = "mobilenetv3";
  raw.input_kind = core::InputKind::kRaw;
  raw.dtype = core::DType::kUInt8;
  raw.shape = core::TensorShape{480, 640, 3};
  raw.payload_bytes = frame.size();
  EXPECT_TRUE(close_enough(call_ok(*via_gpu, raw, frame), call_ok(*via_host, raw, frame)));
}

TEST(UcxTransport, BenchRecordsTheLinkAndThePostToCompletionTime) {
  ServerProcess server({}, "ucx://127.0.0.1:0");
  TempDir dir;
  ChildProcess bench({testing::edgeserve_binary(), "bench", "--target", server.endpoint(), "--model", "tiny", "--repo",
                      testing::test_models_dir().string(), "--input", "preprocessed", "--requests", "200", "--warmup",
                      "5", "--no-progress", "--out", (dir.path() / "out").string()},
                     dir.path() / "bench.log");
  const auto code = bench.wait(120s);
  ASSERT_TRUE(code) << bench.log();
  ASSERT_EQ(*code, 0) << bench.log();
  std::ifstream in(dir.path() / "out" / "summary.json");
  const auto s = nlohmann::json::parse(in);
  EXPECT_EQ(s["requests"]["ok"], 200);
  EXPECT_EQ(s["link"]["kind"], "rdma");
  EXPECT_FALSE(s["link"]["client_transports"].empty());
  EXPECT_EQ(s["metrics"]["request-post-time"]["count"], 200);
  EXPECT_NE(bench.log().find("link: rdma over UCX"), std::string::npos) << bench.log();
}

}  // namespace
}  // namespace edgeserve
