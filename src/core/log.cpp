// Per-layer loggers sharing one stderr sink. The level lives in spdlog's registry (a shared library), not here:
// the torch engine module (engine/engine_module.h) has its own copy of this file and must see the same level.
#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace edgeserve::core {

namespace {
std::mutex g_mutex;
}  // namespace

std::shared_ptr<spdlog::logger> logger(const char* layer) {
  if (auto existing = spdlog::get(layer)) return existing;
  std::lock_guard lock(g_mutex);
  if (auto existing = spdlog::get(layer)) return existing;
  std::shared_ptr<spdlog::logger> created;
  try {
    created = spdlog::stderr_color_mt(layer);
  } catch (const spdlog::spdlog_ex&) {  // the module's copy of this function registered it first
    if (auto existing = spdlog::get(layer)) return existing;
    throw;
  }
  created->set_level(spdlog::get_level());
  created->set_pattern("[%H:%M:%S.%e] [%n] [%^%l%$] %v");
  return created;
}

void set_log_level(const std::string& level) {
  std::lock_guard lock(g_mutex);
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace edgeserve::core
