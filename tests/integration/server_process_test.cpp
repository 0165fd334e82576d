// A real `edgeserve serve` process driven by real ZeroMQ clients: correct outputs (checked against the same
// TorchScript files run directly), every class of bad input answered clearly while others keep being
// served, concurrency, and graceful shutdown.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>
#include <random>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "../support/child_process.h"
#include "../support/preprocess_reference.h"
#include "../support/raw_peer.h"
#include "../support/server_process.h"
#include "../support/status_assert.h"
#include "core/clock.h"
#include "core/wire.h"
#include "engine/model_spec.h"

namespace edgeserve {
namespace {

using core::StatusCode;
using namespace std::chrono_literals;
using testing::ServerProcess;

struct Reply {
  core::ResponseHeader header;
  std::vector<float> outputs;
};

// A DEALER socket that can send anything, well-formed or not.
class RawClient {
 public:
  explicit RawClient(zmq::context_t& ctx, const std::string& endpoint) : socket_(ctx, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.connect(endpoint);
  }
  void send(std::vector<zmq::message_t> frames) {
    ASSERT_TRUE(zmq::send_multipart(socket_, frames).has_value()) << "ZeroMQ refused to queue the message";
  }
  void send(const core::RequestHeader& h, std::span<const std::byte> payload) {
    core::RequestHeaderBytes b;
    core::encode(h, b);
    std::vector<zmq::message_t> frames;
    frames.emplace_back(b.data(), b.size());
    frames.emplace_back(payload.data(), payload.size());
    send(std::move(frames));
  }
  std::optional<Reply> receive(std::chrono::milliseconds timeout = 20s) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, testing::scaled(timeout)) == 0) return std::nullopt;
    std::vector<zmq::message_t> frames;
    EXPECT_TRUE(zmq::recv_multipart(socket_, std::back_inserter(frames)).has_value());
    EXPECT_EQ(frames.size(), 2u) << "a reply is a header frame and a payload frame";
    if (frames.empty()) return std::nullopt;
    auto h = core::decode_response_header({frames[0].data<std::byte>(), frames[0].size()});
    EXPECT_OK(h) << "the reply's header";
    if (!h.ok() || frames.size() != 2) return std::nullopt;
    EXPECT_EQ(frames[1].size(), h->payload_bytes);
    Reply r{h.value(), std::vector<float>(frames[1].size() / 4)};
    if (!r.outputs.empty()) std::memcpy(r.outputs.data(), frames[1].data(), r.outputs.size() * 4);  // not (null, 0)
    return r;
  }
  zmq::socket_t& socket() { return socket_; }

 private:
  zmq::socket_t socket_;
};

core::RequestHeader tiny_request(uint64_t id) {
  core::RequestHeader h;
  h.request_id = id;
  h.model = "tiny";
  h.input_kind = core::InputKind::kPreprocessed;
  h.dtype = core::DType::kFloat32;
  h.shape = core::TensorShape{1, 3, 32, 32};
  h.payload_bytes = 3 * 32 * 32 * 4;
  return h;
}

std::vector<float> random_floats(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

engine::ModelSpec spec_of(const std::string& name) {
  auto specs = engine::load_manifest(testing::test_models_dir());
  for (auto& s : *specs)
    if (s.name == name) return s;
  throw std::runtime_error("no model " + name);
}

// The server's outputs against the TorchScript file run here on the CPU. A GPU server may use TF32 and other
// kernels, so it gets a looser bound (relative to the largest output).
void expect_matches_torch(const std::string& model, const at::Tensor& x, const std::vector<float>& got) {
  auto module = torch::jit::load(spec_of(model).file.string());
  torch::NoGradGuard guard;
  auto expected = module.forward({x}).toTensor().contiguous();
  ASSERT_EQ(got.size(), static_cast<size_t>(expected.numel()));
  const float scale = expected.abs().max().item<float>();
  const float tolerance = testing::on_gpu() ? 2e-2f : 1e-4f;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], expected.data_ptr<float>()[i], tolerance * scale + 1e-6f)
        << model << " element " << i << " (server on " << (testing::on_gpu() ? testing::test_device() : "cpu") << ")";
}

class ServerProcessTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess({"--models", testing::kWithMobilenet}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_FALSE(server_->endpoint().empty()) << "server failed to start"; }
  // The suite's server outlives each test: a failed test gets its log here.
  void TearDown() override {
    if (HasFailure()) server_->process().print_log_tail();
  }

  // Asserts the server still answers a good request correctly.
  void expect_still_serving() {
    RawClient c(ctx_, server_->endpoint());
    auto x = random_floats(3 * 32 * 32, 99);
    c.send(tiny_request(4242), std::as_bytes(std::span(x)));
    auto r = c.receive();
    ASSERT_TRUE(r) << "server stopped answering";
    EXPECT_EQ(r->header.status, StatusCode::kOk) << r->header.error;
    EXPECT_EQ(r->header.request_id, 4242u);
  }

  // Sends frames and expects an error reply with `code` for request `id`.
  void expect_error(std::vector<zmq::message_t> frames, StatusCode code, uint64_t id) {
    RawClient c(ctx_, server_->endpoint());
    c.send(std::move(frames));
    auto r = c.receive();
    ASSERT_TRUE(r) << "no reply (expected " << core::to_string(code) << " for request " << id << ")";
    EXPECT_EQ(r->header.status, code) << core::to_string(r->header.status) << ": " << r->header.error;
    EXPECT_EQ(r->header.request_id, id);
    EXPECT_FALSE(r->header.error.empty()) << "an error reply says why";
    EXPECT_EQ(r->header.payload_bytes, 0u);
    expect_still_serving();
  }

  static std::vector<zmq::message_t> frames_of(const core::RequestHeaderBytes& header, size_t payload_bytes) {
    std::vector<zmq::message_t> f;
    f.emplace_back(header.data(), header.size());
    f.emplace_back(payload_bytes);
    return f;
  }

  static ServerProcess* server_;
  zmq::context_t ctx_;
};

ServerProcess* ServerProcessTest::server_ = nullptr;

TEST_F(ServerProcessTest, PreprocessedInputGivesTheModelsOutput) {
  for (const std::string model : {"tiny", "mobilenetv3"}) {
    const auto spec = spec_of(model);
    RawClient c(ctx_, server_->endpoint());
    auto x = random_floats(spec.input.shape.numel().value(), 7);
    core::RequestHeader h = tiny_request(11);
    h.model = model;
    h.shape = spec.input.shape;
    h.payload_bytes = x.size() * 4;
    c.send(h, std::as_bytes(std::span(x)));
    auto r = c.receive();
    ASSERT_TRUE(r) << "no reply for " << model;
    ASSERT_EQ(r->header.status, StatusCode::kOk) << r->header.error;
    ASSERT_EQ(r->header.n_outputs, 1);
    EXPECT_EQ(r->header.outputs[0].shape, (core::TensorShape{1, model == "tiny" ? 10 : 1000}));
    EXPECT_GT(r->header.timings.inference_ns, 0u);
    EXPECT_GE(r->header.timings.server_ns, r->header.timings.inference_ns);
    EXPECT_EQ(r->header.timings.preprocess_ns, 0u);
    EXPECT_GT(r->header.timings.server_rss_bytes, 0u);
    std::vector<int64_t> dims(spec.input.shape.begin(), spec.input.shape.end());
    expect_matches_torch(model, torch::from_blob(x.data(), dims), r->outputs);
  }
}

