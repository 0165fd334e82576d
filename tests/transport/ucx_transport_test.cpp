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
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "../support/child_process.h"
#include "../support/server_process.h"
#include "../support/status_assert.h"
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
  EXPECT_OK(s) << "request " << h.request_id << " to " << c.target();
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
  ASSERT_OK(ucx->call(tiny_request(3), input, reply, 10s));
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
  ASSERT_OK(c->call(unknown, input, reply, 10s));
  EXPECT_EQ(reply.header.status, StatusCode::kUnknownModel);
  EXPECT_NE(reply.header.error.find("tiny"), std::string::npos) << "the error lists what is served";

  auto wrong_shape = tiny_request(2);
  wrong_shape.shape = core::TensorShape{1, 3, 16, 64};  // same byte count, wrong shape
  ASSERT_OK(c->call(wrong_shape, input, reply, 10s));
  EXPECT_EQ(reply.header.status, StatusCode::kBadShape) << reply.header.error;

  // Over the server's limit (ServerProcess: 1 MB): refused before the payload is pulled.
  std::vector<std::byte> big((1 << 20) + 4096);
  auto too_large = tiny_request(3);
  too_large.shape = core::TensorShape{1, 3, 32, 32 * 86};
  too_large.payload_bytes = big.size();
  ASSERT_OK(c->call(too_large, big, reply, 10s));
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
  std::mutex mutex;
  std::string first_failure;
  std::vector<std::jthread> threads;
  for (int i = 0; i < kClients; ++i)
    threads.emplace_back([&, i] {
      auto fail = [&](int n, const std::string& why) {
        failures.fetch_add(n);
        std::lock_guard lock(mutex);
        if (first_failure.empty()) first_failure = why;
      };
      auto c = transport::connect(server.endpoint());
      if (!c.ok()) return fail(kRequests, "connect: " + c.status().to_string());
      for (int r = 0; r < kRequests; ++r) {
        transport::Reply reply;
        const auto h =
            tiny_request((static_cast<uint64_t>(i) << 32) + static_cast<uint64_t>(r), static_cast<uint32_t>(i));
        if (const auto s = (*c)->call(h, inputs[static_cast<size_t>(i)], reply, 10s); !s.ok()) {
          fail(1, "call: " + s.to_string());
          continue;
        }
        if (reply.header.status != StatusCode::kOk) {
          fail(1, std::string(core::to_string(reply.header.status)) + ": " + reply.header.error);
          continue;
        }
        if (!std::equal(reply.payload.begin(), reply.payload.end(), expected[static_cast<size_t>(i)].begin(),
                        expected[static_cast<size_t>(i)].end()))
          mismatches.fetch_add(1);
      }
    });
  threads.clear();
  EXPECT_EQ(failures.load(), 0) << "the first: " << first_failure;
  EXPECT_EQ(mismatches.load(), 0) << "a client got another client's reply";
  for (const char* worker : {"I/O worker 1", "I/O worker 2"})
    EXPECT_NE(server.log().find(worker), std::string::npos) << "no client was given to " << worker;
}

// A hand-made endpoint that bypasses the client library, to send what it never would.
class RawEndpoint {
 public:
  explicit RawEndpoint(const std::string& uri) { open(uri); }
  ~RawEndpoint() {
    if (ep_) transport::ucx::close_endpoint(worker_->get(), ep_, true);
  }

 private:
  // A failure leaves ep_ null: send_all then returns no replies.
  void open(const std::string& uri) {
    auto context = transport::ucx::Context::shared();
    ASSERT_OK(context);
    auto worker = transport::ucx::Worker::create(context.value());
    ASSERT_OK(worker);
    worker_ = std::move(worker.value());
    ASSERT_OK(worker_->set_am_handler(transport::ucx::kReply, &RawEndpoint::on_reply, this));
    auto address = transport::ucx::parse_ucx_uri(uri);
    ASSERT_OK(address);
    socklen_t length = 0;
    ASSERT_OK(transport::ucx::resolve(address.value(), storage_, length));
    ucp_ep_params_t params{};
    params.field_mask = UCP_EP_PARAM_FIELD_FLAGS | UCP_EP_PARAM_FIELD_SOCK_ADDR | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
    params.flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER;
    params.sockaddr.addr = reinterpret_cast<const sockaddr*>(&storage_);
    params.sockaddr.addrlen = length;
    params.err_mode = UCP_ERR_HANDLING_MODE_PEER;
    EXPECT_EQ(ucp_ep_create(worker_->get(), &params, &ep_), UCS_OK);
  }

