// JPEG input decoded on the GPU with nvJPEG, through the GPU engine, against the same engine decoding with
// libjpeg-turbo. The model is the identity on a 640x480 input, whose preprocessing (a resize to the same size,
// then ImageNet normalization) maps each decoded pixel to one output value: the output is the decoded frame.
// Needs a CUDA device and a build with nvJPEG: elsewhere it skips, saying why.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <cmath>
#include <fstream>

#include "../support/child_process.h"
#include "../support/status_assert.h"
#include "bench/input_source.h"
#include "engine/engine.h"

namespace edgeserve::engine {
namespace {

using testing::TempDir;

constexpr int kWidth = 640, kHeight = 480;

std::string test_device() {
  const char* env = std::getenv("EDGESERVE_TEST_DEVICE");
  return env && std::string_view(env).starts_with("cuda") ? env : "cuda:0";
}

class GpuJpeg : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!gpu_engine_built()) GTEST_SKIP() << "this build has no GPU engine; this test runs on the GPU machine";
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device here; this test runs on the GPU machine";
    if (!nvjpeg_built()) GTEST_SKIP() << "this build has no nvJPEG (scripts/gather_gpu_host_nvjpeg.sh fetches it)";
    torch::jit::Module module("identity");
    module.define("def forward(self, x):\n  return x * 1.0\n");  // a kernel, so the graph writes its own output
    module.save((dir_.path() / "identity.pt").string());
    std::ofstream(dir_.path() / "manifest.json") << R"({"format": 1, "models": [{"name": "identity",
      "file": "identity.pt", "input": {"shape": [1, 3, 480, 640]}, "preprocessing": {"kind": "imagenet"},
      "batching": {"max_batch_size": 4, "max_queue_delay_us": 500}}]})";
    auto specs = load_manifest(dir_.path());
    ASSERT_OK(specs);
    spec_ = specs->front();
  }

  std::unique_ptr<Engine> load(JpegDecode decode) {
    EngineOptions options{test_device(), 1, true};
    options.jpeg_decode = decode;
    auto engine = load_engine(spec_, options);
    EXPECT_OK(engine);
    return engine.ok() ? std::move(engine.value()) : nullptr;
  }

  ResolvedOutputs outputs_of(const Engine& engine) {
    core::OutputChoice asked;
    asked.dtype = core::DType::kFloat32;
    auto r = resolve_output_choice(engine.spec(), asked);
    EXPECT_OK(r);
    return r.ok() ? *r : ResolvedOutputs{};
  }

  TempDir dir_;
  ModelSpec spec_;
};

InferenceInput jpeg_input(std::span<const std::byte> bytes) {
  return {core::InputKind::kJpeg, core::DType::kUInt8, core::TensorShape{int64_t(bytes.size())}, bytes};
}

// The output back in pixel levels (0..255): undoes the ImageNet normalization the engine applied.
std::vector<float> as_pixels(const InferenceOutput& out, const ModelSpec& spec) {
  const auto b = out.payload->bytes();
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  const size_t plane = static_cast<size_t>(kWidth) * kHeight;
  for (size_t i = 0; i < v.size(); ++i) {
    const size_t c = i / plane;
    v[i] = (v[i] * spec.preprocess.std[c] + spec.preprocess.mean[c]) * 255.0f;
  }
  return v;
}

struct Outcome {
  core::Status status;
  InferenceOutput out;
  StageDurations durations;
};

Outcome run(Engine& engine, const InferenceInput& input, const ResolvedOutputs& outputs) {
  Outcome r;
  r.status = engine.run(input, outputs, r.out, r.durations, {});
  return r;
}

// Two decoders of one JPEG differ by IDCT rounding and chroma upsampling: a level or two on most values, a
// few more at sharp colour edges. Stated tolerance: mean |Δ| ≤ 1.5 levels, at most 1 % of values off by more
// than 4 levels, none by more than 40 (a wrong channel order, a shifted row or a garbled block breaks all three).
void expect_same_frame(const std::vector<float>& got, const std::vector<float>& expected, const char* what) {
  ASSERT_EQ(got.size(), expected.size()) << what;
  double sum = 0, worst = 0;
  size_t off = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::abs(static_cast<double>(got[i]) - expected[i]);
    sum += d;
    worst = std::max(worst, d);
    off += d > 4.0;
  }
  EXPECT_LE(sum / static_cast<double>(got.size()), 1.5) << what << ": mean |difference| in levels";
  EXPECT_LE(static_cast<double>(off), 0.01 * static_cast<double>(got.size())) << what << ": values off by > 4";
  EXPECT_LE(worst, 40.0) << what << ": largest difference";
}