TEST_F(ServerProcessTest, RawImageIsPreprocessedOnTheServer) {
  const auto spec = spec_of("tiny");
  std::mt19937 rng(5);
  std::vector<uint8_t> img(480 * 640 * 3);
  for (auto& p : img) p = static_cast<uint8_t>(rng());
  core::RequestHeader h = tiny_request(12);
  h.input_kind = core::InputKind::kRaw;
  h.dtype = core::DType::kUInt8;
  h.shape = core::TensorShape{480, 640, 3};
  h.payload_bytes = img.size();
  RawClient c(ctx_, server_->endpoint());
  c.send(h, std::as_bytes(std::span(img)));
  auto r = c.receive();
  ASSERT_TRUE(r) << "no reply to a raw frame";
  ASSERT_EQ(r->header.status, StatusCode::kOk) << r->header.error;
  EXPECT_GT(r->header.timings.preprocess_ns, 0u);
  auto ref = testing::reference_preprocess(img, 480, 640, 32, 32, spec.preprocess.mean, spec.preprocess.std);
  expect_matches_torch("tiny", torch::from_blob(ref.data(), {1, 3, 32, 32}), r->outputs);
}

TEST_F(ServerProcessTest, BadMagicVersionAndShortHeader) {
  core::RequestHeaderBytes b;
  core::encode(tiny_request(21), b);
  b[0] = std::byte{'X'};
  expect_error(frames_of(b, 3 * 32 * 32 * 4), StatusCode::kBadMagic, 21);
  core::encode(tiny_request(22), b);
  b[4] = std::byte{7};
  expect_error(frames_of(b, 3 * 32 * 32 * 4), StatusCode::kBadVersion, 22);
  core::encode(tiny_request(23), b);
  std::vector<zmq::message_t> f;
  f.emplace_back(b.data(), 40);
  f.emplace_back(3 * 32 * 32 * 4);
  expect_error(std::move(f), StatusCode::kMalformedHeader, 23);
}

// The transport decodes the header now, not the pipeline: the reply to one that does not decode is still the
// server's own error reply (its timings, its error count), not a bare one from the transport.
TEST_F(ServerProcessTest, AHeaderThatDoesNotDecodeGetsTheServersOwnErrorReply) {
  core::RequestHeaderBytes b;
  core::encode(tiny_request(24), b);
  b[0] = std::byte{'X'};
  RawClient c(ctx_, server_->endpoint());
  c.send(frames_of(b, 3 * 32 * 32 * 4));
  auto r = c.receive();
  ASSERT_TRUE(r) << "no reply to a bad magic";
  EXPECT_EQ(r->header.status, StatusCode::kBadMagic) << r->header.error;
  EXPECT_EQ(r->header.request_id, 24u);
  EXPECT_GT(r->header.timings.recv_clock_ns, 0u);
  EXPECT_GT(r->header.timings.server_ns, 0u);
  EXPECT_GT(r->header.timings.server_rss_bytes, 0u) << "the server's error reply carries its resources";
  EXPECT_EQ(r->header.timings.clock_domain, core::clock_domain());
}

TEST_F(ServerProcessTest, PayloadSizeMismatchAndTooLarge) {
  core::RequestHeaderBytes b;
  core::encode(tiny_request(31), b);
  expect_error(frames_of(b, 100), StatusCode::kPayloadSizeMismatch, 31);

  // Over --max-payload-mb but under the transport's hard cap: a clear error reply.
  auto h = tiny_request(32);
  h.input_kind = core::InputKind::kRaw;
  h.dtype = core::DType::kUInt8;
  h.shape = core::TensorShape{512, 1024, 3};  // 1.5 MiB
  h.payload_bytes = 512 * 1024 * 3;
  core::encode(h, b);
  expect_error(frames_of(b, h.payload_bytes), StatusCode::kPayloadTooLarge, 32);
}

TEST_F(ServerProcessTest, FarOversizeMessageDropsOnlyThatConnection) {
  auto h = tiny_request(33);
  h.input_kind = core::InputKind::kRaw;
  h.dtype = core::DType::kUInt8;
  h.shape = core::TensorShape{1024, 1024, 3};  // 3 MiB: over the hard cap, never buffered by the server
  h.payload_bytes = 1024 * 1024 * 3;
  core::RequestHeaderBytes b;
  core::encode(h, b);
  RawClient c(ctx_, server_->endpoint());
  c.send(frames_of(b, h.payload_bytes));
  EXPECT_FALSE(c.receive(1500ms)) << "the server must not buffer or answer a message over its hard cap";
  expect_still_serving();
}

