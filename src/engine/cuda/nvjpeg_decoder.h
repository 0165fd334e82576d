// JPEG → interleaved RGB in device memory with nvJPEG (built only where CMake found it: EDGESERVE_HAVE_NVJPEG).
// One decoder per GPU lane, made at load. Where the GPU has hardware JPEG engines (A100, H100, H200) baseline
// frames go to them (EDGESERVE_NVJPEG_HARDWARE=0 turns that off). Otherwise, and for the frames the engines do
// not take: its own nvJPEG handle, decoders (Huffman on the GPU, and on the CPU for
// streams the GPU one does not take), state, a device buffer and two pinned buffers (so the host part of one
// image overlaps the copy of the one before), pre-sized for a 1080p frame; the GPU work runs on the lane's
// stream. Errors are statuses, never exceptions, except at creation (engine set-up).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "core/status.h"
#include "engine/jpeg_decoder.h"

namespace edgeserve::engine::cuda {

class NvjpegDecoder {
 public:
  // Throws std::runtime_error when nvJPEG cannot be set up (no device, a library/driver mismatch).
  NvjpegDecoder();
  ~NvjpegDecoder();
  NvjpegDecoder(NvjpegDecoder&&) noexcept;
  NvjpegDecoder& operator=(NvjpegDecoder&&) noexcept;

  // The frame's size, from its header (the same checks and messages as the CPU decoder's read_header).
  core::Result<JpegInfo> read_header(std::span<const std::byte> jpeg);
  // Decodes `jpeg` (host memory) into `rgb` (device memory, info.height × info.width × 3 bytes, HWC), queued on
  // `stream`; returns once the host part is done. Slot `k` (< kSlots) keeps the CUDA events that time it: read
  // gpu_ns(k) once the stream has passed them. Corrupt or truncated data is a kBadInputKind error.
  core::Status decode_rgb(std::span<const std::byte> jpeg, const JpegInfo& info, uint8_t* rgb, cudaStream_t stream,
                          size_t k);
  // Which nvJPEG decoder takes baseline frames, for the load log.
  const char* backend() const;
  // The GPU time of slot k's last decode (its copies and kernels on the stream), in nanoseconds.
  uint64_t gpu_ns(size_t k) const;

  static constexpr size_t kSlots = 32;  // kMaxBatchSize: one per row of a batch

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace edgeserve::engine::cuda
