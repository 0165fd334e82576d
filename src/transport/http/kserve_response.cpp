// Encoding a KServe v2 infer reply; decoding one on edgeserve's client side.
#include "transport/http/kserve_response.h"

#include <fmt/format.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "transport/http/kserve_types.h"

namespace edgeserve::transport::http {

using core::Result;
using core::Status;
using core::StatusCode;
using nlohmann::json;

namespace {

template <class T>
void append_values(json& data, std::span<const std::byte> bytes) {
  for (size_t i = 0; i + sizeof(T) <= bytes.size(); i += sizeof(T)) {
    T v;
    std::memcpy(&v, bytes.data() + i, sizeof(T));
    data.push_back(v);
  }
}

json data_array(core::DType dtype, std::span<const std::byte> bytes) {
  json data = json::array();
  switch (dtype) {
    case core::DType::kFloat32:
      append_values<float>(data, bytes);
      break;
    case core::DType::kUInt8:
      append_values<uint8_t>(data, bytes);
      break;
    case core::DType::kInt32:
      append_values<int32_t>(data, bytes);
      break;
    case core::DType::kFloat16:
      for (size_t i = 0; i + 2 <= bytes.size(); i += 2) {
        uint16_t h;
        std::memcpy(&h, bytes.data() + i, 2);
        data.push_back(half_to_float(h));
      }
      break;
  }
  return data;
}

}  // namespace

EncodedReply encode_infer_reply(const core::ResponseHeader& header, std::span<const std::byte> payload,
                                const InferReplyForm& form) {
  json parameters = json::object();
  for (const auto& f : timing_fields()) parameters[f.name] = header.timings.*f.field;
  if (form.client_id) parameters["edgeserve_client_id"] = *form.client_id;
  json outputs = json::array();
  std::vector<std::span<const std::byte>> binary_parts;
  size_t offset = 0;
  for (size_t i = 0; i < header.n_outputs; ++i) {
    const auto& desc = header.outputs[i];
    const uint64_t bytes = core::tensor_bytes(desc.shape, desc.dtype).value_or(0);
    const auto part = payload.subspan(std::min(offset, payload.size()),
                                      std::min<uint64_t>(bytes, payload.size() - std::min(offset, payload.size())));
    offset += bytes;
    json shape = json::array();
    for (int64_t d : desc.shape) shape.push_back(d);
    json out = {{"name", i < form.names.size() ? form.names[i] : fmt::format("output{}", i)},
                {"datatype", kserve_datatype(desc.dtype)},
                {"shape", std::move(shape)}};
    if (i < form.shared_memory.size() && form.shared_memory[i]) {
      // An output written into a region has neither "data" nor "parameters" in the reply, as Triton answers:
      // Triton's C++ client (perf_analyzer) reads "binary_data_size" from every output that has "parameters".
    } else if (i < form.binary.size() && form.binary[i]) {
      out["parameters"] = {{"binary_data_size", part.size()}};
      binary_parts.push_back(part);
    } else {
      out["data"] = data_array(desc.dtype, part);
    }
    outputs.push_back(std::move(out));
  }
  json reply = {{"model_name", form.model},
                {"model_version", "1"},
                {"parameters", std::move(parameters)},
                {"outputs", std::move(outputs)}};
  if (!form.id.empty()) reply["id"] = form.id;
  EncodedReply encoded;
  encoded.body = reply.dump(-1, ' ', false, json::error_handler_t::replace);
  encoded.json_bytes = encoded.body.size();
  encoded.any_binary = !binary_parts.empty();
  for (const auto part : binary_parts) encoded.body.append(reinterpret_cast<const char*>(part.data()), part.size());
  return encoded;
}

Result<DecodedReply> decode_infer_reply(std::span<const std::byte> body, std::optional<uint64_t> header_length) {
  auto malformed = [](std::string what) { return Status(StatusCode::kMalformedHeader, "infer reply: " + what); };
  if (header_length && *header_length > body.size()) return malformed("its header length is more than its body");
  const size_t json_size = header_length ? static_cast<size_t>(*header_length) : body.size();
  const auto* text = reinterpret_cast<const char*>(body.data());
  const json j = json::parse(text, text + json_size, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return malformed("not a JSON object");
  DecodedReply out;
  if (j.contains("parameters") && j["parameters"].is_object())
    for (const auto& f : timing_fields())
      if (j["parameters"].contains(f.name) && j["parameters"][f.name].is_number_unsigned())
        out.header.timings.*f.field = j["parameters"][f.name].get<uint64_t>();
  if (!j.contains("outputs") || !j["outputs"].is_array()) return malformed("no \"outputs\" array");
  if (j["outputs"].size() > core::kMaxOutputs) return malformed("more than 8 outputs");
  uint64_t total = 0;
  for (const auto& o : j["outputs"]) {
    auto& desc = out.header.outputs[out.header.n_outputs++];
    const auto dtype = o.contains("datatype") && o["datatype"].is_string()
                           ? dtype_from_kserve(o["datatype"].get<std::string>())
                           : std::nullopt;
    if (!dtype) return malformed("an output's datatype is missing or unknown");
    desc.dtype = *dtype;
    if (!o.contains("shape") || !o["shape"].is_array()) return malformed("an output has no shape");
    for (const auto& d : o["shape"])
      if (!d.is_number_integer() || !desc.shape.push_back(d.get<int64_t>())) return malformed("an output's shape");
    const auto bytes = core::tensor_bytes(desc.shape, desc.dtype);
    if (!o.contains("parameters") || !o["parameters"].contains("binary_data_size") ||
        !o["parameters"]["binary_data_size"].is_number_unsigned() || !bytes ||
        o["parameters"]["binary_data_size"].get<uint64_t>() != *bytes)
      return malformed("an output is not binary, or its binary_data_size does not match its shape");
    total += *bytes;
  }
  if (total != body.size() - json_size)
    return malformed(fmt::format("the outputs say {} binary bytes, the body has {}", total, body.size() - json_size));
  out.header.payload_bytes = total;
  out.payload = body.subspan(json_size);
  return out;
}

}  // namespace edgeserve::transport::http
