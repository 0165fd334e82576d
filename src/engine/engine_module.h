// The boundary between edgeserve and its libtorch engine. The engine is built twice: as a static library that
// the engine's own tests link, and as a module (libedgeserve_torch.so) that the edgeserve binary opens the first
// time a model loads (engine/engine_loader.cpp). Loading libtorch costs 0.7 s of static initializers and 300
// shared libraries (Debian's); `bench`, `gateway`, `keygen`, `--help` and every other command that runs no model
// no longer pay it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "core/status.h"
#include "engine/engine.h"

namespace edgeserve::engine {

// What the module hands over: the torch-side functions of engine.h. Both sides are compiled from this header in one
// build; `build_commit` and `size` catch a module left over from another build.
struct EngineModule {
  size_t size = sizeof(EngineModule);
  const char* build_commit = nullptr;
  core::Result<std::unique_ptr<Engine>> (*load_engine)(ModelSpec spec, const EngineOptions& options) = nullptr;
  void (*set_torch_threads)(int intra_op_threads) = nullptr;
  std::string (*torch_version)() = nullptr;
  bool (*cuda_available)() = nullptr;
};

// The module's one exported symbol: extern "C" const EngineModule* edgeserve_engine_module_v1().
inline constexpr const char* kEngineModuleSymbol = "edgeserve_engine_module_v1";

// Where this process's libtorch comes from, for `edgeserve info`: "engine module PATH" (opening it if it was not
// yet), "no engine module: WHY", or, built with EDGESERVE_ENGINE_MODULE=OFF, "linked into the binary".
std::string libtorch_origin();

}  // namespace edgeserve::engine