TEST_F(ServerProcessTest, UnknownModelWrongShapeWrongDtype) {
  auto h = tiny_request(41);
  h.model = "no-such-model";
  core::RequestHeaderBytes b;
  core::encode(h, b);
  RawClient c(ctx_, server_->endpoint());
  c.send(frames_of(b, h.payload_bytes));
  auto r = c.receive();
  ASSERT_TRUE(r) << "no reply for an unknown model";
  EXPECT_EQ(r->header.status, StatusCode::kUnknownModel) << r->header.error;
  EXPECT_NE(r->header.error.find("tiny"), std::string::npos) << "lists the models served: " << r->header.error;

  h = tiny_request(42);
  h.shape = core::TensorShape{1, 3, 16, 16};
  h.payload_bytes = 3 * 16 * 16 * 4;
  core::encode(h, b);
  expect_error(frames_of(b, h.payload_bytes), StatusCode::kBadShape, 42);

  h = tiny_request(43);
  h.dtype = core::DType::kFloat16;
  h.payload_bytes = 3 * 32 * 32 * 2;
  core::encode(h, b);
  expect_error(frames_of(b, h.payload_bytes), StatusCode::kBadDtype, 43);
}

TEST_F(ServerProcessTest, TruncatedAndExtraFrames) {
  core::RequestHeaderBytes b;
  core::encode(tiny_request(51), b);
  std::vector<zmq::message_t> header_only;
  header_only.emplace_back(b.data(), b.size());
  expect_error(std::move(header_only), StatusCode::kTruncatedMessage, 51);

  core::encode(tiny_request(52), b);
  auto extra = frames_of(b, 3 * 32 * 32 * 4);
  extra.emplace_back(8);
  expect_error(std::move(extra), StatusCode::kMalformedHeader, 52);
}

// The gone client's request may wait behind requests queued on the same worker (client id 0 → worker 0) by
// another connection (a margin, not a guarantee: a fast worker has answered them all before the gone client
// connects). What makes the order certain is that the gone client is a plain socket speaking ZMTP: close(2) ends its
// connection at once, right behind the request's last byte, so the server reads the end of the stream long before that
// request's inference ends. (A ZeroMQ socket closed with linger ends its connection whenever its process's I/O thread
// gets to it: TSan on a loaded 2-core machine took seconds, the reply was delivered to a connection still open and this
// test failed.)
TEST_F(ServerProcessTest, ClientGoneBeforeItsReplyIsLoggedAndHarmless) {
  const auto spec = spec_of("mobilenetv3");
  auto x = random_floats(spec.input.shape.numel().value(), 8);
  auto h = tiny_request(61);
  h.model = "mobilenetv3";
  h.shape = spec.input.shape;
  h.payload_bytes = x.size() * 4;
  const int ahead = testing::on_gpu() ? 30 : 6;  // within the per-client share of 32
  RawClient busy(ctx_, server_->endpoint());
  for (int i = 0; i < ahead; ++i) {
    auto b = h;
    b.request_id = 600 + static_cast<uint64_t>(i);
    busy.send(b, std::as_bytes(std::span(x)));
  }
  ASSERT_TRUE(busy.receive()) << "the first queued request was not answered";
  {
    testing::RawSocket gone(server_->endpoint());
    ASSERT_TRUE(gone.connected() && gone.zmtp_handshake()) << "no ZMTP connection to the server";
    core::RequestHeaderBytes b;
    core::encode(h, b);
    ASSERT_TRUE(gone.zmtp_frame({reinterpret_cast<const uint8_t*>(b.data()), b.size()}, /*more=*/true));
    ASSERT_TRUE(gone.zmtp_frame({reinterpret_cast<const uint8_t*>(x.data()), x.size() * sizeof(float)}, false));
  }  // closed: the request's bytes are in the server's socket, followed by the end of the stream
  for (int i = 1; i < ahead; ++i) ASSERT_TRUE(busy.receive()) << "queued request " << i << " was not answered";
  EXPECT_TRUE(testing::wait_until(
      [&] { return server_->log().find("client disconnected before its reply") != std::string::npos; }, 20s))
      << "the reply to a client that had gone was not logged as such";
  expect_still_serving();
}