 public:
  // Sends a request message as given (eagerly when `rendezvous` is false) and waits for the reply's header.
  std::optional<core::ResponseHeader> send(std::span<const std::byte> header, std::span<const std::byte> payload,
                                           bool rendezvous) {
    auto replies = send_all({{header, payload}}, rendezvous);
    if (replies.empty()) return std::nullopt;
    return replies.front();
  }

  // Posts every (header, payload) message back to back, without waiting for a reply in between (what the
  // client library never does), then waits for as many replies; returns those that came, in arrival order.
  std::vector<core::ResponseHeader> send_all(
      const std::vector<std::pair<std::span<const std::byte>, std::span<const std::byte>>>& messages, bool rendezvous) {
    if (ep_ == nullptr) return {};
    replies_.clear();
    std::vector<ucs_status_ptr_t> posted;
    for (const auto& [header, payload] : messages) {
      ucp_request_param_t p{};
      p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
      p.flags = UCP_AM_SEND_FLAG_REPLY | (rendezvous ? UCP_AM_SEND_FLAG_RNDV : UCP_AM_SEND_FLAG_EAGER);
      posted.push_back(ucp_am_send_nbx(ep_, transport::ucx::kRequest, header.data(), header.size(), payload.data(),
                                       payload.size(), &p));
    }
    for (auto r : posted) transport::ucx::wait_request(worker_->get(), r);  // a refused rendezvous ends with an error
    transport::ucx::progress_until(
        *worker_, [&] { return replies_.size() >= messages.size(); },
        std::chrono::steady_clock::now() + testing::scaled(10s), 0us);
    std::vector<core::ResponseHeader> decoded;
    for (const auto& bytes : replies_) {
      auto reply = core::decode_response_header(bytes);
      EXPECT_OK(reply);
      if (reply.ok()) decoded.push_back(reply.value());
    }
    return decoded;
  }

 private:
  static ucs_status_t on_reply(void* arg, const void* header, size_t length, void*, size_t,
                               const ucp_am_recv_param_t* param) {
    auto* self = static_cast<RawEndpoint*>(arg);
    core::ResponseHeaderBytes bytes{};
    if (length == bytes.size()) std::memcpy(bytes.data(), header, length);
    self->replies_.push_back(bytes);
    // A reply payload sent by rendezvous is simply dropped (its sender completes).
    (void)param;
    return UCS_OK;
  }

  std::unique_ptr<transport::ucx::Worker> worker_;
  sockaddr_storage storage_{};
  ucp_ep_h ep_ = nullptr;
  std::vector<core::ResponseHeaderBytes> replies_;
};

TEST(UcxTransport, MalformedMessagesFromARawEndpointAreAnsweredNotFatal) {
  ServerProcess server({}, "ucx://127.0.0.1:0");
  RawEndpoint raw(server.endpoint());
  const auto input = tiny_input(2.0f);

  const std::vector<std::byte> short_header(10);
  auto reply = raw.send(short_header, input, /*rendezvous=*/true);
  ASSERT_TRUE(reply) << "no reply to a 10-byte header";
  EXPECT_EQ(reply->status, StatusCode::kMalformedHeader) << reply->error;

  core::RequestHeaderBytes garbage;
  garbage.fill(std::byte{0x5a});
  reply = raw.send(garbage, input, true);
  ASSERT_TRUE(reply) << "no reply to a garbage header";
  EXPECT_EQ(reply->status, StatusCode::kBadMagic) << reply->error;
  EXPECT_GT(reply->timings.server_rss_bytes, 0u) << "decoded at the transport, answered with the server's own reply";

  // Declared size and arriving size disagree.
  core::RequestHeaderBytes header;
  core::encode(tiny_request(7), header);
  reply = raw.send(header, std::span(input).first(100), true);
  ASSERT_TRUE(reply) << "no reply to a short payload";
  EXPECT_EQ(reply->status, StatusCode::kPayloadSizeMismatch) << reply->error;

  // An eager payload (not the client library's way) lands in host memory all the same.
  core::encode(tiny_request(8), header);
  reply = raw.send(header, input, /*rendezvous=*/false);
  ASSERT_TRUE(reply) << "no reply to an eager payload";
  EXPECT_EQ(reply->status, StatusCode::kOk) << reply->error;

  auto c = connect_or_fail(server.endpoint());
  ASSERT_TRUE(c);
  EXPECT_EQ(call_ok(*c, tiny_request(9), input).size(), kTinyOutputBytes) << "others are still served";
}

