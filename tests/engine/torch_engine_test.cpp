// The libtorch engine against the same TorchScript files run directly through torch, with real models.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <cstring>
#include <fstream>
#include <random>

#include "../support/child_process.h"
#include "../support/preprocess_reference.h"
#include "engine/engine.h"

namespace edgeserve::engine {
namespace {

using testing::TempDir;
using testing::test_models_dir;

ModelSpec spec_named(const std::string& name) {
  auto specs = load_manifest(test_models_dir());
  EXPECT_TRUE(specs.ok()) << specs.status().to_string();
  for (auto& s : *specs)
    if (s.name == name) return s;
  ADD_FAILURE() << "no model " << name << " in " << test_models_dir();
  return {};
}

// The device under test: cpu here; the GPU machine runs this binary again with EDGESERVE_TEST_DEVICE=cuda:0.
std::string test_device() {
  const char* env = std::getenv("EDGESERVE_TEST_DEVICE");
  return env ? env : "cpu";
}
bool on_gpu() { return test_device() != "cpu"; }

void expect_close(const std::vector<float>& got, const at::Tensor& expected) {
  auto e = expected.contiguous().to(at::kFloat);
  ASSERT_EQ(got.size(), static_cast<size_t>(e.numel()));
  const float scale = e.abs().max().item<float>();
  const float* ep = e.data_ptr<float>();
  // The reference runs on the CPU. On the GPU, cuDNN convolutions may use TF32 (10-bit mantissa) by default.
  const float tolerance = on_gpu() ? 2e-2f : 1e-4f;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], ep[i], tolerance * scale + 1e-6f) << "element " << i << " (output scale " << scale << ")";
}

// Every output as float32 (the test models make float32, or float16 that the request asks as float32).
std::vector<float> run_engine(Engine& engine, const InferenceInput& input, int lane = 0) {
  core::OutputChoice asked;
  asked.dtype = core::DType::kFloat32;
  auto choice = resolve_output_choice(engine.spec(), asked);
  EXPECT_TRUE(choice.ok()) << choice.status().to_string();
  StageDurations d;
  InferenceOutput out;
  const auto s = engine.run(input, *choice, out, d, {lane, false});
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_GT(d.inference_ns, 0u);
  if (!s.ok() || !out.payload) return {};
  const auto bytes = out.payload->bytes();
  EXPECT_EQ(bytes.size(), choice->payload_bytes);
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

class TorchEngineTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TorchEngineTest, PreprocessedInputGivesTheModelsOwnOutput) {
  auto spec = spec_named(GetParam());
  auto engine = load_engine(spec, {test_device(), 2, true});
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  const std::vector<int64_t> dims(spec.input.shape.begin(), spec.input.shape.end());
  torch::manual_seed(1);
  auto module = torch::jit::load(spec.file.string(), at::kCPU);
  torch::NoGradGuard no_grad;
  for (int lane = 0; lane < (*engine)->lanes(); ++lane) {
    auto x = torch::randn(dims);
    const InferenceInput input{
        core::InputKind::kPreprocessed,
        core::DType::kFloat32,
        spec.input.shape,
        {reinterpret_cast<const std::byte*>(x.data_ptr<float>()), static_cast<size_t>(x.nbytes())}};
    expect_close(run_engine(**engine, input, lane), module.forward({x}).toTensor());
  }
}

TEST_P(TorchEngineTest, RawImageIsResizedAndNormalizedLikeTheReference) {
  auto spec = spec_named(GetParam());
  auto engine = load_engine(spec, {test_device(), 1, true});
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  std::mt19937 rng(3);
  for (auto [h, w] : {std::pair{37, 53}, std::pair{480, 640}, std::pair{224, 224}}) {
    std::vector<uint8_t> img(static_cast<size_t>(h) * w * 3);
    for (auto& p : img) p = static_cast<uint8_t>(rng() & 0xff);
    const InferenceInput input{core::InputKind::kRaw, core::DType::kUInt8, core::TensorShape{h, w, 3},
                               std::as_bytes(std::span(img))};
    ASSERT_TRUE(check_input((*engine)->spec(), input).ok());
    const auto got = run_engine(**engine, input);

    const auto& p = spec.preprocess;
    auto ref =
        testing::reference_preprocess(img, h, w, static_cast<int>(p.height), static_cast<int>(p.width), p.mean, p.std);
    auto x = torch::from_blob(ref.data(), {1, 3, p.height, p.width}, at::kFloat).clone();
    auto module = torch::jit::load(spec.file.string(), at::kCPU);
    torch::NoGradGuard no_grad;
    expect_close(got, module.forward({x}).toTensor());
  }
}

TEST_P(TorchEngineTest, ReportsHowItRuns) {
  auto engine = load_engine(spec_named(GetParam()), {test_device(), 1, true});
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  EXPECT_EQ((*engine)->device(), on_gpu() ? test_device() : "cpu");
  EXPECT_EQ((*engine)->execution_mode(), on_gpu() ? "cuda-graph" : "eager");
  if (on_gpu()) {
    EXPECT_GT((*engine)->device_memory_bytes(), 0u);
  }
}

