// The GPU engine's set-up (lanes, warm-up, batching, reply pool, CUDA graphs per batch bucket) and its
// one-request path; see gpu_engine.h for the pipeline and gpu_batch.cpp for batches.
#include "engine/gpu_engine.h"

#include <c10/cuda/CUDAGuard.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "core/clock.h"
#include "core/log.h"
#include "engine/landing_memory.h"

namespace edgeserve::engine {

using core::Result;
using core::Status;
using core::StatusCode;

GpuEngine::GpuEngine(ModelSpec spec, torch::jit::Module module, at::Device device, const EngineOptions& options)
    : spec_(std::move(spec)),
      module_(std::move(module)),
      device_(device),
      use_graphs_(options.cuda_graphs),
      reply_buffers_(std::max(0, options.reply_buffers)),
      jpeg_decode_(options.jpeg_decode) {
  norm_ = {{spec_.preprocess.mean[0], spec_.preprocess.mean[1], spec_.preprocess.mean[2]},
           {spec_.preprocess.std[0], spec_.preprocess.std[1], spec_.preprocess.std[2]}};
  lanes_.resize(static_cast<size_t>(std::max(1, options.lanes)));
}

uint64_t GpuEngine::device_memory_bytes() const {
  size_t free = 0, total = 0;
  cudaSetDevice(device_.index());  // the sampling thread's current device
  if (cudaMemGetInfo(&free, &total) != cudaSuccess) return 0;
  return total - free;
}

std::string GpuEngine::jpeg_decoder() const { return gpu_jpeg_ ? "nvJPEG (GPU)" : Engine::jpeg_decoder(); }

Status GpuEngine::set_up() {
  c10::cuda::CUDAGuard device_guard(device_);
#ifdef EDGESERVE_HAVE_NVJPEG
  gpu_jpeg_ = spec_.preprocess.enabled && jpeg_decode_ != JpegDecode::kCpu;
#else
  if (jpeg_decode_ == JpegDecode::kGpu)
    return {StatusCode::kInvalidArgument,
            "--jpeg-decoder gpu: this build has no nvJPEG (scripts/gather_gpu_host_nvjpeg.sh fetches it; see README)"};
#endif
  at::globalContext().setBenchmarkCuDNN(true);  // fixed shapes: let cuDNN pick its fastest kernels once
  int least = 0, greatest = 0;
  cudaDeviceGetStreamPriorityRange(&least, &greatest);
  const size_t in_bytes = spec_.input_bytes();
  const int wanted = std::min(spec_.batching.max_batch_size, kMaxBatchSize);
  const size_t rows = wanted > 1 && spec_.input.shape[0] == 1 ? static_cast<size_t>(kBuckets[bucket_of(wanted)]) : 1;
  auto planar_dims = dims_of(spec_.input.shape);
  planar_dims[0] = static_cast<int64_t>(rows);
  try {
    for (auto& lane : lanes_) {
      lane.stream = cuda::Stream::create(least);
      lane.high_stream = cuda::Stream::create(greatest);
      lane.torch_stream = c10::cuda::getStreamFromExternal(lane.stream.get(), device_.index());
      lane.torch_high_stream = c10::cuda::getStreamFromExternal(lane.high_stream.get(), device_.index());
      lane.host_in.reserve(std::max(in_bytes * rows, spec_.preprocess.enabled ? kInitialRawBytes : 0));
      if (spec_.preprocess.enabled) lane.raw_image.reserve(kInitialRawBytes);
      lane.planar =
          at::zeros(planar_dims, at::TensorOptions().dtype(to_scalar_type(spec_.input.dtype)).device(device_));
      for (auto* e : {&lane.start, &lane.h2d, &lane.preprocessed, &lane.inferred, &lane.postprocessed, &lane.d2h})
        *e = cuda::Event::create();
    }
  } catch (const std::exception& e) {
    return {StatusCode::kInternal, fmt::format("model '{}': GPU set-up failed: {}", spec_.name, e.what())};
  }
#ifdef EDGESERVE_HAVE_NVJPEG
  // Under auto, a GPU where nvJPEG cannot start (a driver older than the library) falls back to the CPU decoder.
  if (gpu_jpeg_) {
    try {
      for (auto& lane : lanes_) lane.nvjpeg.emplace();
      core::logger("engine")->info("model '{}': JPEGs are decoded by nvJPEG on {}", spec_.name,
                                   lanes_[0].nvjpeg->backend());
    } catch (const std::exception& e) {
      for (auto& lane : lanes_) lane.nvjpeg.reset();
      if (jpeg_decode_ == JpegDecode::kGpu)
        return {StatusCode::kInternal, fmt::format("model '{}': nvJPEG set-up failed: {}", spec_.name, e.what())};
      gpu_jpeg_ = false;
      core::logger("engine")->warn("model '{}': nvJPEG set-up failed ({}); JPEGs are decoded on the CPU", spec_.name,
                                   e.what());
    }
  }
#endif
  // Warm-up on lane 0 settles the outputs (and lets cuDNN choose its algorithms) before any capture.
  {
    c10::cuda::CUDAStreamGuard guard(*lanes_[0].torch_stream);
    c10::InferenceMode inference;
    for (int i = 0; i < 3; ++i) {
      auto outs = forward(lanes_[0], 1);
      if (!outs.ok()) return outs.status();
      if (i == 0)
        if (Status s = settle_output_specs(spec_, *outs); !s.ok()) return s;
    }
    settle_batching(rows);
    cudaStreamSynchronize(lanes_[0].stream.get());
  }
  // Only now are the outputs known (the warm-up settled them), so only now can the reply memory be sized: a
  // pool of pinned blocks the D2H copy lands in, and per lane a staging buffer for a reply that had to take
  // pageable memory (pool dry, or a topk larger than a block). The default pool: 2 blocks per lane + 2, plus one
  // batch's worth when the model batches (a batch takes a block per request at once).
  try {
    for (auto& lane : lanes_) lane.host_out.reserve(spec_.max_reply_bytes());
  } catch (const std::exception& e) {
    return {StatusCode::kInternal, fmt::format("model '{}': GPU set-up failed: {}", spec_.name, e.what())};
  }
  const int blocks = reply_buffers_ > 0 ? reply_buffers_ : 2 * lanes() + 2 + (max_batch_ > 1 ? max_batch_ : 0);
  auto pool = core::BufferPool::create(fmt::format("reply buffers of '{}'", spec_.name), spec_.max_reply_bytes(),
                                       static_cast<size_t>(blocks), [device = device_.str()](size_t bytes) {
                                         return allocate_landing_memory(core::MemoryKind::kHost, device, bytes);
                                       });
  if (!pool.ok()) return pool.status();
  pool_ = std::move(pool.value());
  mode_ = use_graphs_ ? capture_graphs() : "eager";
  if (mode_ == "eager") return warm_lanes();
  return {};
}

// Eager lanes run once each, on both their streams, before the server says it is ready: left cold, every lane
// paid its first-run costs (cuDNN's per-handle set-up among them) on its first live request, all at once under
// load (16 lanes took ~25 s and failed bench's warm-up). Graph mode needs none: capture ran every lane.
Status GpuEngine::warm_lanes() {
  const uint64_t t0 = core::now_ns();
  for (size_t i = 0; i < lanes_.size(); ++i) {
    for (c10::cuda::CUDAStream* torch_stream : {&*lanes_[i].torch_stream, &*lanes_[i].torch_high_stream}) {
      if (i == 0 && torch_stream == &*lanes_[0].torch_stream) continue;  // warmed above
      c10::cuda::CUDAStreamGuard guard(*torch_stream);
      c10::InferenceMode inference;
      auto outs = forward(lanes_[i], 1);
      if (!outs.ok()) return outs.status();
      cudaStreamSynchronize(torch_stream->stream());
    }
  }
  core::logger("engine")->info("model '{}': {} eager lane(s) warmed on both their streams in {:.1f} ms", spec_.name,
                               lanes_.size(), static_cast<double>(core::now_ns() - t0) / 1e6);
  return {};
}

Result<std::unique_ptr<DeviceBytes>> GpuEngine::copy_to_device(std::span<const std::byte> host) const {
  class Owned final : public DeviceBytes {
   public:
    std::span<const std::byte> bytes() const override { return {static_cast<const std::byte*>(buffer.get()), size}; }
    cuda::DeviceBuffer buffer;
    size_t size = 0;
  };
  try {
    c10::cuda::CUDAGuard device_guard(device_);
    auto owned = std::make_unique<Owned>();
    owned->buffer.reserve(host.size());
    owned->size = host.size();
    cuda::check_cuda(cudaMemcpy(owned->buffer.get(), host.data(), host.size(), cudaMemcpyHostToDevice), "cudaMemcpy");
    return std::unique_ptr<DeviceBytes>(std::move(owned));
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, e.what());
  }
}