// Whether one tiny request on a new connection is answered OK; `why` says what happened otherwise.
bool served_on_a_new_connection(const std::string& endpoint, std::string& why) {
  auto c = transport::connect(endpoint);
  if (!c.ok()) return why = "connect: " + c.status().to_string(), false;
  transport::Reply reply;
  if (const auto s = (*c)->call(tiny_request(1), tiny_input(1.0f), reply, 5s); !s.ok())
    return why = "call: " + s.to_string(), false;
  if (reply.header.status != StatusCode::kOk)
    return why = std::string(core::to_string(reply.header.status)) + ": " + reply.header.error, false;
  return true;
}

TEST(UcxTransport, AKilledClientFreesItsSlotAndOthersAreServed) {
  // One client at a time: the next one gets in only once the killed one's slot is freed.
  ServerProcess server({"--max-clients", "1", "--io-threads", "2", "--models", testing::kWithMobilenet},
                       "ucx://127.0.0.1:0");
  ASSERT_FALSE(server.endpoint().empty());
  TempDir dir;
  ChildProcess bench(
      {testing::edgeserve_binary(), "bench", "--target", server.endpoint(), "--model", "mobilenetv3", "--repo",
       testing::test_models_dir().string(), "--requests", "100000", "--warmup", "1", "--no-progress"},
      dir.path() / "bench.log");
  ASSERT_TRUE(bench.started());
  ASSERT_TRUE(testing::wait_until([&] { return server.log().find("; UCX lanes [") != std::string::npos; }, 60s))
      << "the bench client never connected";
  // The slot is taken: a second client is refused while the bench holds it, and the server says why.
  std::string why;
  EXPECT_FALSE(served_on_a_new_connection(server.endpoint(), why))
      << "a second client was served under --max-clients 1";
  EXPECT_TRUE(
      testing::wait_until([&] { return server.log().find("at the limit of 1 clients") != std::string::npos; }, 10s))
      << "the refusal of the second client (" << why << ") was not logged as the client limit";
  EXPECT_FALSE(bench.wait(0ms)) << "the bench ended before it was killed";
  std::this_thread::sleep_for(300ms);  // requests in flight when it dies
  ASSERT_TRUE(bench.signal(SIGKILL));
  ASSERT_TRUE(bench.wait(10s));

  const bool served =
      testing::wait_until([&] { return served_on_a_new_connection(server.endpoint(), why); }, 20s, 250ms);
  EXPECT_TRUE(served) << "the killed client's slot was never freed; the last attempt: " << why;
  EXPECT_NE(server.log().find("disconnected"), std::string::npos) << "the server did not log the lost client";
  EXPECT_FALSE(server.process().wait(0ms)) << "the server died";
}

// The server serves one request at a time per UCX connection: a second request posted while the first is
// being served is answered at once, "overloaded", saying why; the first is answered normally.
TEST(UcxTransport, ASecondRequestOnABusyConnectionIsRefusedClearly) {
  ServerProcess server({"--models", testing::kWithMobilenet}, "ucx://127.0.0.1:0");
  ASSERT_FALSE(server.endpoint().empty());
  RawEndpoint raw(server.endpoint());
  const auto slow = testing::mobilenet_request(1);
  std::vector<std::byte> frame(slow.payload_bytes);
  core::RequestHeaderBytes first, second;
  core::encode(slow, first);
  core::encode(tiny_request(2), second);
  const auto input = tiny_input(1.0f);
  const auto replies = raw.send_all({{first, frame}, {second, input}}, /*rendezvous=*/true);
  ASSERT_EQ(replies.size(), 2u) << "each request gets a reply";
  bool first_ok = false, second_refused = false;
  for (const auto& r : replies) {
    if (r.request_id == 1) first_ok = r.status == StatusCode::kOk;
    if (r.request_id == 2)
      second_refused =
          r.status == StatusCode::kOverloaded && r.error.find("one request at a time") != std::string::npos;
    SCOPED_TRACE(std::to_string(r.request_id) + ": " + core::to_string(r.status) + " " + r.error);
  }
  EXPECT_TRUE(first_ok) << "the request being served is answered: " << replies[0].error << " / " << replies[1].error;
  EXPECT_TRUE(second_refused) << "the second request on a busy connection: " << core::to_string(replies[0].status)
                              << " " << replies[0].error << " / " << core::to_string(replies[1].status) << " "
                              << replies[1].error;
}

