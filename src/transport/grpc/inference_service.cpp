// The KServe v2 gRPC service: every RPC, and the reply path of an infer call.
#include "transport/grpc/inference_service.h"

#include <fmt/format.h>

#include <cstring>
#include <thread>

#include "core/build_info.h"
#include "core/clock.h"
#include "core/log.h"
#include "transport/grpc/grpc_delivery.h"
#include "transport/grpc/kserve_grpc_codec.h"
#include "transport/grpc/raw_infer_messages.h"
#include "transport/http/kserve_types.h"
#include "transport/http/shared_memory_tensors.h"
#include "transport/sender.h"

namespace edgeserve::transport::grpc {

using core::Status;
using core::StatusCode;

namespace {

InferenceService::Reactor* finish(InferenceService::Context* context, const ::grpc::Status& status = {}) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

void tensor_metadata(const core::TensorSpec& t, inference::ModelMetadataResponse::TensorMetadata& out) {
  out.set_name(t.name);
  out.set_datatype(http::kserve_datatype(t.dtype));
  for (int64_t d : t.shape) out.add_shape(d);
}

inference::DataType config_datatype(core::DType dtype) {
  inference::DataType type = inference::TYPE_INVALID;
  inference::DataType_Parse(std::string("TYPE_") + http::kserve_datatype(dtype), &type);
  return type;
}

// A stream refused at once. gRPC owns a reactor from its return until OnDone, where the reactor deletes itself: the
// callback API's ownership rule (gRPC's own UNIMPLEMENTED reactor is made the same way).
class RefusedStream final
    : public ::grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse> {
 public:
  RefusedStream() {
    Finish({::grpc::StatusCode::UNIMPLEMENTED,
            "edgeserve does not implement ModelStreamInfer (decoupled models): use ModelInfer"});
  }
  void OnDone() override { delete this; }  // NOLINT(cppcoreguidelines-owning-memory): gRPC's reactor lifetime
};

void set_duration(inference::StatisticDuration& d, uint64_t count, uint64_t ns) {
  d.set_count(count);
  d.set_ns(ns);
}

}  // namespace

void GrpcDelivery::transmit(const core::ResponseHeader& header, std::unique_ptr<core::MemoryBuffer> payload) {
  if (call_.served != nullptr) call_.statistics->record(call_.served->name, header);
  ::grpc::Status status;
  if (header.status != StatusCode::kOk) {
    status = to_grpc_status({header.status, header.error});
  } else if (payload != nullptr && payload->on_device()) {
    status = to_grpc_status({StatusCode::kInternal, "the reply is in GPU memory"});
  } else {
    std::span<const std::byte> bytes;
    if (payload != nullptr)
      bytes = payload->bytes().first(std::min<size_t>(header.payload_bytes, payload->bytes().size()));
    const inference::ModelInferRequest& request = *call_.messages->request();
    http::InferReplyForm form;
    form.names = reply_output_names(header, request, call_.served, call_.select);
    if (!call_.shared_outputs.empty()) {
      // Matched by name as http:// matches them (topk's "<name>_ids" and "<name>_scores" go where <name> goes).
      for (const auto& name : form.names) {
        std::optional<http::SharedMemoryAsk> shared;
        for (const auto& ask : call_.shared_outputs)
          if (name == ask.name || name.starts_with(ask.name + "_")) shared = ask.shared_memory;
        form.shared_memory.push_back(std::move(shared));
      }
      status = to_grpc_status(http::write_shared_outputs(*call_.shared_memory, header, bytes, form));
    }
    if (status.ok()) {
      inference::ModelInferResponse& head = *call_.messages->response();
      const auto outputs =
          encode_infer_response_head(header, bytes, request, form.names, form.shared_memory, call_.client_id, head);
      join_infer_response(head, outputs, std::move(payload), *call_.response);
    }
  }
  // The landing memory stays until the delivery goes (payload() stays valid), then returns to its pool, which
  // outlives the listener anyway; the messages go back to theirs now, their bytes already in the response.
  call_.reactor->Finish(status);
  call_.messages.reset();
  call_.in_flight->fetch_sub(1);
}

InferenceService::InferenceService(const ListenOptions& options, std::shared_ptr<const http::HttpServerSettings> models,
                                   std::shared_ptr<core::BufferPool> landing)
    : options_(options),
      models_(std::move(models)),
      landing_(std::move(landing)),
      shared_landing_(options.allocate, landing_->block_bytes(), landing_->available()),
      clients_(options.limits.max_clients, options.limits.idle_timeout),
      messages_(landing_->available()) {}

InferenceService::Reactor* InferenceService::ServerLive(Context* context, const inference::ServerLiveRequest*,
                                                        inference::ServerLiveResponse* response) {
  response->set_live(true);
  return finish(context);
}

InferenceService::Reactor* InferenceService::ServerReady(Context* context, const inference::ServerReadyRequest*,
                                                         inference::ServerReadyResponse* response) {
  response->set_ready(handler_.load() != nullptr && !stopping_.load());
  return finish(context);
}

InferenceService::Reactor* InferenceService::ModelReady(Context* context, const inference::ModelReadyRequest* request,
                                                        inference::ModelReadyResponse* response) {
  // An unknown model (or version) is not ready, not an error: tritonclient's is_model_ready then says False, as over
  // http://.
  const bool known = models_ && models_->find(request->name()) != nullptr;
  response->set_ready(known && (request->version().empty() || request->version() == "1"));
  return finish(context);
}

InferenceService::Reactor* InferenceService::ServerMetadata(Context* context, const inference::ServerMetadataRequest*,
                                                            inference::ServerMetadataResponse* response) {
  response->set_name("edgeserve");
  response->set_version(core::build_version());
  response->add_extensions("statistics");
  response->add_extensions("system_shared_memory");
  if (http::cuda_regions_supported()) response->add_extensions("cuda_shared_memory");
  return finish(context);
}

InferenceService::Reactor* InferenceService::ModelMetadata(Context* context,
                                                           const inference::ModelMetadataRequest* request,
                                                           inference::ModelMetadataResponse* response) {
  auto* reactor = context->DefaultReactor();
  const http::ServedModel* m = known_model(request->name(), request->version(), reactor);
  if (m == nullptr) return reactor;
  response->set_name(m->name);
  response->add_versions("1");
  response->set_platform(m->platform);
  tensor_metadata(m->input, *response->add_inputs());
  for (const auto& o : m->outputs) tensor_metadata(o, *response->add_outputs());
  reactor->Finish(::grpc::Status::OK);
  return reactor;
}

InferenceService::Reactor* InferenceService::ModelConfig(Context* context, const inference::ModelConfigRequest* request,
                                                         inference::ModelConfigResponse* response) {
  auto* reactor = context->DefaultReactor();
  const http::ServedModel* m = known_model(request->name(), request->version(), reactor);
  if (m == nullptr) return reactor;
  // max_batch_size 0: shapes carry the batch dimension (the server batches requests itself), as on http://.
  auto& config = *response->mutable_config();
  config.set_name(m->name);
  config.set_platform(m->platform);
  config.set_backend("pytorch");
  config.set_max_batch_size(0);
  auto* in = config.add_input();
  in->set_name(m->input.name);
  in->set_data_type(config_datatype(m->input.dtype));
  for (int64_t d : m->input.shape) in->add_dims(d);
  for (const auto& o : m->outputs) {
    auto* out = config.add_output();
    out->set_name(o.name);
    out->set_data_type(config_datatype(o.dtype));
    for (int64_t d : o.shape) out->add_dims(d);
  }
  reactor->Finish(::grpc::Status::OK);
  return reactor;
}

InferenceService::Reactor* InferenceService::ModelStatistics(Context* context,
                                                             const inference::ModelStatisticsRequest* request,
                                                             inference::ModelStatisticsResponse* response) {
  auto* reactor = context->DefaultReactor();
  std::vector<std::string> names;
  if (!request->name().empty()) {
    const http::ServedModel* m = known_model(request->name(), request->version(), reactor);
    if (m == nullptr) return reactor;
    names.push_back(m->name);
  } else if (models_) {
    for (const auto& m : models_->models()) names.push_back(m.name);
  }
  for (const auto& name : names) {
    const auto t = statistics_.totals(name);
    auto& s = *response->add_model_stats();
    s.set_name(name);
    s.set_version("1");
    s.set_last_inference(t.last_inference_ms);
    s.set_inference_count(t.success_count);
    s.set_execution_count(t.success_count);
    auto& i = *s.mutable_inference_stats();
    set_duration(*i.mutable_success(), t.success_count, t.success_ns);
    set_duration(*i.mutable_fail(), t.fail_count, t.fail_ns);
    set_duration(*i.mutable_queue(), t.success_count, t.queue_ns);
    set_duration(*i.mutable_compute_input(), t.success_count, t.input_ns);
    set_duration(*i.mutable_compute_infer(), t.success_count, t.infer_ns);
    set_duration(*i.mutable_compute_output(), t.success_count, t.output_ns);
    set_duration(*i.mutable_cache_hit(), 0, 0);
    set_duration(*i.mutable_cache_miss(), 0, 0);
  }
  reactor->Finish(::grpc::Status::OK);
  return reactor;
}

InferenceService::Reactor* InferenceService::ModelInfer(Context* context, const ::grpc::ByteBuffer* request,
                                                        ::grpc::ByteBuffer* response) {
  auto* reactor = context->DefaultReactor();
  const uint64_t recv_ns = core::now_ns();
  // Counted before stopping_ is read, so that drain() either sees this call or this call sees stopping_.
  in_flight_.fetch_add(1);
  Reactor* refused = infer(context, *request, response, reactor, recv_ns);
  if (refused != nullptr) in_flight_.fetch_sub(1);
  return reactor;
}

bool InferenceService::drain(std::chrono::milliseconds limit) {
  stopping_.store(true);
  const auto until = std::chrono::steady_clock::now() + limit;
  while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return in_flight_.load() == 0;
}

InferenceService::Reactor* InferenceService::infer(Context* context, const ::grpc::ByteBuffer& message,
                                                   ::grpc::ByteBuffer* response, Reactor* reactor, uint64_t recv_ns) {
  const DeliveryHandler* handler = handler_.load();
  if (handler == nullptr || stopping_.load())
    return fail(reactor, 0, {StatusCode::kShuttingDown, "the server is not serving (starting or stopping)"}, recv_ns);
  const std::string peer = context->peer();
  const auto number = clients_.admit(peer, recv_ns);
  if (!number)
    return fail(reactor, 0,
                {StatusCode::kOverloaded,
                 fmt::format("{} clients are being served (--max-clients)", options_.limits.max_clients)},
                recv_ns);
  // The tensor moves from gRPC's slices straight into aligned landing memory (pinned next to a GPU) from a pool;
  // the rest of the message is parsed into messages kept from call to call.
  InferMessagePool::Held messages = messages_.take();
  const inference::ModelInferRequest& request = *messages->request();
  std::unique_ptr<core::MemoryBuffer> landing;
  RawInputs raw;
  Status split = split_infer_request(
      message, *messages->request(),
      [&](size_t bytes) {
        landing = landing_->take(bytes);
        const std::span<std::byte> to = landing->bytes().first(bytes);
        raw.first = to;
        return to;
      },
      raw.count);
  if (!split.ok()) return fail(reactor, 0, split, recv_ns);
  const http::ServedModel* served = models_ ? models_->find(request.model_name()) : nullptr;
  auto decoded = decode_infer_request(request, raw, served, next_id_.fetch_add(1) | (1ull << 63));
  if (!decoded.ok()) return fail(reactor, 0, decoded.status(), recv_ns);
  core::RequestHeader& h = decoded->header;
  // A client that names no client id (a plain KServe client) is its connection: one lane per connection.
  if (!request.parameters().contains("edgeserve_client_id")) h.client_id = *number;
  std::optional<http::SharedMemoryView> shared_input;  // holds the client's region while its bytes are read
  if (decoded->shared_input) {
    auto view = shared_memory_.view(*decoded->shared_input);
    if (!view.ok()) return fail(reactor, h.request_id, view.status(), recv_ns);
    shared_input = std::move(view.value());
  }
  const size_t input_bytes = shared_input ? shared_input->byte_size : decoded->input.size();
  if (Status s = http::check_shared_outputs(shared_memory_, decoded->shared_outputs); !s.ok())
    return fail(reactor, h.request_id, s, recv_ns);
  if (Status s = core::check_payload(h, input_bytes, options_.max_payload_bytes); !s.ok())
    return fail(reactor, h.request_id, s, recv_ns);
  if (shared_input) {
    auto landed = shared_landing_.land(*shared_input, h.input_kind, *landing_);
    if (!landed.ok()) return fail(reactor, h.request_id, landed.status(), recv_ns);
    landing = std::move(landed.value());
  }
  InferCall call{reactor,     std::move(messages), response,    served,          h.output.select,
                 h.client_id, &statistics_,        &in_flight_, &shared_memory_, std::move(decoded->shared_outputs)};
  (*handler)(std::make_unique<GrpcDelivery>(recv_ns, sender_from_name("grpc", peer), std::move(h), std::move(landing),
                                            std::move(call)));
  return nullptr;
}

const http::ServedModel* InferenceService::known_model(const std::string& name, const std::string& version,
                                                       Reactor* reactor) const {
  const http::ServedModel* m = models_ ? models_->find(name) : nullptr;
  if (m == nullptr) {
    reactor->Finish(to_grpc_status(
        models_ ? Status(StatusCode::kUnknownModel, fmt::format("no model {} here", name.substr(0, 64)))
                : Status(StatusCode::kUnavailable, "this listener knows no model metadata (a gateway)")));
    return nullptr;
  }
  if (!version.empty() && version != "1") {
    reactor->Finish(to_grpc_status({StatusCode::kUnknownModel, fmt::format("model {} has version 1 only", name)}));
    return nullptr;
  }
  return m;
}

InferenceService::Reactor* InferenceService::fail(Reactor* reactor, uint64_t id, const Status& status,
                                                  uint64_t recv_ns) {
  const core::ResponseHeader header =
      options_.edge_error ? options_.edge_error(id, status, recv_ns, "grpc client") : core::error_response(id, status);
  if (std::string note; !options_.edge_error && error_log_.allow(note))
    core::logger("transport")->warn("grpc request {}: {}{}", id, status.to_string(), note);
  reactor->Finish(to_grpc_status({header.status, header.error}));
  return reactor;
}

::grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse>*
InferenceService::ModelStreamInfer(Context* /*context*/) {
  return new RefusedStream();  // NOLINT(cppcoreguidelines-owning-memory): deleted by its OnDone
}

InferenceService::Reactor* InferenceService::RepositoryIndex(Context* context, const inference::RepositoryIndexRequest*,
                                                             inference::RepositoryIndexResponse*) {
  return finish(context, {::grpc::StatusCode::UNIMPLEMENTED,
                          "edgeserve has no model repository API: models are "
                          "loaded at start (serve --models)"});
}
InferenceService::Reactor* InferenceService::RepositoryModelLoad(Context* context,
                                                                 const inference::RepositoryModelLoadRequest*,
                                                                 inference::RepositoryModelLoadResponse*) {
  return finish(context, {::grpc::StatusCode::UNIMPLEMENTED, "edgeserve loads models at start (serve --models)"});
}
InferenceService::Reactor* InferenceService::RepositoryModelUnload(Context* context,
                                                                   const inference::RepositoryModelUnloadRequest*,
                                                                   inference::RepositoryModelUnloadResponse*) {
  return finish(context, {::grpc::StatusCode::UNIMPLEMENTED, "edgeserve loads models at start (serve --models)"});
}

}  // namespace edgeserve::transport::grpc
