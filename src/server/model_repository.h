// The models a server serves: read from a repository folder's manifest, each loaded once into an Engine.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"

namespace edgeserve::server {

class ModelRepository {
 public:
  // Loads `names` from `repo_dir` (every model of the manifest when `names` is empty). An unknown name is
  // an error that lists the models the manifest has.
  static core::Result<ModelRepository> load(const std::filesystem::path& repo_dir,
                                            const std::vector<std::string>& names,
                                            const engine::EngineOptions& options);

  engine::Engine* find(std::string_view name) const;
  std::vector<std::string> names() const;
  // "resnet50, tiny" — for error messages.
  std::string names_joined() const;
  // The device of the first GPU engine ("cuda:0"), or "cpu" when every engine is on the CPU.
  std::string device() const;
  // Reads the device memory in use on the GPU of the first GPU engine; empty when every engine is on CPU.
  std::function<uint64_t()> gpu_memory_probe() const;

 private:
  std::map<std::string, std::unique_ptr<engine::Engine>, std::less<>> engines_;
};

}  // namespace edgeserve::server