// A reply that comes after its request timed out is never taken for the next request's, over ucx and tcp.
TEST(UcxTransport, ALateReplyIsNeverTakenForTheNextRequest) {
  // On the CPU also on the GPU host: the first request must outlast its 1 ms timeout (on a GPU it may not).
  ServerProcess server({"--listen", "tcp://127.0.0.1:0", "--device", "cpu", "--models", testing::kWithMobilenet},
                       "ucx://127.0.0.1:0");
  ASSERT_EQ(server.endpoints().size(), 2u);
  for (const auto& endpoint : server.endpoints()) {
    SCOPED_TRACE(endpoint);
    auto c = connect_or_fail(endpoint);
    ASSERT_TRUE(c);
    const auto slow = testing::mobilenet_request(1);
    std::vector<std::byte> frame(slow.payload_bytes);
    transport::Reply reply;
    const auto s = c->call(slow, frame, reply, 1ms);  // tens of ms of inference: its reply comes late
    ASSERT_EQ(s.code(), StatusCode::kTimeout) << s.to_string();
    std::this_thread::sleep_for(200ms);  // the late reply arrives (or is dropped) meanwhile
    const auto input = tiny_input(1.0f);
    ASSERT_OK(c->call(tiny_request(2), input, reply, 10s));
    EXPECT_EQ(reply.header.request_id, 2u) << "the late reply to request 1 was taken for request 2";
    EXPECT_EQ(reply.header.status, StatusCode::kOk) << reply.header.error;
    EXPECT_EQ(reply.payload.size(), kTinyOutputBytes);
  }
}

// A client that gives up while its large payload is still being pulled, and goes: the server's forced close
// cancels the pull, whose callback comes after the endpoint is gone; the slot must outlive it (under ASan a
// freed slot here was a heap-use-after-free that killed the server).
TEST(UcxTransport, AClientGoneMidPayloadLeavesTheServerServing) {
  ServerProcess server({"--max-payload-mb", "64"}, "ucx://127.0.0.1:0");
  ASSERT_FALSE(server.endpoint().empty());
  auto large = tiny_request(1);
  large.payload_bytes = 48u << 20;
  const std::vector<std::byte> payload(large.payload_bytes);
  for (int i = 0; i < 6; ++i) {
    auto c = connect_or_fail(server.endpoint());
    ASSERT_TRUE(c);
    transport::Reply reply;
    const auto s = c->call(large, payload, reply, 1ms);  // the pull takes far longer than 1 ms
    EXPECT_FALSE(s.ok() && reply.header.status == StatusCode::kOk) << "a 48 MB payload of a tiny request was served";
  }  // each client closes its endpoint with the pull under way
  std::string why;
  EXPECT_TRUE(testing::wait_until([&] { return served_on_a_new_connection(server.endpoint(), why); }, 20s, 250ms))
      << why << "\n"
      << server.log();
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

  ASSERT_TRUE(server->process().signal(SIGKILL));
  ASSERT_TRUE(server->process().wait(10s));
  transport::Reply reply;
  const auto t0 = std::chrono::steady_clock::now();
  const core::Status gone = c->call(tiny_request(2), input, reply, 3s);
  EXPECT_FALSE(gone.ok()) << "a call to a dead server must fail";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "and within its timeout";

  server = std::make_unique<ServerProcess>(std::vector<std::string>{}, uri);
  ASSERT_EQ(server->endpoint(), uri);
  uint64_t id = 3;
  core::Status last;
  const bool again = testing::wait_until(
      [&] {
        last = c->call(tiny_request(id), input, reply, 3s);
        return last.ok() && reply.header.request_id == id++ && reply.header.status == StatusCode::kOk;
      },
      10s, 250ms);
  EXPECT_TRUE(again) << "the same connection object did not reach the restarted server; the last call: "
                     << last.to_string() << " / " << reply.header.error;
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
  if (!testing::on_gpu()) GTEST_SKIP() << testing::kNeedsGpu;
  const std::string device = testing::test_device();
  // GPU memory is registered and moved by UCX's cuda_copy transport, which this suite's UCX_TLS (tcp, or
  // sm,tcp) leaves out; the servers and this test's clients inherit the widened setting.
  const char* tls = std::getenv("UCX_TLS");
  if (tls != nullptr) setenv("UCX_TLS", (std::string(tls) + ",cuda_copy").c_str(), 1);
  ServerProcess host({"--device", device, "--landing", "host", "--models", testing::kWithMobilenet},
                     "ucx://127.0.0.1:0");
  ServerProcess gpu({"--device", device, "--landing", "cuda", "--models", testing::kWithMobilenet},
                    "ucx://127.0.0.1:0");
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
  ASSERT_EQ(bench.wait(120s), 0) << "bench did not end well";
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
