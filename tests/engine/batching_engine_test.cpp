// Engines running a batch: each request's outputs as if it had run alone, a bad request failing alone, a model
// with a fixed batch dimension refusing to batch; and JPEG input, decoded against a reference.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <cstring>
#include <fstream>
#include <random>

#include "../support/child_process.h"
#include "bench/input_source.h"
#include "engine/engine.h"
#include "engine/jpeg_decoder.h"

namespace edgeserve::engine {
namespace {

using testing::TempDir;

std::string test_device() {
  const char* env = std::getenv("EDGESERVE_TEST_DEVICE");
  return env ? env : "cpu";
}

// A TorchScript model written here, with its manifest entry (input float32 [1,3,8,8], no preprocessing).
ModelSpec scripted_model(const TempDir& dir, const std::string& name, const std::string& forward_source) {
  torch::jit::Module module(name);
  module.define(forward_source);
  module.save((dir.path() / (name + ".pt")).string());
  std::ofstream(dir.path() / "manifest.json") << R"({"format": 1, "models": [{"name": ")" << name << R"(", "file": ")"
                                              << name << R"(.pt", "input": {"shape": [1, 3, 8, 8]},
      "batching": {"max_batch_size": 4, "max_queue_delay_us": 500}}]})";
  auto specs = load_manifest(dir.path());
  EXPECT_TRUE(specs.ok()) << specs.status().to_string();
  return specs.ok() ? specs->front() : ModelSpec{};
}

std::vector<float> distinct_input(size_t numel, float seed) {
  std::vector<float> v(numel);
  for (size_t i = 0; i < numel; ++i) v[i] = seed + 0.001f * static_cast<float>(i % 251);
  return v;
}

InferenceInput preprocessed(const ModelSpec& spec, const std::vector<float>& v) {
  return {core::InputKind::kPreprocessed, spec.input.dtype, spec.input.shape, std::as_bytes(std::span(v))};
}

// The model's outputs as float32 (what the request asks unless a test asks otherwise), resolved once per test.
ResolvedOutputs resolved(const Engine& engine, core::OutputChoice asked = {}) {
  if (!asked.dtype && asked.postprocess == core::Postprocess::kDefault) asked.dtype = core::DType::kFloat32;
  auto r = resolve_output_choice(engine.spec(), asked);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : ResolvedOutputs{};
}

std::vector<std::byte> bytes_of(const InferenceOutput& out) {
  if (!out.payload) return {};
  const auto b = out.payload->bytes();
  return {b.begin(), b.end()};
}

std::vector<std::byte> run_alone(Engine& engine, const InferenceInput& input, const ResolvedOutputs& outputs) {
  StageDurations d;
  InferenceOutput out;
  const auto s = engine.run(input, outputs, out, d, {});
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(out.n_outputs, outputs.n_outputs);
  return bytes_of(out);
}

std::vector<std::byte> run_alone(Engine& engine, const InferenceInput& input) {
  return run_alone(engine, input, resolved(engine));
}

BatchItem item_of(const InferenceInput& input, const ResolvedOutputs& outputs) {
  BatchItem item;
  item.input = input;
  item.outputs = &outputs;
  return item;
}

// A model whose rows cannot influence each other, so batched outputs must equal unbatched ones byte for byte
// (convolutions pick other kernels for other batch sizes, so a CNN's rows may differ in the last bits).
TEST(BatchingEngine, EachRequestOfABatchGetsExactlyItsOwnOutputs) {
  TempDir dir;
  auto spec = scripted_model(dir, "rowwise", "def forward(self, x):\n  return x.reshape(x.size(0), -1) * 2.0 + 1.0\n");
  auto engine = load_engine(spec, {test_device(), 1, true});
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  ASSERT_EQ((*engine)->max_batch(), 4) << "the manifest's max_batch_size";
  const size_t numel = 3 * 8 * 8;
  const auto outputs = resolved(**engine);
  std::vector<std::vector<float>> inputs;
  for (int i = 0; i < 3; ++i) inputs.push_back(distinct_input(numel, static_cast<float>(i)));
  std::array<BatchItem, 3> items;
  for (size_t i = 0; i < 3; ++i) items[i] = item_of(preprocessed(spec, inputs[i]), outputs);
  (*engine)->run_batch(items, {});
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(items[i].status.ok()) << items[i].status.to_string();
    EXPECT_EQ(bytes_of(items[i].out), run_alone(**engine, preprocessed(spec, inputs[i]))) << "request " << i;
    EXPECT_EQ(items[i].out.n_outputs, 1);
    EXPECT_GT(items[i].durations.inference_ns, 0u);
  }
}

