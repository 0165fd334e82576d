// A plain, obviously-correct reference of the preprocessing contract (torch bilinear, align_corners=false,
// then (x/255 - mean)/std, CHW), to check the libtorch path and the CUDA kernel against.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

namespace edgeserve::testing {

inline std::vector<float> reference_preprocess(const std::vector<uint8_t>& hwc, int h, int w, int oh, int ow,
                                               const std::array<float, 3>& mean, const std::array<float, 3>& stdev) {
  std::vector<float> out(static_cast<size_t>(3) * oh * ow);
  const double sy_scale = static_cast<double>(h) / oh, sx_scale = static_cast<double>(w) / ow;
  for (int y = 0; y < oh; ++y) {
    const double sy = std::max(0.0, (y + 0.5) * sy_scale - 0.5);
    const int y0 = std::min(static_cast<int>(sy), h - 1), y1 = std::min(y0 + 1, h - 1);
    const double ly = sy - y0;
    for (int x = 0; x < ow; ++x) {
      const double sx = std::max(0.0, (x + 0.5) * sx_scale - 0.5);
      const int x0 = std::min(static_cast<int>(sx), w - 1), x1 = std::min(x0 + 1, w - 1);
      const double lx = sx - x0;
      for (int c = 0; c < 3; ++c) {
        auto px = [&](int yy, int xx) { return static_cast<double>(hwc[(static_cast<size_t>(yy) * w + xx) * 3 + c]); };
        const double v =
            (1 - ly) * ((1 - lx) * px(y0, x0) + lx * px(y0, x1)) + ly * ((1 - lx) * px(y1, x0) + lx * px(y1, x1));
        out[(static_cast<size_t>(c) * oh + y) * ow + x] = static_cast<float>((v / 255.0 - mean[c]) / stdev[c]);
      }
    }
  }
  return out;
}

}  // namespace edgeserve::testing