Status GpuEngine::run(const InferenceInput& input, const ResolvedOutputs& choice, InferenceOutput& out,
                      StageDurations& d, const RunContext& ctx) {
  if (input.kind == core::InputKind::kJpeg) {  // the batch path decodes (nvJPEG or libjpeg-turbo) and places it
    BatchItem item;
    item.input = input;
    item.outputs = &choice;
    run_items(std::span(&item, 1), ctx);
    out = std::move(item.out);
    d = item.durations;
    return item.status;
  }
  if (ctx.lane < 0 || ctx.lane >= lanes())
    return {StatusCode::kInternal, fmt::format("lane {} does not exist ({} lanes)", ctx.lane, lanes())};
  Lane& lane = lanes_[static_cast<size_t>(ctx.lane)];
  cudaStream_t stream = ctx.high_priority ? lane.high_stream.get() : lane.stream.get();
  c10::cuda::CUDAStreamGuard guard(ctx.high_priority ? *lane.torch_high_stream : *lane.torch_stream);
  try {
    // A payload in pageable host memory (a ZeroMQ message) is staged in pinned memory so the H2D copy is a
    // true DMA; one already in page-locked memory (a UCX landing buffer, from engine/landing_memory.h) is
    // copied from where it is. A payload already on the device skips both (raw: the kernel reads it where it
    // is; preprocessed: one device-to-device copy into the graph's fixed input).
    uint64_t host_ns = 0;
    const size_t n = input.data.size();
    bool pinned = false;
    if (!input.on_device) {
      const uint64_t t0 = core::now_ns();
      cudaPointerAttributes attributes{};
      pinned = cudaPointerGetAttributes(&attributes, input.data.data()) == cudaSuccess &&
               attributes.type == cudaMemoryTypeHost;
      cudaGetLastError();  // a pageable pointer is not an error worth keeping
      if (!pinned) {
        if (lane.host_in.reserve(n))
          core::logger("engine")->info("lane {}: staging buffer grown to {} bytes", ctx.lane, n);
        std::memcpy(lane.host_in.get(), input.data.data(), n);
      }
      host_ns += core::now_ns() - t0;
    }
    const void* source = input.on_device || pinned ? static_cast<const void*>(input.data.data()) : lane.host_in.get();
    const cudaMemcpyKind kind = input.on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice;

    cudaEventRecord(lane.start.get(), stream);
    if (input.kind == core::InputKind::kRaw) {
      const auto* src = static_cast<const uint8_t*>(source);
      if (!input.on_device) {
        lane.raw_image.reserve(n);
        cudaMemcpyAsync(lane.raw_image.get(), source, n, kind, stream);
        src = static_cast<const uint8_t*>(lane.raw_image.get());
      }
      cudaEventRecord(lane.h2d.get(), stream);
      const int h = static_cast<int>(input.shape[0]), w = static_cast<int>(input.shape[1]);
      const int oh = static_cast<int>(spec_.preprocess.height), ow = static_cast<int>(spec_.preprocess.width);
      const int err =
          spec_.input.dtype == core::DType::kFloat16
              ? cuda::launch_preprocess_to_f16(src, h, w, lane.planar.data_ptr(), oh, ow, norm_, stream)
              : cuda::launch_preprocess_to_f32(src, h, w, lane.planar.data_ptr<float>(), oh, ow, norm_, stream);
      if (err != 0)
        return {StatusCode::kInferenceFailed,
                fmt::format("preprocessing kernel: {}", cudaGetErrorString(static_cast<cudaError_t>(err)))};
    } else {
      cudaMemcpyAsync(lane.planar.data_ptr(), source, n, kind, stream);
      cudaEventRecord(lane.h2d.get(), stream);
    }
    cudaEventRecord(lane.preprocessed.get(), stream);
    if (lane.graphs[0]) {
      lane.graphs[0]->replay();
    } else {
      c10::InferenceMode inference;
      auto outs = forward(lane, 1);
      if (!outs.ok()) return outs.status();
      lane.outputs[0] = std::move(outs.value());
    }
    cudaEventRecord(lane.inferred.get(), stream);
    std::vector<at::Tensor> finals;
    if (!choice.as_made) {
      c10::InferenceMode inference;
      finals = shape_outputs(lane.outputs[0], choice);
    }
    const std::vector<at::Tensor>& sent = choice.as_made ? lane.outputs[0] : finals;
    cudaEventRecord(lane.postprocessed.get(), stream);
    out.payload = pool_->take(choice.payload_bytes);
    out.n_outputs = choice.n_outputs;
    out.outputs = choice.outputs;
    // A pool block is pinned: the copy lands in it directly. A fallback block is pageable: stage, then copy.
    auto* reply = out.payload->bytes().data();
    cudaPointerAttributes reply_attributes{};
    const bool reply_pinned = cudaPointerGetAttributes(&reply_attributes, reply) == cudaSuccess &&
                              reply_attributes.type == cudaMemoryTypeHost;
    cudaGetLastError();  // a pageable pointer is not an error worth keeping
    auto* host_out = reply_pinned ? reply : static_cast<std::byte*>(lane.host_out.get());
    size_t offset = 0;
    for (const auto& o : sent) {
      const auto bytes = static_cast<size_t>(o.nbytes());
      if (offset + bytes > choice.payload_bytes || (!reply_pinned && offset + bytes > lane.host_out.size()))
        return {StatusCode::kInferenceFailed, "outputs exceed the reply buffer"};
      cudaMemcpyAsync(host_out + offset, o.data_ptr(), bytes, cudaMemcpyDeviceToHost, stream);
      offset += bytes;
    }
    if (offset != choice.payload_bytes)
      return {StatusCode::kInferenceFailed,
              fmt::format("outputs have {} bytes, the reply {}", offset, choice.payload_bytes)};
    cudaEventRecord(lane.d2h.get(), stream);
    if (const cudaError_t e = cudaEventSynchronize(lane.d2h.get()); e != cudaSuccess)
      return {StatusCode::kInferenceFailed,
              fmt::format("model '{}' on {}: {}", spec_.name, device_.str(), cudaGetErrorString(e))};
    if (!reply_pinned) {
      const uint64_t t1 = core::now_ns();
      std::memcpy(reply, host_out, offset);
      host_ns += core::now_ns() - t1;
    }
    d.copy_ns =
        host_ns + cuda::Event::elapsed_ns(lane.start, lane.h2d) + cuda::Event::elapsed_ns(lane.postprocessed, lane.d2h);
    d.postprocess_ns = choice.as_made ? 0 : cuda::Event::elapsed_ns(lane.inferred, lane.postprocessed);
    d.preprocess_ns = input.kind == core::InputKind::kRaw ? cuda::Event::elapsed_ns(lane.h2d, lane.preprocessed) : 0;
    d.inference_ns = cuda::Event::elapsed_ns(lane.preprocessed, lane.inferred);
    if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess)
      return {StatusCode::kInferenceFailed, fmt::format("CUDA error: {}", cudaGetErrorString(e))};
    return {};
  } catch (const std::exception& e) {
    return {StatusCode::kInferenceFailed, fmt::format("model '{}': {}", spec_.name, first_line(e.what()))};
  }
}