// Requests of one batch may each choose their outputs (wire v3): the model's own, argmax, topk in float16. Each
// gets what it would have got alone, byte for byte, and only the ones that asked pay postprocessing-time.
TEST(BatchingEngine, EachRequestOfABatchGetsTheOutputItChose) {
  TempDir dir;
  auto spec = scripted_model(dir, "rowwise", "def forward(self, x):\n  return x.reshape(x.size(0), -1) * 2.0 + 1.0\n");
  auto engine = load_engine(spec, {test_device(), 1, true});
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  ASSERT_EQ((*engine)->max_batch(), 4);
  core::OutputChoice argmax, topk;
  argmax.postprocess = core::Postprocess::kArgmax;
  topk.postprocess = core::Postprocess::kTopk;
  topk.k = 3;
  topk.dtype = core::DType::kFloat16;
  const std::array<ResolvedOutputs, 3> outputs{resolved(**engine), resolved(**engine, argmax),
                                               resolved(**engine, topk)};
  ASSERT_EQ(outputs[2].n_outputs, 2) << "topk: ids, then scores";
  std::vector<std::vector<float>> inputs;
  for (int i = 0; i < 3; ++i) inputs.push_back(distinct_input(3 * 8 * 8, static_cast<float>(3 - i)));
  std::array<BatchItem, 3> items;
  for (size_t i = 0; i < 3; ++i) items[i] = item_of(preprocessed(spec, inputs[i]), outputs[i]);
  (*engine)->run_batch(items, {});
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(items[i].status.ok()) << items[i].status.to_string();
    EXPECT_EQ(items[i].out.n_outputs, outputs[i].n_outputs) << "request " << i;
    for (size_t o = 0; o < outputs[i].n_outputs; ++o) {
      EXPECT_EQ(items[i].out.outputs[o].dtype, outputs[i].outputs[o].dtype) << "request " << i << " output " << o;
      EXPECT_EQ(items[i].out.outputs[o].shape, outputs[i].outputs[o].shape) << "request " << i << " output " << o;
    }
    EXPECT_EQ(bytes_of(items[i].out).size(), outputs[i].payload_bytes) << "request " << i;
    EXPECT_EQ(bytes_of(items[i].out), run_alone(**engine, preprocessed(spec, inputs[i]), outputs[i]))
        << "request " << i;
  }
  EXPECT_GT(items[1].durations.postprocess_ns, 0u);
  EXPECT_GT(items[2].durations.postprocess_ns, 0u);
}

TEST(BatchingEngine, AModelWithAFixedBatchDimensionSaysSoAndRunsOneAtATime) {
  TempDir dir;
  auto spec = scripted_model(dir, "fixed", "def forward(self, x):\n  return x.reshape(1, -1)[:, 0:10] * 2.0\n");
  auto engine = load_engine(spec, {test_device(), 1, true});
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  EXPECT_EQ((*engine)->max_batch(), 1);
  std::vector<float> a = distinct_input(3 * 8 * 8, 1), b = distinct_input(3 * 8 * 8, 2);
  const auto outputs = resolved(**engine);
  std::array<BatchItem, 2> items{item_of(preprocessed(spec, a), outputs), item_of(preprocessed(spec, b), outputs)};
  (*engine)->run_batch(items, {});  // more than max_batch(): the engine runs them one by one
  ASSERT_TRUE(items[0].status.ok() && items[1].status.ok());
  EXPECT_EQ(bytes_of(items[0].out), run_alone(**engine, preprocessed(spec, a)));
  EXPECT_EQ(bytes_of(items[1].out), run_alone(**engine, preprocessed(spec, b)));
}

ModelSpec tiny_spec() {
  auto specs = load_manifest(testing::test_models_dir());
  EXPECT_TRUE(specs.ok()) << specs.status().to_string();
  for (auto& s : *specs)
    if (s.name == "tiny") return s;
  ADD_FAILURE() << "no tiny model";
  return {};
}

std::vector<float> as_floats(const std::vector<std::byte>& bytes) {
  std::vector<float> f(bytes.size() / 4);
  std::memcpy(f.data(), bytes.data(), f.size() * 4);
  return f;
}

void expect_close(const std::vector<std::byte>& got, const std::vector<std::byte>& expected, const char* what) {
  const auto g = as_floats(got), e = as_floats(expected);
  ASSERT_EQ(g.size(), e.size());
  for (size_t i = 0; i < g.size(); ++i)
    EXPECT_NEAR(g[i], e[i], 1e-4f * (1 + std::abs(e[i]))) << what << " [" << i << "]";
}

