// The CPU libtorch engine: loads a TorchScript model once, preprocesses raw images with ATen ops, runs the
// forward pass in inference mode, and answers with the output tensor itself (one output: no copy) or the
// outputs copied into a block of its reply pool. Also the place where a device string picks the CPU or the
// GPU engine.
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cstring>
#ifdef EDGESERVE_HAVE_GPU_ENGINE
#include <cuda_runtime_api.h>
#endif

#include "core/buffer_pool.h"
#include "core/clock.h"
#include "core/log.h"
#include "engine/torch_common.h"

namespace edgeserve::engine {

using core::Result;
using core::Status;
using core::StatusCode;

namespace {

// A reply that is the output tensor's own storage, kept alive until the transport has sent it.
class TensorBytes final : public core::MemoryBuffer {
 public:
  explicit TensorBytes(at::Tensor t) : tensor_(std::move(t)) {}
  std::span<std::byte> bytes() override {
    return {static_cast<std::byte*>(tensor_.data_ptr()), static_cast<size_t>(tensor_.nbytes())};
  }
  bool on_device() const override { return false; }

 private:
  at::Tensor tensor_;
};

class CpuEngine final : public Engine {
 public:
  CpuEngine(ModelSpec spec, torch::jit::Module module) : spec_(std::move(spec)), module_(std::move(module)) {
    const auto& p = spec_.preprocess;
    mean_ = at::tensor(std::vector<float>(p.mean.begin(), p.mean.end())).view({1, 3, 1, 1});
    inv_std_ = at::tensor(std::vector<float>(p.std.begin(), p.std.end())).reciprocal().view({1, 3, 1, 1});
  }

  const ModelSpec& spec() const override { return spec_; }
  std::string device() const override { return "cpu"; }
  std::string execution_mode() const override { return "eager"; }
  int lanes() const override { return 1; }

  // One forward pass on zeros: first-call costs stay out of measurements, and the outputs are settled.
  Status warm_up() {
    try {
      c10::InferenceMode guard;
      auto x = at::zeros(dims_of(spec_.input.shape), at::TensorOptions().dtype(to_scalar_type(spec_.input.dtype)));
      auto outs = output_tensors(module_.forward({x}));
      if (!outs.ok()) return outs.status();
      if (Status s = settle_output_specs(spec_, *outs); !s.ok()) return s;
      // Replies of several outputs are copied into one block; a single output leaves as its own tensor.
      auto pool = core::BufferPool::create(fmt::format("reply buffers of '{}'", spec_.name), spec_.max_reply_bytes(),
                                           reply_buffers_, nullptr);
      if (!pool.ok()) return pool.status();
      pool_ = std::move(pool.value());
      return {};
    } catch (const std::exception& e) {
      return {StatusCode::kInferenceFailed,
              fmt::format("model '{}' failed its warm-up pass on {} {}: {}", spec_.name,
                          core::to_string(spec_.input.dtype), spec_.input.shape.to_string(), first_line(e.what()))};
    }
  }

  void set_reply_buffers(int n) { reply_buffers_ = static_cast<size_t>(n); }

  Status run(const InferenceInput& input, const ResolvedOutputs& choice, InferenceOutput& out, StageDurations& d,
             const RunContext&) override {
    if (input.on_device) return {StatusCode::kInternal, "a GPU-resident payload reached the CPU engine"};
    // OpenMP's thread count is per calling thread: without this, worker threads would ignore the
    // process-wide setting (set_torch_threads) and use OpenMP's default.
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
      }
      const uint64_t t1 = core::now_ns();
      auto result = output_tensors(module_.forward({x}));
      if (!result.ok()) return result.status();
      const uint64_t t2 = core::now_ns();
      d.inference_ns = t2 - t1;
      if (result->size() != spec_.outputs.size())
        return {StatusCode::kInferenceFailed,
                fmt::format("model returned {} outputs, expected {}", result->size(), spec_.outputs.size())};
      std::vector<at::Tensor> finals = shape_outputs(*result, choice);
      const uint64_t t3 = core::now_ns();
      if (!choice.as_made) d.postprocess_ns = t3 - t2;
      Status s = write_outputs(finals, input, choice, out);
      d.copy_ns = core::now_ns() - t3;
      return s;
    } catch (const std::exception& e) {
      return {StatusCode::kInferenceFailed, fmt::format("model '{}': {}", spec_.name, first_line(e.what()))};
    }
  }

