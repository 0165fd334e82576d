// The KServe v2 gRPC infer messages (transport/grpc/kserve_grpc_codec.h) without a server: a request and a reply
// that encode and decode back to the same fields and bytes, what each bad request is answered with, and the status
// codes both ways.
#include "transport/grpc/kserve_grpc_codec.h"

#include <gtest/gtest.h>

#include <vector>

#include "../support/status_assert.h"

namespace edgeserve::transport::grpc {
namespace {

using core::StatusCode;

http::ServedModel tiny() {
  return {"tiny",
          "pytorch_libtorch",
          {"input", core::DType::kFloat32, core::TensorShape{1, 3, 4, 4}},
          {{"logits", core::DType::kFloat32, core::TensorShape{1, 10}}, {"features", core::DType::kFloat16, {1, 8}}},
          1};
}

core::RequestHeader request_header() {
  core::RequestHeader h;
  h.request_id = 77;
  h.client_id = 5;
  h.priority = 3;
  h.model = "tiny";
  h.shape = core::TensorShape{1, 3, 4, 4};
  h.payload_bytes = 3 * 4 * 4 * 4;
  h.client_send_ns = 123456789;
  h.output.dtype = core::DType::kFloat16;
  h.output.postprocess = core::Postprocess::kTopk;
  h.output.k = 2;
  return h;
}

TEST(KServeGrpcCodec, ARequestDecodesToTheHeaderItWasMadeFrom) {
  const http::ServedModel model = tiny();
  std::vector<std::byte> payload(3 * 4 * 4 * 4, std::byte{7});
  inference::ModelInferRequest request;
  encode_infer_request(request_header(), payload, "input", {"features"}, request);
  // Encoding again into the same message replaces, never appends (the client reuses it).
  encode_infer_request(request_header(), payload, "input", {"features"}, request);
  auto decoded = decode_infer_request(request, &model, 1);
  ASSERT_OK(decoded);
  const core::RequestHeader& h = decoded->header;
  EXPECT_EQ(h.request_id, 77u);
  EXPECT_EQ(h.client_id, 5u);
  EXPECT_EQ(h.priority, 3);
  EXPECT_EQ(h.model, "tiny");
  EXPECT_EQ(h.shape, (core::TensorShape{1, 3, 4, 4}));
  EXPECT_EQ(h.payload_bytes, payload.size());
  EXPECT_EQ(h.client_send_ns, 123456789u);
  EXPECT_EQ(h.output.dtype, core::DType::kFloat16);
  EXPECT_EQ(h.output.postprocess, core::Postprocess::kTopk);
  EXPECT_EQ(h.output.k, 2);
  EXPECT_EQ(h.output.select, 2) << "features is the model's second output";
  ASSERT_EQ(decoded->input.size(), payload.size());
  EXPECT_EQ(decoded->input[0], std::byte{7});
  // An id that is not a number gets the listener's.
  request.set_id("abc");
  EXPECT_EQ(decode_infer_request(request, &model, 999)->header.request_id, 999u);
}

TEST(KServeGrpcCodec, EachBadRequestGetsItsOwnError) {
  const http::ServedModel model = tiny();
  const std::vector<std::byte> payload(3 * 4 * 4 * 4);
  struct Case {
    const char* what;
    void (*spoil)(inference::ModelInferRequest&);
    StatusCode code;
  };
  const Case cases[] = {
      {"two inputs", [](inference::ModelInferRequest& r) { *r.add_inputs() = r.inputs(0); },
       StatusCode::kInvalidArgument},
      {"unknown input", [](inference::ModelInferRequest& r) { r.mutable_inputs(0)->set_name("nope"); },
       StatusCode::kInvalidArgument},
      {"unknown output", [](inference::ModelInferRequest& r) { r.add_outputs()->set_name("nope"); },
       StatusCode::kInvalidArgument},
      {"INT64", [](inference::ModelInferRequest& r) { r.mutable_inputs(0)->set_datatype("INT64"); },
       StatusCode::kBadDtype},
      {"typed contents", [](inference::ModelInferRequest& r) { r.clear_raw_input_contents(); },
       StatusCode::kInvalidArgument},
      {"version 2", [](inference::ModelInferRequest& r) { r.set_model_version("2"); }, StatusCode::kUnknownModel},
      {"a negative dimension", [](inference::ModelInferRequest& r) { r.mutable_inputs(0)->set_shape(0, -1); },
       StatusCode::kBadShape},
      {"priority 300",
       [](inference::ModelInferRequest& r) { (*r.mutable_parameters())["edgeserve_priority"].set_int64_param(300); },
       StatusCode::kInvalidArgument},
      {"input kind png",
       [](inference::ModelInferRequest& r) {
         (*r.mutable_parameters())["edgeserve_input_kind"].set_string_param("png");
       },
       StatusCode::kBadInputKind},
  };
  for (const auto& c : cases) {
    inference::ModelInferRequest request;
    encode_infer_request(request_header(), payload, "input", {}, request);
    c.spoil(request);
    auto decoded = decode_infer_request(request, &model, 1);
    ASSERT_FALSE(decoded.ok()) << c.what;
    EXPECT_EQ(decoded.status().code(), c.code) << c.what << ": " << decoded.status().to_string();
  }
}

TEST(KServeGrpcCodec, AReplyDecodesToItsOutputsBytesAndStageTimes) {
  const http::ServedModel model = tiny();
  core::ResponseHeader header;
  header.n_outputs = 2;
  header.outputs[0] = {core::DType::kFloat32, core::TensorShape{1, 10}};
  header.outputs[1] = {core::DType::kFloat16, core::TensorShape{1, 8}};
  header.payload_bytes = 40 + 16;
  header.timings.queue_ns = 11;
  header.timings.inference_ns = 22;
  header.timings.server_ns = 33;
  std::vector<std::byte> payload(header.payload_bytes);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::byte>(i);
  inference::ModelInferRequest request;
  request.set_model_name("tiny");
  request.set_id("9");
  inference::ModelInferResponse response;
  encode_infer_response(header, payload, request, reply_output_names(header, request, &model, 3), {}, 4, response);
  EXPECT_EQ(response.id(), "9");
  ASSERT_EQ(response.outputs_size(), 2);
  EXPECT_EQ(response.outputs(0).name(), "logits");
  EXPECT_EQ(response.outputs(1).name(), "features");
  EXPECT_EQ(response.outputs(1).datatype(), "FP16");
  EXPECT_EQ(response.parameters().at("edgeserve_inference_ns").uint64_param(), 22u);
  EXPECT_EQ(response.parameters().at("edgeserve_client_id").uint64_param(), 4u);

  core::ResponseHeader back;
  std::vector<std::byte> joined;
  std::span<const std::byte> bytes;
  ASSERT_OK(decode_infer_response(response, back, joined, bytes));
  EXPECT_EQ(back.status, StatusCode::kOk);
  ASSERT_EQ(back.n_outputs, 2);
  EXPECT_EQ(back.outputs[1].dtype, core::DType::kFloat16);
  EXPECT_EQ(back.outputs[1].shape, (core::TensorShape{1, 8}));
  EXPECT_EQ(back.payload_bytes, header.payload_bytes);
  EXPECT_EQ(std::vector<std::byte>(bytes.begin(), bytes.end()), payload);
  EXPECT_EQ(back.timings.queue_ns, 11u);
  EXPECT_EQ(back.timings.server_ns, 33u);
}

TEST(KServeGrpcCodec, TensorsInSharedMemoryNameTheirRegions) {
  const http::ServedModel model = tiny();
  inference::ModelInferRequest request;
  encode_infer_request(request_header(), std::vector<std::byte>(3 * 4 * 4 * 4), "input", {"logits"}, request);
  // As tritonclient.grpc sends them: int64 parameters, no raw_input_contents for an input in a region.
  request.clear_raw_input_contents();
  auto& in = *request.mutable_inputs(0)->mutable_parameters();
  in["shared_memory_region"].set_string_param("in");
  in["shared_memory_byte_size"].set_int64_param(192);
  in["shared_memory_offset"].set_int64_param(64);
  auto& out = *request.mutable_outputs(0)->mutable_parameters();
  out["shared_memory_region"].set_string_param("out");
  out["shared_memory_byte_size"].set_int64_param(40);
  auto decoded = decode_infer_request(request, &model, 1);
  ASSERT_OK(decoded);
  ASSERT_TRUE(decoded->shared_input.has_value());
  EXPECT_EQ(decoded->shared_input->region, "in");
  EXPECT_EQ(decoded->shared_input->offset, 64u);
  EXPECT_EQ(decoded->shared_input->byte_size, 192u);
  EXPECT_TRUE(decoded->input.empty());
  ASSERT_EQ(decoded->shared_outputs.size(), 1u);
  EXPECT_EQ(decoded->shared_outputs[0].name, "logits");
  EXPECT_EQ(decoded->shared_outputs[0].shared_memory->region, "out");
  EXPECT_EQ(decoded->shared_outputs[0].shared_memory->offset, 0u);

  // Bytes in raw_input_contents too, a region with no byte size, a negative offset: refused.
  auto spoiled = request;
  spoiled.add_raw_input_contents("x");
  EXPECT_EQ(decode_infer_request(spoiled, &model, 1).status().code(), StatusCode::kInvalidArgument);
  spoiled = request;
  spoiled.mutable_inputs(0)->mutable_parameters()->erase("shared_memory_byte_size");
  EXPECT_EQ(decode_infer_request(spoiled, &model, 1).status().code(), StatusCode::kInvalidArgument);
  spoiled = request;
  (*spoiled.mutable_outputs(0)->mutable_parameters())["shared_memory_offset"].set_int64_param(-1);
  EXPECT_EQ(decode_infer_request(spoiled, &model, 1).status().code(), StatusCode::kInvalidArgument);

  // The reply: the output in a region names it and its size, with an empty raw_output_contents entry in its place.
  core::ResponseHeader header;
  header.n_outputs = 2;
  header.outputs[0] = {core::DType::kFloat32, core::TensorShape{1, 10}};
  header.outputs[1] = {core::DType::kFloat16, core::TensorShape{1, 8}};
  header.payload_bytes = 40 + 16;
  const std::vector<std::byte> payload(header.payload_bytes, std::byte{1});
  inference::ModelInferResponse response;
  encode_infer_response(header, payload, request, {"logits", "features"}, {http::SharedMemoryAsk{"out", 0, 64}, {}}, 0,
                        response);
  ASSERT_EQ(response.raw_output_contents_size(), 2);
  EXPECT_TRUE(response.raw_output_contents(0).empty());
  EXPECT_EQ(response.raw_output_contents(1).size(), 16u);
  EXPECT_EQ(response.outputs(0).parameters().at("shared_memory_region").string_param(), "out");
  EXPECT_EQ(response.outputs(0).parameters().at("shared_memory_byte_size").int64_param(), 40);
  EXPECT_FALSE(response.outputs(1).parameters().contains("shared_memory_region"));
}

TEST(KServeGrpcCodec, StatusCodesGoBothWays) {
  struct Case {
    StatusCode code;
    ::grpc::StatusCode grpc;
  };
  for (const auto& c : {Case{StatusCode::kUnknownModel, ::grpc::StatusCode::NOT_FOUND},
                        Case{StatusCode::kPayloadTooLarge, ::grpc::StatusCode::RESOURCE_EXHAUSTED},
                        Case{StatusCode::kBadShape, ::grpc::StatusCode::INVALID_ARGUMENT},
                        Case{StatusCode::kPayloadSizeMismatch, ::grpc::StatusCode::INVALID_ARGUMENT},
                        Case{StatusCode::kOverloaded, ::grpc::StatusCode::UNAVAILABLE},
                        Case{StatusCode::kInferenceFailed, ::grpc::StatusCode::INTERNAL}}) {
    const ::grpc::Status s = to_grpc_status({c.code, "why"});
    EXPECT_EQ(s.error_code(), c.grpc) << core::to_string(c.code);
    EXPECT_TRUE(is_server_answer(s));
    const core::Status back = from_grpc_status(s);
    EXPECT_EQ(back.code(), c.code);
    EXPECT_EQ(back.message(), "why");
  }
  // A channel's own failure names no edgeserve status: it is no answer from the server.
  const ::grpc::Status refused(::grpc::StatusCode::UNAVAILABLE, "failed to connect to all addresses");
  EXPECT_FALSE(is_server_answer(refused));
  EXPECT_EQ(from_grpc_status(::grpc::Status(::grpc::StatusCode::RESOURCE_EXHAUSTED, "Received message larger than max"))
                .code(),
            StatusCode::kPayloadTooLarge);
}

}  // namespace
}  // namespace edgeserve::transport::grpc
