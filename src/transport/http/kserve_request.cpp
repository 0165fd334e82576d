// Decoding a KServe v2 infer request body; encoding edgeserve's own.
#include "transport/http/kserve_request.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "transport/http/kserve_types.h"

namespace edgeserve::transport::http {

using core::Result;
using core::Status;
using core::StatusCode;
using nlohmann::json;

namespace {

Status malformed(std::string what) { return {StatusCode::kMalformedHeader, std::move(what)}; }

constexpr double kMaxHalf = 65504.0;  // the largest finite IEEE half

// `v` as a double when it is a number within ±max (NaN is not); converted once.
std::optional<double> number_within(const json& v, double max) {
  if (!v.is_number()) return std::nullopt;
  const double x = v.get<double>();
  return std::abs(x) <= max ? std::optional<double>(x) : std::nullopt;
}

// Appends one "data" value converted to `dtype`; false when it is not a number that fits.
bool append_value(const json& v, core::DType dtype, std::vector<std::byte>& out) {
  auto put = [&out](const auto& x) {
    const auto* p = reinterpret_cast<const std::byte*>(&x);
    out.insert(out.end(), p, p + sizeof(x));
  };
  switch (dtype) {
    // A value beyond the dtype's range is refused, not sent on as infinity (1e300 as FP32, 70000 as FP16).
    case core::DType::kFloat32:
      if (const auto x = number_within(v, std::numeric_limits<float>::max())) {
        put(static_cast<float>(*x));
        return true;
      }
      return false;
    case core::DType::kFloat16:
      if (const auto x = number_within(v, kMaxHalf)) {
        put(float_to_half(static_cast<float>(*x)));
        return true;
      }
      return false;
    case core::DType::kUInt8:
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 255) return false;
      put(static_cast<uint8_t>(v.get<int64_t>()));
      return true;
    case core::DType::kInt32:
      if (!v.is_number_integer() || v.get<int64_t>() < std::numeric_limits<int32_t>::min() ||
          v.get<int64_t>() > std::numeric_limits<int32_t>::max())
        return false;
      put(static_cast<int32_t>(v.get<int64_t>()));
      return true;
  }
  return false;
}

// "data" may be flat or nested (row-major); values are appended in order. `budget`: values still allowed (the
// shape's count), so a huge array stops early. `depth` bounds nesting.
Status flatten(const json& data, core::DType dtype, uint64_t& budget, std::vector<std::byte>& out, int depth = 0) {
  if (depth > static_cast<int>(core::kMaxRank)) return {StatusCode::kBadShape, "\"data\" is nested deeper than 8"};
  for (const auto& v : data) {
    if (v.is_array()) {
      if (Status s = flatten(v, dtype, budget, out, depth + 1); !s.ok()) return s;
      continue;
    }
    if (budget == 0) return {StatusCode::kPayloadSizeMismatch, "\"data\" holds more values than the shape says"};
    --budget;
    if (!append_value(v, dtype, out))
      return {StatusCode::kBadDtype, fmt::format("\"data\" value {} is not a {} value",
                                                 v.dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 40),
                                                 core::to_string(dtype))};
  }
  return {};
}

// A non-negative integer field, when present; error text names `what`.
Result<std::optional<uint64_t>> optional_uint(const json& object, const char* key, const std::string& what) {
  if (!object.is_object() || !object.contains(key)) return std::optional<uint64_t>{};
  const json& v = object[key];
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    return malformed(fmt::format("{} \"{}\" is not a non-negative integer", what, key));
  return std::optional<uint64_t>{v.get<uint64_t>()};
}

Result<bool> optional_bool(const json& object, const char* key, const std::string& what) {
  if (!object.is_object() || !object.contains(key)) return false;
  if (!object[key].is_boolean()) return malformed(fmt::format("{} \"{}\" is not true or false", what, key));
  return object[key].get<bool>();
}

