// The reference for copy-time: plain cudaMemcpy of the same bytes, from pageable memory (what a naive
// server does with a transport's buffer) and from pinned memory, host→device and device→host.
// Prints one JSON object with the median and p99 in microseconds per size.
//   build/cuda/edgeserve_memcpy_probe 602112 921600 4000
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

struct Stats {
  double p50, p99;
};

template <class F>
Stats time_us(F&& copy, int iterations) {
  std::vector<double> us;
  for (int i = 0; i < 20; ++i) copy();  // warm-up
  for (int i = 0; i < iterations; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    copy();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BYTES [BYTES...]   (median/p99 of 1000 cudaMemcpy each way)\n", argv[0]);
    return 2;
  }
  constexpr int kIterations = 1000;
  std::printf("{");
  for (int a = 1; a < argc; ++a) {
    const size_t bytes = std::stoull(argv[a]);
    std::vector<unsigned char> pageable(bytes, 1);
    void *pinned = nullptr, *device = nullptr;
    check(cudaMallocHost(&pinned, bytes), "cudaMallocHost");
    check(cudaMalloc(&device, bytes), "cudaMalloc");
    const auto h2d_pageable = time_us([&] { cudaMemcpy(device, pageable.data(), bytes, cudaMemcpyHostToDevice); }, kIterations);
    const auto h2d_pinned = time_us([&] { cudaMemcpy(device, pinned, bytes, cudaMemcpyHostToDevice); }, kIterations);
    const auto d2h_pageable = time_us([&] { cudaMemcpy(pageable.data(), device, bytes, cudaMemcpyDeviceToHost); }, kIterations);
    const auto d2h_pinned = time_us([&] { cudaMemcpy(pinned, device, bytes, cudaMemcpyDeviceToHost); }, kIterations);
    std::printf(
        "%s\"%zu\": {\"h2d_pageable_us\": {\"p50\": %.2f, \"p99\": %.2f}, \"h2d_pinned_us\": {\"p50\": %.2f, \"p99\": %.2f}, "
        "\"d2h_pageable_us\": {\"p50\": %.2f, \"p99\": %.2f}, \"d2h_pinned_us\": {\"p50\": %.2f, \"p99\": %.2f}}",
        a > 1 ? ", " : "", bytes, h2d_pageable.p50, h2d_pageable.p99, h2d_pinned.p50, h2d_pinned.p99, d2h_pageable.p50,
        d2h_pageable.p99, d2h_pinned.p50, d2h_pinned.p99);
    cudaFreeHost(pinned);
    cudaFree(device);
  }
  std::printf("}\n");
  return 0;
}