// A payload already in GPU memory (local on a GPU, later GPUDirect landing) gives the same outputs as one
// copied from the host; a CPU engine refuses to hold one.
TEST_P(TorchEngineTest, DeviceResidentPayload) {
  auto spec = spec_named(GetParam());
  auto engine = load_engine(spec, {test_device(), 1, true});
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  std::vector<uint8_t> img(120 * 160 * 3);
  std::mt19937 rng(9);
  for (auto& p : img) p = static_cast<uint8_t>(rng());
  auto on_device = (*engine)->copy_to_device(std::as_bytes(std::span(img)));
  if (!on_gpu()) {
    ASSERT_FALSE(on_device.ok());
    EXPECT_NE(on_device.status().message().find("CPU"), std::string::npos) << on_device.status().message();
    return;
  }
  ASSERT_TRUE(on_device.ok()) << on_device.status().to_string();
  InferenceInput input{core::InputKind::kRaw, core::DType::kUInt8, core::TensorShape{120, 160, 3},
                       std::as_bytes(std::span(img))};
  const auto from_host = run_engine(**engine, input);
  input.data = (*on_device)->bytes();
  input.on_device = true;
  const auto from_device = run_engine(**engine, input);
  ASSERT_EQ(from_host.size(), from_device.size());
  for (size_t i = 0; i < from_host.size(); ++i) ASSERT_FLOAT_EQ(from_host[i], from_device[i]) << i;
}

INSTANTIATE_TEST_SUITE_P(RealModels, TorchEngineTest, ::testing::Values("tiny", "mobilenetv3"));

TEST(CheckInput, SaysWhatWasExpectedAndWhatArrived) {
  auto spec = spec_named("tiny");
  const std::vector<std::byte> bytes(64);
  auto status = check_input(
      spec, {core::InputKind::kPreprocessed, core::DType::kFloat32, core::TensorShape{1, 3, 64, 64}, bytes});
  EXPECT_EQ(status.code(), core::StatusCode::kBadShape);
  EXPECT_NE(status.message().find("[1,3,32,32]"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("[1,3,64,64]"), std::string::npos) << status.message();
  EXPECT_EQ(check_input(spec, {core::InputKind::kPreprocessed, core::DType::kUInt8, spec.input.shape, bytes}).code(),
            core::StatusCode::kBadDtype);
  EXPECT_EQ(check_input(spec, {core::InputKind::kRaw, core::DType::kFloat32, core::TensorShape{4, 4, 3}, bytes}).code(),
            core::StatusCode::kBadDtype);
  EXPECT_EQ(check_input(spec, {core::InputKind::kRaw, core::DType::kUInt8, core::TensorShape{4, 4, 4}, bytes}).code(),
            core::StatusCode::kBadShape);
  EXPECT_EQ(
      check_input(spec, {core::InputKind::kRaw, core::DType::kUInt8, core::TensorShape{9000, 4, 3}, bytes}).code(),
      core::StatusCode::kBadShape);
  spec.preprocess.enabled = false;
  EXPECT_EQ(check_input(spec, {core::InputKind::kRaw, core::DType::kUInt8, core::TensorShape{4, 4, 3}, bytes}).code(),
            core::StatusCode::kBadInputKind);
}

// A user's own TorchScript file: a manifest entry with only name, file and input works.
TEST(Manifest, UserModelWithoutOutputsIsDiscoveredAndWrongOutputsAreCaught) {
  TempDir dir;
  const auto tiny = spec_named("tiny").file;
  std::ofstream(dir.path() / "manifest.json") << R"({"format": 1, "models": [
      {"name": "mine", "file": ")" << tiny.string()
                                              << R"(", "input": {"shape": [1,3,32,32]}},
      {"name": "liar", "file": ")" << tiny.string()
                                              << R"(", "input": {"shape": [1,3,32,32]},
       "outputs": [{"name": "x", "shape": [1,5]}]}]})";
  auto specs = load_manifest(dir.path());
  ASSERT_TRUE(specs.ok()) << specs.status().to_string();
  ASSERT_EQ(specs->size(), 2u);
  EXPECT_FALSE((*specs)[0].preprocess.enabled) << "no preprocessing block: raw input is refused";
  auto mine = load_engine((*specs)[0], {test_device(), 1, true});
  ASSERT_TRUE(mine.ok()) << mine.status().to_string();
  ASSERT_EQ((*mine)->spec().outputs.size(), 1u);
  EXPECT_EQ((*mine)->spec().outputs[0].shape, (core::TensorShape{1, 10}));
  auto liar = load_engine((*specs)[1], {test_device(), 1, true});
  ASSERT_FALSE(liar.ok());
  EXPECT_NE(liar.status().message().find("[1,5]"), std::string::npos) << liar.status().message();
}

TEST(Manifest, ClearErrors) {
  TempDir dir;
  auto missing = load_manifest(dir.path());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("export_models.py"), std::string::npos) << missing.status().message();

  std::ofstream(dir.path() / "manifest.json") << R"({"format": 1, "models": [
      {"name": "a", "file": "a.pt", "input": {"shape": [1,3,8,8], "dtype": "int7"}}]})";
  auto bad = load_manifest(dir.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("int7"), std::string::npos) << bad.status().message();

  std::ofstream(dir.path() / "manifest.json") << R"({"format": 1, "models": [
      {"name": "gone", "file": "gone.pt", "input": {"shape": [1,3,8,8]}}]})";
  auto specs = load_manifest(dir.path());
  ASSERT_TRUE(specs.ok());
  auto engine = load_engine((*specs)[0], {test_device(), 1, true});
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().code(), core::StatusCode::kUnknownModel);
  EXPECT_NE(engine.status().message().find("gone.pt"), std::string::npos);

  std::ofstream(dir.path() / "junk.pt") << "not torchscript";
  std::ofstream(dir.path() / "manifest.json") << R"({"format": 1, "models": [
      {"name": "junk", "file": "junk.pt", "input": {"shape": [1,3,8,8]}}]})";
  specs = load_manifest(dir.path());
  ASSERT_TRUE(specs.ok());
  engine = load_engine((*specs)[0], {test_device(), 1, true});
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.status().message().find("TorchScript"), std::string::npos) << engine.status().message();
}

}  // namespace
}  // namespace edgeserve::engine