TEST_F(ServerProcessTest, ConcurrentClientsEachGetTheirOwnReplies) {
  constexpr int kClients = 4, kRequests = 25;
  std::vector<std::jthread> threads;
  std::atomic<int> ok{0};
  for (int c = 0; c < kClients; ++c)
    threads.emplace_back([&, c] {
      RawClient client(ctx_, server_->endpoint());
      auto x = random_floats(3 * 32 * 32, static_cast<unsigned>(c));
      for (int i = 0; i < kRequests; ++i) {
        const uint64_t id = (static_cast<uint64_t>(c) << 32) | static_cast<uint64_t>(i);
        client.send(tiny_request(id), std::as_bytes(std::span(x)));
        auto r = client.receive();
        if (r && r->header.status == StatusCode::kOk && r->header.request_id == id && r->outputs.size() == 10) ++ok;
      }
    });
  threads.clear();
  EXPECT_EQ(ok.load(), kClients * kRequests);
}

TEST(ServerLifecycle, SigtermStopsGracefullyWithExitCodeZero) {
  ServerProcess server;
  ASSERT_FALSE(server.endpoint().empty());
  ASSERT_TRUE(server.process().signal(SIGTERM));
  auto code = server.process().wait(20s);
  ASSERT_TRUE(code) << "server did not stop on SIGTERM";
  EXPECT_EQ(*code, 0) << "exit code after SIGTERM";
  EXPECT_NE(server.log().find("stopped:"), std::string::npos) << "no \"stopped:\" line";
}

// The serving paths chosen by flag, on test_device() (the CPU here, the GPU on the GPU host): each gives the
// models' outputs. On a GPU, --no-cuda-graphs runs eager and the default replays CUDA graphs.
class ServingPaths : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(ServingPaths, GiveTheModelsOutputs) {
  std::vector<std::string> flags = GetParam();
  flags.insert(flags.end(), {"--models", testing::kWithMobilenet});
  ServerProcess server(flags);
  ASSERT_FALSE(server.endpoint().empty());
  zmq::context_t ctx;
  const bool priority = GetParam() == std::vector<std::string>{"--policy", "priority"};
  uint64_t id = 800;
  for (const std::string model : {"tiny", "mobilenetv3"}) {
    SCOPED_TRACE(model);
    const auto spec = spec_of(model);
    RawClient c(ctx, server.endpoint());
    auto x = random_floats(spec.input.shape.numel().value(), 17);
    for (uint8_t level : {uint8_t{0}, uint8_t{1}}) {
      if (level > 0 && !priority) continue;
      core::RequestHeader h = tiny_request(++id);
      h.model = model;
      h.shape = spec.input.shape;
      h.payload_bytes = x.size() * 4;
      h.priority = level;
      c.send(h, std::as_bytes(std::span(x)));
      auto r = c.receive();
      ASSERT_TRUE(r) << "no reply";
      ASSERT_EQ(r->header.status, StatusCode::kOk) << r->header.error;
      std::vector<int64_t> dims(spec.input.shape.begin(), spec.input.shape.end());
      expect_matches_torch(model, torch::from_blob(x.data(), dims), r->outputs);
    }
  }
  if (testing::on_gpu()) {
    const bool eager = GetParam() == std::vector<std::string>{"--no-cuda-graphs"};
    EXPECT_NE(server.log().find(eager ? "(eager," : "(cuda-graph,"), std::string::npos)
        << "the models do not run as " << (eager ? "eager" : "CUDA graphs");
  }
}

