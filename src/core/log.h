// One spdlog logger per layer ("core", "transport", "engine", "server", "bench", ...), all to stderr.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>

namespace edgeserve::core {

// Returns the layer's logger, creating it on first use (thread-safe).
std::shared_ptr<spdlog::logger> logger(const char* layer);

// Sets the level of every logger, present and future: "trace", "debug", "info", "warn", "error", "off".
void set_log_level(const std::string& level);

}  // namespace edgeserve::core
