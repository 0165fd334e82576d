// The Engine interface: one loaded model that turns a validated input into output bytes. No torch here,
// so the layers above compile without torch headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/status.h"
#include "core/tensor_spec.h"
#include "core/wire.h"
#include "engine/model_spec.h"

namespace edgeserve::engine {

struct InferenceInput {
  core::InputKind kind = core::InputKind::kPreprocessed;
  core::DType dtype = core::DType::kFloat32;
  core::TensorShape shape;
  std::span<const std::byte> data;
};

struct StageDurations {
  uint64_t copy_ns = 0;
  uint64_t preprocess_ns = 0;
  uint64_t inference_ns = 0;
};

inline constexpr int64_t kMaxRawImageSide = 8192;

// Checks an input against the model: preprocessed input must be the model's input tensor exactly; raw
// input must be a uint8 HWC image with 3 channels, each side 1..kMaxRawImageSide, and the model must
// declare preprocessing. The message says what was expected and what arrived.
core::Status check_input(const ModelSpec& spec, const InferenceInput& input);

class Engine {
 public:
  virtual ~Engine() = default;
  // Outputs are always filled in: the engine discovers them with a warm-up pass when the manifest has none.
  virtual const ModelSpec& spec() const = 0;
  virtual std::string device() const = 0;
  // Runs preprocessing (raw input) and the forward pass; writes every output as float32, concatenated in
  // order, into `out`, which holds exactly spec().output_bytes(). Input must have passed check_input.
  // Safe to call from several threads at once.
  virtual core::Status run(const InferenceInput& input, std::span<std::byte> out, StageDurations& durations) = 0;
};

struct EngineOptions {
  std::string device = "cpu";
};

// Loads a TorchScript model once (torch_engine.cpp is the only engine file that includes torch).
core::Result<std::unique_ptr<Engine>> load_torch_engine(ModelSpec spec, const EngineOptions& options);

// Intra-op threads of libtorch's CPU kernels, process-wide; 0 leaves libtorch's default.
void set_torch_threads(int intra_op_threads);

// "libtorch 1.13.1 (CPU)" — for `edgeserve info`.
std::string torch_version();
bool cuda_available();

}  // namespace edgeserve::engine
