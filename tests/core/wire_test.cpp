// Wire format: round trips, and every malformed field rejected with the right status.
#include "core/wire.h"

#include <gtest/gtest.h>

#include <cstring>

namespace edgeserve::core {
namespace {

RequestHeader valid_request() {
  RequestHeader h;
  h.request_id = 0x1122334455667788ULL;
  h.client_id = 7;
  h.input_kind = InputKind::kPreprocessed;
  h.dtype = DType::kFloat32;
  h.priority = 3;
  h.shape = TensorShape{1, 3, 224, 224};
  h.payload_bytes = 1 * 3 * 224 * 224 * 4;
  h.client_send_ns = 123456789;
  h.model = "resnet50";
  return h;
}

RequestHeaderBytes encoded(const RequestHeader& h) {
  RequestHeaderBytes b;
  encode(h, b);
  return b;
}

template <class T>
void poke(RequestHeaderBytes& b, size_t offset, T value) {
  std::memcpy(b.data() + offset, &value, sizeof(T));
}

TEST(Wire, RequestRoundTrip) {
  const auto h = valid_request();
  const auto b = encoded(h);
  auto d = decode_request_header(b);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->request_id, h.request_id);
  EXPECT_EQ(d->client_id, 7u);
  EXPECT_EQ(d->input_kind, InputKind::kPreprocessed);
  EXPECT_EQ(d->dtype, DType::kFloat32);
  EXPECT_EQ(d->priority, 3);
  EXPECT_EQ(d->shape, h.shape);
  EXPECT_EQ(d->payload_bytes, h.payload_bytes);
  EXPECT_EQ(d->client_send_ns, 123456789u);
  EXPECT_EQ(d->model, "resnet50");
}

// A JPEG (kind 3, uint8 [bytes]) travels with an output choice in the same version-3 header.
TEST(Wire, JpegInputWithAnOutputChoiceRoundTrips) {
  auto h = valid_request();
  h.input_kind = InputKind::kJpeg;
  h.dtype = DType::kUInt8;
  h.shape = TensorShape{5000};
  h.payload_bytes = 5000;
  h.output.postprocess = Postprocess::kArgmax;
  const auto b = encoded(h);
  EXPECT_EQ(static_cast<uint8_t>(b[20]), 3);
  auto d = decode_request_header(b);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->input_kind, InputKind::kJpeg);
  EXPECT_EQ(d->shape, h.shape);
  EXPECT_EQ(d->output.postprocess, Postprocess::kArgmax);
  EXPECT_STREQ(to_string(InputKind::kJpeg), "jpeg");
}

TEST(Wire, OutputChoiceRoundTripsAndOldFieldsKeepTheirOffsets) {
  auto h = valid_request();
  h.output.select = 0b101;
  h.output.dtype = DType::kFloat16;
  h.output.postprocess = Postprocess::kTopk;
  h.output.k = 5;
  const auto b = encoded(h);
  auto d = decode_request_header(b);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->output.select, 0b101);
  EXPECT_EQ(d->output.dtype, DType::kFloat16);
  EXPECT_EQ(d->output.postprocess, Postprocess::kTopk);
  EXPECT_EQ(d->output.k, 5);
  // Version 2's fields where version 2 had them: the model name still at 104, the choice appended at 160.
  EXPECT_EQ(std::memcmp(b.data() + 104, "resnet50", 8), 0);
  EXPECT_EQ(static_cast<uint8_t>(b[160]), 0b101);
  // Left open, every field reads as "the model's default".
  d = decode_request_header(encoded(valid_request()));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->output.select, 0);
  EXPECT_FALSE(d->output.dtype.has_value());
  EXPECT_EQ(d->output.postprocess, Postprocess::kDefault);
}

TEST(Wire, RejectsBadOutputChoices) {
  auto b = encoded(valid_request());
  poke<uint8_t>(b, 161, static_cast<uint8_t>(DType::kUInt8));  // outputs are asked for as float32 or float16 only
  EXPECT_EQ(decode_request_header(b).status().code(), StatusCode::kBadDtype);
  b = encoded(valid_request());
  poke<uint8_t>(b, 162, 9);
  EXPECT_EQ(decode_request_header(b).status().code(), StatusCode::kMalformedHeader);
  b = encoded(valid_request());
  poke<uint8_t>(b, 162, static_cast<uint8_t>(Postprocess::kTopk));  // topk without k
  EXPECT_EQ(decode_request_header(b).status().code(), StatusCode::kMalformedHeader);
  poke<uint16_t>(b, 164, static_cast<uint16_t>(kMaxTopk + 1));
  EXPECT_EQ(decode_request_header(b).status().code(), StatusCode::kMalformedHeader);
  b = encoded(valid_request());
  poke<uint16_t>(b, 164, 3);  // k without topk
  EXPECT_EQ(decode_request_header(b).status().code(), StatusCode::kMalformedHeader);
  b = encoded(valid_request());
  poke<uint8_t>(b, 170, 1);  // reserved
  auto r = decode_request_header(b);
  EXPECT_EQ(r.status().code(), StatusCode::kMalformedHeader);
  EXPECT_NE(r.status().message().find("reserved"), std::string::npos);
}

