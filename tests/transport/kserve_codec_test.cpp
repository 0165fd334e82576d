// The KServe v2 body codecs of http:// (transport/http/kserve_*.h), without a server: what each malformed body is
// answered with, JSON values converted to the tensor's bytes, the binary split, and a reply that encodes and decodes
// back to the same header and bytes.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "../support/status_assert.h"
#include "transport/http/kserve_request.h"
#include "transport/http/kserve_response.h"
#include "transport/http/kserve_types.h"

namespace edgeserve::transport::http {
namespace {

using core::StatusCode;

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

TEST(KServeCodec, JsonDataBecomesTheTensorsBytesInItsDatatype) {
  const std::string body = R"({"id": "7", "inputs": [{"name": "input", "datatype": "FP16", "shape": [2, 2],
      "data": [[1, -2.5], [65504, 0.000061035156]]}], "outputs": [{"name": "logits"}],
      "parameters": {"binary_data_output": true, "edgeserve_priority": 3, "edgeserve_postprocess": "argmax"}})";
  auto r = parse_infer_request(bytes_of(body), std::nullopt);
  ASSERT_OK(r);
  EXPECT_EQ(r->id, "7");
  ASSERT_EQ(r->inputs.size(), 1u);
  const auto& in = r->inputs[0];
  EXPECT_EQ(in.dtype, core::DType::kFloat16);
  EXPECT_EQ(in.shape, (core::TensorShape{2, 2}));
  ASSERT_EQ(in.bytes().size(), 8u);
  const uint16_t expected[] = {0x3c00, 0xc100, 0x7bff, 0x0400};  // 1, -2.5, the largest half, the smallest normal
  EXPECT_EQ(std::memcmp(in.bytes().data(), expected, 8), 0);
  ASSERT_EQ(r->outputs.size(), 1u);
  EXPECT_TRUE(r->outputs[0].binary) << "binary_data_output applies to the outputs named without binary_data";
  EXPECT_EQ(r->priority, 3);
  EXPECT_EQ(r->output.postprocess, core::Postprocess::kArgmax);
}

TEST(KServeCodec, BinaryPartsAreSplitInOrderAndMustAccountForEveryByte) {
  const std::string json = R"({"inputs": [{"name": "a", "datatype": "UINT8", "shape": [3],
      "parameters": {"binary_data_size": 3}}, {"name": "b", "datatype": "UINT8", "shape": [2],
      "parameters": {"binary_data_size": 2}}]})";
  const std::string body = json + "abcde";  // the parsed inputs are views into it: it outlives them
  auto r = parse_infer_request(bytes_of(body), json.size());
  ASSERT_OK(r);
  ASSERT_EQ(r->inputs.size(), 2u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(r->inputs[0].bytes().data()), 3), "abc");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(r->inputs[1].bytes().data()), 2), "de");
  EXPECT_EQ(parse_infer_request(bytes_of(json + "abcdef"), json.size()).status().code(),
            StatusCode::kPayloadSizeMismatch);
  EXPECT_EQ(parse_infer_request(bytes_of(json + "abcd"), json.size()).status().code(),
            StatusCode::kPayloadSizeMismatch);
  EXPECT_EQ(parse_infer_request(bytes_of(json), json.size() + 1).status().code(), StatusCode::kPayloadSizeMismatch);
}