// A corrupt JPEG in a batch fails with its own error; the raw frame and the JPEG beside it are answered as if
// each had run alone (decode-time for the JPEG only).
TEST(BatchingEngine, ABadRequestInsideABatchFailsAlone) {
  EngineOptions options{test_device(), 1, true};
  options.max_batch_size = 8;
  auto engine = load_engine(tiny_spec(), options);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  ASSERT_EQ((*engine)->max_batch(), 8) << "serve's --max-batch-size overrides the manifest";
  const auto raw = bench::synthetic_image(64, 48);
  auto jpeg = bench::encode_jpeg(raw, 90);
  ASSERT_TRUE(jpeg.ok()) << jpeg.status().to_string();
  auto corrupt = jpeg->bytes;
  corrupt.resize(corrupt.size() / 2);  // truncated mid-scan
  auto in = [](const bench::Input& i, std::span<const std::byte> bytes) {
    return InferenceInput{i.kind, i.dtype,
                          i.kind == core::InputKind::kJpeg ? core::TensorShape{int64_t(bytes.size())} : i.shape, bytes};
  };
  const auto outputs = resolved(**engine);
  std::array<BatchItem, 3> items{item_of(in(raw, raw.bytes), outputs), item_of(in(*jpeg, corrupt), outputs),
                                 item_of(in(*jpeg, jpeg->bytes), outputs)};
  for (const auto& item : items) ASSERT_TRUE(check_input((*engine)->spec(), item.input).ok());
  (*engine)->run_batch(items, {});
  ASSERT_TRUE(items[0].status.ok()) << items[0].status.to_string();
  EXPECT_EQ(items[1].status.code(), core::StatusCode::kBadInputKind);
  EXPECT_NE(items[1].status.message().find("corrupt or truncated JPEG"), std::string::npos)
      << items[1].status.message();
  ASSERT_TRUE(items[2].status.ok()) << items[2].status.to_string();
  expect_close(bytes_of(items[0].out), run_alone(**engine, items[0].input), "raw frame");
  expect_close(bytes_of(items[2].out), run_alone(**engine, items[2].input), "JPEG");
  EXPECT_EQ(items[0].durations.decode_ns, 0u);
  EXPECT_GT(items[2].durations.decode_ns, 0u);
}

// The decoder against the frame it was made from: JPEG at quality 95 keeps a smooth camera-like frame within a
// few levels per pixel; a truncated or foreign file is an error that says so.
TEST(JpegDecoder, DecodesAFrameCloseToTheOneEncoded) {
  const auto raw = bench::synthetic_image(160, 120);
  auto jpeg = bench::encode_jpeg(raw, 95);
  ASSERT_TRUE(jpeg.ok()) << jpeg.status().to_string();
  EXPECT_LT(jpeg->bytes.size() * 4, raw.bytes.size()) << "not compressed";
  JpegDecoder decoder;
  auto info = decoder.read_header(jpeg->bytes);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->width, 160);
  EXPECT_EQ(info->height, 120);
  std::vector<std::byte> pixels(raw.bytes.size());
  ASSERT_TRUE(decoder.decode_rgb(jpeg->bytes, *info, pixels).ok());
  double sum = 0;
  int worst = 0;
  for (size_t i = 0; i < pixels.size(); ++i) {
    const int d = std::abs(static_cast<int>(pixels[i]) - static_cast<int>(raw.bytes[i]));
    sum += d;
    worst = std::max(worst, d);
  }
  EXPECT_LT(sum / static_cast<double>(pixels.size()), 6.0) << "mean absolute error per channel";
  EXPECT_LT(worst, 80);

  auto truncated = jpeg->bytes;
  truncated.resize(truncated.size() - 200);
  auto header = decoder.read_header(truncated);
  ASSERT_TRUE(header.ok()) << "the header is whole";
  const auto s = decoder.decode_rgb(truncated, *header, pixels);
  EXPECT_EQ(s.code(), core::StatusCode::kBadInputKind);
  EXPECT_NE(s.message().find("corrupt or truncated"), std::string::npos) << s.message();

  const std::vector<std::byte> png{std::byte{0x89}, std::byte{'P'}, std::byte{'N'}, std::byte{'G'}};
  EXPECT_NE(decoder.read_header(png).status().message().find("not a JPEG"), std::string::npos);
}

}  // namespace
}  // namespace edgeserve::engine
