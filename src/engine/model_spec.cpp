// Parsing a model repository's manifest.json into ModelSpecs.
#include "engine/model_spec.h"

#include "core/wire.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>

namespace edgeserve::engine {

using core::Result;
using core::Status;
using core::StatusCode;
using nlohmann::json;

uint64_t ModelSpec::input_bytes() const { return core::tensor_bytes(input.shape, input.dtype).value_or(0); }

uint64_t ModelSpec::output_bytes() const {
  uint64_t total = 0;
  for (const auto& o : outputs) total += core::tensor_bytes(o.shape, o.dtype).value_or(0);
  return total;
}

uint64_t ModelSpec::max_reply_bytes() const {
  uint64_t total = 0;
  for (const auto& o : outputs)
    total += o.shape.numel().value_or(0) * std::max<size_t>(core::dtype_size(o.dtype), sizeof(float));
  return total;
}

namespace {

core::TensorShape parse_shape(const json& j) {
  core::TensorShape shape;
  for (const auto& d : j) {
    // Not get<int64_t>() of a float: out of range (1e300), that conversion is undefined behaviour.
    if (!d.is_number_integer()) throw std::runtime_error("shape dimension " + d.dump() + " is not an integer");
    if (!shape.push_back(d.get<int64_t>())) throw std::runtime_error("shape has more than 8 dimensions");
  }
  // float32 is the widest dtype: the tensor's size in bytes must fit in 64 bits whatever its dtype.
  if (!shape.numel() || !core::tensor_bytes(shape, core::DType::kFloat32))
    throw std::runtime_error("shape " + shape.to_string() + " is not a valid tensor shape");
  return shape;
}

core::DType parse_dtype_field(const json& j) {
  const auto name = j.get<std::string>();
  auto dtype = core::parse_dtype(name);
  if (!dtype) throw std::runtime_error("unknown dtype '" + name + "' (expected uint8, float32 or float16)");
  return *dtype;
}

// An integer lo..hi, checked as JSON before any conversion: get<int>() of 3.1e301 is undefined behaviour (the
// manifest fuzzer found it). `where` names the field in the error ("batching.max_batch_size", "\"reply\": \"k\"").
int64_t parse_integer(const json& v, std::string_view where, int64_t lo, int64_t hi) {
  if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
    throw std::runtime_error(fmt::format("{} must be an integer {}..{}, got {}", where, lo, hi, v.dump()));
  return v.get<int64_t>();
}

uint64_t parse_count(const json& j, const char* field, int64_t max) {
  if (!j.contains(field)) return 0;
  return static_cast<uint64_t>(parse_integer(j.at(field), fmt::format("batching.{}", field), 0, max));
}

// Three finite per-channel numbers that fit a float; a double beyond FLT_MAX converted to float is undefined.
std::array<float, 3> parse_channel_triple(const json& j, const char* field) {
  const auto bad = [&] {
    return std::runtime_error(fmt::format("preprocessing.{} must be three finite{} numbers within float range, got {}",
                                          field, std::string_view(field) == "std" ? ", nonzero" : "", j.dump()));
  };
  if (!j.is_array() || j.size() != 3) throw bad();
  std::array<float, 3> out{};
  for (size_t i = 0; i < 3; ++i) {
    if (!j[i].is_number()) throw bad();
    const double v = j[i].get<double>();
    if (!std::isfinite(v) || std::abs(v) > std::numeric_limits<float>::max()) throw bad();
    out[i] = static_cast<float>(v);
  }
  if (std::string_view(field) == "std" && (out[0] == 0 || out[1] == 0 || out[2] == 0)) throw bad();
  return out;
}

BatchingSpec parse_batching(const json& j) {
  if (!j.is_object()) throw std::runtime_error("batching must be an object");
  BatchingSpec b;
  b.max_batch_size = static_cast<int>(std::max<uint64_t>(1, parse_count(j, "max_batch_size", kMaxBatchSize)));
  b.max_queue_delay_us = parse_count(j, "max_queue_delay_us", 10'000'000);
  b.latency_budget_us = parse_count(j, "latency_budget_us", 100'000'000);
  return b;
}

// "reply": {"outputs": ["out"], "dtype": "float32" | "float16" | "native", "postprocess": "none" | "argmax" |
// "topk", "k": 5} — every key optional.
void parse_reply(const json& r, ModelSpec& spec) {
  if (r.contains("outputs")) {
    if (spec.outputs.empty())
      throw std::runtime_error("\"reply\": \"outputs\" names outputs the manifest does not list");
    for (const auto& name : r.at("outputs")) {
      const auto n = name.get<std::string>();
      size_t i = 0;
      while (i < spec.outputs.size() && spec.outputs[i].name != n) ++i;
      if (i == spec.outputs.size()) throw std::runtime_error("\"reply\": no output named '" + n + "'");
      spec.reply.select |= static_cast<uint8_t>(1u << i);
    }
  }
  if (r.contains("dtype") && r.at("dtype").get<std::string>() != "native") {
    const auto d = parse_dtype_field(r.at("dtype"));
    if (d != core::DType::kFloat32 && d != core::DType::kFloat16)
      throw std::runtime_error("\"reply\": \"dtype\" must be float32, float16 or native");
    spec.reply.dtype = d;
  }
  const auto post = r.value("postprocess", "none");
  if (post == "argmax")
    spec.reply.postprocess = core::Postprocess::kArgmax;
  else if (post == "topk")
    spec.reply.postprocess = core::Postprocess::kTopk;
  else if (post != "none")
    throw std::runtime_error("\"reply\": \"postprocess\" must be none, argmax or topk, got '" + post + "'");
  if (spec.reply.postprocess == core::Postprocess::kTopk) {
    spec.reply.k = static_cast<uint16_t>(
        parse_integer(r.value("k", json(5)), "\"reply\": \"k\"", 1, static_cast<int64_t>(core::kMaxTopk)));
  }
}

ModelSpec parse_model(const json& m, const std::filesystem::path& repo_dir) {
  ModelSpec spec;
  spec.name = m.at("name").get<std::string>();
  if (spec.name.empty() || spec.name.size() > core::kMaxModelNameBytes)
    throw std::runtime_error(fmt::format("model name must be 1..{} characters", core::kMaxModelNameBytes));
  spec.file = repo_dir / m.at("file").get<std::string>();
  spec.task = m.value("task", "unknown");
  const auto& in = m.at("input");
  spec.input.name = "input";
  spec.input.shape = parse_shape(in.at("shape"));
  spec.input.dtype = in.contains("dtype") ? parse_dtype_field(in.at("dtype")) : core::DType::kFloat32;
  if (m.contains("preprocessing")) {
    const auto& p = m.at("preprocessing");
    const auto kind = p.value("kind", "imagenet");
    if (kind != "none") {
      if (kind != "imagenet") throw std::runtime_error("preprocessing kind '" + kind + "' is not 'imagenet' or 'none'");
      if (spec.input.shape.rank() != 4 || spec.input.shape[0] != 1 || spec.input.shape[1] != 3)
        throw std::runtime_error("imagenet preprocessing needs an input of shape [1,3,H,W], got " +
                                 spec.input.shape.to_string());
      spec.preprocess.enabled = true;
      spec.preprocess.height = spec.input.shape[2];
      spec.preprocess.width = spec.input.shape[3];
      if (p.contains("mean")) spec.preprocess.mean = parse_channel_triple(p.at("mean"), "mean");
      if (p.contains("std")) spec.preprocess.std = parse_channel_triple(p.at("std"), "std");
    }
  }
  spec.channels_last = m.value("memory_format", "contiguous") == "channels_last";
  if (m.contains("batching")) spec.batching = parse_batching(m.at("batching"));
  if (m.contains("outputs")) {
    for (const auto& o : m.at("outputs")) {
      core::TensorSpec t;
      t.name = o.value("name", "output" + std::to_string(spec.outputs.size()));
      t.shape = parse_shape(o.at("shape"));
      t.dtype = o.contains("dtype") ? parse_dtype_field(o.at("dtype")) : core::DType::kFloat32;
      spec.outputs.push_back(t);
    }
    if (spec.outputs.size() > core::kMaxOutputs)
      throw std::runtime_error(
          fmt::format("{} outputs, the wire carries at most {}", spec.outputs.size(), core::kMaxOutputs));
  }
  if (m.contains("reply")) parse_reply(m.at("reply"), spec);
  return spec;
}

}  // namespace

Result<std::vector<ModelSpec>> parse_manifest(std::string_view json_text, const std::filesystem::path& repo_dir) {
  const auto path = repo_dir / "manifest.json";
  std::vector<ModelSpec> specs;
  size_t index = 0;
  try {
    const json doc = json::parse(json_text);
    if (doc.value("format", json(0)) != 1)  // compared as JSON: value<int>() of 1e300 would be undefined
      return Status(StatusCode::kInternal, fmt::format("{}: \"format\" must be 1", path.string()));
    for (const auto& m : doc.at("models")) {
      specs.push_back(parse_model(m, std::filesystem::absolute(repo_dir)));
      ++index;
    }
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, fmt::format("{}: model #{}: {}", path.string(), index, e.what()));
  }
  return specs;
}

Result<std::vector<ModelSpec>> load_manifest(const std::filesystem::path& repo_dir) {
  const auto path = repo_dir / "manifest.json";
  std::ifstream in(path);
  if (!in)
    return Status(StatusCode::kUnknownModel,
                  fmt::format("no model repository at {} (missing manifest.json; create one with "
                              "tools/export_models.py --out {})",
                              path.string(), repo_dir.string()));
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return parse_manifest(text, repo_dir);
}

}  // namespace edgeserve::engine
