#include "cli/run_until_signal.h"

#include <atomic>
#include <csignal>

#include "cli/commands.h"
#include "cli/usage.h"
#include "core/allocator_info.h"

namespace edgeserve::cli {

namespace {

std::atomic<void (*)(void*)> g_stop{nullptr};
std::atomic<void*> g_target{nullptr};

extern "C" void on_stop_signal(int) {
  if (auto* stop = g_stop.load(); stop != nullptr) stop(g_target.load());
}

}  // namespace

int run_until_signal(const std::function<core::Status()>& run, void (*stop)(void*), void* target, spdlog::logger& log) {
  g_target = target;
  g_stop = stop;
  struct sigaction sa {};
  struct sigaction old_int {
  }, old_term{};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  const core::FreeMemoryReleaser releaser;  // the RSS of a long-running process falls after a burst (tcmalloc)
  const core::Status s = run();
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  g_stop = nullptr;
  g_target = nullptr;
  if (!s.ok()) {
    log.error("{}", user_text(s));
    return kExitUsage;
  }
  return kExitOk;
}

}  // namespace edgeserve::cli
