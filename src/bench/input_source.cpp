// Inputs for the load generator: image files via stb_image, synthetic frames, preprocessed tensors.
#include "bench/input_source.h"

#include <fmt/format.h>
#include <stb_image.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>

namespace edgeserve::bench {

core::Result<Input> load_image(const std::filesystem::path& path) {
  int w = 0, h = 0, channels = 0;
  std::unique_ptr<stbi_uc, decltype(&stbi_image_free)> pixels(stbi_load(path.c_str(), &w, &h, &channels, 3),
                                                              &stbi_image_free);
  if (!pixels)
    return core::Status(core::StatusCode::kInternal,
                        fmt::format("cannot decode image {}: {}", path.string(), stbi_failure_reason()));
  Input in;
  in.kind = core::InputKind::kRaw;
  in.dtype = core::DType::kUInt8;
  in.shape = core::TensorShape{h, w, 3};
  in.bytes.resize(static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
  std::memcpy(in.bytes.data(), pixels.get(), in.bytes.size());
  in.description = fmt::format("image {} {}x{}", path.filename().string(), w, h);
  return in;
}

Input synthetic_image(int width, int height) {
  Input in;
  in.kind = core::InputKind::kRaw;
  in.dtype = core::DType::kUInt8;
  in.shape = core::TensorShape{height, width, 3};
  in.bytes.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> noise(-12, 12);
  size_t i = 0;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const double fx = static_cast<double>(x) / width, fy = static_cast<double>(y) / height;
      const double base[3] = {200 * fx + 30, 180 * fy + 40, 120 + 80 * std::sin(6.28 * (fx + fy))};
      for (double b : base)
        in.bytes[i++] = static_cast<std::byte>(std::clamp(static_cast<int>(b) + noise(rng), 0, 255));
    }
  in.description = fmt::format("synthetic {}x{} frame", width, height);
  return in;
}

namespace {

// IEEE 754 binary16 from binary32, rounding to nearest even; the values here are small and normal.
uint16_t to_half_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const int exponent = static_cast<int>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mantissa = x & 0x7fffffu;
  if (exponent <= 0) return static_cast<uint16_t>(sign);             // underflow → ±0
  if (exponent >= 31) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow → ±inf
  uint32_t half = sign | (static_cast<uint32_t>(exponent) << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;
  return static_cast<uint16_t>(half);
}

}  // namespace

Input preprocessed_tensor(const core::TensorShape& shape, core::DType dtype) {
  Input in;
  in.kind = core::InputKind::kPreprocessed;
  in.dtype = dtype;
  in.shape = shape;
  const size_t n = shape.numel().value_or(0);
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  in.bytes.resize(n * core::dtype_size(dtype));
  for (size_t i = 0; i < n; ++i) {
    const float v = dist(rng);
    if (dtype == core::DType::kFloat16) {
      const uint16_t h = to_half_bits(v);
      std::memcpy(in.bytes.data() + 2 * i, &h, 2);
    } else {
      std::memcpy(in.bytes.data() + 4 * i, &v, 4);
    }
  }
  in.description = fmt::format("{} {}", core::to_string(dtype), shape.to_string());
  return in;
}

}  // namespace edgeserve::bench