// "shared_memory_region" with its byte size (and offset), when the parameters name a region.
Result<std::optional<SharedMemoryAsk>> shared_memory_ask(const json& parameters, const std::string& what) {
  if (!parameters.is_object() || !parameters.contains("shared_memory_region")) return std::optional<SharedMemoryAsk>{};
  if (!parameters["shared_memory_region"].is_string())
    return malformed(what + " \"shared_memory_region\" is not a string");
  auto size = optional_uint(parameters, "shared_memory_byte_size", what);
  if (!size.ok()) return size.status();
  if (!size.value()) return malformed(what + " names a shared memory region but no \"shared_memory_byte_size\"");
  auto offset = optional_uint(parameters, "shared_memory_offset", what);
  if (!offset.ok()) return offset.status();
  return std::optional<SharedMemoryAsk>{SharedMemoryAsk{parameters["shared_memory_region"].get<std::string>(),
                                                        offset.value().value_or(0), *size.value()}};
}

Result<InferInput> parse_input(const json& in, size_t index, std::span<const std::byte> binary, size_t& binary_used) {
  const std::string what = fmt::format("input {}", index);
  if (!in.is_object()) return malformed(what + " is not an object");
  InferInput out;
  if (!in.contains("name") || !in["name"].is_string()) return malformed(what + " has no \"name\" string");
  out.name = in["name"].get<std::string>();
  if (!in.contains("datatype") || !in["datatype"].is_string()) return malformed(what + " has no \"datatype\" string");
  const auto datatype = in["datatype"].get<std::string>();
  const auto dtype = dtype_from_kserve(datatype);
  if (!dtype)
    return Status(StatusCode::kBadDtype, fmt::format("{}: datatype {} is not one edgeserve serves (FP32, FP16, "
                                                     "UINT8, INT32)",
                                                     what, datatype.substr(0, 16)));
  out.dtype = *dtype;
  if (!in.contains("shape") || !in["shape"].is_array()) return malformed(what + " has no \"shape\" array");
  for (const auto& d : in["shape"]) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0)
      return Status(StatusCode::kBadShape, what + ": shape dimensions are non-negative integers");
    if (!out.shape.push_back(d.get<int64_t>()))
      return Status(StatusCode::kBadShape, fmt::format("{}: more than {} dimensions", what, core::kMaxRank));
  }
  const json no_parameters = json::object();
  const json& parameters = in.contains("parameters") ? in["parameters"] : no_parameters;
  if (!parameters.is_object()) return malformed(what + " \"parameters\" is not an object");
  auto shared = shared_memory_ask(parameters, what);
  if (!shared.ok()) return shared.status();
  if (shared.value()) {
    out.shared_memory = std::move(shared.value());
    return out;
  }
  auto binary_size = optional_uint(parameters, "binary_data_size", what);
  if (!binary_size.ok()) return binary_size.status();
  if (binary_size.value()) {
    const uint64_t size = *binary_size.value();
    if (size > binary.size() - binary_used)
      return Status(StatusCode::kPayloadSizeMismatch,
                    fmt::format("{}: binary_data_size {} but only {} binary bytes are left in the body", what, size,
                                binary.size() - binary_used));
    out.binary = true;
    out.binary_bytes = binary.subspan(binary_used, size);
    binary_used += size;
    return out;
  }
  if (!in.contains("data") || !in["data"].is_array())
    return malformed(what + " has neither \"data\" nor \"parameters\": {\"binary_data_size\": N}");
  const auto count = out.shape.numel();
  uint64_t budget = count.value_or(0);
  if (out.shape.rank() == 0 || budget == 0)
    return Status(StatusCode::kBadShape, fmt::format("{}: shape {} holds no values", what, out.shape.to_string()));
  // At most what a flat array holds: a shape alone (any client can claim [1e12]) reserves nothing more.
  out.json_bytes.reserve(std::min<uint64_t>(budget, in["data"].size()) * core::dtype_size(out.dtype));
  if (Status s = flatten(in["data"], out.dtype, budget, out.json_bytes); !s.ok())
    return Status(s.code(), what + ": " + s.message());
  if (budget != 0)
    return Status(StatusCode::kPayloadSizeMismatch, fmt::format("{}: \"data\" holds {} values, shape {} says {}", what,
                                                                *count - budget, out.shape.to_string(), *count));
  return out;
}

