// The GPU engine. Each lane is one CUDA stream (plus a high-priority twin) with its own pinned host
// buffers, device buffers and CUDA graph, all made once at load; a request runs on one lane:
//   payload → pinned staging (unless it is page-locked already) → H2D → fused preprocessing kernel (raw) →
//   graph replay → D2H → reply buffer,
// with CUDA events between the steps, so copy-time, preprocessing-time and inference-time are GPU times.
// Dynamic batching: a lane's input tensor holds the largest batch bucket (1, 2, 4, 8, 16, 32 rows, up to the
// model's max batch); a batch of n runs the graph captured for the bucket that fits it, padded with whatever
// rows the last batch left (their outputs are never read). In a batch, the GPU stage times are the batch's.
// JPEG input is decoded on the CPU (libjpeg-turbo) into the lane's pinned staging, then runs as a raw frame.
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

#include "core/clock.h"
#include "core/log.h"
#include "engine/cuda/cuda_resources.h"
#include "engine/cuda/preprocess_kernel.h"
#include "engine/jpeg_decoder.h"
#include "engine/torch_common.h"

namespace edgeserve::engine {

using core::Result;
using core::Status;
using core::StatusCode;

namespace {

// Raw frames up to this size need no reallocation; larger ones grow the lane's buffers once.
constexpr size_t kInitialRawBytes = 1920 * 1080 * 3;

// Batch sizes with a CUDA graph of their own; a batch runs on the smallest bucket that holds it.
constexpr std::array<int, 6> kBuckets{1, 2, 4, 8, 16, 32};
static_assert(kBuckets.back() == kMaxBatchSize);
size_t bucket_of(size_t n) {
  size_t b = 0;
  while (b + 1 < kBuckets.size() && static_cast<size_t>(kBuckets[b]) < n) ++b;
  return b;
}

struct Lane {
  cuda::Stream stream, high_stream;
  std::optional<c10::cuda::CUDAStream> torch_stream, torch_high_stream;
  cuda::PinnedBuffer host_in, host_out;
  cuda::DeviceBuffer raw_image;
  at::Tensor planar;  // [rows of the largest bucket,3,H,W] in the model's dtype: the forward pass's input
  // Per bucket: float32, contiguous outputs of its graph (or the last eager ones), and the graph.
  std::array<std::vector<at::Tensor>, kBuckets.size()> outputs;
  std::array<std::unique_ptr<at::cuda::CUDAGraph>, kBuckets.size()> graphs;
  cuda::Event start, h2d, preprocessed, inferred, d2h;
};

class GpuEngine final : public Engine {
 public:
  GpuEngine(ModelSpec spec, torch::jit::Module module, at::Device device, const EngineOptions& options)
      : spec_(std::move(spec)), module_(std::move(module)), device_(device), use_graphs_(options.cuda_graphs) {
    norm_ = {{spec_.preprocess.mean[0], spec_.preprocess.mean[1], spec_.preprocess.mean[2]},
             {spec_.preprocess.std[0], spec_.preprocess.std[1], spec_.preprocess.std[2]}};
    lanes_.resize(static_cast<size_t>(std::max(1, options.lanes)));
  }

  const ModelSpec& spec() const override { return spec_; }
  std::string device() const override { return device_.str(); }
  std::string execution_mode() const override { return mode_; }
  int lanes() const override { return static_cast<int>(lanes_.size()); }
  int max_batch() const override { return max_batch_; }

  uint64_t device_memory_bytes() const override {
    size_t free = 0, total = 0;
    cudaSetDevice(device_.index());  // the sampling thread's current device
    if (cudaMemGetInfo(&free, &total) != cudaSuccess) return 0;
    return total - free;
  }

  // Makes every lane's streams, buffers and events, warms up, and captures one CUDA graph per lane.
  Status set_up() {
    c10::cuda::CUDAGuard device_guard(device_);
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
        for (auto* e : {&lane.start, &lane.h2d, &lane.preprocessed, &lane.inferred, &lane.d2h})
          *e = cuda::Event::create();
      }
    } catch (const std::exception& e) {
      return {StatusCode::kInternal, fmt::format("model '{}': GPU set-up failed: {}", spec_.name, e.what())};
    }
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
    // Only now are the outputs known (the warm-up settled them), so only now can the reply staging be sized.
    try {
      for (auto& lane : lanes_) lane.host_out.reserve(spec_.output_bytes() * static_cast<size_t>(max_batch_));
    } catch (const std::exception& e) {
      return {StatusCode::kInternal, fmt::format("model '{}': GPU set-up failed: {}", spec_.name, e.what())};
    }
    mode_ = use_graphs_ ? capture_graphs() : "eager";
    if (mode_ == "eager") return warm_lanes();
    return {};
  }