TEST(KServeCodec, EachMalformedBodyGetsItsOwnError) {
  struct Case {
    const char* what;
    std::string body;
    StatusCode code;
  };
  const Case cases[] = {
      {"not JSON", R"({"inputs": [)", StatusCode::kMalformedHeader},
      {"not an object", "[1, 2]", StatusCode::kMalformedHeader},
      {"no inputs", R"({"outputs": []})", StatusCode::kMalformedHeader},
      {"an input without a datatype", R"({"inputs": [{"name": "x", "shape": [1], "data": [1]}]})",
       StatusCode::kMalformedHeader},
      {"INT64", R"({"inputs": [{"name": "x", "datatype": "INT64", "shape": [1], "data": [1]}]})",
       StatusCode::kBadDtype},
      {"a negative dimension", R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1], "data": [1]}]})",
       StatusCode::kBadShape},
      {"nine dimensions",
       R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1,1,1,1,1,1,1,1,1], "data": [1]}]})",
       StatusCode::kBadShape},
      {"too few values", R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [3], "data": [1, 2]}]})",
       StatusCode::kPayloadSizeMismatch},
      {"too many values", R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1, 2]}]})",
       StatusCode::kPayloadSizeMismatch},
      {"a string value", R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": ["1"]}]})",
       StatusCode::kBadDtype},
      {"256 as UINT8", R"({"inputs": [{"name": "x", "datatype": "UINT8", "shape": [1], "data": [256]}]})",
       StatusCode::kBadDtype},
      {"1e300 as FP32", R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1e300]}]})",
       StatusCode::kBadDtype},
      {"70000 as FP16", R"({"inputs": [{"name": "x", "datatype": "FP16", "shape": [1], "data": [70000]}]})",
       StatusCode::kBadDtype},
      {"binary_data_size past the body",
       R"({"inputs": [{"name": "x", "datatype": "UINT8", "shape": [1], "parameters": {"binary_data_size": 1}}]})",
       StatusCode::kPayloadSizeMismatch},
      {"an unknown input kind",
       R"({"parameters": {"edgeserve_input_kind": "png"}, "inputs": [{"name": "x", "datatype": "UINT8",
          "shape": [1], "data": [1]}]})",
       StatusCode::kBadInputKind},
  };
  for (const auto& c : cases) {
    const auto r = parse_infer_request(bytes_of(c.body), std::nullopt);
    EXPECT_EQ(r.status().code(), c.code) << c.what << ": " << r.status().to_string();
    EXPECT_FALSE(r.status().message().empty()) << c.what;
  }
}

TEST(KServeCodec, ABinaryReplyDecodesToTheSameHeaderAndBytes) {
  core::ResponseHeader h;
  h.timings.queue_ns = 11;
  h.timings.inference_ns = 22;
  h.timings.clock_domain = 33;
  h.n_outputs = 2;
  h.outputs[0] = {core::DType::kFloat32, core::TensorShape{1, 2}};
  h.outputs[1] = {core::DType::kUInt8, core::TensorShape{3}};
  const float values[] = {1.5f, -2.0f};
  std::vector<std::byte> payload(11);
  std::memcpy(payload.data(), values, 8);
  payload[8] = std::byte{7};
  const auto encoded = encode_infer_reply(h, payload, {"m", "id1", {"a", "b"}, {true, true}});
  ASSERT_TRUE(encoded.any_binary);
  auto decoded = decode_infer_reply(bytes_of(encoded.body), encoded.json_bytes);
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->header.n_outputs, 2);
  EXPECT_EQ(decoded->header.outputs[1].shape, (core::TensorShape{3}));
  EXPECT_EQ(decoded->header.timings.inference_ns, 22u);
  EXPECT_EQ(decoded->header.timings.clock_domain, 33u);
  EXPECT_EQ(std::vector<std::byte>(decoded->payload.begin(), decoded->payload.end()), payload);
  // The same reply as JSON data: values, not bytes.
  const auto json = encode_infer_reply(h, payload, {"m", "", {"a", "b"}, {false, false}});
  EXPECT_FALSE(json.any_binary);
  EXPECT_NE(json.body.find(R"("data":[1.5,-2.0])"), std::string::npos) << json.body;
  EXPECT_NE(json.body.find(R"("data":[7,0,0])"), std::string::npos) << json.body;
}

TEST(KServeCodec, ErrorBodiesCarryTheEdgeserveStatusBack) {
  const core::Status s(StatusCode::kBadShape, "expected [1,3,32,32], got [1,3,16,16]");
  EXPECT_EQ(http_status_of(s.code()), 400);
  EXPECT_EQ(http_status_of(StatusCode::kUnknownModel), 404);
  const core::Status back = status_from_error_body(error_json(s), 400);
  EXPECT_EQ(back.code(), StatusCode::kBadShape);
  EXPECT_EQ(back.message(), s.message());
  EXPECT_EQ(status_from_error_body(R"({"error": "something else"})", 404).code(), StatusCode::kUnknownModel);
}

TEST(KServeCodec, HalfPrecisionRoundTripsAndRounds) {
  for (const uint16_t h : {0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0xfbff, 0x7c00, 0xfc00})
    EXPECT_EQ(float_to_half(half_to_float(h)), h) << std::hex << h;
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 4096), 0x3c00);  // below half an ulp: rounds down
  EXPECT_EQ(float_to_half(70000.0f), 0x7c00);            // past the largest half: infinity
  EXPECT_NE(float_to_half(std::numeric_limits<float>::quiet_NaN()) & 0x3ff, 0);
}

}  // namespace
}  // namespace edgeserve::transport::http
