// The edgeserve binary's side of the torch module (engine/engine_module.h): opens libedgeserve_torch.so the first
// time a model loads and forwards engine.h's torch-side functions to it. Where it looks, first match wins:
//   $EDGESERVE_ENGINE_MODULE                  a path the user gives
//   <executable's folder>/libedgeserve_torch.so          the build tree (build/<preset>/src)
//   <executable's folder>/<EDGESERVE_ENGINE_MODULE_FROM_BIN>/...   an installed prefix (lib/edgeserve)
//   EDGESERVE_ENGINE_MODULE_BUILT_AT          where this build put it (test binaries live in build/<preset>/tests)
// The module stays loaded for the process's life: engines and their memory come from its code.
#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "core/build_info.h"
#include "core/clock.h"
#include "core/log.h"
#include "engine/engine_module.h"

namespace edgeserve::engine {

namespace {

struct Loaded {
  const EngineModule* module = nullptr;
  std::string path;
  std::string error;  // why there is no module
};

std::vector<std::filesystem::path> candidates() {
  namespace fs = std::filesystem;
  std::vector<fs::path> paths;
  if (const char* given = std::getenv("EDGESERVE_ENGINE_MODULE"); given && *given) return {fs::path(given)};
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    paths.push_back(exe.parent_path() / EDGESERVE_ENGINE_MODULE_NAME);
    paths.push_back(exe.parent_path() / EDGESERVE_ENGINE_MODULE_FROM_BIN / EDGESERVE_ENGINE_MODULE_NAME);
  }
  paths.emplace_back(EDGESERVE_ENGINE_MODULE_BUILT_AT);
  return paths;
}

Loaded open_module() {
  const uint64_t t0 = core::now_ns();
  std::vector<std::string> tried;
  for (const auto& path : candidates()) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      tried.push_back(path.string());
      continue;
    }
    // RTLD_LOCAL: libtorch's symbols stay out of the global scope, which every later lookup would search.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr)
      return {nullptr, {}, fmt::format("cannot open the engine module {}: {}", path.string(), dlerror())};
    using Entry = const EngineModule* (*)();
    auto entry = reinterpret_cast<Entry>(dlsym(handle, kEngineModuleSymbol));
    if (entry == nullptr)
      return {
          nullptr, {}, fmt::format("{} is not an edgeserve engine module (no {})", path.string(), kEngineModuleSymbol)};
    const EngineModule* module = entry();
    if (module->size != sizeof(EngineModule) || std::string_view(module->build_commit) != core::build_commit())
      return {nullptr,
              {},
              fmt::format("the engine module {} is from another build (commit {}, this edgeserve is {}): "
                          "rebuild, or point EDGESERVE_ENGINE_MODULE at this build's",
                          path.string(), module->build_commit, core::build_commit())};
    core::logger("engine")->debug("engine module {} loaded in {:.0f} ms (libtorch and its libraries)", path.string(),
                                  core::ns_to_ms(core::now_ns() - t0));
    return {module, path.lexically_normal().string(), {}};
  }
  return {nullptr,
          {},
          fmt::format("no engine module (libtorch): looked for {}; set EDGESERVE_ENGINE_MODULE to its path",
                      fmt::join(tried, ", "))};
}

const Loaded& module() {
  static const Loaded loaded = open_module();  // thread-safe, once
  return loaded;
}

}  // namespace

core::Result<std::unique_ptr<Engine>> load_engine(ModelSpec spec, const EngineOptions& options) {
  const Loaded& m = module();
  if (m.module == nullptr) return core::Status(core::StatusCode::kInternal, m.error);
  return m.module->load_engine(std::move(spec), options);
}

void set_torch_threads(int intra_op_threads) {
  if (intra_op_threads <= 0) return;  // libtorch's default: nothing to tell it, no reason to load it
  if (const Loaded& m = module(); m.module != nullptr) m.module->set_torch_threads(intra_op_threads);
}

std::string torch_version() {
  const Loaded& m = module();
  return m.module != nullptr ? m.module->torch_version() : fmt::format("libtorch not loaded ({})", m.error);
}

std::string libtorch_origin() {
  const Loaded& m = module();
  return m.module != nullptr ? "engine module " + m.path : "no engine module: " + m.error;
}

bool cuda_available() {
  const Loaded& m = module();
  return m.module != nullptr && m.module->cuda_available();
}

}  // namespace edgeserve::engine
