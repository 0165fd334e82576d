// The GPU engine's batch path (any n ≥ 1, and every JPEG): stage each input (JPEGs: nvJPEG into the device frame,
// or libjpeg-turbo into pinned staging) → H2D into its row
// → fused preprocessing per raw row → the bucket's graph → each request's postprocessing → D2H of each request's
// rows into its own reply block. An item whose input fails (a corrupt JPEG) fails alone; the others keep their rows.
#include <c10/cuda/CUDAGuard.h>
#include <fmt/format.h>

#include <cstring>

#include "core/clock.h"
#include "core/log.h"
#include "engine/gpu_engine.h"

namespace edgeserve::engine {

using core::Result;
using core::Status;
using core::StatusCode;

namespace {

bool same_choice(const core::OutputChoice& a, const core::OutputChoice& b) {
  return a.select == b.select && a.dtype == b.dtype && a.postprocess == b.postprocess && a.k == b.k;
}

bool is_pinned(const void* p) {
  cudaPointerAttributes attributes{};
  const bool pinned = cudaPointerGetAttributes(&attributes, p) == cudaSuccess && attributes.type == cudaMemoryTypeHost;
  cudaGetLastError();  // a pageable pointer is not an error worth keeping
  return pinned;
}

}  // namespace

Result<JpegInfo> GpuEngine::read_header_on_gpu([[maybe_unused]] Lane& lane,
                                               [[maybe_unused]] std::span<const std::byte> jpeg) {
#ifdef EDGESERVE_HAVE_NVJPEG
  return lane.nvjpeg->read_header(jpeg);
#else
  return Status(StatusCode::kInternal, "this build has no nvJPEG");
#endif
}

Status GpuEngine::decode_on_gpu([[maybe_unused]] Lane& lane, [[maybe_unused]] std::span<const std::byte> jpeg,
                                [[maybe_unused]] const JpegInfo& info, [[maybe_unused]] uint8_t* rgb,
                                [[maybe_unused]] cudaStream_t stream, [[maybe_unused]] size_t k) {
#ifdef EDGESERVE_HAVE_NVJPEG
  return lane.nvjpeg->decode_rgb(jpeg, info, rgb, stream, k);
#else
  return {StatusCode::kInternal, "this build has no nvJPEG"};
#endif
}

uint64_t GpuEngine::decode_gpu_ns([[maybe_unused]] const Lane& lane, [[maybe_unused]] size_t k) const {
#ifdef EDGESERVE_HAVE_NVJPEG
  return lane.nvjpeg ? lane.nvjpeg->gpu_ns(k) : 0;
#else
  return 0;
#endif
}

void GpuEngine::run_batch(std::span<BatchItem> items, const RunContext& ctx) {
  if (items.size() <= 1 || static_cast<int>(items.size()) > max_batch_) return Engine::run_batch(items, ctx);
  run_items(items, ctx);
}

Result<GpuEngine::Placement> GpuEngine::place(const InferenceInput& input, JpegDecoder& decoder,
                                              [[maybe_unused]] Lane& lane) {
  Placement p;
  if (input.kind == core::InputKind::kJpeg) {
    // libjpeg-turbo and nvJPEG both parse the bitstream in host memory.
    if (input.on_device)
      return Status(StatusCode::kBadInputKind,
                    "a JPEG landed in GPU memory, but JPEGs are decoded from host memory: serve with --landing host");
#ifdef EDGESERVE_HAVE_NVJPEG
    p.gpu_decode = lane.nvjpeg.has_value();
#endif
    auto info = p.gpu_decode ? read_header_on_gpu(lane, input.data) : decoder.read_header(input.data);
    if (!info.ok()) return info.status();
    p.jpeg = *info;
    p.raw = static_cast<size_t>(info->width) * static_cast<size_t>(info->height) * 3;
    p.host = p.gpu_decode ? 0 : p.raw;  // nvJPEG writes the device frame itself
    return p;
  }
  if (input.kind == core::InputKind::kRaw) p.raw = input.data.size();
  if (!input.on_device && !is_pinned(input.data.data())) p.host = input.data.size();
  return p;
}

void GpuEngine::run_items(std::span<BatchItem> items, const RunContext& ctx) {
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
    std::array<size_t, kMaxBatchSize> raw_offset{};
    for (size_t i = 0; i < items.size() && i < placed.size(); ++i) {
      auto p = place(items[i].input, decoder, lane);
      if (!p.ok()) {
        items[i].status = p.status();
        continue;
      }
      placed[n] = *p;
      raw_offset[n] = raw_total;
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
    // Host work first (JPEG decodes, copies into pinned staging), so the copy events time only the copies. A
    // JPEG nvJPEG decodes has its GPU stages queued here too, ahead of the batch's copies, straight into its frame.
    std::array<const void*, kMaxBatchSize> sources{};
    size_t host_at = 0;
    for (size_t k = 0; k < n; ++k) {
      BatchItem& item = items[live[k]];
      const Placement& p = placed[k];
      sources[k] = item.input.data.data();
      if (p.gpu_decode) {
        const uint64_t s0 = core::now_ns();
        item.status = decode_on_gpu(lane, item.input.data, p.jpeg, raw + raw_offset[k], stream, k);
        item.durations.decode_ns = core::now_ns() - s0;  // the host stage; the GPU stages are added once done
        continue;
      }
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
    for (size_t k = 0; k < n; ++k) {
      const BatchItem& item = items[live[k]];
      if (!item.status.ok()) continue;     // its row is left as it was; its outputs are never read
      if (placed[k].gpu_decode) continue;  // decoded in place on the device
      const cudaMemcpyKind kind = item.input.on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice;
      if (placed[k].raw) {
        cudaMemcpyAsync(raw + raw_offset[k], sources[k], placed[k].raw, kind, stream);
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
                          : cuda::launch_preprocess_to_f32(raw + raw_offset[k], h, w, static_cast<float*>(row), oh, ow,
                                                           norm_, stream);
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

    // Postprocessing, eager on the lane's stream. Requests that all chose alike (the common case: the model's
    // default) share one pass over the batch's rows, and request k reads row k of its results; a batch of mixed
    // choices postprocesses each request's own row (row 0 of its results).
    const BatchItem& first = items[live[0]];
    bool alike = true;
    for (size_t k = 1; k < n; ++k) alike = alike && same_choice(items[live[k]].outputs->choice, first.outputs->choice);
    std::vector<at::Tensor> shared;
    std::array<std::vector<at::Tensor>, kMaxBatchSize> own;
    {
      c10::InferenceMode inference;
      if (alike && !first.outputs->as_made) {
        std::vector<at::Tensor> rows;
        for (const auto& o : lane.outputs[b]) rows.push_back(o.narrow(0, 0, static_cast<int64_t>(n)));
        shared = shape_outputs(rows, *first.outputs);
      } else if (!alike) {
        for (size_t k = 0; k < n; ++k) {
          const BatchItem& item = items[live[k]];
          if (!item.status.ok() || item.outputs->as_made) continue;
          std::vector<at::Tensor> rows;
          for (const auto& o : lane.outputs[b]) rows.push_back(o.narrow(0, static_cast<int64_t>(k), 1));
          own[k] = shape_outputs(rows, *item.outputs);
        }
      }
    }
    cudaEventRecord(lane.postprocessed.get(), stream);

    // Each request's rows straight into its own pinned reply block (a pageable fallback block is copied into
    // directly: such a copy returns once done, which only the rare dry pool pays).
    for (size_t k = 0; k < n; ++k) {
      BatchItem& item = items[live[k]];
      if (!item.status.ok()) continue;
      const ResolvedOutputs& choice = *item.outputs;
      const bool from_own = !alike && !choice.as_made;
      const std::vector<at::Tensor>& results = choice.as_made ? lane.outputs[b] : from_own ? own[k] : shared;
      const size_t row = from_own ? 0 : k;
      item.out.payload = pool_->take(choice.payload_bytes);
      item.out.n_outputs = choice.n_outputs;
      item.out.outputs = choice.outputs;
      auto* reply = item.out.payload->bytes().data();
      size_t offset = 0;
      for (const auto& o : results) {
        const size_t bytes = static_cast<size_t>(o.nbytes()) / static_cast<size_t>(o.size(0));
        if (offset + bytes > choice.payload_bytes) break;
        cudaMemcpyAsync(reply + offset, static_cast<const std::byte*>(o.data_ptr()) + row * bytes, bytes,
                        cudaMemcpyDeviceToHost, stream);
        offset += bytes;
      }
      if (offset != choice.payload_bytes)
        item.status = {StatusCode::kInferenceFailed,
                       fmt::format("a request's outputs have {} bytes, its reply {}", offset, choice.payload_bytes)};
    }
    cudaEventRecord(lane.d2h.get(), stream);
    if (const cudaError_t e = cudaEventSynchronize(lane.d2h.get()); e != cudaSuccess)
      return fail_all({StatusCode::kInferenceFailed,
                       fmt::format("model '{}' on {}: {}", spec_.name, device_.str(), cudaGetErrorString(e))});
    if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess)
      return fail_all({StatusCode::kInferenceFailed, fmt::format("CUDA error: {}", cudaGetErrorString(e))});
    const uint64_t copy_gpu =
        cuda::Event::elapsed_ns(lane.start, lane.h2d) + cuda::Event::elapsed_ns(lane.postprocessed, lane.d2h);
    const uint64_t preprocess = cuda::Event::elapsed_ns(lane.h2d, lane.preprocessed);
    const uint64_t inference = cuda::Event::elapsed_ns(lane.preprocessed, lane.inferred);
    const uint64_t postprocess = cuda::Event::elapsed_ns(lane.inferred, lane.postprocessed);
    for (size_t k = 0; k < n; ++k) {
      BatchItem& item = items[live[k]];
      if (!item.status.ok()) continue;
      item.durations.copy_ns = host_ns + copy_gpu;
      item.durations.preprocess_ns = placed[k].raw ? preprocess : 0;
      item.durations.inference_ns = inference;
      item.durations.postprocess_ns = item.outputs->as_made ? 0 : postprocess;
      if (placed[k].gpu_decode) item.durations.decode_ns += decode_gpu_ns(lane, k);
    }
  } catch (const std::exception& e) {
    fail_all({StatusCode::kInferenceFailed, fmt::format("model '{}': {}", spec_.name, first_line(e.what()))});
  }
}

}  // namespace edgeserve::engine
