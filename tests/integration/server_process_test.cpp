// A real `edgeserve serve` process driven by real ZeroMQ clients: correct outputs (checked against the same
// TorchScript files run directly), every class of bad input answered clearly while others keep being
// served, concurrency, and graceful shutdown.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <fstream>
#include <optional>
#include <random>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "../support/child_process.h"
#include "../support/preprocess_reference.h"
#include "../support/server_process.h"
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
  void send(std::vector<zmq::message_t> frames) { ASSERT_TRUE(zmq::send_multipart(socket_, frames).has_value()); }
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
    if (zmq::poll(&item, 1, timeout) == 0) return std::nullopt;
    std::vector<zmq::message_t> frames;
    EXPECT_TRUE(zmq::recv_multipart(socket_, std::back_inserter(frames)).has_value());
    EXPECT_EQ(frames.size(), 2u);
    auto h = core::decode_response_header({frames[0].data<std::byte>(), frames[0].size()});
    EXPECT_TRUE(h.ok()) << h.status().to_string();
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

void expect_matches_torch(const std::string& model, const at::Tensor& x, const std::vector<float>& got) {
  auto module = torch::jit::load(spec_of(model).file.string());
  torch::NoGradGuard guard;
  auto expected = module.forward({x}).toTensor().contiguous();
  ASSERT_EQ(got.size(), static_cast<size_t>(expected.numel()));
  const float scale = expected.abs().max().item<float>();
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], expected.data_ptr<float>()[i], 1e-4f * scale + 1e-6f) << model << " element " << i;
}

class ServerProcessTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_FALSE(server_->endpoint().empty()) << "server failed to start"; }

  // Asserts the server still answers a good request correctly.
  void expect_still_serving() {
    RawClient c(ctx_, server_->endpoint());
    auto x = random_floats(3 * 32 * 32, 99);
    c.send(tiny_request(4242), std::as_bytes(std::span(x)));
    auto r = c.receive();
    ASSERT_TRUE(r) << "server stopped answering:\n" << server_->log();
    EXPECT_EQ(r->header.status, StatusCode::kOk) << r->header.error;
    EXPECT_EQ(r->header.request_id, 4242u);
  }

  // Sends frames and expects an error reply with `code` for request `id`.
  void expect_error(std::vector<zmq::message_t> frames, StatusCode code, uint64_t id) {
    RawClient c(ctx_, server_->endpoint());
    c.send(std::move(frames));
    auto r = c.receive();
    ASSERT_TRUE(r) << "no reply";
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
    ASSERT_TRUE(r);
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
  ASSERT_TRUE(r);
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
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header.status, StatusCode::kUnknownModel);
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

TEST_F(ServerProcessTest, ClientGoneBeforeItsReplyIsLoggedAndHarmless) {
  const auto spec = spec_of("mobilenetv3");
  auto x = random_floats(spec.input.shape.numel().value(), 8);
  auto h = tiny_request(61);
  h.model = "mobilenetv3";
  h.shape = spec.input.shape;
  h.payload_bytes = x.size() * 4;
  {
    RawClient gone(ctx_, server_->endpoint());
    gone.send(h, std::as_bytes(std::span(x)));
    std::this_thread::sleep_for(20ms);  // let the request reach the server, then vanish
  }
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (server_->log().find("client disconnected") == std::string::npos && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  EXPECT_NE(server_->log().find("client disconnected before its reply"), std::string::npos) << server_->log();
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
  server.process().signal(SIGTERM);
  auto code = server.process().wait(20s);
  ASSERT_TRUE(code) << "server did not stop on SIGTERM";
  EXPECT_EQ(*code, 0) << server.log();
  EXPECT_NE(server.log().find("stopped:"), std::string::npos) << server.log();
}

TEST(ServerLifecycle, UnknownModelOrRepositoryIsAClearStartupError) {
  testing::TempDir dir;
  testing::ChildProcess p({testing::edgeserve_binary(), "serve", "--repo", testing::test_models_dir().string(),
                           "--models", "resnet9000", "--listen", "tcp://127.0.0.1:0"},
                          dir.path() / "log");
  auto code = p.wait(60s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 2);
  EXPECT_NE(p.log().find("resnet9000"), std::string::npos) << p.log();
  EXPECT_NE(p.log().find("tiny"), std::string::npos) << "lists what the repository has: " << p.log();
}

}  // namespace
}  // namespace edgeserve
