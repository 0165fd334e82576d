#include "transport/grpc/raw_infer_messages.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/slice.h>

#include <array>
#include <cstdint>
#include <string>

namespace edgeserve::transport::grpc {

using core::Status;
using core::StatusCode;
using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;
using google::protobuf::io::CodedOutputStream;

namespace {

constexpr int kRawInputContents = 7;   // ModelInferRequest.raw_input_contents (grpc_service.proto)
constexpr int kRawOutputContents = 6;  // ModelInferResponse.raw_output_contents
// Outputs this small are copied beside the message's other fields: one slice instead of two, and no owner to track.
constexpr size_t kCopiedOutputBytes = 16 << 10;

uint32_t length_delimited(int field) {
  return WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
}

// A bytes entry's key and length, as protobuf writes them before the bytes.
void append_entry_prefix(std::string& to, int field, size_t bytes) {
  std::array<uint8_t, 16> prefix{};  // a varint32 key and a varint64 length: at most 5 + 10 bytes
  uint8_t* end = CodedOutputStream::WriteVarint32ToArray(length_delimited(field), prefix.data());
  end = CodedOutputStream::WriteVarint64ToArray(bytes, end);
  to.append(reinterpret_cast<const char*>(prefix.data()), static_cast<size_t>(end - prefix.data()));
}

// gRPC's destroy callback of an output slice: the last reference to the reply buffer may go here.
void release_owner(void* owner) {
  std::unique_ptr<std::shared_ptr<const core::MemoryBuffer>> held(
      static_cast<std::shared_ptr<const core::MemoryBuffer>*>(owner));
}

Status malformed(const char* what) {
  return {StatusCode::kMalformedHeader, std::string("not a KServe ModelInferRequest: ") + what};
}

}  // namespace

Status split_infer_request(const ::grpc::ByteBuffer& buffer, inference::ModelInferRequest& head,
                           const std::function<std::span<std::byte>(size_t)>& land, size_t& raw_inputs) {
  raw_inputs = 0;
  ::grpc::ByteBuffer view(buffer);  // shares the slices: the reader below needs a buffer of its own
  const size_t total = view.Length();
  ::grpc::ProtoBufferReader reader(&view);
  std::string rest;  // every other field, as it came
  {
    CodedInputStream in(&reader);
    google::protobuf::io::StringOutputStream rest_stream(&rest);
    CodedOutputStream out(&rest_stream);
    for (uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
      if (tag != length_delimited(kRawInputContents)) {
        if (!WireFormatLite::SkipField(&in, tag, &out)) return malformed("a field is cut short or of no known type");
        continue;
      }
      uint32_t size = 0;
      if (!in.ReadVarint32(&size)) return malformed("raw_input_contents has no length");
      // A length past the message's end is refused before anything is landed: a few bytes must not make the
      // server take gigabytes of landing memory.
      if (size > total - static_cast<size_t>(in.CurrentPosition())) return malformed("raw_input_contents is cut short");
      if (++raw_inputs > 1) {
        if (!in.Skip(static_cast<int>(size))) return malformed("raw_input_contents is cut short");
        continue;
      }
      const std::span<std::byte> to = land(size);
      if (to.size() < size || !in.ReadRaw(to.data(), static_cast<int>(size)))
        return malformed("raw_input_contents is cut short");
    }
    if (!in.ConsumedEntireMessage()) return malformed("it ends inside a field");
  }
  if (!head.ParseFromString(rest)) return malformed("its fields do not parse");
  return {};
}

void join_infer_response(const inference::ModelInferResponse& head,
                         const std::vector<std::span<const std::byte>>& outputs,
                         std::unique_ptr<core::MemoryBuffer> owner, ::grpc::ByteBuffer& out) {
  const bool can_share = owner != nullptr;
  std::shared_ptr<const core::MemoryBuffer> shared;  // made at the first output sent as a slice
  std::vector<::grpc::Slice> slices;
  slices.reserve(2 * outputs.size() + 1);
  std::string chunk = head.SerializeAsString();
  for (const auto& bytes : outputs) {
    append_entry_prefix(chunk, kRawOutputContents, bytes.size());
    if (bytes.size() <= kCopiedOutputBytes || !can_share) {
      chunk.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      continue;
    }
    slices.emplace_back(chunk);
    chunk.clear();
    if (shared == nullptr) shared = std::move(owner);
    auto held = std::make_unique<std::shared_ptr<const core::MemoryBuffer>>(shared);
    // gRPC reads the slice and never writes it: its constructor takes a non-const pointer all the same.
    slices.emplace_back(const_cast<std::byte*>(bytes.data()), bytes.size(), &release_owner, held.release());
  }
  if (!chunk.empty()) slices.emplace_back(chunk);
  out = ::grpc::ByteBuffer(slices.data(), slices.size());
}

void join_infer_request(const inference::ModelInferRequest& head, std::span<const std::byte> tensor,
                        ::grpc::ByteBuffer& out) {
  std::string prefix = head.SerializeAsString();
  append_entry_prefix(prefix, kRawInputContents, tensor.size());
  std::array<::grpc::Slice, 2> slices{::grpc::Slice(prefix), ::grpc::Slice(tensor.data(), tensor.size())};
  out = ::grpc::ByteBuffer(slices.data(), slices.size());
}

}  // namespace edgeserve::transport::grpc
