// Fuzzes the grpc:// server's reading of ModelInfer byte buffers (transport/grpc/raw_infer_messages.h): the wire
// scan that copies raw_input_contents straight into landing memory and hands every other field to protobuf.
//
// Input: byte 0 % 3 gives how many cuts split the message into slices and bytes 1-2 where they fall, as gRPC hands a
// message over in slices of its own sizes; the rest (from byte 3) is the message. Beyond "no crash, no UB" it checks
// what the listener relies on: an accepted message landed exactly the bytes its first tensor declared, and the same
// bytes read as one slice give the same result.
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "require.h"
#include "transport/grpc/raw_infer_messages.h"

using namespace edgeserve;
using edgeserve::fuzz::require;

namespace {

struct Split {
  core::Status status;
  inference::ModelInferRequest head;
  std::vector<std::byte> landed;
  size_t raw_inputs = 0;
  size_t asked = 0;
};

Split split(const std::vector<::grpc::Slice>& slices) {
  const ::grpc::ByteBuffer buffer(slices.data(), slices.size());
  Split s;
  s.status = transport::grpc::split_infer_request(
      buffer, s.head,
      [&s](size_t bytes) {
        s.asked = bytes;
        s.landed.assign(bytes, std::byte{0});
        return std::span<std::byte>(s.landed);
      },
      s.raw_inputs);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const std::string message(reinterpret_cast<const char*>(data + 3), size - 3);
  std::vector<size_t> cuts{0, message.size()};
  for (size_t i = 0; i < static_cast<size_t>(data[0] % 3); ++i) cuts.push_back(data[1 + i] % (message.size() + 1));
  std::sort(cuts.begin(), cuts.end());
  std::vector<::grpc::Slice> slices;
  for (size_t i = 0; i + 1 < cuts.size(); ++i) slices.emplace_back(message.data() + cuts[i], cuts[i + 1] - cuts[i]);
  const Split cut = split(slices);
  const Split whole = split({::grpc::Slice(message)});
  require(cut.status.ok() == whole.status.ok());
  if (!cut.status.ok()) return 0;
  require(cut.raw_inputs == whole.raw_inputs);
  require(cut.landed == whole.landed);
  require(google::protobuf::util::MessageDifferencer::Equals(cut.head, whole.head));
  require(cut.raw_inputs == 0 || cut.landed.size() == cut.asked);
  require(cut.head.raw_input_contents_size() == 0);
  return 0;
}