// Whether the model takes a batch (called on lane 0's stream after the warm-up): a forward pass on two rows
// must give two rows of every output. Then every bucket runs once eagerly, so cuDNN picks its algorithms
// for each shape before any capture.
void GpuEngine::settle_batching(size_t rows) {
  const int wanted = std::min(spec_.batching.max_batch_size, kMaxBatchSize);
  if (wanted <= 1) return;
  std::string why;
  if (rows < 2)
    why = fmt::format("its input {} does not start with a batch dimension of 1", spec_.input.shape.to_string());
  if (why.empty()) {
    auto outs = forward(lanes_[0], 2);
    if (!outs.ok()) why = outs.status().message();
    for (size_t i = 0; outs.ok() && i < outs->size() && why.empty(); ++i)
      if ((*outs)[i].dim() == 0 || (*outs)[i].size(0) != 2 || spec_.outputs[i].shape[0] != 1)
        why = fmt::format("output {} of a batch of 2 has shape {}", i, c10::str((*outs)[i].sizes()));
  }
  if (!why.empty()) {
    core::logger("engine")->warn(
        "model '{}' cannot batch (its batch dimension is fixed at 1: {}): it runs one request at a time", spec_.name,
        why.substr(0, 200));
    return;
  }
  max_batch_ = wanted;
  for (size_t b = 1; b <= bucket_of(static_cast<size_t>(max_batch_)); ++b) (void)forward(lanes_[0], kBuckets[b]);
  core::logger("engine")->info(
      "model '{}': dynamic batching up to {} (buckets up to {}), max queue delay {} us, "
      "latency budget {} us (0: none)",
      spec_.name, max_batch_, kBuckets[bucket_of(static_cast<size_t>(max_batch_))], spec_.batching.max_queue_delay_us,
      spec_.batching.latency_budget_us);
}