TEST(Wire, RejectsBadMagicVersionAndSize) {
  auto b = encoded(valid_request());
  poke<uint32_t>(b, 0, 0xdeadbeef);
  EXPECT_EQ(decode_request_header(b).status().code(), StatusCode::kBadMagic);

  b = encoded(valid_request());
  poke<uint16_t>(b, 4, 99);
  auto v = decode_request_header(b);
  EXPECT_EQ(v.status().code(), StatusCode::kBadVersion);
  EXPECT_NE(v.status().message().find("99"), std::string::npos) << "message names what arrived";

  b = encoded(valid_request());
  EXPECT_EQ(decode_request_header(std::span(b).first(100)).status().code(), StatusCode::kMalformedHeader);
  EXPECT_EQ(decode_request_header(std::span(b).first(3)).status().code(), StatusCode::kMalformedHeader);
  EXPECT_EQ(decode_request_header({}).status().code(), StatusCode::kMalformedHeader);
  poke<uint16_t>(b, 6, 100);
  EXPECT_EQ(decode_request_header(b).status().code(), StatusCode::kMalformedHeader);
}

TEST(Wire, RejectsBadEnumsAndShapes) {
  auto b = encoded(valid_request());
  poke<uint8_t>(b, 20, 9);  // input kind
  EXPECT_EQ(decode_request_header(b).status().code(), StatusCode::kBadInputKind);
  b = encoded(valid_request());
  poke<uint8_t>(b, 21, 0);  // dtype
  EXPECT_EQ(decode_request_header(b).status().code(), StatusCode::kBadDtype);
  b = encoded(valid_request());
  poke<uint8_t>(b, 23, 0);  // rank
  EXPECT_EQ(decode_request_header(b).status().code(), StatusCode::kBadShape);
  b = encoded(valid_request());
  poke<uint8_t>(b, 23, 9);
  EXPECT_EQ(decode_request_header(b).status().code(), StatusCode::kBadShape);
  b = encoded(valid_request());
  poke<int64_t>(b, 24 + 8, -3);  // dims[1]
  EXPECT_EQ(decode_request_header(b).status().code(), StatusCode::kBadShape);
  b = encoded(valid_request());
  poke<int64_t>(b, 24, int64_t{1} << 40);  // overflowing element count
  poke<int64_t>(b, 24 + 8, int64_t{1} << 40);
  EXPECT_EQ(decode_request_header(b).status().code(), StatusCode::kBadShape);
}

TEST(Wire, RejectsBadModelNames) {
  auto h = valid_request();
  h.model = "";
  EXPECT_EQ(decode_request_header(encoded(h)).status().code(), StatusCode::kMalformedHeader);
  auto b = encoded(valid_request());
  std::memset(b.data() + 104, 'a', 56);  // no NUL terminator
  EXPECT_EQ(decode_request_header(b).status().code(), StatusCode::kMalformedHeader);
  b = encoded(valid_request());
  b[105] = std::byte{0x07};
  EXPECT_EQ(decode_request_header(b).status().code(), StatusCode::kMalformedHeader);
}

TEST(Wire, PayloadBytesMustMatchShapeAndArrivedSize) {
  auto h = valid_request();
  h.payload_bytes += 1;
  EXPECT_EQ(decode_request_header(encoded(h)).status().code(), StatusCode::kPayloadSizeMismatch);

  const auto ok = valid_request();
  EXPECT_TRUE(check_payload(ok, ok.payload_bytes, 1 << 30).ok());
  EXPECT_EQ(check_payload(ok, ok.payload_bytes - 1, 1 << 30).code(), StatusCode::kPayloadSizeMismatch);
  EXPECT_EQ(check_payload(ok, ok.payload_bytes, 1000).code(), StatusCode::kPayloadTooLarge);
}

TEST(Wire, PeekRequestIdOfBrokenHeader) {
  auto b = encoded(valid_request());
  poke<uint32_t>(b, 0, 0);
  EXPECT_EQ(peek_request_id(b), 0x1122334455667788ULL);
  EXPECT_EQ(peek_request_id(std::span(b).first(10)), 0u);
}

