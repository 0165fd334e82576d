// Large replies (the bigout test model answers 16 MiB) over tcp, ucx and local: every reply byte-exact against
// the in-process pipeline; the outputs a request can choose (selection, dtype, argmax, topk) against libtorch;
// the server's resident memory flat over hundreds of 16 MiB replies (reply blocks come from a pool made at
// start and go back to it once sent).
#include <gtest/gtest.h>
#include <torch/script.h>

#include <cstring>
#include <random>

#include "../support/raw_peer.h"
#include "../support/server_process.h"
#include "engine/model_spec.h"
#include "server/model_repository.h"
#include "server/pipeline.h"
#include "transport/client_connection.h"

namespace edgeserve {
namespace {

using namespace std::chrono_literals;
using testing::test_models_dir;

constexpr const char* kModel = "bigout";
constexpr size_t kOutBytes = 16ull * 512 * 512 * sizeof(float);  // "out": [1,16,512,512] float32

engine::ModelSpec bigout_spec() {
  auto specs = engine::load_manifest(test_models_dir());
  EXPECT_TRUE(specs.ok()) << specs.status().to_string();
  for (auto& s : *specs)
    if (s.name == kModel) return s;
  ADD_FAILURE() << "no model " << kModel << " in " << test_models_dir();
  return {};
}

struct Input {
  core::TensorShape shape;
  torch::Tensor tensor;
  std::span<const std::byte> bytes() const {
    return {static_cast<const std::byte*>(tensor.data_ptr()), static_cast<size_t>(tensor.nbytes())};
  }
};

Input random_input(const engine::ModelSpec& spec, int seed) {
  torch::manual_seed(seed);
  return {spec.input.shape, torch::randn(std::vector<int64_t>(spec.input.shape.begin(), spec.input.shape.end()))};
}

core::RequestHeader request_for(const Input& in, uint64_t id, core::OutputChoice choice = {}) {
  core::RequestHeader h;
  h.request_id = id;
  h.model = kModel;
  h.input_kind = core::InputKind::kPreprocessed;
  h.dtype = core::DType::kFloat32;
  h.shape = in.shape;
  h.payload_bytes = in.bytes().size();
  h.output = choice;
  return h;
}

// The reply payload, copied (Reply::payload lives only until the connection's next call).
std::vector<std::byte> call(transport::ClientConnection& c, const Input& in, uint64_t id,
                            core::OutputChoice choice = {}, core::ResponseHeader* header = nullptr) {
  transport::Reply reply;
  const auto s = c.call(request_for(in, id, choice), in.bytes(), reply, 30s);
  EXPECT_TRUE(s.ok()) << c.target() << ": " << s.to_string();
  EXPECT_EQ(reply.header.status, core::StatusCode::kOk) << c.target() << ": " << reply.header.error;
  if (header) *header = reply.header;
  return {reply.payload.begin(), reply.payload.end()};
}

// The same pipeline in this process: the `local` transport, the reference every network reply must match.
struct LocalServer {
  server::ModelRepository models;
  server::Pipeline pipeline;
  std::unique_ptr<transport::ClientConnection> connection;

