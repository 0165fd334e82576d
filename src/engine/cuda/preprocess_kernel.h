// The fused GPU preprocessing kernel: raw uint8 HWC image → bilinear resize → normalize → CHW float, in one
// pass over the output. Plain pointers and an opaque stream, so callers need no CUDA headers.
#pragma once

#include <cstdint>

namespace edgeserve::engine::cuda {

struct Normalization {
  float mean[3];
  float std[3];
};

// `src`: device pointer to height×width×3 uint8 (RGB). `dst`: device pointer to 3×out_h×out_w elements.
// Resize matches torch's bilinear interpolation with align_corners=false on the float image, so the GPU and
// CPU paths agree to float rounding. `stream` is a cudaStream_t (nullptr = the default stream).
// Returns the cudaError_t of the launch (0 = success).
int launch_preprocess_to_f32(const uint8_t* src, int height, int width, float* dst, int out_h, int out_w,
                             const Normalization& norm, void* stream);
int launch_preprocess_to_f16(const uint8_t* src, int height, int width, void* dst_half, int out_h, int out_w,
                             const Normalization& norm, void* stream);

}  // namespace edgeserve::engine::cuda
