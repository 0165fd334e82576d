// `edgeserve gateway`: forward clients' requests to backend servers until SIGINT/SIGTERM.
#include <memory>

#include "cli/commands.h"
#include "cli/front_door_flags.h"
#include "cli/run_until_signal.h"
#include "cli/usage.h"
#include "core/log.h"
#include "gateway/gateway.h"

namespace edgeserve::cli {

namespace {

struct GatewayFlags {
  gateway::GatewayOptions options;
  FrontDoorFlags front;
  int backend_timeout_ms = 10'000;
  int retry_ms = 1'000;
};

int run_gateway(GatewayFlags& f) {
  auto log = core::logger("gateway");
  auto front = front_door_options(f.front, *log);
  if (!front.ok()) return usage_error("gateway", front.status().message());
  if (auto s = check_endpoints("--backend", f.options.backends, transport::EndpointUse::kConnect); !s.ok())
    return usage_error("gateway", s.message());
  f.options.front = std::move(front.value());
  f.options.backend_timeout = std::chrono::milliseconds(f.backend_timeout_ms);
  f.options.retry_after = std::chrono::milliseconds(f.retry_ms);
  auto gw = gateway::Gateway::create(f.options);
  if (!gw.ok()) {
    log->error("{}", user_text(gw.status()));
    return kExitUsage;
  }
  return run_until_signal(**gw, *log);
}

}  // namespace

Command add_gateway_command(CLI::App& app) {
  auto f = std::make_shared<GatewayFlags>();
  f->front.listen = {"tcp://0.0.0.0:5556"};
  f->front.io_threads = default_io_threads();
  auto* cmd = add_described_subcommand(
      app, "gateway", "Forward clients' requests to edgeserve servers (the paper's proxied connections).",
      "Any front transport to any back transport: tcp:// or ucx:// on either side, http:// or grpc:// (KServe v2) in "
      "front.\n"
      "With several --backend, each request goes to the one with the fewest requests in flight; a backend that\n"
      "fails (refused, timed out, gone) is left out for --retry-ms, then tried again, and the requests it failed\n"
      "get error replies. Replies keep the server's stage times and add the gateway's (gateway-time,\n"
      "backend-hop-time in `bench`).\n"
      "Runs until SIGINT/SIGTERM. Examples:\n"
      "  edgeserve gateway --listen tcp://0.0.0.0:5556 --backend ucx://10.0.0.2:6000\n"
      "  edgeserve gateway --listen ucx://0.0.0.0:6001 --backend tcp://gpu1:5555 --backend tcp://gpu2:5555");
  add_front_door_flags(*cmd, f->front, {"gateway", "Front address", "a forwarding thread", "forwarded"});
  cmd->add_option("--backend", f->options.backends, "Backend server, repeatable: tcp://HOST:PORT or ucx://HOST:PORT")
      ->required();
  cmd->add_option("--workers", f->options.workers,
                  "Forwarding threads, each with its own connection to every backend: requests in flight at once")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--backend-timeout-ms", f->backend_timeout_ms,
                  "A backend that has not replied within this is failed for that request (error reply)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--retry-ms", f->retry_ms, "How long a failed backend is left out before it is tried again")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return [f] { return run_gateway(*f); };
}

}  // namespace edgeserve::cli