  explicit LocalServer(server::ModelRepository m)
      : models(std::move(m)), pipeline(models, {}), connection(transport::connect("local", local_options()).value()) {}
  transport::ConnectOptions local_options() {
    transport::ConnectOptions o;
    o.local_handler = &pipeline;
    return o;
  }
};

std::unique_ptr<LocalServer> local_server() {
  auto models = server::ModelRepository::load(test_models_dir(), {kModel}, {"cpu", 1, true});
  EXPECT_TRUE(models.ok()) << models.status().to_string();
  return std::make_unique<LocalServer>(std::move(models.value()));
}

testing::ServerProcess tcp_and_ucx_server() {
  return testing::ServerProcess(
      {"--models", kModel, "--workers", "2", "--device", "cpu", "--listen", "ucx://127.0.0.1:0"});
}

TEST(LargeReply, SixteenMibRepliesOverTcpUcxAndLocalAreByteExact) {
  auto local = local_server();
  auto server = tcp_and_ucx_server();
  ASSERT_EQ(server.endpoints().size(), 2u) << server.log_tail();
  const auto spec = bigout_spec();
  std::vector<std::unique_ptr<transport::ClientConnection>> remote;
  for (const auto& endpoint : server.endpoints()) {
    auto c = transport::connect(endpoint);
    ASSERT_TRUE(c.ok()) << endpoint << ": " << c.status().to_string();
    remote.push_back(std::move(c.value()));
  }
  for (int i = 0; i < 6; ++i) {
    const Input in = random_input(spec, i);
    const auto expected = call(*local->connection, in, i + 1);
    ASSERT_EQ(expected.size(), kOutBytes + 4 * 64 * 64 * sizeof(float));
    for (auto& c : remote) {
      const auto got = call(*c, in, i + 1);
      ASSERT_EQ(got.size(), expected.size()) << c->target();
      EXPECT_EQ(std::memcmp(got.data(), expected.data(), got.size()), 0) << c->target() << ", request " << i;
    }
  }
}

TEST(LargeReply, ChosenOutputsDtypeArgmaxAndTopkMatchLibtorch) {
  auto server = tcp_and_ucx_server();
  const auto spec = bigout_spec();
  auto tcp = transport::connect(server.endpoint());
  ASSERT_TRUE(tcp.ok()) << tcp.status().to_string();
  auto module = torch::jit::load(spec.file.string(), at::kCPU);
  torch::NoGradGuard no_grad;
  const Input in = random_input(spec, 42);
  auto made = module.forward({in.tensor}).toTuple()->elements();
  const at::Tensor out = made[0].toTensor().contiguous(), aux = made[1].toTensor().contiguous();
  auto as_tensor = [](const std::vector<std::byte>& bytes, const core::OutputDesc& d, size_t offset) {
    return torch::from_blob(const_cast<std::byte*>(bytes.data()) + offset,
                            std::vector<int64_t>(d.shape.begin(), d.shape.end()),
                            torch::TensorOptions().dtype(d.dtype == core::DType::kUInt8     ? at::kByte
                                                         : d.dtype == core::DType::kInt32   ? at::kInt
                                                         : d.dtype == core::DType::kFloat16 ? at::kHalf
                                                                                            : at::kFloat))
        .clone();
  };
  core::ResponseHeader h;

  core::OutputChoice only_out;  // DeepLabV3 without aux
  only_out.select = 1;
  auto bytes = call(**tcp, in, 1, only_out, &h);
  ASSERT_EQ(h.n_outputs, 1);
  ASSERT_EQ(bytes.size(), kOutBytes);
  EXPECT_TRUE(torch::equal(as_tensor(bytes, h.outputs[0], 0), out));

  core::OutputChoice half;
  half.dtype = core::DType::kFloat16;
  bytes = call(**tcp, in, 2, half, &h);
  ASSERT_EQ(h.n_outputs, 2);
  EXPECT_EQ(h.outputs[0].dtype, core::DType::kFloat16);
  EXPECT_EQ(bytes.size(), (kOutBytes + aux.nbytes()) / 2);
  EXPECT_TRUE(torch::equal(as_tensor(bytes, h.outputs[1], kOutBytes / 2), aux.to(at::kHalf)));

  core::OutputChoice argmax;
  argmax.select = 1;
  argmax.postprocess = core::Postprocess::kArgmax;
  bytes = call(**tcp, in, 3, argmax, &h);
  ASSERT_EQ(h.n_outputs, 1);
  EXPECT_EQ(h.outputs[0].dtype, core::DType::kUInt8);  // 16 classes: a uint8 mask
  EXPECT_EQ(h.outputs[0].shape, (core::TensorShape{1, 512, 512}));
  EXPECT_TRUE(torch::equal(as_tensor(bytes, h.outputs[0], 0), out.argmax(1).to(at::kByte)));

  core::OutputChoice topk;
  topk.select = 2;
  topk.postprocess = core::Postprocess::kTopk;
  topk.k = 3;
  bytes = call(**tcp, in, 4, topk, &h);
  ASSERT_EQ(h.n_outputs, 2);
  auto [values, ids] = aux.topk(3, 1);
  EXPECT_EQ(h.outputs[0].dtype, core::DType::kInt32);
  EXPECT_TRUE(torch::equal(as_tensor(bytes, h.outputs[0], 0), ids.to(at::kInt)));
  const size_t ids_bytes = static_cast<size_t>(ids.numel()) * 4;
  EXPECT_TRUE(torch::equal(as_tensor(bytes, h.outputs[1], ids_bytes), values));

  core::OutputChoice too_many;
  too_many.postprocess = core::Postprocess::kTopk;
  too_many.k = 5;  // aux has 4 classes
  transport::Reply reply;
  ASSERT_TRUE((*tcp)->call(request_for(in, 5, too_many), in.bytes(), reply, 30s).ok());
  EXPECT_EQ(reply.header.status, core::StatusCode::kBadShape) << reply.header.error;
  EXPECT_NE(reply.header.error.find("4 classes"), std::string::npos) << reply.header.error;
}

TEST(LargeReply, ServerMemoryStaysFlatOverHundredsOfSixteenMibReplies) {
  auto server = tcp_and_ucx_server();
  const auto spec = bigout_spec();
  const Input in = random_input(spec, 7);
  std::vector<std::unique_ptr<transport::ClientConnection>> clients;
  for (const auto& endpoint : server.endpoints()) clients.push_back(std::move(transport::connect(endpoint).value()));
  auto run = [&](int n) {
    for (int i = 0; i < n; ++i)
      for (auto& c : clients) {
        transport::Reply reply;
        ASSERT_TRUE(c->call(request_for(in, static_cast<uint64_t>(i) + 1), in.bytes(), reply, 30s).ok());
        ASSERT_EQ(reply.payload.size(), kOutBytes + 4 * 64 * 64 * sizeof(float));
      }
  };
  run(20);  // every pool block touched once, first-use allocations out of the way
  const uint64_t before = testing::resident_bytes(server.process().pid());
  for (int i = 1; i <= 6; ++i) {  // 300 replies of 16 MiB in all
    run(25);
    const uint64_t now = testing::resident_bytes(server.process().pid());
    // Growth is what a leak looks like; RSS may fall (ASan, 2026-12-06: 972 -> 956 MiB as a block went back).
    EXPECT_LT(static_cast<long long>(now) - static_cast<long long>(before), 16ll << 20)
        << "RSS " << (before >> 20) << " MiB → " << (now >> 20) << " MiB after " << 50 * i << " more replies";
  }
}

// A rendezvous reply's receive request belongs to the client until it frees it. One kept per reply drains UCX's
// request pool; UCX names each one at the worker's end ("was not returned to mpool ucp_requests").
TEST(LargeReply, UcxClientGivesEachReplysReceiveRequestBack) {
  auto server = tcp_and_ucx_server();
  std::string ucx_endpoint;
  for (const auto& endpoint : server.endpoints())
    if (endpoint.starts_with("ucx://")) ucx_endpoint = endpoint;
  ASSERT_FALSE(ucx_endpoint.empty()) << server.log_tail();
  auto c = transport::connect(ucx_endpoint);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  const Input in = random_input(bigout_spec(), 1);
  for (int i = 0; i < 12; ++i) ASSERT_EQ(call(*c.value(), in, i + 1).size(), kOutBytes + 4 * 64 * 64 * sizeof(float));
  fflush(stdout);
  ::testing::internal::CaptureStdout();  // UCX logs to stdout unless UCX_LOG_FILE says otherwise
  ::testing::internal::CaptureStderr();
  c.value().reset();  // destroys the connection's UCX worker, which reports what was never returned
  fflush(stdout);
  const std::string log = ::testing::internal::GetCapturedStdout() + ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(log.find("not returned to mpool"), std::string::npos) << log.substr(0, 2000);
}

}  // namespace
}  // namespace edgeserve
