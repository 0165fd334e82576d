// Loading the selected models of a repository.
#include "server/model_repository.h"

#include <fmt/format.h>

#include <algorithm>

namespace edgeserve::server {

core::Result<ModelRepository> ModelRepository::load(const std::filesystem::path& repo_dir,
                                                    const std::vector<std::string>& names,
                                                    const engine::EngineOptions& options) {
  auto specs = engine::load_manifest(repo_dir);
  if (!specs.ok()) return specs.status();
  for (const auto& name : names) {
    const bool known = std::any_of(specs->begin(), specs->end(), [&](const auto& s) { return s.name == name; });
    if (!known) {
      std::string have;
      for (const auto& s : *specs) have += (have.empty() ? "" : ", ") + s.name;
      return core::Status(
          core::StatusCode::kUnknownModel,
          fmt::format("model '{}' is not in {}/manifest.json (it has: {})", name, repo_dir.string(), have));
    }
  }
  ModelRepository repo;
  for (auto& spec : *specs) {
    if (!names.empty() && std::find(names.begin(), names.end(), spec.name) == names.end()) continue;
    const std::string name = spec.name;
    auto engine = engine::load_engine(std::move(spec), options);
    if (!engine.ok()) return engine.status();
    repo.engines_.emplace(name, std::move(engine.value()));
  }
  if (repo.engines_.empty())
    return core::Status(core::StatusCode::kUnknownModel,
                        fmt::format("{}/manifest.json lists no models", repo_dir.string()));
  return repo;
}

engine::Engine* ModelRepository::find(std::string_view name) const {
  auto it = engines_.find(name);
  return it == engines_.end() ? nullptr : it->second.get();
}

std::vector<std::string> ModelRepository::names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : engines_) out.push_back(name);
  return out;
}

std::string ModelRepository::names_joined() const {
  std::string s;
  for (const auto& [name, _] : engines_) s += (s.empty() ? "" : ", ") + name;
  return s;
}

}  // namespace edgeserve::server

namespace edgeserve::server {

std::string ModelRepository::device() const {
  for (const auto& [name, engine] : engines_)
    if (engine->device() != "cpu") return engine->device();
  return "cpu";
}

std::function<uint64_t()> ModelRepository::gpu_memory_probe() const {
  for (const auto& [name, engine] : engines_)
    if (engine->device() != "cpu") return [e = engine.get()] { return e->device_memory_bytes(); };
  return {};
}

}  // namespace edgeserve::server
