// KServe v2 infer messages over gRPC, both sides.
#include "transport/grpc/kserve_grpc_codec.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

#include "transport/http/kserve_metadata.h"
#include "transport/http/kserve_types.h"

namespace edgeserve::transport::grpc {

using core::Status;
using core::StatusCode;
using Parameters = google::protobuf::Map<std::string, inference::InferParameter>;

namespace {

std::optional<uint64_t> parse_uint(std::string_view text) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

// An unsigned parameter sent as int64 or uint64 (tritonclient sends Python ints as int64), at most `max`.
core::Result<std::optional<uint64_t>> uint_parameter(const Parameters& p, const char* name, uint64_t max) {
  const auto it = p.find(name);
  if (it == p.end()) return std::optional<uint64_t>();
  const auto& v = it->second;
  std::optional<uint64_t> value;
  if (v.has_uint64_param()) value = v.uint64_param();
  if (v.has_int64_param() && v.int64_param() >= 0) value = static_cast<uint64_t>(v.int64_param());
  if (!value || *value > max)
    return Status{StatusCode::kInvalidArgument, fmt::format("parameter {} is an integer from 0 to {}", name, max)};
  return value;
}

std::optional<std::string> string_parameter(const Parameters& p, const char* name) {
  const auto it = p.find(name);
  if (it == p.end() || !it->second.has_string_param()) return std::nullopt;
  return it->second.string_param();
}

// The region an input's or requested output's parameters name, none when they name none.
core::Result<std::optional<http::SharedMemoryAsk>> shared_memory_ask(const Parameters& p, std::string_view what) {
  const auto region = p.find("shared_memory_region");
  if (region == p.end()) return std::optional<http::SharedMemoryAsk>();
  if (!region->second.has_string_param())
    return Status{StatusCode::kInvalidArgument, fmt::format("{}: shared_memory_region is not a string", what)};
  auto size = uint_parameter(p, "shared_memory_byte_size", UINT64_MAX);
  if (!size.ok()) return size.status();
  if (!*size)
    return Status{StatusCode::kInvalidArgument,
                  fmt::format("{} names a shared memory region but no shared_memory_byte_size", what)};
  auto offset = uint_parameter(p, "shared_memory_offset", UINT64_MAX);
  if (!offset.ok()) return offset.status();
  return std::optional<http::SharedMemoryAsk>(
      http::SharedMemoryAsk{region->second.string_param(), offset->value_or(0), **size});
}

// edgeserve's own request fields, under http://'s parameter names (kserve_request.h).
Status read_parameters(const Parameters& p, core::RequestHeader& h) {
  if (auto kind = string_parameter(p, "edgeserve_input_kind")) {
    if (*kind == "preprocessed")
      h.input_kind = core::InputKind::kPreprocessed;
    else if (*kind == "raw")
      h.input_kind = core::InputKind::kRaw;
    else if (*kind == "jpeg")
      h.input_kind = core::InputKind::kJpeg;
    else
      return {StatusCode::kBadInputKind, "edgeserve_input_kind is preprocessed, raw or jpeg"};
  }
  struct Field {
    const char* name;
    uint64_t max;
    void (*set)(core::RequestHeader&, uint64_t);
  };
  static constexpr Field kFields[] = {
      {"edgeserve_priority", 255, [](core::RequestHeader& r, uint64_t v) { r.priority = static_cast<uint8_t>(v); }},
      {"edgeserve_client_id", UINT32_MAX,
       [](core::RequestHeader& r, uint64_t v) { r.client_id = static_cast<uint32_t>(v); }},
      {"edgeserve_client_send_ns", UINT64_MAX, [](core::RequestHeader& r, uint64_t v) { r.client_send_ns = v; }},
      {"edgeserve_topk", core::kMaxTopk,
       [](core::RequestHeader& r, uint64_t v) { r.output.k = static_cast<uint16_t>(v); }},
      {"edgeserve_output_select", 255,
       [](core::RequestHeader& r, uint64_t v) { r.output.select = static_cast<uint8_t>(v); }},
  };
  for (const auto& f : kFields) {
    auto v = uint_parameter(p, f.name, f.max);
    if (!v.ok()) return v.status();
    if (*v) f.set(h, **v);
  }
  if (auto dtype = string_parameter(p, "edgeserve_output_dtype")) {
    if (*dtype == "float32")
      h.output.dtype = core::DType::kFloat32;
    else if (*dtype == "float16")
      h.output.dtype = core::DType::kFloat16;
    else
      return {StatusCode::kBadDtype, "edgeserve_output_dtype is float32 or float16"};
  }
  if (auto post = string_parameter(p, "edgeserve_postprocess")) {
    if (*post == "none")
      h.output.postprocess = core::Postprocess::kNone;
    else if (*post == "argmax")
      h.output.postprocess = core::Postprocess::kArgmax;
    else if (*post == "topk")
      h.output.postprocess = core::Postprocess::kTopk;
    else
      return {StatusCode::kInvalidArgument, "edgeserve_postprocess is none, argmax or topk"};
  }
  return {};
}

}  // namespace

core::Result<DecodedInfer> decode_infer_request(const inference::ModelInferRequest& request,
                                                const http::ServedModel* served, uint64_t fallback_id) {
  RawInputs raw{static_cast<size_t>(request.raw_input_contents_size()), {}};
  if (raw.count > 0) {
    const std::string& first = request.raw_input_contents(0);
    raw.first = std::as_bytes(std::span(first.data(), first.size()));
  }
  return decode_infer_request(request, raw, served, fallback_id);
}

core::Result<DecodedInfer> decode_infer_request(const inference::ModelInferRequest& request, const RawInputs& raw,
                                                const http::ServedModel* served, uint64_t fallback_id) {
  const std::string& model = request.model_name();
  if (!request.model_version().empty() && request.model_version() != "1")
    return Status{StatusCode::kUnknownModel, fmt::format("model {} has version 1 only", model.substr(0, 64))};
  if (request.inputs_size() != 1)
    return Status{StatusCode::kInvalidArgument,
                  fmt::format("edgeserve models take one input; got {}", request.inputs_size())};
  const auto& in = request.inputs(0);
  if (served != nullptr && in.name() != served->input.name)
    return Status{StatusCode::kInvalidArgument, fmt::format("model {} has no input {} (its input is {})", model,
                                                            in.name().substr(0, 64), served->input.name)};
  DecodedInfer out;
  auto shared_input = shared_memory_ask(in.parameters(), "the input");
  if (!shared_input.ok()) return shared_input.status();
  out.shared_input = std::move(shared_input.value());
  if (raw.count != (out.shared_input ? 0u : 1u))
    return Status{StatusCode::kInvalidArgument,
                  out.shared_input ? "an input in shared memory has no raw_input_contents"
                                   : "the input tensor goes in raw_input_contents (typed \"contents\" are not taken)"};
  core::RequestHeader& h = out.header;
  const auto dtype = http::dtype_from_kserve(in.datatype());
  if (!dtype)
    return Status{StatusCode::kBadDtype, fmt::format("datatype {} is none edgeserve takes (FP32, FP16, UINT8, INT32)",
                                                     in.datatype().substr(0, 16))};
  h.dtype = *dtype;
  for (int64_t d : in.shape())
    if (!h.shape.push_back(d))
      return Status{StatusCode::kBadShape, fmt::format("a shape of at most {} dimensions", core::kMaxRank)};
  if (Status s = read_parameters(request.parameters(), h); !s.ok()) return s;
  for (const auto& ask : request.outputs()) {
    auto shared = shared_memory_ask(ask.parameters(), "an output");
    if (!shared.ok()) return shared.status();
    if (shared.value()) out.shared_outputs.push_back({ask.name(), true, std::move(shared.value())});
    if (served == nullptr) continue;  // a gateway: the backend's default outputs
    const auto it = std::find_if(served->outputs.begin(), served->outputs.end(),
                                 [&ask](const core::TensorSpec& o) { return o.name == ask.name(); });
    if (it == served->outputs.end() || it - served->outputs.begin() >= static_cast<long>(core::kMaxOutputs))
      return Status{StatusCode::kInvalidArgument,
                    fmt::format("model {} has no output {}", model, ask.name().substr(0, 64))};
    h.output.select |= static_cast<uint8_t>(1u << (it - served->outputs.begin()));
  }
  const auto bytes = core::tensor_bytes(h.shape, h.dtype);
  if (!bytes)
    return Status{StatusCode::kBadShape,
                  fmt::format("shape {} holds no {} tensor", h.shape.to_string(), core::to_string(h.dtype))};
  h.payload_bytes = *bytes;
  h.request_id = parse_uint(request.id()).value_or(fallback_id);
  h.model = model;
  // The wire codec's own checks (model name length, enums), so grpc:// refuses what tcp:// refuses.
  core::RequestHeaderBytes encoded;
  core::encode(h, encoded);
  if (auto decoded = core::decode_request_header(encoded); !decoded.ok()) return decoded.status();
  if (!out.shared_input) out.input = raw.first;
  return out;
}

std::vector<std::string> reply_output_names(const core::ResponseHeader& header,
                                            const inference::ModelInferRequest& request,
                                            const http::ServedModel* served, uint8_t select) {
  auto names =
      http::reply_output_names(served, select != 0 ? select : (served ? served->default_select : 0), header.n_outputs);
  // A gateway knows no output names: the outputs it got back carry the names they were asked for by.
  if (served == nullptr && static_cast<size_t>(request.outputs_size()) == header.n_outputs)
    for (size_t i = 0; i < header.n_outputs; ++i) names[i] = request.outputs(static_cast<int>(i)).name();
  return names;
}

std::vector<std::span<const std::byte>> encode_infer_response_head(
    const core::ResponseHeader& header, std::span<const std::byte> payload, const inference::ModelInferRequest& request,
    const std::vector<std::string>& names, const std::vector<std::optional<http::SharedMemoryAsk>>& shared,
    uint32_t client_id, inference::ModelInferResponse& response) {
  std::vector<std::span<const std::byte>> raw;
  raw.reserve(header.n_outputs);
  response.set_model_name(request.model_name());
  response.set_model_version("1");
  response.set_id(request.id());
  size_t at = 0;
  for (size_t i = 0; i < header.n_outputs; ++i) {
    const core::OutputDesc& desc = header.outputs[i];
    auto* out = response.add_outputs();
    out->set_name(names[i]);
    out->set_datatype(http::kserve_datatype(desc.dtype));
    for (int64_t d : desc.shape) out->add_shape(d);
    const size_t n = std::min<size_t>(core::tensor_bytes(desc.shape, desc.dtype).value_or(0), payload.size() - at);
    if (i < shared.size() && shared[i]) {
      auto& p = *out->mutable_parameters();
      p["shared_memory_region"].set_string_param(shared[i]->region);
      p["shared_memory_byte_size"].set_int64_param(static_cast<int64_t>(n));
      raw.emplace_back();
    } else {
      raw.push_back(payload.subspan(at, n));
    }
    at += n;
  }
  auto& parameters = *response.mutable_parameters();
  for (const auto& f : http::timing_fields()) parameters[f.name].set_uint64_param(header.timings.*f.field);
  parameters["edgeserve_client_id"].set_uint64_param(client_id);
  return raw;
}

void encode_infer_response(const core::ResponseHeader& header, std::span<const std::byte> payload,
                           const inference::ModelInferRequest& request, const std::vector<std::string>& names,
                           const std::vector<std::optional<http::SharedMemoryAsk>>& shared, uint32_t client_id,
                           inference::ModelInferResponse& response) {
  for (const auto bytes : encode_infer_response_head(header, payload, request, names, shared, client_id, response))
    response.add_raw_output_contents(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void encode_infer_request_head(const core::RequestHeader& header, const std::string& input_name,
                               const std::vector<std::string>& output_names, inference::ModelInferRequest& request) {
  request.set_model_name(header.model);
  request.set_id(std::to_string(header.request_id));
  if (request.inputs_size() != 1) {
    request.clear_inputs();
    request.add_inputs();
  }
  auto* in = request.mutable_inputs(0);
  in->set_name(input_name);
  in->set_datatype(http::kserve_datatype(header.dtype));
  in->clear_shape();
  for (int64_t d : header.shape) in->add_shape(d);
  request.clear_raw_input_contents();
  request.clear_outputs();
  for (const auto& name : output_names) request.add_outputs()->set_name(name);
  auto& p = *request.mutable_parameters();
  p.clear();
  p["edgeserve_input_kind"].set_string_param(header.input_kind == core::InputKind::kRaw    ? "raw"
                                             : header.input_kind == core::InputKind::kJpeg ? "jpeg"
                                                                                           : "preprocessed");
  p["edgeserve_priority"].set_uint64_param(header.priority);
  p["edgeserve_client_id"].set_uint64_param(header.client_id);
  p["edgeserve_client_send_ns"].set_uint64_param(header.client_send_ns);
  if (header.output.dtype) p["edgeserve_output_dtype"].set_string_param(core::to_string(*header.output.dtype));
  if (header.output.postprocess != core::Postprocess::kDefault)
    p["edgeserve_postprocess"].set_string_param(core::to_string(header.output.postprocess));
  if (header.output.k != 0) p["edgeserve_topk"].set_uint64_param(header.output.k);
  if (header.output.select != 0) p["edgeserve_output_select"].set_uint64_param(header.output.select);
}

void encode_infer_request(const core::RequestHeader& header, std::span<const std::byte> payload,
                          const std::string& input_name, const std::vector<std::string>& output_names,
                          inference::ModelInferRequest& request) {
  encode_infer_request_head(header, input_name, output_names, request);
  request.add_raw_input_contents(reinterpret_cast<const char*>(payload.data()), payload.size());
}

Status decode_infer_response(const inference::ModelInferResponse& response, core::ResponseHeader& header,
                             std::vector<std::byte>& joined, std::span<const std::byte>& payload) {
  if (response.outputs_size() > static_cast<int>(core::kMaxOutputs) ||
      response.raw_output_contents_size() != response.outputs_size())
    return {StatusCode::kMalformedHeader, fmt::format("a reply with {} outputs and {} raw output contents",
                                                      response.outputs_size(), response.raw_output_contents_size())};
  header.status = StatusCode::kOk;
  header.n_outputs = static_cast<uint8_t>(response.outputs_size());
  header.payload_bytes = 0;
  for (int i = 0; i < response.outputs_size(); ++i) {
    const auto& out = response.outputs(i);
    const auto dtype = http::dtype_from_kserve(out.datatype());
    core::OutputDesc& desc = header.outputs[static_cast<size_t>(i)];
    if (!dtype) return {StatusCode::kMalformedHeader, fmt::format("an output of datatype {}", out.datatype())};
    desc.dtype = *dtype;
    desc.shape = {};
    for (int64_t d : out.shape())
      if (!desc.shape.push_back(d)) return {StatusCode::kMalformedHeader, "an output of too many dimensions"};
    header.payload_bytes += response.raw_output_contents(i).size();
  }
  for (const auto& f : http::timing_fields())
    if (const auto it = response.parameters().find(f.name); it != response.parameters().end())
      header.timings.*f.field = it->second.uint64_param();
  if (response.raw_output_contents_size() == 1) {
    const std::string& raw = response.raw_output_contents(0);
    payload = std::as_bytes(std::span(raw.data(), raw.size()));
    return {};
  }
  joined.resize(header.payload_bytes);
  size_t at = 0;
  for (const auto& raw : response.raw_output_contents()) {
    std::memcpy(joined.data() + at, raw.data(), raw.size());
    at += raw.size();
  }
  payload = joined;
  return {};
}

::grpc::Status to_grpc_status(const Status& status) {
  using ::grpc::StatusCode;
  StatusCode code = StatusCode::INVALID_ARGUMENT;
  switch (status.code()) {
    case core::StatusCode::kOk:
      return ::grpc::Status::OK;
    case core::StatusCode::kUnknownModel:
      code = StatusCode::NOT_FOUND;
      break;
    case core::StatusCode::kPayloadTooLarge:
      code = StatusCode::RESOURCE_EXHAUSTED;
      break;
    case core::StatusCode::kOverloaded:
    case core::StatusCode::kShuttingDown:
    case core::StatusCode::kUnavailable:
      code = StatusCode::UNAVAILABLE;
      break;
    case core::StatusCode::kTimeout:
      code = StatusCode::DEADLINE_EXCEEDED;
      break;
    case core::StatusCode::kInferenceFailed:
    case core::StatusCode::kTransportError:
    case core::StatusCode::kInternal:
      code = StatusCode::INTERNAL;
      break;
    default:
      break;
  }
  return {code, status.to_string()};
}

namespace {
std::optional<Status> named_status(const std::string& text) {
  const std::string_view name = std::string_view(text).substr(0, text.find(':'));
  for (auto raw = static_cast<uint16_t>(StatusCode::kBadMagic); raw <= static_cast<uint16_t>(core::kLastStatusCode);
       ++raw) {
    const auto code = static_cast<StatusCode>(raw);
    if (name != core::to_string(code)) continue;
    const size_t colon = text.find(':');
    std::string rest = colon == std::string::npos ? "" : text.substr(colon + 1);
    if (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
    return Status{code, rest};
  }
  return std::nullopt;
}
}  // namespace

bool is_server_answer(const ::grpc::Status& status) { return named_status(status.error_message()).has_value(); }

Status from_grpc_status(const ::grpc::Status& status) {
  if (status.ok()) return {};
  if (auto named = named_status(status.error_message())) return *named;
  StatusCode code = StatusCode::kTransportError;
  switch (status.error_code()) {
    case ::grpc::StatusCode::NOT_FOUND:
      code = StatusCode::kUnknownModel;
      break;
    case ::grpc::StatusCode::RESOURCE_EXHAUSTED:
      code = StatusCode::kPayloadTooLarge;
      break;
    case ::grpc::StatusCode::INVALID_ARGUMENT:
      code = StatusCode::kInvalidArgument;
      break;
    case ::grpc::StatusCode::DEADLINE_EXCEEDED:
      code = StatusCode::kTimeout;
      break;
    case ::grpc::StatusCode::UNIMPLEMENTED:
    case ::grpc::StatusCode::INTERNAL:
      code = StatusCode::kInternal;
      break;
    default:
      break;
  }
  return {code, fmt::format("gRPC {}: {}", static_cast<int>(status.error_code()), status.error_message())};
}

}  // namespace edgeserve::transport::grpc
