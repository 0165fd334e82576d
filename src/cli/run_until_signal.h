// The end of `serve` and `gateway`: run until SIGINT/SIGTERM, whose handler calls stop() (async-signal-safe by
// contract), then the exit code: 0, or 2 with the error logged.
#pragma once

#include <spdlog/logger.h>

#include <functional>

#include "core/status.h"

namespace edgeserve::cli {

// `stop(target)` from the signal handler while `run()` runs; the handlers are put back afterwards.
int run_until_signal(const std::function<core::Status()>& run, void (*stop)(void*), void* target, spdlog::logger& log);

// For a type with `core::Status run()` and an async-signal-safe `void stop()` (server::Server, gateway::Gateway).
template <class T>
int run_until_signal(T& target, spdlog::logger& log) {
  return run_until_signal([&target] { return target.run(); }, [](void* t) { static_cast<T*>(t)->stop(); }, &target,
                          log);
}

}  // namespace edgeserve::cli