INSTANTIATE_TEST_SUITE_P(Flags, ServingPaths,
                         ::testing::Values(std::vector<std::string>{"--policy", "pool"},
                                           std::vector<std::string>{"--policy", "priority"},
                                           std::vector<std::string>{"--no-cuda-graphs"}),
                         [](const ::testing::TestParamInfo<std::vector<std::string>>& param_info) {
                           std::string name;
                           for (const auto& a : param_info.param)
                             for (char ch : a)
                               if (std::isalnum(static_cast<unsigned char>(ch))) name += ch;
                           return name;
                         });

// An fp16 model variant (exported on the GPU host by the test fixture) served on the GPU: float16 in, outputs
// pointing the same way as the fp32 model's.
TEST(Fp16, AHalfPrecisionVariantIsServedOnTheGpu) {
  if (!testing::on_gpu()) GTEST_SKIP() << testing::kNeedsGpu << " (fp16 models run on a GPU only)";
  const std::string name = "mobilenetv3-fp16";
  auto specs = engine::load_manifest(testing::test_models_dir());
  ASSERT_OK(specs);
  const bool exported =
      std::any_of(specs->begin(), specs->end(), [&](const engine::ModelSpec& s) { return s.name == name; });
  ASSERT_TRUE(exported) << name << " is not in " << testing::test_models_dir()
                        << " (tests/CMakeLists.txt exports it when EDGESERVE_TEST_DEVICE names a GPU)";
  ServerProcess server({"--models", "tiny,mobilenetv3," + name});
  ASSERT_FALSE(server.endpoint().empty());
  const auto spec = spec_of("mobilenetv3");
  auto x = random_floats(spec.input.shape.numel().value(), 21);
  std::vector<int64_t> dims(spec.input.shape.begin(), spec.input.shape.end());
  at::Tensor half = torch::from_blob(x.data(), dims).to(torch::kHalf).contiguous();
  zmq::context_t ctx;
  RawClient c(ctx, server.endpoint());
  core::RequestHeader h = tiny_request(900);
  h.model = name;
  h.dtype = core::DType::kFloat16;
  h.shape = spec.input.shape;
  h.payload_bytes = static_cast<uint64_t>(half.numel()) * 2;
  c.send(h, std::span(static_cast<const std::byte*>(half.data_ptr()), h.payload_bytes));
  auto r = c.receive();
  ASSERT_TRUE(r) << "no reply";
  ASSERT_EQ(r->header.status, StatusCode::kOk) << r->header.error;
  ASSERT_EQ(r->header.n_outputs, 1);
  // The reply's output is float16 (or float32); compare directions with the fp32 model run here.
  auto module = torch::jit::load(spec.file.string());
  torch::NoGradGuard guard;
  const at::Tensor expected = module.forward({torch::from_blob(x.data(), dims)}).toTensor().flatten();
  at::Tensor got;
  if (r->header.outputs[0].dtype == core::DType::kFloat16) {
    std::vector<float> raw = r->outputs;  // bytes of float16 values, read as floats by RawClient
    got = torch::from_blob(raw.data(), {static_cast<int64_t>(raw.size() * 2)}, torch::kHalf).to(torch::kFloat).clone();
  } else {
    got = torch::from_blob(r->outputs.data(), {static_cast<int64_t>(r->outputs.size())}).clone();
  }
  ASSERT_EQ(got.numel(), expected.numel());
  const float cosine = torch::cosine_similarity(got, expected, 0).item<float>();
  EXPECT_GT(cosine, 0.99f) << "the fp16 variant's output points elsewhere than the fp32 model's";
}

