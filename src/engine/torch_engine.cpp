// The CPU libtorch engine: loads a TorchScript model once, preprocesses raw images with ATen ops, runs the
// forward pass in inference mode, and answers with the output tensor itself (one output: no copy) or the
// outputs copied into a block of its reply pool. Also the place where a device string picks the CPU or the
// GPU engine.
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

#include "core/buffer_pool.h"
#include "core/clock.h"
#include "core/log.h"
#include "engine/jpeg_decoder.h"
#include "engine/torch_common.h"

namespace edgeserve::engine {

using core::Result;
using core::Status;
using core::StatusCode;

namespace {

// A reply that is the output tensor's own storage (or a row of a batch's output), kept alive until the transport
// has sent it.
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
      return settle_output_specs(spec_, *outs);
    } catch (const std::exception& e) {
      return {StatusCode::kInferenceFailed,
              fmt::format("model '{}' failed its warm-up pass on {} {}: {}", spec_.name,
                          core::to_string(spec_.input.dtype), spec_.input.shape.to_string(), first_line(e.what()))};
    }
  }

  // Replies of several outputs are copied into one block; a single output leaves as its own tensor. `blocks`
  // 0: 2 per worker + 2, plus one batch's worth when the model batches (a batch replies to all its requests at
  // once). Called after settle_batching.
  Status make_reply_pool(int blocks, int workers) {
    const size_t n = blocks > 0 ? static_cast<size_t>(blocks)
                                : static_cast<size_t>(2 * std::max(1, workers) + 2 + (max_batch_ > 1 ? max_batch_ : 0));
    auto pool =
        core::BufferPool::create(fmt::format("reply buffers of '{}'", spec_.name), spec_.max_reply_bytes(), n, nullptr);
    if (!pool.ok()) return pool.status();
    pool_ = std::move(pool.value());
    return {};
  }

  Status run(const InferenceInput& input, const ResolvedOutputs& choice, InferenceOutput& out, StageDurations& d,
             const RunContext&) override {
    set_thread_count();
    try {
      c10::InferenceMode guard;
      auto x = input_tensor(input, d);
      if (!x.ok()) return x.status();
      const uint64_t t1 = core::now_ns();
      auto result = output_tensors(module_.forward({*x}));
      if (!result.ok()) return result.status();
      d.inference_ns = core::now_ns() - t1;
      return answer(*result, std::nullopt, input, choice, out, d);
    } catch (const std::exception& e) {
      return {StatusCode::kInferenceFailed, fmt::format("model '{}': {}", spec_.name, first_line(e.what()))};
    }
  }

  int max_batch() const override { return max_batch_; }

  // Each request's input is made on its own (a bad one fails alone), then one forward pass runs them all and
  // each request gets its row of every output, postprocessed as it asked (requests of one batch may ask for
  // different outputs, dtypes, argmax or topk).
  void run_batch(std::span<BatchItem> items, const RunContext& context) override {
    if (items.size() <= 1 || static_cast<int>(items.size()) > max_batch_) return Engine::run_batch(items, context);
    set_thread_count();
    std::array<at::Tensor, kMaxBatchSize> inputs;
    std::array<size_t, kMaxBatchSize> live{};  // inputs[k] belongs to items[live[k]]
    size_t n = 0;
    try {
      c10::InferenceMode guard;
      for (size_t i = 0; i < items.size(); ++i) {
        auto x = input_tensor(items[i].input, items[i].durations);
        if (!x.ok()) {
          items[i].status = x.status();
          continue;
        }
        inputs[n] = std::move(x.value());
        live[n++] = i;
      }
      if (n == 0) return;
      const uint64_t t1 = core::now_ns();
      auto result = output_tensors(module_.forward({at::cat(at::TensorList(inputs.data(), n))}));
      const uint64_t inference = core::now_ns() - t1;
      for (size_t k = 0; k < n; ++k) {
        BatchItem& item = items[live[k]];
        if (!result.ok()) {
          item.status = result.status();
          continue;
        }
        item.durations.inference_ns = inference;
        item.status = answer(*result, static_cast<int64_t>(k), item.input, *item.outputs, item.out, item.durations);
      }
    } catch (const std::exception& e) {
      const Status failed{StatusCode::kInferenceFailed,
                          fmt::format("model '{}': {}", spec_.name, first_line(e.what()))};
      for (size_t k = 0; k < n; ++k)
        if (items[live[k]].status.ok()) items[live[k]].status = failed;
    }
  }

  // Whether the model takes a batch: one forward pass on two inputs must give two rows of every output.
  // Models exported with a fixed batch dimension (a reshape to 1, a hard-coded view) fail it and say so.
  void settle_batching() {
    const int wanted = std::min(spec_.batching.max_batch_size, kMaxBatchSize);
    if (wanted <= 1) return;
    std::string why;
    if (spec_.input.shape[0] != 1) {
      why = fmt::format("its input {} does not start with a batch dimension of 1", spec_.input.shape.to_string());
    } else {
      try {
        c10::InferenceMode guard;
        auto dims = dims_of(spec_.input.shape);
        dims[0] = 2;
        auto outs = output_tensors(
            module_.forward({at::zeros(dims, at::TensorOptions().dtype(to_scalar_type(spec_.input.dtype)))}));
        if (!outs.ok()) why = outs.status().message();
        for (size_t i = 0; outs.ok() && i < outs->size() && why.empty(); ++i)
          if ((*outs)[i].dim() == 0 || (*outs)[i].size(0) != 2 || spec_.outputs[i].shape[0] != 1)
            why = fmt::format("output {} of a batch of 2 has shape {}", i, c10::str((*outs)[i].sizes()));
      } catch (const std::exception& e) {
        why = first_line(e.what()).substr(0, 160);
      }
    }
    if (!why.empty()) {
      core::logger("engine")->warn(
          "model '{}' cannot batch (its batch dimension is fixed at 1: {}): it runs one "
          "request at a time",
          spec_.name, why);
      return;
    }
    max_batch_ = wanted;
    core::logger("engine")->info("model '{}': dynamic batching up to {}, max queue delay {} us, latency budget {}",
                                 spec_.name, max_batch_, spec_.batching.max_queue_delay_us,
                                 spec_.batching.latency_budget_us
                                     ? fmt::format("{} us", spec_.batching.latency_budget_us)
                                     : std::string("none"));
  }

 private:
  // OpenMP's thread count is per calling thread: without this, worker threads would ignore the process-wide
  // setting (set_torch_threads) and use OpenMP's default.
  static void set_thread_count() {
    static thread_local const bool threads_set = (at::init_num_threads(), true);
    (void)threads_set;
  }

  // The model's input for one request, [1,C,H,W]: decoded (JPEG) and preprocessed (raw), or a zero-copy view
  // of the transport's buffer (preprocessed; the forward pass only reads it).
  Result<at::Tensor> input_tensor(const InferenceInput& input, StageDurations& d) {
    if (input.on_device) return Status(StatusCode::kInternal, "a GPU-resident payload reached the CPU engine");
    if (input.kind == core::InputKind::kPreprocessed)
      return at::from_blob(const_cast<std::byte*>(input.data.data()), dims_of(input.shape),
                           at::TensorOptions().dtype(to_scalar_type(input.dtype)));
    at::Tensor image;
    const uint64_t t0 = core::now_ns();
    if (input.kind == core::InputKind::kJpeg) {
      auto decoded = decode_jpeg(input.data);
      if (!decoded.ok()) return decoded.status();
      image = std::move(decoded.value());
      d.decode_ns = core::now_ns() - t0;
    } else {
      image = at::from_blob(const_cast<std::byte*>(input.data.data()), dims_of(input.shape), at::kByte);
    }
    const uint64_t t1 = core::now_ns();
    at::Tensor x = preprocess(image);
    d.preprocess_ns = core::now_ns() - t1;
    return x;
  }

  // JPEG → uint8 HWC RGB, with this thread's decoder (a TurboJPEG handle serves one thread at a time).
  Result<at::Tensor> decode_jpeg(std::span<const std::byte> jpeg) {
    thread_local JpegDecoder decoder;
    auto info = decoder.read_header(jpeg);
    if (!info.ok()) return info.status();
    at::Tensor image = at::empty({info->height, info->width, 3}, at::kByte);
    const std::span<std::byte> pixels(static_cast<std::byte*>(image.data_ptr()), static_cast<size_t>(image.nbytes()));
    if (Status s = decoder.decode_rgb(jpeg, *info, pixels); !s.ok()) return s;
    return image;
  }

  at::Tensor preprocess(const at::Tensor& image) {
    const auto& p = spec_.preprocess;
    auto x = image.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat);
    if (x.size(2) != p.height || x.size(3) != p.width)
      x = at::upsample_bilinear2d(x, {p.height, p.width}, /*align_corners=*/false);
    // (x/255 - mean) / std, with the /255 folded into one multiply.
    x = x.mul_(1.0f / 255.0f).sub_(mean_).mul_(inv_std_);
    return x.to(to_scalar_type(spec_.input.dtype)).contiguous();
  }

  // One request's answer from the forward pass's outputs (of a batch: its row `row` of each): the
  // postprocessing it asked for (postprocessing-time), then its reply (copy-time).
  Status answer(const std::vector<at::Tensor>& made, std::optional<int64_t> row, const InferenceInput& input,
                const ResolvedOutputs& choice, InferenceOutput& out, StageDurations& d) const {
    if (made.size() != spec_.outputs.size())
      return {StatusCode::kInferenceFailed,
              fmt::format("model returned {} outputs, expected {}", made.size(), spec_.outputs.size())};
    const uint64_t t0 = core::now_ns();
    std::vector<at::Tensor> finals;
    if (row) {
      std::vector<at::Tensor> rows;
      rows.reserve(made.size());
      for (const auto& t : made) rows.push_back(t.narrow(0, *row, 1));
      finals = shape_outputs(rows, choice);
    } else {
      finals = shape_outputs(made, choice);
    }
    const uint64_t t1 = core::now_ns();
    if (!choice.as_made) d.postprocess_ns = t1 - t0;
    Status s = write_outputs(finals, input, choice, out);
    d.copy_ns = core::now_ns() - t1;
    return s;
  }

  // One output that does not share memory with the request leaves as it is (a row of a batch's output keeps the
  // batch's tensor alive until sent); otherwise the outputs are copied, in order, into a pool block.
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
    if (finals.size() == 1 && finals[0].is_contiguous() && !aliases(finals[0], input)) {
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
  int max_batch_ = 1;
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
  if (options.max_batch_size) spec.batching.max_batch_size = std::clamp(*options.max_batch_size, 1, kMaxBatchSize);
  if (options.max_queue_delay_us) spec.batching.max_queue_delay_us = *options.max_queue_delay_us;
  if (options.latency_budget_us) spec.batching.latency_budget_us = *options.latency_budget_us;
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
    if (options.jpeg_decode == JpegDecode::kGpu)
      return Status(
          StatusCode::kInvalidArgument,
          "--jpeg-decoder gpu needs models on a GPU (--device cuda:N); a CPU engine decodes with libjpeg-turbo");
    auto module = load_module(spec, *device);
    if (!module.ok()) return module.status();
    auto cpu = std::make_unique<CpuEngine>(std::move(spec), std::move(module.value()));
    if (Status s = cpu->warm_up(); !s.ok()) return s;
    cpu->settle_batching();
    if (Status s = cpu->make_reply_pool(options.reply_buffers, options.lanes); !s.ok()) return s;
    engine = std::move(cpu);
  } else {
    return Status(StatusCode::kInternal,
                  fmt::format("device '{}' is not supported (use cpu or cuda:N)", options.device));
  }
  log->info("loaded model '{}' on {} ({}, {} lane(s)) in {:.1f} ms: input {} {}, {} output(s), {} output bytes",
            engine->spec().name, engine->device(), engine->execution_mode(), engine->lanes(),
            core::ns_to_ms(core::now_ns() - t0), core::to_string(engine->spec().input.dtype),
            engine->spec().input.shape.to_string(), engine->spec().outputs.size(), engine->spec().output_bytes());
  if (engine->spec().preprocess.enabled)
    log->info("model '{}': JPEG decode: {}", engine->spec().name, engine->jpeg_decoder());
  return engine;
}

void set_torch_threads(int intra_op_threads) {
  if (intra_op_threads > 0) at::set_num_threads(intra_op_threads);
}

std::string torch_version() { return fmt::format("libtorch {}", TORCH_VERSION); }

bool cuda_available() { return torch::cuda::is_available(); }

}  // namespace edgeserve::engine
