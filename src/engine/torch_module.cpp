// libedgeserve_torch.so: the libtorch engine as a module. Every symbol but the entry point is hidden (the
// module links its static libraries with --exclude-libs), so the module's calls stay inside it.
#include "core/build_info.h"
#include "engine/engine_module.h"

extern "C" __attribute__((visibility("default"))) const edgeserve::engine::EngineModule* edgeserve_engine_module_v1() {
  namespace engine = edgeserve::engine;
  static const engine::EngineModule module{
      .size = sizeof(engine::EngineModule),
      .build_commit = edgeserve::core::build_commit(),
      .load_engine = &engine::load_engine,
      .set_torch_threads = &engine::set_torch_threads,
      .torch_version = &engine::torch_version,
      .cuda_available = &engine::cuda_available,
  };
  return &module;
}
