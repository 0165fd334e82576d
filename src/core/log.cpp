// Per-layer loggers sharing one stderr sink.
#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace edgeserve::core {

namespace {
std::mutex g_mutex;
spdlog::level::level_enum g_level = spdlog::level::info;
}  // namespace

std::shared_ptr<spdlog::logger> logger(const char* layer) {
  if (auto existing = spdlog::get(layer)) return existing;
  std::lock_guard lock(g_mutex);
  if (auto existing = spdlog::get(layer)) return existing;
  auto created = spdlog::stderr_color_mt(layer);
  created->set_level(g_level);
  created->set_pattern("[%H:%M:%S.%e] [%n] [%^%l%$] %v");
  return created;
}

void set_log_level(const std::string& level) {
  std::lock_guard lock(g_mutex);
  g_level = spdlog::level::from_str(level);
  spdlog::set_level(g_level);
}

}  // namespace edgeserve::core
