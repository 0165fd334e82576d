// The GPU engine (private to the engine layer; built only with CUDA). Each lane is one CUDA stream (plus a
// high-priority twin) with its own pinned host buffers, device buffers and CUDA graphs, all made once at load;
// a request runs on one lane:
//   payload → pinned staging (unless it is page-locked already) → H2D → fused preprocessing kernel (raw) →
//   graph replay → postprocessing the request asked for (dtype, argmax, topk; eager, right after the graph) →
//   D2H straight into a pinned reply block from the engine's pool (made at load, handed to the transport),
// with CUDA events between the steps, so copy-time, preprocessing-time, inference-time and postprocessing-time
// are GPU times. gpu_engine.cpp: set-up, graphs and the one-request path; gpu_batch.cpp: the batch path.
// Dynamic batching: a lane's input tensor holds the largest batch bucket (1, 2, 4, 8, 16, 32 rows, up to the
// model's max batch); a batch of n runs the graph captured for the bucket that fits it, padded with whatever
// rows the last batch left (their outputs are never read). In a batch, the GPU stage times are the batch's.
// JPEG input: with nvJPEG (EDGESERVE_HAVE_NVJPEG, and --jpeg-decoder auto|gpu) each lane decodes on its own
// stream straight into its raw-frame device buffer, which the preprocessing kernel then reads (decode-time: the
// host stage plus the CUDA-event time of the GPU stages); otherwise libjpeg-turbo decodes into the lane's pinned
// staging and the pixels go up like a raw frame.
#pragma once

#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAStream.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/buffer_pool.h"
#include "engine/cuda/cuda_resources.h"
#ifdef EDGESERVE_HAVE_NVJPEG
#include "engine/cuda/nvjpeg_decoder.h"
#endif
#include "engine/cuda/preprocess_kernel.h"
#include "engine/jpeg_decoder.h"
#include "engine/torch_common.h"

namespace edgeserve::engine {

// Raw frames up to this size need no reallocation; larger ones grow the lane's buffers once.
inline constexpr size_t kInitialRawBytes = 1920 * 1080 * 3;

// Batch sizes with a CUDA graph of their own; a batch runs on the smallest bucket that holds it.
inline constexpr std::array<int, 6> kBuckets{1, 2, 4, 8, 16, 32};
static_assert(kBuckets.back() == kMaxBatchSize);
inline size_t bucket_of(size_t n) {
  size_t b = 0;
  while (b + 1 < kBuckets.size() && static_cast<size_t>(kBuckets[b]) < n) ++b;
  return b;
}

struct Lane {
  cuda::Stream stream, high_stream;
  std::optional<c10::cuda::CUDAStream> torch_stream, torch_high_stream;
  cuda::PinnedBuffer host_in, host_out;  // host_out: staging for a reply that had to take pageable memory
  cuda::DeviceBuffer raw_image;
  at::Tensor planar;  // [rows of the largest bucket,3,H,W] in the model's dtype: the forward pass's input
  // Per bucket: the outputs of its graph (or the last eager ones), contiguous, in the model's dtype; the graph.
  std::array<std::vector<at::Tensor>, kBuckets.size()> outputs;
  std::array<std::unique_ptr<at::cuda::CUDAGraph>, kBuckets.size()> graphs;
  cuda::Event start, h2d, preprocessed, inferred, postprocessed, d2h;
#ifdef EDGESERVE_HAVE_NVJPEG
  static_assert(cuda::NvjpegDecoder::kSlots >= kMaxBatchSize);
  std::optional<cuda::NvjpegDecoder> nvjpeg;  // made at load when JPEGs are decoded on the GPU
#endif
};

class GpuEngine final : public Engine {
 public:
  GpuEngine(ModelSpec spec, torch::jit::Module module, at::Device device, const EngineOptions& options);

  const ModelSpec& spec() const override { return spec_; }
  std::string device() const override { return device_.str(); }
  std::string execution_mode() const override { return mode_; }
  int lanes() const override { return static_cast<int>(lanes_.size()); }
  int max_batch() const override { return max_batch_; }
  std::string jpeg_decoder() const override;
  uint64_t device_memory_bytes() const override;
  core::Result<std::unique_ptr<DeviceBytes>> copy_to_device(std::span<const std::byte> host) const override;

  // Makes every lane's streams, buffers and events, warms up, settles batching, makes the reply pool, and
  // captures the CUDA graphs.
  core::Status set_up();

  core::Status run(const InferenceInput& input, const ResolvedOutputs& choice, InferenceOutput& out, StageDurations& d,
                   const RunContext& ctx) override;
  void run_batch(std::span<BatchItem> items, const RunContext& ctx) override;  // gpu_batch.cpp

 private:
  core::Status warm_lanes();
  void settle_batching(size_t rows);
  core::Result<std::vector<at::Tensor>> forward(Lane& lane, int64_t rows);
  std::string capture_graphs();

  // gpu_batch.cpp. Bytes an input needs in the lane's pinned staging (0: the DMA reads it where it is) and on the
  // device as a raw frame (0: preprocessed). JPEG: its decoded frame, read from the header.
  struct Placement {
    size_t host = 0, raw = 0;
    JpegInfo jpeg;
    bool gpu_decode = false;  // a JPEG nvJPEG decodes into its raw frame on the device
  };
  core::Result<Placement> place(const InferenceInput& input, JpegDecoder& decoder, Lane& lane);
  // nvJPEG on the lane (an internal error in builds without it).
  core::Result<JpegInfo> read_header_on_gpu(Lane& lane, std::span<const std::byte> jpeg);
  core::Status decode_on_gpu(Lane& lane, std::span<const std::byte> jpeg, const JpegInfo& info, uint8_t* rgb,
                             cudaStream_t stream, size_t k);
  uint64_t decode_gpu_ns(const Lane& lane, size_t k) const;
  // The batch path (any n ≥ 1, and every JPEG).
  void run_items(std::span<BatchItem> items, const RunContext& ctx);

  ModelSpec spec_;
  torch::jit::Module module_;
  at::Device device_;
  bool use_graphs_;
  int reply_buffers_;  // 0: the default, sized once batching is settled
  JpegDecode jpeg_decode_;
  bool gpu_jpeg_ = false;  // JPEGs are decoded by the lanes' nvJPEG decoders
  cuda::Normalization norm_{};
  std::vector<Lane> lanes_;
  std::string mode_ = "eager";
  int max_batch_ = 1;
  std::shared_ptr<core::BufferPool> pool_;  // pinned reply blocks, made at set-up
};

}  // namespace edgeserve::engine
