// ModelInfer's messages as byte buffers (transport/grpc/raw_infer_messages.h): what is split apart or joined reads
// back, through protobuf's own parser, as the message protobuf would have made; the reply's large outputs are the
// reply buffer's own memory, kept until gRPC lets go; and bytes that are not a ModelInferRequest are refused.
#include "transport/grpc/raw_infer_messages.h"

#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../support/status_assert.h"
#include "transport/grpc/kserve_grpc_codec.h"

namespace edgeserve::transport::grpc {
namespace {

using core::StatusCode;
using google::protobuf::util::MessageDifferencer;

std::vector<std::byte> pattern(size_t bytes, int seed) {
  std::vector<std::byte> out(bytes);
  for (size_t i = 0; i < bytes; ++i) out[i] = static_cast<std::byte>((i * 31 + static_cast<size_t>(seed)) & 0xff);
  return out;
}

inference::ModelInferRequest request_with(const std::vector<std::vector<std::byte>>& tensors) {
  inference::ModelInferRequest r;
  r.set_model_name("resnet50");
  r.set_id("42");
  auto* in = r.add_inputs();
  in->set_name("input");
  in->set_datatype("FP16");
  for (int64_t d : {1, 3, 224, 224}) in->add_shape(d);
  (*r.mutable_parameters())["edgeserve_priority"].set_uint64_param(1);
  r.add_outputs()->set_name("logits");
  for (const auto& t : tensors) r.add_raw_input_contents(reinterpret_cast<const char*>(t.data()), t.size());
  return r;
}

::grpc::ByteBuffer serialized(const google::protobuf::Message& message) {
  ::grpc::ByteBuffer buffer;
  bool own = false;
  EXPECT_TRUE(::grpc::SerializationTraits<google::protobuf::Message>::Serialize(message, &buffer, &own).ok());
  return buffer;
}

::grpc::ByteBuffer buffer_of(const std::string& bytes) {
  const ::grpc::Slice slice(bytes);
  return ::grpc::ByteBuffer(&slice, 1);
}

std::string flat(const ::grpc::ByteBuffer& buffer) {
  std::vector<::grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

struct Split {
  core::Status status;
  inference::ModelInferRequest head;
  std::vector<std::byte> landed;
  size_t raw_inputs = 0;
  int landings = 0;
};

Split split(const ::grpc::ByteBuffer& buffer) {
  Split s;
  s.status = split_infer_request(
      buffer, s.head,
      [&s](size_t bytes) {
        ++s.landings;
        s.landed.resize(bytes);
        return std::span<std::byte>(s.landed);
      },
      s.raw_inputs);
  return s;
}

TEST(RawInferMessages, ARequestSplitsIntoItsFieldsAndItsTensorLandedWhereAsked) {
  const auto tensor = pattern(301056, 1);  // ResNet50's fp16 input: over gRPC's slice sizes, so it spans slices
  const inference::ModelInferRequest request = request_with({tensor});
  Split s = split(serialized(request));
  ASSERT_OK(s.status);
  EXPECT_EQ(s.raw_inputs, 1u);
  EXPECT_EQ(s.landings, 1);
  EXPECT_EQ(s.landed, tensor);
  inference::ModelInferRequest without = request;
  without.clear_raw_input_contents();
  EXPECT_TRUE(MessageDifferencer::Equals(s.head, without)) << s.head.DebugString();

  // The decoder takes it as it takes the whole message.
  const http::ServedModel model{"resnet50",
                                "pytorch_libtorch",
                                {"input", core::DType::kFloat16, core::TensorShape{1, 3, 224, 224}},
                                {{"logits", core::DType::kFloat32, core::TensorShape{1, 1000}}},
                                1};
  auto decoded = decode_infer_request(s.head, RawInputs{s.raw_inputs, s.landed}, &model, 1);
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->input.data(), s.landed.data());
  EXPECT_EQ(decoded->header.payload_bytes, tensor.size());
  EXPECT_EQ(decoded->header.priority, 1u);
}

TEST(RawInferMessages, TensorsComeOutWhereverTheyStandAndOnlyTheFirstLands) {
  // raw_input_contents first, then the other fields: protobuf allows any order.
  const auto tensor = pattern(5000, 2);
  inference::ModelInferRequest only_tensor;
  only_tensor.add_raw_input_contents(reinterpret_cast<const char*>(tensor.data()), tensor.size());
  const inference::ModelInferRequest fields = request_with({});
  Split s = split(buffer_of(only_tensor.SerializeAsString() + fields.SerializeAsString()));
  ASSERT_OK(s.status);
  EXPECT_EQ(s.landed, tensor);
  EXPECT_TRUE(MessageDifferencer::Equals(s.head, fields));

  // Two tensors: both counted, the first landed, the second left (the decoder refuses the request).
  Split two = split(serialized(request_with({pattern(64, 3), pattern(64, 4)})));
  ASSERT_OK(two.status);
  EXPECT_EQ(two.raw_inputs, 2u);
  EXPECT_EQ(two.landings, 1);
  EXPECT_EQ(two.landed, pattern(64, 3));
  EXPECT_EQ(decode_infer_request(two.head, RawInputs{two.raw_inputs, two.landed}, nullptr, 1).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(RawInferMessages, BytesThatAreNoRequestAreRefused) {
  const std::string whole = request_with({pattern(4096, 5)}).SerializeAsString();
  for (const size_t cut : {whole.size() - 1, whole.size() - 4000, size_t{3}}) {
    Split s = split(buffer_of(whole.substr(0, cut)));
    EXPECT_EQ(s.status.code(), StatusCode::kMalformedHeader) << "cut at " << cut;
  }
  Split junk = split(buffer_of(std::string("\xff\xff\xff\xff\xff\xff", 6)));
  EXPECT_EQ(junk.status.code(), StatusCode::kMalformedHeader);
  // A tensor that declares a gigabyte in a 16-byte message: refused before any landing memory is asked for (the
  // fuzzer found the server taking the gigabyte first).
  Split claim = split(buffer_of(std::string("\x3a\x80\x80\x80\x80\x04", 6) + std::string(10, '\0')));
  EXPECT_EQ(claim.status.code(), StatusCode::kMalformedHeader);
  EXPECT_EQ(claim.landings, 0);
}

// A reply buffer that says when it is gone.
class WatchedBuffer final : public core::MemoryBuffer {
 public:
  WatchedBuffer(std::vector<std::byte> bytes, bool* gone) : bytes_(std::move(bytes)), gone_(gone) {}
  ~WatchedBuffer() override { *gone_ = true; }
  std::span<std::byte> bytes() override { return bytes_; }
  bool on_device() const override { return false; }

 private:
  std::vector<std::byte> bytes_;
  bool* gone_;
};

TEST(RawInferMessages, AReplyReadsBackAsTheMessageAndKeepsItsBufferUntilSent) {
  const auto small = pattern(4000, 6);    // copied beside the fields
  const auto large = pattern(200000, 7);  // a slice of the reply buffer
  std::vector<std::byte> joined = small;
  joined.insert(joined.end(), large.begin(), large.end());
  bool gone = false;
  auto owner = std::make_unique<WatchedBuffer>(joined, &gone);
  const std::span<const std::byte> bytes = owner->bytes();

  inference::ModelInferResponse head;
  head.set_model_name("deeplabv3");
  head.set_id("9");
  head.add_outputs()->set_name("aux");
  head.add_outputs()->set_name("shared");  // written into a region: an empty entry
  head.add_outputs()->set_name("out");
  (*head.mutable_parameters())["edgeserve_queue_ns"].set_uint64_param(11);
  std::optional<::grpc::ByteBuffer> buffer(std::in_place);
  join_infer_response(head, {bytes.first(small.size()), {}, bytes.subspan(small.size())}, std::move(owner), *buffer);

  inference::ModelInferResponse expected = head;
  expected.add_raw_output_contents(reinterpret_cast<const char*>(small.data()), small.size());
  expected.add_raw_output_contents();
  expected.add_raw_output_contents(reinterpret_cast<const char*>(large.data()), large.size());
  inference::ModelInferResponse back;
  ASSERT_TRUE(back.ParseFromString(flat(*buffer)));
  EXPECT_TRUE(MessageDifferencer::Equals(back, expected));
  // The large output is the reply buffer's memory, not a copy, so the buffer stays while gRPC holds the slice.
  std::vector<::grpc::Slice> slices;
  ASSERT_TRUE(buffer->Dump(&slices).ok());
  bool shared = false;
  for (const auto& s : slices) shared |= reinterpret_cast<const std::byte*>(s.begin()) == bytes.data() + small.size();
  EXPECT_TRUE(shared);
  slices.clear();
  EXPECT_FALSE(gone);
  buffer.reset();
  EXPECT_TRUE(gone);
}

TEST(RawInferMessages, AClientRequestReadsBackAsTheMessage) {
  core::RequestHeader h;
  h.request_id = 7;
  h.model = "tiny";
  h.shape = core::TensorShape{1, 3, 4, 4};
  h.payload_bytes = 192;
  const auto tensor = pattern(192, 8);
  inference::ModelInferRequest whole;
  encode_infer_request(h, tensor, "input", {"logits"}, whole);
  inference::ModelInferRequest head;
  encode_infer_request_head(h, "input", {"logits"}, head);
  ::grpc::ByteBuffer buffer;
  join_infer_request(head, tensor, buffer);
  inference::ModelInferRequest back;
  ASSERT_TRUE(back.ParseFromString(flat(buffer)));
  EXPECT_TRUE(MessageDifferencer::Equals(back, whole));
}

}  // namespace
}  // namespace edgeserve::transport::grpc