Status parse_parameters(const json& parameters, InferRequest& out) {
  if (!parameters.is_object()) return malformed("request \"parameters\" is not an object");
  auto binary_output = optional_bool(parameters, "binary_data_output", "request parameter");
  if (!binary_output.ok()) return binary_output.status();
  out.binary_data_output = binary_output.value();
  auto string_of = [&parameters](const char* key) -> std::optional<std::string> {
    if (!parameters.contains(key) || !parameters[key].is_string()) return std::nullopt;
    return parameters[key].get<std::string>();
  };
  if (auto kind = string_of("edgeserve_input_kind")) {
    if (*kind == "preprocessed")
      out.input_kind = core::InputKind::kPreprocessed;
    else if (*kind == "raw")
      out.input_kind = core::InputKind::kRaw;
    else if (*kind == "jpeg")
      out.input_kind = core::InputKind::kJpeg;
    else
      return {StatusCode::kBadInputKind, "edgeserve_input_kind is preprocessed, raw or jpeg"};
  }
  for (const auto& [key, limit] :
       {std::pair{"edgeserve_priority", uint64_t{255}}, std::pair{"edgeserve_client_id", uint64_t{UINT32_MAX}},
        std::pair{"edgeserve_client_send_ns", UINT64_MAX}, std::pair{"edgeserve_topk", uint64_t{core::kMaxTopk}},
        std::pair{"edgeserve_output_select", uint64_t{255}}}) {
    auto v = optional_uint(parameters, key, "request parameter");
    if (!v.ok()) return v.status();
    if (!v.value()) continue;
    if (*v.value() > limit) return malformed(fmt::format("request parameter \"{}\" is over {}", key, limit));
    const std::string_view k = key;
    if (k == "edgeserve_priority") out.priority = static_cast<uint8_t>(*v.value());
    if (k == "edgeserve_client_id") out.client_id = static_cast<uint32_t>(*v.value());
    if (k == "edgeserve_client_send_ns") out.client_send_ns = *v.value();
    if (k == "edgeserve_topk") out.output.k = static_cast<uint16_t>(*v.value());
    if (k == "edgeserve_output_select") out.output.select = static_cast<uint8_t>(*v.value());
  }
  if (auto dtype = string_of("edgeserve_output_dtype")) {
    out.output.dtype = core::parse_dtype(*dtype);
    if (!out.output.dtype) return {StatusCode::kBadDtype, "edgeserve_output_dtype is float32 or float16"};
  }
  if (auto post = string_of("edgeserve_postprocess")) {
    if (*post == "none")
      out.output.postprocess = core::Postprocess::kNone;
    else if (*post == "argmax")
      out.output.postprocess = core::Postprocess::kArgmax;
    else if (*post == "topk")
      out.output.postprocess = core::Postprocess::kTopk;
    else
      return {StatusCode::kInvalidArgument, "edgeserve_postprocess is none, argmax or topk"};
  }
  return {};
}

}  // namespace

