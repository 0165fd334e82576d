// The libtorch TorchScript engine: loads a model once, preprocesses raw images with ATen ops, runs the
// forward pass in inference mode, and writes float32 outputs into the caller's reply buffer.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/version.h>

#include <cstring>

#include "core/clock.h"
#include "core/log.h"
#include "engine/engine.h"

namespace edgeserve::engine {

using core::Result;
using core::Status;
using core::StatusCode;

namespace {

at::ScalarType to_scalar_type(core::DType dtype) {
  switch (dtype) {
    case core::DType::kUInt8:
      return at::kByte;
    case core::DType::kFloat32:
      return at::kFloat;
    case core::DType::kFloat16:
      return at::kHalf;
  }
  return at::kFloat;
}

std::vector<int64_t> dims_of(const core::TensorShape& shape) { return {shape.begin(), shape.end()}; }

// Flattens what forward returned into tensors: a Tensor, or a tuple/list of Tensors.
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

class TorchEngine final : public Engine {
 public:
  TorchEngine(ModelSpec spec, torch::jit::Module module, at::Device device)
      : spec_(std::move(spec)), module_(std::move(module)), device_(device) {
    const auto opts = at::TensorOptions().dtype(at::kFloat).device(device_);
    const auto& p = spec_.preprocess;
    mean_ = at::tensor(std::vector<float>(p.mean.begin(), p.mean.end()), opts).view({1, 3, 1, 1});
    inv_std_ = at::tensor(std::vector<float>(p.std.begin(), p.std.end()), opts).reciprocal().view({1, 3, 1, 1});
  }

  const ModelSpec& spec() const override { return spec_; }
  std::string device() const override { return device_.str(); }

  // Runs one forward pass on zeros: warms libtorch up (first-call costs stay out of measurements) and
  // fills in or verifies the output specs.
  Status warm_up() {
    std::vector<at::Tensor> outs;
    try {
      c10::InferenceMode guard;
      auto x = at::zeros(dims_of(spec_.input.shape),
                         at::TensorOptions().dtype(to_scalar_type(spec_.input.dtype)).device(device_));
      auto result = output_tensors(module_.forward({x}));
      if (!result.ok()) return result.status();
      outs = std::move(result.value());
    } catch (const std::exception& e) {
      return {StatusCode::kInferenceFailed,
              fmt::format("model '{}' failed its warm-up pass on {} {}: {}", spec_.name,
                          core::to_string(spec_.input.dtype), spec_.input.shape.to_string(), first_line(e.what()))};
    }
    if (outs.size() > core::kMaxOutputs)
      return {StatusCode::kInferenceFailed, fmt::format("model '{}' returns {} outputs, at most {} are supported",
                                                        spec_.name, outs.size(), core::kMaxOutputs)};
    std::vector<core::TensorSpec> found;
    for (size_t i = 0; i < outs.size(); ++i) {
      core::TensorSpec t;
      t.name = i < spec_.outputs.size() ? spec_.outputs[i].name : "output" + std::to_string(i);
      t.dtype = core::DType::kFloat32;  // outputs always travel as float32
      for (int64_t d : outs[i].sizes())
        if (!t.shape.push_back(d)) return {StatusCode::kInferenceFailed, "output has more than 8 dimensions"};
      found.push_back(t);
    }
    if (!spec_.outputs.empty()) {
      bool same = found.size() == spec_.outputs.size();
      for (size_t i = 0; same && i < found.size(); ++i) same = found[i].shape == spec_.outputs[i].shape;
      if (!same)
        return {StatusCode::kInferenceFailed,
                fmt::format("model '{}': manifest declares outputs {}, the model returns {}", spec_.name,
                            describe(spec_.outputs), describe(found))};
    }
    spec_.outputs = std::move(found);
    return {};
  }

  Status run(const InferenceInput& input, std::span<std::byte> out, StageDurations& d) override {
    // OpenMP's thread count is per calling thread: without this, every worker/client thread would run
    // operators on the default (all cores) and N threads would oversubscribe the machine N-fold.
    static thread_local const bool threads_set = (at::init_num_threads(), true);
    (void)threads_set;
    try {
      c10::InferenceMode guard;
      at::Tensor x;
      if (input.kind == core::InputKind::kRaw) {
        const uint64_t t0 = core::now_ns();
        x = preprocess(input);
        d.preprocess_ns = core::now_ns() - t0;
      } else {
        // Zero-copy view of the transport's buffer; the forward pass only reads it.
        x = at::from_blob(const_cast<std::byte*>(input.data.data()), dims_of(input.shape),
                          at::TensorOptions().dtype(to_scalar_type(input.dtype)));
        if (!device_.is_cpu()) {
          const uint64_t t0 = core::now_ns();
          x = x.to(device_);
          d.copy_ns += core::now_ns() - t0;
        }
      }
      const uint64_t t1 = core::now_ns();
      auto result = output_tensors(module_.forward({x}));
      if (!result.ok()) return result.status();
      const uint64_t t2 = core::now_ns();
      d.inference_ns = t2 - t1;
      Status s = write_outputs(result.value(), out);
      d.copy_ns += core::now_ns() - t2;
      return s;
    } catch (const std::exception& e) {
      return {StatusCode::kInferenceFailed, fmt::format("model '{}': {}", spec_.name, first_line(e.what()))};
    }
  }