TEST(Wire, ResponseRoundTripWithOutputsAndError) {
  ResponseHeader h;
  h.request_id = 42;
  h.status = StatusCode::kOk;
  h.n_outputs = 2;
  h.outputs[0] = {DType::kFloat32, TensorShape{1, 1000}};
  h.outputs[1] = {DType::kFloat32, TensorShape{1, 255, 13, 13}};
  h.payload_bytes = 4000 + 255 * 13 * 13 * 4;
  h.timings.inference_ns = 5;
  h.timings.clock_domain = 77;
  h.timings.server_rss_bytes = 1 << 30;
  h.timings.backend_ns = 11;
  h.timings.batching_ns = 12;
  h.timings.batch_size = 13;
  h.timings.decode_ns = 14;
  h.timings.postprocess_ns = 6;
  ResponseHeaderBytes b;
  encode(h, b);
  auto d = decode_response_header(b);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->request_id, 42u);
  EXPECT_EQ(d->n_outputs, 2);
  EXPECT_EQ(d->outputs[1].shape, (TensorShape{1, 255, 13, 13}));
  EXPECT_EQ(d->timings.inference_ns, 5u);
  EXPECT_EQ(d->timings.clock_domain, 77u);
  EXPECT_EQ(d->timings.backend_ns, 11u);
  EXPECT_EQ(d->timings.batching_ns, 12u);
  EXPECT_EQ(d->timings.batch_size, 13u);
  EXPECT_EQ(d->timings.decode_ns, 14u);
  EXPECT_EQ(d->timings.postprocess_ns, 6u);  // version 3: after the error text
  EXPECT_EQ(d->payload_bytes, h.payload_bytes);
  // Version 3's layout: batching, batch size and decode time end the timings block (payload bytes at 160, the
  // outputs at 168), the error text shrank to 214 bytes to make room, postprocessing time sits at 960.
  uint64_t at = 0;
  std::memcpy(&at, b.data() + 24 + 14 * 8, 8);
  EXPECT_EQ(at, 12u);
  std::memcpy(&at, b.data() + 24 + 16 * 8, 8);
  EXPECT_EQ(at, 14u);
  std::memcpy(&at, b.data() + 160, 8);
  EXPECT_EQ(at, h.payload_bytes);
  std::memcpy(&at, b.data() + 960, 8);
  EXPECT_EQ(at, 6u);
  static_assert(kMaxErrorBytes == 214 && kResponseHeaderBytes == 968);

  auto e = error_response(9, Status(StatusCode::kUnknownModel, std::string(1000, 'x')));
  encode(e, b);
  d = decode_response_header(b);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->status, StatusCode::kUnknownModel);
  EXPECT_EQ(d->error.size(), kMaxErrorBytes) << "long error text is cut to the field";
}

// Codes are appended, never renumbered: the ones added last decode (a decoder that stopped at kInternal
// turned a gateway's 'unavailable' reply into a malformed header), and one past the last is refused.
TEST(Wire, AppendedStatusCodesDecodeAndUnknownOnesAreRejected) {
  EXPECT_EQ(static_cast<int>(StatusCode::kInvalidArgument), 17);
  EXPECT_EQ(static_cast<int>(StatusCode::kUnavailable), 18);
  ResponseHeaderBytes b;
  for (StatusCode code : {StatusCode::kInvalidArgument, StatusCode::kUnavailable}) {
    encode(error_response(3, Status(code, "why")), b);
    auto d = decode_response_header(b);
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    EXPECT_EQ(d->status, code);
  }
  EXPECT_STREQ(to_string(StatusCode::kInvalidArgument), "invalid-argument");
  EXPECT_STREQ(to_string(StatusCode::kUnavailable), "unavailable");
  ResponseHeader unknown;
  unknown.status = static_cast<StatusCode>(static_cast<uint16_t>(kLastStatusCode) + 1);
  encode(unknown, b);
  EXPECT_EQ(decode_response_header(b).status().code(), StatusCode::kMalformedHeader);
}

TEST(Wire, ResponseRejectsInconsistentPayload) {
  ResponseHeader h;
  h.n_outputs = 1;
  h.outputs[0] = {DType::kFloat32, TensorShape{1, 10}};
  h.payload_bytes = 41;
  ResponseHeaderBytes b;
  encode(h, b);
  EXPECT_EQ(decode_response_header(b).status().code(), StatusCode::kMalformedHeader);
}

// Found by fuzz/: sizes that do not fit in 64 bits used to wrap, so huge tensors "matched" tiny payloads.
TEST(Wire, SizesThatOverflow64BitsAreRejectedNotWrapped) {
  const TensorShape two_pow_62{int64_t{1} << 31, int64_t{1} << 31};  // 2^62 elements: 2^64 bytes as float32
  EXPECT_FALSE(tensor_bytes(two_pow_62, DType::kFloat32).has_value());
  EXPECT_EQ(tensor_bytes(two_pow_62, DType::kFloat16), uint64_t{1} << 63);

  auto req = valid_request();
  req.shape = two_pow_62;
  req.payload_bytes = 0;  // what 2^64 wrapped to
  EXPECT_EQ(decode_request_header(encoded(req)).status().code(), StatusCode::kBadShape);

  ResponseHeader h;
  h.n_outputs = 2;  // 2^63 + 2^63 bytes wrapped to 0
  h.outputs[0] = {DType::kFloat32, TensorShape{int64_t{1} << 61}};
  h.outputs[1] = {DType::kFloat32, TensorShape{int64_t{1} << 61}};
  h.payload_bytes = 0;
  ResponseHeaderBytes b;
  encode(h, b);
  EXPECT_EQ(decode_response_header(b).status().code(), StatusCode::kMalformedHeader);
  h.n_outputs = 1;
  h.outputs[0] = {DType::kFloat32, two_pow_62};
  encode(h, b);
  EXPECT_EQ(decode_response_header(b).status().code(), StatusCode::kMalformedHeader);
}

}  // namespace
}  // namespace edgeserve::core
