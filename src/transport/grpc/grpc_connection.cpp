// edgeserve's KServe v2 client over a gRPC channel (a connection has one call in flight). ModelInfer goes as byte
// buffers (raw_infer_messages.h): the tensor is copied once, into gRPC's slice, instead of into the message and then
// again into the slices; the rest goes through the generated stub.
#include "transport/grpc/grpc_connection.h"

#include <fmt/format.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <map>

#include "core/clock.h"
#include "grpc_service.grpc.pb.h"
#include "transport/endpoint.h"
#include "transport/grpc/kserve_grpc_codec.h"
#include "transport/grpc/raw_infer_messages.h"

namespace edgeserve::transport::grpc {

using core::Status;
using core::StatusCode;

namespace {

struct ModelNames {
  std::string input;
  std::vector<std::string> outputs;
};

class GrpcConnection final : public ClientConnection {
 public:
  GrpcConnection(std::string target, const std::string& address) : target_(std::move(target)) {
    ::grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    // A connection of its own (gRPC shares one among channels to the same address otherwise): each edgeserve client
    // is one client to the server, as on every transport (bench's clients, --max-clients).
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    // A fresh connection after a lost one, at once: a restarted server is served again within a call's timeout.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    auto channel = ::grpc::CreateCustomChannel(address, ::grpc::InsecureChannelCredentials(), args);
    stub_ = inference::GRPCInferenceService::NewStub(channel);
    generic_ = std::make_unique<::grpc::GenericStub>(channel);
  }

  ~GrpcConnection() override {
    calls_.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (calls_.Next(&tag, &ok)) {
    }
  }
  GrpcConnection(const GrpcConnection&) = delete;
  GrpcConnection& operator=(const GrpcConnection&) = delete;

  Status call(const core::RequestHeader& header, std::span<const std::byte> payload, Reply& reply,
              std::chrono::milliseconds timeout) override {
    reply = Reply{};
    const auto deadline = std::chrono::system_clock::now() + timeout;
    const ModelNames* names = nullptr;
    if (Status s = model_names(header, deadline, reply, names); !s.ok() || names == nullptr) return s;
    std::vector<std::string> outputs;
    for (size_t i = 0; i < names->outputs.size() && i < core::kMaxOutputs; ++i)
      if (header.output.select & (1u << i)) outputs.push_back(names->outputs[i]);
    encode_infer_request_head(header, names->input, outputs, request_);
    join_infer_request(request_, payload, sent_);
    ::grpc::ClientContext context;
    context.set_deadline(deadline);
    const ::grpc::Status status = model_infer(context);
    reply.recv_clock_ns = core::now_ns();
    if (!status.ok()) return answer_or_failure(status, header.request_id, reply);
    if (!::grpc::SerializationTraits<inference::ModelInferResponse>::Deserialize(&received_, &response_).ok())
      return {StatusCode::kMalformedHeader, fmt::format("{}: the reply is no ModelInferResponse", target_)};
    if (Status s = decode_infer_response(response_, reply.header, joined_, reply.payload); !s.ok()) return s;
    reply.header.request_id = header.request_id;
    return {};
  }

  std::string target() const override { return target_; }
  LinkReport link() const override { return {"grpc", "gRPC " + ::grpc::Version(), "", {}, {}}; }

 private:
  // ModelInfer from sent_ into received_, waited for on this connection's own queue.
  ::grpc::Status model_infer(::grpc::ClientContext& context) {
    auto call = generic_->PrepareUnaryCall(&context, kModelInfer, sent_, &calls_);
    call->StartCall();
    ::grpc::Status status;
    call->Finish(&received_, &status, this);
    void* tag = nullptr;
    bool ok = false;
    if (!calls_.Next(&tag, &ok))
      return {::grpc::StatusCode::INTERNAL, "the connection's completion queue was shut down"};
    return status;
  }

  // An error the server answered is the reply; a channel that failed (no server, deadline) is the call's error.
  Status answer_or_failure(const ::grpc::Status& status, uint64_t request_id, Reply& reply) const {
    if (!is_server_answer(status)) {
      const Status failure = from_grpc_status(status);
      const StatusCode code = status.error_code() == ::grpc::StatusCode::DEADLINE_EXCEEDED
                                  ? StatusCode::kTimeout
                                  : StatusCode::kTransportError;
      return {code, fmt::format("{}: {}", target_, failure.message())};
    }
    reply.header = core::error_response(request_id, from_grpc_status(status));
    return {};
  }

  // The model's input and output names, from its metadata the first time. An unknown model is the reply.
  Status model_names(const core::RequestHeader& header, std::chrono::system_clock::time_point deadline, Reply& reply,
                     const ModelNames*& out) {
    if (auto it = names_.find(header.model); it != names_.end()) {
      out = &it->second;
      return {};
    }
    inference::ModelMetadataRequest request;
    request.set_name(header.model);
    inference::ModelMetadataResponse metadata;
    ::grpc::ClientContext context;
    context.set_deadline(deadline);
    const ::grpc::Status status = stub_->ModelMetadata(&context, request, &metadata);
    if (!status.ok()) {
      if (is_server_answer(status) && from_grpc_status(status).code() == StatusCode::kUnavailable) {
        // A gateway: no names to learn; the request says it all.
        out = &names_.emplace(header.model, ModelNames{"input", {}}).first->second;
        return {};
      }
      reply.recv_clock_ns = core::now_ns();
      return answer_or_failure(status, header.request_id, reply);
    }
    if (metadata.inputs_size() < 1)
      return {StatusCode::kMalformedHeader, fmt::format("{}: model {}'s metadata has no input", target_, header.model)};
    ModelNames names{metadata.inputs(0).name(), {}};
    for (const auto& o : metadata.outputs()) names.outputs.push_back(o.name());
    out = &names_.emplace(header.model, std::move(names)).first->second;
    return {};
  }

  std::string target_;
  inline static const std::string kModelInfer = "/inference.GRPCInferenceService/ModelInfer";
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;  // metadata
  std::unique_ptr<::grpc::GenericStub> generic_;                 // ModelInfer
  ::grpc::CompletionQueue calls_;
  std::map<std::string, ModelNames, std::less<>> names_;
  // Reused from call to call, so a steady stream of requests reuses their memory; Reply::payload points into them.
  inference::ModelInferRequest request_;  // without its tensor
  inference::ModelInferResponse response_;
  ::grpc::ByteBuffer sent_;
  ::grpc::ByteBuffer received_;
  std::vector<std::byte> joined_;
};

}  // namespace

core::Result<std::unique_ptr<ClientConnection>> connect_grpc(const std::string& target) {
  auto endpoint = parse_endpoint(target, EndpointUse::kConnect);
  if (!endpoint.ok()) return endpoint.status();
  const std::string& host = endpoint->host;
  const std::string address = host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, endpoint->port)
                                                                  : fmt::format("{}:{}", host, endpoint->port);
  return std::unique_ptr<ClientConnection>(std::make_unique<GrpcConnection>(target, address));
}

}  // namespace edgeserve::transport::grpc