// "SIGINT/SIGTERM stop it gracefully: requests already received are answered first."
TEST(ServerLifecycle, SigtermAnswersTheRequestsAlreadyReceivedFirst) {
  // On the CPU also on the GPU host: the 7 later requests must all have arrived while the first one runs (a GPU
  // answers it before the client has sent them all, and requests not yet received are rightly not answered).
  ServerProcess server({"--workers", "1", "--device", "cpu", "--models", testing::kWithMobilenet});
  ASSERT_FALSE(server.endpoint().empty());
  zmq::context_t ctx;
  RawClient c(ctx, server.endpoint());
  const auto spec = spec_of("mobilenetv3");
  auto x = random_floats(spec.input.shape.numel().value(), 9);
  constexpr int kQueued = 8;
  for (int i = 0; i < kQueued; ++i) {
    auto h = tiny_request(700 + static_cast<uint64_t>(i));
    h.model = "mobilenetv3";
    h.shape = spec.input.shape;
    h.payload_bytes = x.size() * 4;
    c.send(h, std::as_bytes(std::span(x)));
  }
  auto first = c.receive();
  ASSERT_TRUE(first) << "the first request was not answered";
  EXPECT_EQ(first->header.status, StatusCode::kOk) << first->header.error;
  ASSERT_TRUE(server.process().signal(SIGTERM));  // the other seven are received, waiting or running
  for (int i = 1; i < kQueued; ++i) {
    auto r = c.receive();
    ASSERT_TRUE(r) << "request " << i << " of " << kQueued << " received before SIGTERM was never answered";
    EXPECT_EQ(r->header.status, StatusCode::kOk)
        << "request " << r->header.request_id << ": " << core::to_string(r->header.status) << " " << r->header.error;
  }
  EXPECT_EQ(server.process().wait(30s), 0) << "exit code after SIGTERM";
  EXPECT_NE(server.log().find("stopped: " + std::to_string(kQueued) + " request(s) served"), std::string::npos)
      << "the server did not count every request as served";
}

// `edgeserve info`: versions, devices, transports and the repository's models; with --load, how each runs.
TEST(Info, PrintsVersionsDevicesTransportsAndModels) {
  testing::TempDir dir;
  std::vector<std::string> argv{testing::edgeserve_binary(),
                                "info",
                                "--repo",
                                testing::test_models_dir().string(),
                                "--load",
                                "--device",
                                testing::on_gpu() ? testing::test_device() : "cpu"};
  testing::ChildProcess info(argv, dir.path() / "info.log");
  ASSERT_EQ(info.wait(120s), 0) << "info's exit code";
  const std::string out = info.log();
  for (const char* what : {"edgeserve ", "ZeroMQ ", "devices:", "cpu (", "transports: local (in-process), tcp (ZeroMQ ",
                           EDGESERVE_WITH_UCX ? "), ucx (UCX " : "ipc (ZeroMQ ", "models in ", "tiny", "mobilenetv3"}) {
    EXPECT_NE(out.find(what), std::string::npos) << "info does not print \"" << what << "\"";
  }
  // A build without UCX lists only what it has: ucx:// is neither a transport nor a library here.
  if (!EDGESERVE_WITH_UCX) {
    EXPECT_EQ(out.find("), ucx ("), std::string::npos) << "info lists ucx unbuilt";
  }
  EXPECT_EQ(out.find("cannot load"), std::string::npos) << "a test model did not load";
  EXPECT_NE(out.find(testing::on_gpu() ? "cuda-graph" : "eager"), std::string::npos) << "says how the models run";
}

TEST(ServerLifecycle, UnknownModelOrRepositoryIsAClearStartupError) {
  testing::TempDir dir;
  testing::ChildProcess p({testing::edgeserve_binary(), "serve", "--repo", testing::test_models_dir().string(),
                           "--models", "resnet9000", "--listen", "tcp://127.0.0.1:0"},
                          dir.path() / "log");
  EXPECT_EQ(p.wait(60s), 2) << "exit code of a start-up error";
  EXPECT_NE(p.log().find("resnet9000"), std::string::npos) << "names the unknown model";
  EXPECT_NE(p.log().find("tiny"), std::string::npos) << "lists what the repository has";
}

}  // namespace
}  // namespace edgeserve