Result<InferRequest> parse_infer_request(std::span<const std::byte> body, std::optional<uint64_t> header_length) {
  if (header_length && *header_length > body.size())
    return Status(StatusCode::kPayloadSizeMismatch,
                  fmt::format("Inference-Header-Content-Length {} is more than the body's {} bytes", *header_length,
                              body.size()));
  const size_t json_size = header_length ? static_cast<size_t>(*header_length) : body.size();
  const auto* text = reinterpret_cast<const char*>(body.data());
  json j = json::parse(text, text + json_size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return malformed("the request is not JSON (binary tensors need Inference-Header-Content-Length)");
  if (!j.is_object()) return malformed("the request is not a JSON object");
  InferRequest out;
  if (j.contains("id")) {
    if (!j["id"].is_string()) return malformed("\"id\" is not a string");
    out.id = j["id"].get<std::string>();
  }
  if (j.contains("parameters"))
    if (Status s = parse_parameters(j["parameters"], out); !s.ok()) return s;
  if (!j.contains("inputs") || !j["inputs"].is_array() || j["inputs"].empty())
    return malformed("the request has no \"inputs\" array");
  const auto binary = body.subspan(json_size);
  size_t binary_used = 0;
  for (size_t i = 0; i < j["inputs"].size(); ++i) {
    auto input = parse_input(j["inputs"][i], i, binary, binary_used);
    if (!input.ok()) return input.status();
    out.inputs.push_back(std::move(input.value()));
  }
  if (binary_used != binary.size())
    return Status(StatusCode::kPayloadSizeMismatch,
                  fmt::format("the body carries {} binary bytes after its JSON, the inputs' binary_data_size add up "
                              "to {}",
                              binary.size(), binary_used));
  if (j.contains("outputs")) {
    if (!j["outputs"].is_array()) return malformed("\"outputs\" is not an array");
    for (const auto& o : j["outputs"]) {
      if (!o.is_object() || !o.contains("name") || !o["name"].is_string())
        return malformed("an output has no \"name\" string");
      InferOutputAsk ask{o["name"].get<std::string>(), out.binary_data_output};
      if (o.contains("parameters")) {
        auto b = optional_bool(o["parameters"], "binary_data", "output parameter");
        if (!b.ok()) return b.status();
        if (o["parameters"].contains("binary_data")) ask.binary = b.value();
        auto shared = shared_memory_ask(o["parameters"], "output parameter");
        if (!shared.ok()) return shared.status();
        ask.shared_memory = std::move(shared.value());
      }
      out.outputs.push_back(std::move(ask));
    }
  }
  return out;
}

std::string encode_infer_request_json(const core::RequestHeader& header, const std::string& input_name,
                                      const std::vector<std::string>& output_names) {
  json shape = json::array();
  for (int64_t d : header.shape) shape.push_back(d);
  json parameters = {{"binary_data_output", true},
                     {"edgeserve_input_kind", header.input_kind == core::InputKind::kRaw    ? "raw"
                                              : header.input_kind == core::InputKind::kJpeg ? "jpeg"
                                                                                            : "preprocessed"},
                     {"edgeserve_priority", header.priority},
                     {"edgeserve_client_id", header.client_id},
                     {"edgeserve_client_send_ns", header.client_send_ns}};
  if (header.output.dtype) parameters["edgeserve_output_dtype"] = core::to_string(*header.output.dtype);
  if (header.output.postprocess != core::Postprocess::kDefault)
    parameters["edgeserve_postprocess"] = core::to_string(header.output.postprocess);
  if (header.output.k != 0) parameters["edgeserve_topk"] = header.output.k;
  if (header.output.select != 0) parameters["edgeserve_output_select"] = header.output.select;
  json outputs = json::array();
  for (const auto& name : output_names) outputs.push_back({{"name", name}, {"parameters", {{"binary_data", true}}}});
  json request = {{"id", std::to_string(header.request_id)},
                  {"parameters", std::move(parameters)},
                  {"inputs",
                   {{{"name", input_name},
                     {"datatype", kserve_datatype(header.dtype)},
                     {"shape", std::move(shape)},
                     {"parameters", {{"binary_data_size", header.payload_bytes}}}}}}};
  if (!outputs.empty()) request["outputs"] = std::move(outputs);
  return request.dump();
}

}  // namespace edgeserve::transport::http
