// The parts of engine.h that need no libtorch: what this build has, and the default JPEG decoder's name. The
// edgeserve binary answers them without opening the torch module (engine/engine_module.h).
#include <fmt/format.h>

#include <string>
#ifdef EDGESERVE_HAVE_GPU_ENGINE
#include <cuda_runtime_api.h>
#endif

#include "engine/engine.h"
#include "engine/jpeg_decoder.h"

namespace edgeserve::engine {

std::string Engine::jpeg_decoder() const {
  return jpeg_decoder_built() ? "libjpeg-turbo (CPU)" : "none (built without libturbojpeg: JPEG input is refused)";
}

std::string cuda_runtime_version() {
#ifdef EDGESERVE_HAVE_GPU_ENGINE
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess || v == 0) return {};
  return fmt::format("{}.{}", v / 1000, (v % 1000) / 10);
#else
  return {};
#endif
}

bool gpu_engine_built() {
#ifdef EDGESERVE_HAVE_GPU_ENGINE
  return true;
#else
  return false;
#endif
}

bool nvjpeg_built() {
#if defined(EDGESERVE_HAVE_GPU_ENGINE) && defined(EDGESERVE_HAVE_NVJPEG)
  return true;
#else
  return false;
#endif
}

}  // namespace edgeserve::engine