  // Eager lanes run once each, on both their streams, before the server says it is ready: left cold, every lane
  // paid its first-run costs (cuDNN's per-handle set-up among them) on its first live request, all at once under
  // load (16 lanes took ~25 s and failed bench's warm-up). Graph mode needs none: capture ran every lane.
  Status warm_lanes() {
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

  Result<std::unique_ptr<DeviceBytes>> copy_to_device(std::span<const std::byte> host) const override {
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

  Status run(const InferenceInput& input, std::span<std::byte> out, StageDurations& d, const RunContext& ctx) override {
    if (input.kind == core::InputKind::kJpeg) {  // decoded on the host, then the batch path's staging
      BatchItem item{input, out, {}, {}};
      run_items(std::span(&item, 1), ctx);
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
      size_t offset = 0;
      auto* host_out = static_cast<std::byte*>(lane.host_out.get());
      for (const auto& o : lane.outputs[0]) {
        const auto bytes = static_cast<size_t>(o.nbytes());
        if (offset + bytes > out.size()) return {StatusCode::kInferenceFailed, "outputs exceed the reply buffer"};
        cudaMemcpyAsync(host_out + offset, o.data_ptr(), bytes, cudaMemcpyDeviceToHost, stream);
        offset += bytes;
      }
      cudaEventRecord(lane.d2h.get(), stream);
      if (const cudaError_t e = cudaEventSynchronize(lane.d2h.get()); e != cudaSuccess)
        return {StatusCode::kInferenceFailed,
                fmt::format("model '{}' on {}: {}", spec_.name, device_.str(), cudaGetErrorString(e))};
      const uint64_t t1 = core::now_ns();
      std::memcpy(out.data(), host_out, offset);
      host_ns += core::now_ns() - t1;

      d.copy_ns =
          host_ns + cuda::Event::elapsed_ns(lane.start, lane.h2d) + cuda::Event::elapsed_ns(lane.inferred, lane.d2h);
      d.preprocess_ns = input.kind == core::InputKind::kRaw ? cuda::Event::elapsed_ns(lane.h2d, lane.preprocessed) : 0;
      d.inference_ns = cuda::Event::elapsed_ns(lane.preprocessed, lane.inferred);
      if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess)
        return {StatusCode::kInferenceFailed, fmt::format("CUDA error: {}", cudaGetErrorString(e))};
      return {};
    } catch (const std::exception& e) {
      return {StatusCode::kInferenceFailed, fmt::format("model '{}': {}", spec_.name, first_line(e.what()))};
    }
  }

  void run_batch(std::span<BatchItem> items, const RunContext& ctx) override {
    if (items.size() <= 1 || static_cast<int>(items.size()) > max_batch_) return Engine::run_batch(items, ctx);
    run_items(items, ctx);
  }

 private:
  // Whether the model takes a batch (called on lane 0's stream after the warm-up): a forward pass on two rows
  // must give two rows of every output. Then every bucket runs once eagerly, so cuDNN picks its algorithms
  // for each shape before any capture.
  void settle_batching(size_t rows) {
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

  // Bytes item `input` needs in the lane's pinned staging (0: the DMA reads it where it is) and on the device
  // as a raw frame (0: preprocessed). JPEG: its decoded frame, read from the header.
  struct Placement {
    size_t host = 0, raw = 0;
    JpegInfo jpeg;
  };
  Result<Placement> place(const InferenceInput& input, JpegDecoder& decoder) {
    Placement p;
    if (input.kind == core::InputKind::kJpeg) {
      // libjpeg-turbo (and nvJPEG's decode) read the bitstream from host memory.
      if (input.on_device)
        return Status(StatusCode::kBadInputKind,
                      "a JPEG landed in GPU memory, but JPEGs are decoded from host memory: serve with --landing host");
      auto info = decoder.read_header(input.data);
      if (!info.ok()) return info.status();
      p.jpeg = *info;
      p.host = p.raw = static_cast<size_t>(info->width) * static_cast<size_t>(info->height) * 3;
      return p;
    }
    if (input.kind == core::InputKind::kRaw) p.raw = input.data.size();
    if (!input.on_device) {
      cudaPointerAttributes attributes{};
      const bool pinned = cudaPointerGetAttributes(&attributes, input.data.data()) == cudaSuccess &&
                          attributes.type == cudaMemoryTypeHost;
      cudaGetLastError();  // a pageable pointer is not an error worth keeping
      if (!pinned) p.host = input.data.size();
    }
    return p;
  }

  // The batch path (any n ≥ 1, and every JPEG): stage each input (decoding JPEGs) → H2D into its row →
  // fused preprocessing per raw row → the bucket's graph → D2H of the live rows → each item's rows of every
  // output. An item whose input fails (a corrupt JPEG) fails alone; the others keep their rows.
  void run_items(std::span<BatchItem> items, const RunContext& ctx) {
    auto fail_all = [&](const Status& s) {
      for (auto& item : items)
        if (item.status.ok()) item.status = s;
    };
    if (ctx.lane < 0 || ctx.lane >= lanes())
      return fail_all({StatusCode::kInternal, fmt::format("lane {} does not exist ({} lanes)", ctx.lane, lanes())});
    Lane& lane = lanes_[static_cast<size_t>(ctx.lane)];
    cudaStream_t stream = ctx.high_priority ? lane.high_stream.get() : lane.stream.get();
    c10::cuda::CUDAStreamGuard guard(ctx.high_priority ? *lane.torch_high_stream : *lane.torch_stream);
    thread_local JpegDecoder decoder;
    try {
      const uint64_t t0 = core::now_ns();
      std::array<Placement, kMaxBatchSize> placed{};
      std::array<size_t, kMaxBatchSize> live{};  // row k of the batch is items[live[k]]
      size_t n = 0, host_total = 0, raw_total = 0;
      for (size_t i = 0; i < items.size() && i < placed.size(); ++i) {
        auto p = place(items[i].input, decoder);
        if (!p.ok()) {
          items[i].status = p.status();
          continue;
        }
        placed[n] = *p;
        live[n++] = i;
        host_total += p->host;
        raw_total += p->raw;
      }
      if (n == 0) return;
      lane.host_in.reserve(host_total);  // before any copy of this batch is queued: growing frees the old buffer
      lane.raw_image.reserve(raw_total);
      auto* host_in = static_cast<std::byte*>(lane.host_in.get());
      auto* raw = static_cast<uint8_t*>(lane.raw_image.get());
      auto* planar = static_cast<std::byte*>(lane.planar.data_ptr());
      const size_t row_bytes = spec_.input_bytes();
      // Host work first (JPEG decodes, copies into pinned staging), so the copy events time only the copies.
      std::array<const void*, kMaxBatchSize> sources{};
      size_t host_at = 0;
      for (size_t k = 0; k < n; ++k) {
        BatchItem& item = items[live[k]];
        const Placement& p = placed[k];
        sources[k] = item.input.data.data();
        if (!p.host) continue;
        const uint64_t s0 = core::now_ns();
        if (item.input.kind == core::InputKind::kJpeg) {
          item.status = decoder.decode_rgb(item.input.data, p.jpeg, std::span(host_in + host_at, p.host));
          item.durations.decode_ns = core::now_ns() - s0;
        } else {
          std::memcpy(host_in + host_at, sources[k], p.host);
        }
        sources[k] = host_in + host_at;
        host_at += p.host;
      }
      uint64_t decode_total = 0;
      for (size_t k = 0; k < n; ++k) decode_total += items[live[k]].durations.decode_ns;
      const uint64_t host_ns = core::now_ns() - t0 - decode_total;  // staging copies: copy-time, not decode-time
      cudaEventRecord(lane.start.get(), stream);
      size_t raw_at = 0;
      std::array<size_t, kMaxBatchSize> raw_offset{};
      for (size_t k = 0; k < n; ++k) {
        const BatchItem& item = items[live[k]];
        if (!item.status.ok()) continue;  // its row is left as it was; its outputs are never read
        const cudaMemcpyKind kind = item.input.on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice;
        if (placed[k].raw) {
          raw_offset[k] = raw_at;
          cudaMemcpyAsync(raw + raw_at, sources[k], placed[k].raw, kind, stream);
          raw_at += placed[k].raw;
        } else {
          cudaMemcpyAsync(planar + k * row_bytes, sources[k], row_bytes, kind, stream);
        }
      }
      cudaEventRecord(lane.h2d.get(), stream);
      const int oh = static_cast<int>(spec_.preprocess.height), ow = static_cast<int>(spec_.preprocess.width);
      for (size_t k = 0; k < n; ++k) {
        const BatchItem& item = items[live[k]];
        if (!placed[k].raw || !item.status.ok()) continue;
        const bool jpeg = item.input.kind == core::InputKind::kJpeg;
        const int h = jpeg ? placed[k].jpeg.height : static_cast<int>(item.input.shape[0]);
        const int w = jpeg ? placed[k].jpeg.width : static_cast<int>(item.input.shape[1]);
        void* row = planar + k * row_bytes;
        const int err = spec_.input.dtype == core::DType::kFloat16
                            ? cuda::launch_preprocess_to_f16(raw + raw_offset[k], h, w, row, oh, ow, norm_, stream)
                            : cuda::launch_preprocess_to_f32(raw + raw_offset[k], h, w, static_cast<float*>(row), oh,
                                                             ow, norm_, stream);
        if (err != 0)
          return fail_all({StatusCode::kInferenceFailed,
                           fmt::format("preprocessing kernel: {}", cudaGetErrorString(static_cast<cudaError_t>(err)))});
      }
      cudaEventRecord(lane.preprocessed.get(), stream);
      const size_t b = bucket_of(n);
      if (lane.graphs[b]) {
        lane.graphs[b]->replay();
      } else {
        c10::InferenceMode inference;
        auto outs = forward(lane, kBuckets[b]);
        if (!outs.ok()) return fail_all(outs.status());
        lane.outputs[b] = std::move(outs.value());
      }
      cudaEventRecord(lane.inferred.get(), stream);
      // host_out: output 0's first n rows, then output 1's, ...
      auto* host_out = static_cast<std::byte*>(lane.host_out.get());
      size_t offset = 0;
      for (const auto& o : lane.outputs[b]) {
        const size_t bytes = static_cast<size_t>(o.nbytes()) / static_cast<size_t>(o.size(0)) * n;
        if (offset + bytes > lane.host_out.size())
          return fail_all({StatusCode::kInferenceFailed, "outputs exceed the lane's staging"});
        cudaMemcpyAsync(host_out + offset, o.data_ptr(), bytes, cudaMemcpyDeviceToHost, stream);
        offset += bytes;
      }
      cudaEventRecord(lane.d2h.get(), stream);
      if (const cudaError_t e = cudaEventSynchronize(lane.d2h.get()); e != cudaSuccess)
        return fail_all({StatusCode::kInferenceFailed,
                         fmt::format("model '{}' on {}: {}", spec_.name, device_.str(), cudaGetErrorString(e))});
      if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess)
        return fail_all({StatusCode::kInferenceFailed, fmt::format("CUDA error: {}", cudaGetErrorString(e))});
      const uint64_t copy_gpu =
          cuda::Event::elapsed_ns(lane.start, lane.h2d) + cuda::Event::elapsed_ns(lane.inferred, lane.d2h);
      const uint64_t preprocess = cuda::Event::elapsed_ns(lane.h2d, lane.preprocessed);
      const uint64_t inference = cuda::Event::elapsed_ns(lane.preprocessed, lane.inferred);
      for (size_t k = 0; k < n; ++k) {
        BatchItem& item = items[live[k]];
        if (!item.status.ok()) continue;
        const uint64_t c0 = core::now_ns();
        size_t from = 0, to = 0;
        for (const auto& o : lane.outputs[b]) {
          const size_t row = static_cast<size_t>(o.nbytes()) / static_cast<size_t>(o.size(0));
          if (to + row > item.out.size()) {
            item.status = {StatusCode::kInferenceFailed, "outputs exceed the reply buffer"};
            break;
          }
          std::memcpy(item.out.data() + to, host_out + from + k * row, row);
          from += row * n;
          to += row;
        }
        item.durations.copy_ns = host_ns + copy_gpu + (core::now_ns() - c0);
        item.durations.preprocess_ns = placed[k].raw ? preprocess : 0;
        item.durations.inference_ns = inference;
      }
    } catch (const std::exception& e) {
      fail_all({StatusCode::kInferenceFailed, fmt::format("model '{}': {}", spec_.name, first_line(e.what()))});
    }
  }

  // The forward pass on the first `rows` rows of the lane's input, outputs made float32 and contiguous (inside
  // the graph, so the conversion is replayed too). Runs on the current stream.
  Result<std::vector<at::Tensor>> forward(Lane& lane, int64_t rows) {
    try {
      at::Tensor x = lane.planar.narrow(0, 0, rows);
      if (spec_.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
      auto outs = output_tensors(module_.forward({x}));
      if (!outs.ok()) return outs.status();
      for (auto& o : *outs) o = o.to(at::kFloat).contiguous();
      return outs;
    } catch (const std::exception& e) {
      return Status(StatusCode::kInferenceFailed, fmt::format("model '{}' forward failed on {}: {}", spec_.name,
                                                              device_.str(), first_line(e.what())));
    }
  }

  // One graph per lane and batch bucket (each with its own memory pool, since lanes replay concurrently). Any
  // failure leaves every lane eager and says why.
  std::string capture_graphs() {
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

  ModelSpec spec_;
  torch::jit::Module module_;
  at::Device device_;
  bool use_graphs_;
  cuda::Normalization norm_{};
  std::vector<Lane> lanes_;
  std::string mode_ = "eager";
  int max_batch_ = 1;
};

}  // namespace

Result<std::unique_ptr<Engine>> load_gpu_engine(ModelSpec spec, const EngineOptions& options, at::Device device) {
  auto module = load_module(spec, device);
  if (!module.ok()) return module.status();
  auto engine = std::make_unique<GpuEngine>(std::move(spec), std::move(module.value()), device, options);
  if (Status s = engine->set_up(); !s.ok()) return s;
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace edgeserve::engine