 private:
  at::Tensor preprocess(const InferenceInput& input) {
    const auto& p = spec_.preprocess;
    auto img = at::from_blob(const_cast<std::byte*>(input.data.data()), dims_of(input.shape), at::kByte);
    auto x = img.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat);
    if (x.size(2) != p.height || x.size(3) != p.width)
      x = at::upsample_bilinear2d(x, {p.height, p.width}, /*align_corners=*/false);
    // (x/255 - mean) / std, with the /255 folded into one multiply.
    x = x.mul_(1.0f / 255.0f).sub_(mean_).mul_(inv_std_);
    return x.to(to_scalar_type(spec_.input.dtype)).contiguous();
  }

  // One output that does not share memory with the request leaves as it is; otherwise the outputs are
  // copied, in order, into a pool block.
  Status write_outputs(std::vector<at::Tensor>& finals, const InferenceInput& input, const ResolvedOutputs& choice,
                       InferenceOutput& out) const {
    uint64_t total = 0;
    for (size_t i = 0; i < finals.size(); ++i) {
      const auto expected = core::tensor_bytes(choice.outputs[i].shape, choice.outputs[i].dtype).value_or(0);
      if (static_cast<uint64_t>(finals[i].nbytes()) != expected)
        return {StatusCode::kInferenceFailed,
                fmt::format("output {} has {} bytes, expected {}", i, finals[i].nbytes(), expected)};
      total += expected;
    }
    out.n_outputs = choice.n_outputs;
    out.outputs = choice.outputs;
    if (finals.size() == 1 && !aliases(finals[0], input)) {
      out.payload = std::make_unique<TensorBytes>(std::move(finals[0]));
      return {};
    }
    out.payload = pool_->take(total);
    size_t offset = 0;
    for (const auto& t : finals) {
      std::memcpy(out.payload->bytes().data() + offset, t.data_ptr(), t.nbytes());
      offset += t.nbytes();
    }
    return {};
  }

  // Whether `t` lives in the request's payload (a model that returns its input): that memory goes back to the
  // transport before the reply has left.
  static bool aliases(const at::Tensor& t, const InferenceInput& input) {
    const auto* p = static_cast<const std::byte*>(t.storage().data());
    return p >= input.data.data() && p < input.data.data() + input.data.size();
  }

  ModelSpec spec_;
  torch::jit::Module module_;
  at::Tensor mean_, inv_std_;
  size_t reply_buffers_ = 4;
  std::shared_ptr<core::BufferPool> pool_;
};

}  // namespace

Result<std::unique_ptr<Engine>> load_engine(ModelSpec spec, const EngineOptions& options) {
  auto log = core::logger("engine");
  std::optional<at::Device> device;
  try {
    device.emplace(options.device);
  } catch (const std::exception&) {
    return Status(StatusCode::kInternal, fmt::format("'{}' is not a device (use cpu or cuda:N)", options.device));
  }
  const uint64_t t0 = core::now_ns();
  std::unique_ptr<Engine> engine;
  if (device->is_cuda()) {
#ifdef EDGESERVE_HAVE_GPU_ENGINE
    if (!torch::cuda::is_available())
      return Status(StatusCode::kInternal,
                    fmt::format("device {} asked for, but no CUDA device is visible", options.device));
    auto gpu = load_gpu_engine(std::move(spec), options, *device);
    if (!gpu.ok()) return gpu.status();
    engine = std::move(gpu.value());
#else
    return Status(StatusCode::kInternal,
                  fmt::format("device {} asked for, but this build has no GPU engine (build with the cuda preset)",
                              options.device));
#endif
  } else if (device->is_cpu()) {
    auto module = load_module(spec, *device);
    if (!module.ok()) return module.status();
    auto cpu = std::make_unique<CpuEngine>(std::move(spec), std::move(module.value()));
    cpu->set_reply_buffers(options.reply_buffers > 0 ? options.reply_buffers : 2 * std::max(1, options.lanes) + 2);
    if (Status s = cpu->warm_up(); !s.ok()) return s;
    engine = std::move(cpu);
  } else {
    return Status(StatusCode::kInternal,
                  fmt::format("device '{}' is not supported (use cpu or cuda:N)", options.device));
  }
  log->info("loaded model '{}' on {} ({}, {} lane(s)) in {:.1f} ms: input {} {}, {} output(s), {} output bytes",
            engine->spec().name, engine->device(), engine->execution_mode(), engine->lanes(),
            core::ns_to_ms(core::now_ns() - t0), core::to_string(engine->spec().input.dtype),
            engine->spec().input.shape.to_string(), engine->spec().outputs.size(), engine->spec().output_bytes());
  return engine;
}

void set_torch_threads(int intra_op_threads) {
  if (intra_op_threads > 0) at::set_num_threads(intra_op_threads);
}

std::string torch_version() { return fmt::format("libtorch {}", TORCH_VERSION); }

bool cuda_available() { return torch::cuda::is_available(); }

std::string cuda_runtime_version() {
#ifdef EDGESERVE_HAVE_GPU_ENGINE
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess || v == 0) return {};
  return fmt::format("{}.{}", v / 1000, (v % 1000) / 10);
#else
  return {};
#endif
}

bool gpu_engine_built() {
#ifdef EDGESERVE_HAVE_GPU_ENGINE
  return true;
#else
  return false;
#endif
}

}  // namespace edgeserve::engine
