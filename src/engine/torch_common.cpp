// Shared pieces of the libtorch engines.
#include "engine/torch_common.h"

#include <fmt/format.h>

#include <filesystem>

#include "core/wire.h"

namespace edgeserve::engine {

using core::Result;
using core::Status;
using core::StatusCode;

at::ScalarType to_scalar_type(core::DType dtype) {
  switch (dtype) {
    case core::DType::kUInt8:
      return at::kByte;
    case core::DType::kFloat32:
      return at::kFloat;
    case core::DType::kFloat16:
      return at::kHalf;
    case core::DType::kInt32:
      return at::kInt;
  }
  return at::kFloat;
}

std::vector<int64_t> dims_of(const core::TensorShape& shape) { return {shape.begin(), shape.end()}; }

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

Result<torch::jit::Module> load_module(const ModelSpec& spec, at::Device device) {
  if (!std::filesystem::exists(spec.file))
    return Status(StatusCode::kUnknownModel,
                  fmt::format("model '{}': file {} does not exist", spec.name, spec.file.string()));
  try {
    auto module = torch::jit::load(spec.file.string(), device);
    module.eval();
    return module;
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, fmt::format("model '{}': cannot load {} as TorchScript: {}", spec.name,
                                                     spec.file.string(), std::string(e.what()).substr(0, 300)));
  }
}

core::DType wire_dtype(at::ScalarType type) {
  switch (type) {
    case at::kHalf:
      return core::DType::kFloat16;
    case at::kByte:
      return core::DType::kUInt8;
    case at::kInt:
      return core::DType::kInt32;
    default:
      return core::DType::kFloat32;
  }
}

std::vector<at::Tensor> shape_outputs(const std::vector<at::Tensor>& made, const ResolvedOutputs& outputs) {
  std::vector<at::Tensor> out;
  out.reserve(outputs.n_outputs);
  const core::OutputChoice& c = outputs.choice;
  for (size_t i = 0; i < made.size(); ++i) {
    if (!(c.select & (1u << i))) continue;
    const size_t at = out.size();
    switch (c.postprocess) {
      case core::Postprocess::kArgmax:
        out.push_back(made[i].argmax(1).to(to_scalar_type(outputs.outputs[at].dtype)).contiguous());
        break;
      case core::Postprocess::kTopk: {
        auto [values, ids] = made[i].topk(c.k, 1);
        out.push_back(ids.to(at::kInt).contiguous());
        out.push_back(values.to(to_scalar_type(outputs.outputs[at + 1].dtype)).contiguous());
        break;
      }
      default:
        out.push_back(made[i].to(to_scalar_type(outputs.outputs[at].dtype)).contiguous());
    }
  }
  return out;
}

Result<std::vector<at::Tensor>> output_tensors(const c10::IValue& value) {
  std::vector<at::Tensor> out;
  if (value.isTensor()) {
    out.push_back(value.toTensor());
  } else if (value.isTuple()) {
    for (const auto& e : value.toTupleRef().elements()) {
      if (!e.isTensor()) return Status(StatusCode::kInferenceFailed, "model returned a tuple holding a non-tensor");
      out.push_back(e.toTensor());
    }
  } else if (value.isTensorList()) {
    for (const auto& t : value.toTensorVector()) out.push_back(t);
  } else {
    return Status(StatusCode::kInferenceFailed,
                  "model must return a Tensor or a tuple of Tensors, returned " + value.tagKind());
  }
  return out;
}

namespace {
std::string describe(const std::vector<core::TensorSpec>& specs) {
  std::string s;
  for (const auto& t : specs) s += (s.empty() ? "" : " ") + t.shape.to_string();
  return s;
}
}  // namespace

Status settle_output_specs(ModelSpec& spec, const std::vector<at::Tensor>& outputs) {
  if (outputs.size() > core::kMaxOutputs)
    return {StatusCode::kInferenceFailed, fmt::format("model '{}' returns {} outputs, at most {} are supported",
                                                      spec.name, outputs.size(), core::kMaxOutputs)};
  std::vector<core::TensorSpec> found;
  for (size_t i = 0; i < outputs.size(); ++i) {
    core::TensorSpec t;
    t.name = i < spec.outputs.size() ? spec.outputs[i].name : "output" + std::to_string(i);
    t.dtype = wire_dtype(outputs[i].scalar_type());  // the model's own dtype (the manifest's is not checked)
    for (int64_t d : outputs[i].sizes())
      if (!t.shape.push_back(d)) return {StatusCode::kInferenceFailed, "output has more than 8 dimensions"};
    found.push_back(t);
  }
  if (!spec.outputs.empty()) {
    bool same = found.size() == spec.outputs.size();
    for (size_t i = 0; same && i < found.size(); ++i) same = found[i].shape == spec.outputs[i].shape;
    if (!same)
      return {StatusCode::kInferenceFailed,
              fmt::format("model '{}': manifest declares outputs {}, the model returns {}", spec.name,
                          describe(spec.outputs), describe(found))};
  }
  spec.outputs = std::move(found);
  return {};
}

}  // namespace edgeserve::engine