 private:
  at::Tensor preprocess(const InferenceInput& input) {
    const auto& p = spec_.preprocess;
    auto img = at::from_blob(const_cast<std::byte*>(input.data.data()), dims_of(input.shape), at::kByte);
    if (!device_.is_cpu()) img = img.to(device_);
    auto x = img.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat);
    if (x.size(2) != p.height || x.size(3) != p.width)
      x = at::upsample_bilinear2d(x, {p.height, p.width}, /*align_corners=*/false);
    // (x/255 - mean) / std, with the /255 folded into one multiply.
    x = x.mul_(1.0f / 255.0f).sub_(mean_).mul_(inv_std_);
    return x.to(to_scalar_type(spec_.input.dtype)).contiguous();
  }

  Status write_outputs(const std::vector<at::Tensor>& outs, std::span<std::byte> out) const {
    if (outs.size() != spec_.outputs.size())
      return {StatusCode::kInferenceFailed,
              fmt::format("model returned {} outputs, expected {}", outs.size(), spec_.outputs.size())};
    size_t offset = 0;
    for (size_t i = 0; i < outs.size(); ++i) {
      const auto expected = *core::tensor_bytes(spec_.outputs[i].shape, core::DType::kFloat32);
      auto t = outs[i].to(at::kCPU, at::kFloat).contiguous();
      if (static_cast<uint64_t>(t.nbytes()) != expected || offset + expected > out.size())
        return {StatusCode::kInferenceFailed,
                fmt::format("output {} has {} bytes, expected {}", i, t.nbytes(), expected)};
      std::memcpy(out.data() + offset, t.data_ptr(), expected);
      offset += expected;
    }
    return {};
  }

  static std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

  static std::string describe(const std::vector<core::TensorSpec>& specs) {
    std::string s;
    for (const auto& t : specs) s += (s.empty() ? "" : " ") + t.shape.to_string();
    return s;
  }

  ModelSpec spec_;
  torch::jit::Module module_;
  at::Device device_;
  at::Tensor mean_, inv_std_;
};

}  // namespace

Result<std::unique_ptr<Engine>> load_torch_engine(ModelSpec spec, const EngineOptions& options) {
  auto log = core::logger("engine");
  std::optional<at::Device> device;
  try {
    device.emplace(options.device);
  } catch (const std::exception&) {
    return Status(StatusCode::kInternal, fmt::format("'{}' is not a device (use cpu or cuda:N)", options.device));
  }
  if (device->is_cuda() && !torch::cuda::is_available())
    return Status(StatusCode::kInternal,
                  fmt::format("device {} asked for, but this libtorch sees no CUDA device", options.device));
  if (!std::filesystem::exists(spec.file))
    return Status(StatusCode::kUnknownModel,
                  fmt::format("model '{}': file {} does not exist", spec.name, spec.file.string()));
  torch::jit::Module module;
  try {
    module = torch::jit::load(spec.file.string(), *device);
    module.eval();
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, fmt::format("model '{}': cannot load {} as TorchScript: {}", spec.name,
                                                     spec.file.string(), std::string(e.what()).substr(0, 300)));
  }
  const uint64_t t0 = core::now_ns();
  auto engine = std::make_unique<TorchEngine>(std::move(spec), std::move(module), *device);
  if (Status s = engine->warm_up(); !s.ok()) return s;
  log->info("loaded model '{}' on {} in {:.1f} ms (warm-up): input {} {}, {} output(s), {} output bytes",
            engine->spec().name, device->str(), core::ns_to_ms(core::now_ns() - t0),
            core::to_string(engine->spec().input.dtype), engine->spec().input.shape.to_string(),
            engine->spec().outputs.size(), engine->spec().output_bytes());
  return std::unique_ptr<Engine>(std::move(engine));
}

void set_torch_threads(int intra_op_threads) {
  if (intra_op_threads > 0) at::set_num_threads(intra_op_threads);
}

std::string torch_version() { return fmt::format("libtorch {}", TORCH_VERSION); }

bool cuda_available() { return torch::cuda::is_available(); }

}  // namespace edgeserve::engine
