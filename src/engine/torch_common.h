// What the CPU and GPU engines share: dtype/shape conversions, loading a TorchScript file, turning a forward
// pass's result into tensors and output specs. Private to the engine layer (includes torch).
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"

namespace edgeserve::engine {

at::ScalarType to_scalar_type(core::DType dtype);
std::vector<int64_t> dims_of(const core::TensorShape& shape);
std::string first_line(const std::string& text);

// torch::jit::load onto `device` (a frozen model's constants must be loaded straight onto its device).
core::Result<torch::jit::Module> load_module(const ModelSpec& spec, at::Device device);

// Flattens what forward returned into tensors: a Tensor, or a tuple/list of Tensors.
core::Result<std::vector<at::Tensor>> output_tensors(const c10::IValue& value);

// Fills spec.outputs from a forward pass's tensors (always float32 on the wire), or checks them against
// the manifest's declaration when it has one.
core::Status settle_output_specs(ModelSpec& spec, const std::vector<at::Tensor>& outputs);

// The wire dtype a tensor of this type travels as (float32 for types the wire has no name for).
core::DType wire_dtype(at::ScalarType type);

// The reply's tensors, on the device of `made`: the chosen outputs converted, or their argmax / topk along
// axis 1, each contiguous, in the order and dtypes of `outputs`.
std::vector<at::Tensor> shape_outputs(const std::vector<at::Tensor>& made, const ResolvedOutputs& outputs);

#ifdef EDGESERVE_HAVE_GPU_ENGINE
// gpu_engine.cpp: lanes of CUDA streams with pinned/device buffers, fused preprocessing, CUDA graphs.
core::Result<std::unique_ptr<Engine>> load_gpu_engine(ModelSpec spec, const EngineOptions& options, at::Device device);
#endif

}  // namespace edgeserve::engine