TEST_F(GpuJpeg, NvjpegDecodesTheFrameLibjpegTurboDoes) {
  auto gpu = load(JpegDecode::kGpu);
  auto cpu = load(JpegDecode::kCpu);
  ASSERT_TRUE(gpu && cpu);
  EXPECT_EQ(gpu->jpeg_decoder(), "nvJPEG (GPU)");
  EXPECT_EQ(cpu->jpeg_decoder(), "libjpeg-turbo (CPU)");
  const auto raw = bench::synthetic_image(kWidth, kHeight);
  auto jpeg = bench::encode_jpeg(raw, 90);
  ASSERT_OK(jpeg);
  const auto outputs = outputs_of(*gpu);
  Outcome on_gpu = run(*gpu, jpeg_input(jpeg->bytes), outputs);
  Outcome on_cpu = run(*cpu, jpeg_input(jpeg->bytes), outputs);
  ASSERT_OK(on_gpu.status);
  ASSERT_OK(on_cpu.status);
  EXPECT_GT(on_gpu.durations.decode_ns, 0u);
  EXPECT_GT(on_cpu.durations.decode_ns, 0u);
  const auto gpu_pixels = as_pixels(on_gpu.out, spec_), cpu_pixels = as_pixels(on_cpu.out, spec_);
  expect_same_frame(gpu_pixels, cpu_pixels, "nvJPEG vs libjpeg-turbo");

  // The comparison can fail: another frame (the raw one shifted by a row) is far outside the tolerance.
  std::vector<float> shifted(cpu_pixels.size());
  for (size_t i = 0; i < shifted.size(); ++i) shifted[i] = cpu_pixels[(i + kWidth) % shifted.size()];
  double sum = 0;
  for (size_t i = 0; i < shifted.size(); ++i) sum += std::abs(shifted[i] - gpu_pixels[i]);
  EXPECT_GT(sum / static_cast<double>(shifted.size()), 1.5) << "the synthetic frame is too flat for this test";
}

// A truncated or foreign JPEG gets the CPU path's error class (bad-input-kind, "corrupt or truncated JPEG" /
// "not a JPEG"), and the next good request on the same lane is answered as before.
TEST_F(GpuJpeg, ACorruptJpegFailsAloneAndTheNextIsServed) {
  auto gpu = load(JpegDecode::kGpu);
  ASSERT_TRUE(gpu);
  const auto raw = bench::synthetic_image(kWidth, kHeight);
  auto jpeg = bench::encode_jpeg(raw, 90);
  ASSERT_OK(jpeg);
  const auto outputs = outputs_of(*gpu);
  Outcome first = run(*gpu, jpeg_input(jpeg->bytes), outputs);
  ASSERT_OK(first.status);
  const auto first_pixels = as_pixels(first.out, spec_);

  auto truncated = jpeg->bytes;
  truncated.resize(truncated.size() / 2);
  Outcome bad = run(*gpu, jpeg_input(truncated), outputs);
  EXPECT_EQ(bad.status.code(), core::StatusCode::kBadInputKind) << bad.status.to_string();
  EXPECT_NE(bad.status.message().find("corrupt or truncated JPEG"), std::string::npos) << bad.status.to_string();

  auto header_only = jpeg->bytes;
  header_only.resize(600);  // the headers and the first bytes of the scan
  bad = run(*gpu, jpeg_input(header_only), outputs);
  EXPECT_EQ(bad.status.code(), core::StatusCode::kBadInputKind) << bad.status.to_string();

  std::vector<std::byte> png(64, std::byte{0x42});
  png[0] = std::byte{0x89};
  bad = run(*gpu, jpeg_input(png), outputs);
  EXPECT_EQ(bad.status.code(), core::StatusCode::kBadInputKind) << bad.status.to_string();
  EXPECT_NE(bad.status.message().find("not a JPEG"), std::string::npos) << bad.status.to_string();

  Outcome again = run(*gpu, jpeg_input(jpeg->bytes), outputs);
  ASSERT_OK(again.status) << "the lane must keep serving after a corrupt JPEG";
  EXPECT_TRUE(as_pixels(again.out, spec_) == first_pixels) << "the same JPEG decodes to the same frame";
}

// A batch of JPEGs decoded on the GPU (plus a raw frame and a corrupt JPEG): each request gets what it would have
// got alone, and its own decode-time; the corrupt one fails alone.
TEST_F(GpuJpeg, ABatchOfJpegsDecodesEachIntoItsOwnRow) {
  auto gpu = load(JpegDecode::kGpu);
  ASSERT_TRUE(gpu);
  ASSERT_EQ(gpu->max_batch(), 4);
  const auto raw = bench::synthetic_image(kWidth, kHeight);
  auto a = bench::encode_jpeg(raw, 90);
  auto b = bench::encode_jpeg(raw, 40);  // another quality: another frame
  ASSERT_OK(a);
  ASSERT_OK(b);
  auto truncated = a->bytes;
  truncated.resize(truncated.size() - 300);
  const auto outputs = outputs_of(*gpu);
  std::array<BatchItem, 4> items;
  const InferenceInput inputs[] = {
      jpeg_input(a->bytes), jpeg_input(truncated), jpeg_input(b->bytes), {raw.kind, raw.dtype, raw.shape, raw.bytes}};
  for (size_t i = 0; i < items.size(); ++i) {
    items[i].input = inputs[i];
    items[i].outputs = &outputs;
    ASSERT_OK(check_input(gpu->spec(), items[i].input));
  }
  gpu->run_batch(items, {});
  EXPECT_EQ(items[1].status.code(), core::StatusCode::kBadInputKind) << items[1].status.to_string();
  for (size_t i : {0, 2, 3}) {
    ASSERT_OK(items[i].status) << "request " << i;
    Outcome alone = run(*gpu, items[i].input, outputs);
    ASSERT_OK(alone.status);
    EXPECT_TRUE(as_pixels(items[i].out, spec_) == as_pixels(alone.out, spec_)) << "request " << i;
  }
  EXPECT_GT(items[0].durations.decode_ns, 0u);
  EXPECT_GT(items[2].durations.decode_ns, 0u);
  EXPECT_EQ(items[3].durations.decode_ns, 0u) << "a raw frame has no decode";
}

}  // namespace
}  // namespace edgeserve::engine
