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

Input preprocessed_tensor(const core::TensorShape& shape) {
  Input in;
  in.kind = core::InputKind::kPreprocessed;
  in.dtype = core::DType::kFloat32;
  in.shape = shape;
  const size_t n = shape.numel().value_or(0);
  std::vector<float> values(n);
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& v : values) v = dist(rng);
  in.bytes.resize(n * sizeof(float));
  std::memcpy(in.bytes.data(), values.data(), in.bytes.size());
  in.description = fmt::format("float32 {}", shape.to_string());
  return in;
}

}  // namespace edgeserve::bench
