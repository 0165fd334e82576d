// Resolving a request's output choice against a model: defaults from the manifest, shapes and dtypes of what
// the reply carries, and errors that say what the model has.
#include "engine/output_choice.h"

#include <gtest/gtest.h>

namespace edgeserve::engine {
namespace {

using core::DType;
using core::Postprocess;

// DeepLabV3-like: two fp16 outputs of 21 classes.
ModelSpec segmenter() {
  ModelSpec s;
  s.name = "seg";
  s.outputs = {{"out", DType::kFloat16, core::TensorShape{1, 21, 8, 8}},
               {"aux", DType::kFloat16, core::TensorShape{1, 21, 8, 8}}};
  return s;
}

TEST(OutputChoice, LeftOpenTheReplyIsEveryOutputAsTheModelMakesIt) {
  auto r = resolve_output_choice(segmenter(), {});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->as_made);
  EXPECT_EQ(r->n_outputs, 2);
  EXPECT_EQ(r->outputs[0].dtype, DType::kFloat16);  // an fp16 model answers fp16
  EXPECT_EQ(r->payload_bytes, 2u * 21 * 8 * 8 * 2);
}

TEST(OutputChoice, TheRequestOverridesTheManifestsDefaults) {
  auto spec = segmenter();
  spec.reply.select = 1;
  spec.reply.postprocess = Postprocess::kArgmax;
  auto r = resolve_output_choice(spec, {});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->as_made);
  ASSERT_EQ(r->n_outputs, 1);
  EXPECT_EQ(r->outputs[0].dtype, DType::kUInt8);
  EXPECT_EQ(r->outputs[0].shape, (core::TensorShape{1, 8, 8}));

  core::OutputChoice asked;
  asked.dtype = DType::kFloat32;
  asked.postprocess = Postprocess::kTopk;
  asked.k = 3;
  r = resolve_output_choice(spec, asked);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->n_outputs, 2);  // the manifest's selection (out only): ids, then scores
  EXPECT_EQ(r->outputs[0].dtype, DType::kInt32);
  EXPECT_EQ(r->outputs[1].dtype, DType::kFloat32);
  EXPECT_EQ(r->outputs[1].shape, (core::TensorShape{1, 3, 8, 8}));
  EXPECT_EQ(r->payload_bytes, 2u * 3 * 8 * 8 * 4);
}

TEST(OutputChoice, ArgmaxOverMoreThan256ClassesAnswersInt32) {
  ModelSpec s;
  s.outputs = {{"logits", DType::kFloat32, core::TensorShape{1, 1000}}};
  core::OutputChoice asked;
  asked.postprocess = Postprocess::kArgmax;
  auto r = resolve_output_choice(s, asked);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outputs[0].dtype, DType::kInt32);
  EXPECT_EQ(r->outputs[0].shape, (core::TensorShape{1}));
}

TEST(OutputChoice, ImpossibleChoicesAreErrorsThatSayWhy) {
  core::OutputChoice asked;
  asked.select = 0b100;  // a third output
  auto r = resolve_output_choice(segmenter(), asked);
  EXPECT_EQ(r.status().code(), core::StatusCode::kBadShape);
  EXPECT_NE(r.status().message().find("2 output(s)"), std::string::npos) << r.status().message();

  asked = {};
  asked.postprocess = Postprocess::kTopk;
  asked.k = 22;
  r = resolve_output_choice(segmenter(), asked);
  EXPECT_EQ(r.status().code(), core::StatusCode::kBadShape);
  EXPECT_NE(r.status().message().find("21 classes"), std::string::npos) << r.status().message();

  ModelSpec flat;
  flat.outputs = {{"v", DType::kFloat32, core::TensorShape{10}}};
  asked = {};
  asked.postprocess = Postprocess::kArgmax;
  EXPECT_EQ(resolve_output_choice(flat, asked).status().code(), core::StatusCode::kBadShape);
}

TEST(OutputChoice, TheManifestsReplyEntryIsParsed) {
  auto specs = parse_manifest(R"({"format": 1, "models": [{"name": "seg", "file": "seg.pt",
      "input": {"shape": [1, 3, 8, 8]},
      "outputs": [{"name": "out", "shape": [1, 21, 8, 8]}, {"name": "aux", "shape": [1, 21, 8, 8]}],
      "reply": {"outputs": ["out"], "dtype": "float16", "postprocess": "topk", "k": 2}}]})",
                              "/repo");
  ASSERT_TRUE(specs.ok()) << specs.status().to_string();
  const auto& reply = specs->front().reply;
  EXPECT_EQ(reply.select, 1);
  EXPECT_EQ(reply.dtype, DType::kFloat16);
  EXPECT_EQ(reply.postprocess, Postprocess::kTopk);
  EXPECT_EQ(reply.k, 2);

  auto bad = parse_manifest(R"({"format": 1, "models": [{"name": "seg", "file": "seg.pt",
      "input": {"shape": [1, 3, 8, 8]}, "outputs": [{"name": "out", "shape": [1, 21, 8, 8]}],
      "reply": {"outputs": ["mask"]}}]})",
                            "/repo");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("no output named 'mask'"), std::string::npos) << bad.status().message();
}

// Numbers out of a field's range are errors that name the field, never converted: 3.1e301 as an int (top-k's k) or
// as a float (a channel mean) is undefined behaviour, which the manifest fuzzer found once.
TEST(OutputChoice, OutOfRangeNumbersInTheManifestAreErrorsThatNameTheField) {
  const auto parse = [](const std::string& reply, const std::string& preprocessing) {
    return parse_manifest(R"({"format": 1, "models": [{"name": "seg", "file": "seg.pt",
        "input": {"shape": [1, 3, 8, 8]}, "outputs": [{"name": "out", "shape": [1, 21, 8, 8]}],
        "preprocessing": )" + preprocessing +
                              R"(, "reply": )" + reply + "}]}",
                          "/repo");
  };
  const std::string imagenet = R"({"kind": "imagenet"})";
  const auto expect_error = [](const auto& result, const std::string& says) {
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.status().message().find(says), std::string::npos) << result.status().message();
  };
  expect_error(parse(R"({"postprocess": "topk", "k": 3.1e301})", imagenet), "\"k\" must be an integer");
  expect_error(parse(R"({"postprocess": "topk", "k": 2.5})", imagenet), "\"k\" must be an integer");
  expect_error(parse(R"({"postprocess": "topk", "k": 0})", imagenet), "\"k\" must be an integer");
  expect_error(parse("{}", R"({"kind": "imagenet", "mean": [3.1e301, 0.4, 0.4]})"), "preprocessing.mean");
  expect_error(parse("{}", R"({"kind": "imagenet", "mean": [0.4, 0.4]})"), "preprocessing.mean");
  expect_error(parse("{}", R"({"kind": "imagenet", "std": [0.2, 0, 0.2]})"), "preprocessing.std");

  auto good = parse(R"({"postprocess": "topk", "k": 7})", R"({"kind": "imagenet", "mean": [0.5, 0.25, 1e-3]})");
  ASSERT_TRUE(good.ok()) << good.status().to_string();
  EXPECT_EQ(good->front().reply.k, 7);
  EXPECT_FLOAT_EQ(good->front().preprocess.mean[1], 0.25f);
}

}  // namespace
}  // namespace edgeserve::engine
