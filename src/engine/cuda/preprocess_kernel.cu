// The fused GPU preprocessing kernel: one thread per output pixel reads its four source pixels once for all
// three channels, interpolates, normalizes and writes planar (CHW) output.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "engine/cuda/preprocess_kernel.h"

namespace edgeserve::engine::cuda {

namespace {

__device__ inline float to_out(float v, float*) { return v; }
__device__ inline __half to_out(float v, __half*) { return __float2half_rn(v); }

// PyTorch's source index for align_corners=false: (dst + 0.5) * scale - 0.5, clamped at 0.
__device__ inline float source_coord(int dst, float scale) { return fmaxf((dst + 0.5f) * scale - 0.5f, 0.0f); }

template <class Out>
__global__ void preprocess_kernel(const uint8_t* __restrict__ src, int h, int w, Out* __restrict__ dst, int oh, int ow,
                                  float scale_y, float scale_x, float3 mean, float3 inv_std) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= ow || y >= oh) return;
  const float sy = source_coord(y, scale_y), sx = source_coord(x, scale_x);
  const int y0 = min(static_cast<int>(sy), h - 1), x0 = min(static_cast<int>(sx), w - 1);
  const int y1 = min(y0 + 1, h - 1), x1 = min(x0 + 1, w - 1);
  const float ly = sy - y0, lx = sx - x0;
  const float w00 = (1 - ly) * (1 - lx), w01 = (1 - ly) * lx, w10 = ly * (1 - lx), w11 = ly * lx;
  const uint8_t* p00 = src + (static_cast<size_t>(y0) * w + x0) * 3;
  const uint8_t* p01 = src + (static_cast<size_t>(y0) * w + x1) * 3;
  const uint8_t* p10 = src + (static_cast<size_t>(y1) * w + x0) * 3;
  const uint8_t* p11 = src + (static_cast<size_t>(y1) * w + x1) * 3;
  const float m[3] = {mean.x, mean.y, mean.z}, s[3] = {inv_std.x, inv_std.y, inv_std.z};
  const size_t plane = static_cast<size_t>(oh) * ow, at = static_cast<size_t>(y) * ow + x;
#pragma unroll
  for (int c = 0; c < 3; ++c) {
    const float v = w00 * p00[c] + w01 * p01[c] + w10 * p10[c] + w11 * p11[c];
    dst[c * plane + at] = to_out((v * (1.0f / 255.0f) - m[c]) * s[c], static_cast<Out*>(nullptr));
  }
}

template <class Out>
int launch(const uint8_t* src, int h, int w, Out* dst, int oh, int ow, const Normalization& n, void* stream) {
  if (h <= 0 || w <= 0 || oh <= 0 || ow <= 0) return static_cast<int>(cudaErrorInvalidValue);
  const dim3 block(32, 8);
  const dim3 grid((ow + block.x - 1) / block.x, (oh + block.y - 1) / block.y);
  const float3 mean{n.mean[0], n.mean[1], n.mean[2]};
  const float3 inv_std{1.0f / n.std[0], 1.0f / n.std[1], 1.0f / n.std[2]};
  preprocess_kernel<Out><<<grid, block, 0, static_cast<cudaStream_t>(stream)>>>(
      src, h, w, dst, oh, ow, static_cast<float>(h) / oh, static_cast<float>(w) / ow, mean, inv_std);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace

int launch_preprocess_to_f32(const uint8_t* src, int height, int width, float* dst, int out_h, int out_w,
                             const Normalization& norm, void* stream) {
  return launch(src, height, width, dst, out_h, out_w, norm, stream);
}

int launch_preprocess_to_f16(const uint8_t* src, int height, int width, void* dst_half, int out_h, int out_w,
                             const Normalization& norm, void* stream) {
  return launch(src, height, width, static_cast<__half*>(dst_half), out_h, out_w, norm, stream);
}

}  // namespace edgeserve::engine::cuda