// The forward pass on the first `rows` rows of the lane's input, outputs made contiguous in the model's own
// dtype (inside the graph, so that is replayed too). Runs on the current stream.
Result<std::vector<at::Tensor>> GpuEngine::forward(Lane& lane, int64_t rows) {
  try {
    at::Tensor x = lane.planar.narrow(0, 0, rows);
    if (spec_.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    auto outs = output_tensors(module_.forward({x}));
    if (!outs.ok()) return outs.status();
    for (auto& o : *outs) o = o.to(to_scalar_type(wire_dtype(o.scalar_type()))).contiguous();
    return outs;
  } catch (const std::exception& e) {
    return Status(StatusCode::kInferenceFailed,
                  fmt::format("model '{}' forward failed on {}: {}", spec_.name, device_.str(), first_line(e.what())));
  }
}

// One graph per lane and batch bucket (each with its own memory pool, since lanes replay concurrently). Any
// failure leaves every lane eager and says why.
std::string GpuEngine::capture_graphs() {
  const size_t buckets = bucket_of(static_cast<size_t>(max_batch_)) + 1;
  for (size_t i = 0; i < lanes_.size(); ++i) {
    Lane& lane = lanes_[i];
    c10::cuda::CUDAStreamGuard guard(*lane.torch_stream);
    for (size_t b = 0; b < buckets; ++b) {
      auto graph = std::make_unique<at::cuda::CUDAGraph>();
      try {
        c10::InferenceMode inference;
        graph->capture_begin();
        auto outs = forward(lane, kBuckets[b]);
        graph->capture_end();
        if (!outs.ok()) throw std::runtime_error(outs.status().message());
        graph->replay();
        cudaStreamSynchronize(lane.stream.get());
        lane.outputs[b] = std::move(outs.value());
        lane.graphs[b] = std::move(graph);
      } catch (const std::exception& e) {
        cudaGraph_t dangling = nullptr;
        cudaStreamEndCapture(lane.stream.get(), &dangling);  // leave capture mode if the failure left us in it
        if (dangling) cudaGraphDestroy(dangling);
        cudaGetLastError();
        for (auto& l : lanes_)
          for (auto& g : l.graphs) g.reset();
        const std::string why = first_line(e.what()).substr(0, 160);
        core::logger("engine")->warn("model '{}': CUDA graph capture failed, running eager: {}", spec_.name, why);
        return "eager (cuda graph capture failed: " + why + ")";
      }
    }
  }
  return buckets > 1 ? fmt::format("cuda-graph ({} batch buckets up to {})", buckets, kBuckets[buckets - 1])
                     : "cuda-graph";
}

Result<std::unique_ptr<Engine>> load_gpu_engine(ModelSpec spec, const EngineOptions& options, at::Device device) {
  auto module = load_module(spec, device);
  if (!module.ok()) return module.status();
  auto engine = std::make_unique<GpuEngine>(std::move(spec), std::move(module.value()), device, options);
  if (Status s = engine->set_up(); !s.ok()) return s;
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace edgeserve::engine
