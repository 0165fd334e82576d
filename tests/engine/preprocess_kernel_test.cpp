// The fused CUDA preprocessing kernel against the reference, on random images of several sizes. Needs a
// GPU: on a machine without one it skips, saying so.
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <random>

#include "../support/preprocess_reference.h"
#include "engine/cuda/preprocess_kernel.h"

namespace edgeserve::engine::cuda {
namespace {

// Device memory freed with its owner.
template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n) : n_(n) { EXPECT_EQ(cudaMalloc(&ptr_, n * sizeof(T)), cudaSuccess); }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* get() const { return static_cast<T*>(ptr_); }

 private:
  void* ptr_ = nullptr;
  size_t n_;
};

class PreprocessKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int devices = 0;
    const cudaError_t e = cudaGetDeviceCount(&devices);
    if (e != cudaSuccess || devices == 0)
      GTEST_SKIP() << "no CUDA device here (" << cudaGetErrorString(e) << "); this test runs on the GPU machine";
  }
};

TEST_F(PreprocessKernelTest, MatchesReferenceFp32AndFp16) {
  const Normalization norm{{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
  std::mt19937 rng(11);
  struct Case {
    int h, w, oh, ow;
  };
  for (const Case c : {Case{480, 640, 224, 224}, Case{37, 53, 224, 224}, Case{1080, 1920, 416, 416},
                       Case{224, 224, 224, 224}, Case{600, 800, 520, 520}, Case{1, 1, 32, 32}}) {
    std::vector<uint8_t> img(static_cast<size_t>(c.h) * c.w * 3);
    for (auto& p : img) p = static_cast<uint8_t>(rng());
    const auto ref =
        testing::reference_preprocess(img, c.h, c.w, c.oh, c.ow, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f});
    DeviceBuffer<uint8_t> src(img.size());
    DeviceBuffer<float> dst(ref.size());
    DeviceBuffer<__half> dst16(ref.size());
    ASSERT_EQ(cudaMemcpy(src.get(), img.data(), img.size(), cudaMemcpyHostToDevice), cudaSuccess);
    ASSERT_EQ(launch_preprocess_to_f32(src.get(), c.h, c.w, dst.get(), c.oh, c.ow, norm, nullptr), 0);
    ASSERT_EQ(launch_preprocess_to_f16(src.get(), c.h, c.w, dst16.get(), c.oh, c.ow, norm, nullptr), 0);
    std::vector<float> got(ref.size());
    std::vector<__half> got16(ref.size());
    ASSERT_EQ(cudaMemcpy(got.data(), dst.get(), got.size() * 4, cudaMemcpyDeviceToHost), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(got16.data(), dst16.get(), got16.size() * 2, cudaMemcpyDeviceToHost), cudaSuccess);
    float max_err = 0, max_err16 = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      max_err = std::max(max_err, std::abs(got[i] - ref[i]));
      max_err16 = std::max(max_err16, std::abs(__half2float(got16[i]) - ref[i]));
    }
    // Normalized values span about [-2.1, 2.6]. The kernel computes source coordinates in float (as torch
    // does) and nvcc fuses them into FMAs; on noise images a 1e-5 shift of a coordinate moves a value by up to
    // 255/0.225 × 1e-5 / 255 ≈ 4e-4 (measured on the H100: 2e-4..4.4e-4). fp16 adds its 11-bit mantissa.
    EXPECT_LT(max_err, 1e-3f) << c.h << "x" << c.w << " -> " << c.oh << "x" << c.ow;
    EXPECT_LT(max_err16, 4e-3f) << c.h << "x" << c.w << " -> " << c.oh << "x" << c.ow;
  }
}

TEST_F(PreprocessKernelTest, RejectsEmptySizes) {
  const Normalization norm{{0, 0, 0}, {1, 1, 1}};
  EXPECT_NE(launch_preprocess_to_f32(nullptr, 0, 10, nullptr, 10, 10, norm, nullptr), 0);
}

}  // namespace
}  // namespace edgeserve::engine::cuda
