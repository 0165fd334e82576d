// `edgeserve gateway`: forward clients' requests to backend servers until SIGINT/SIGTERM.
#include <csignal>
#include <memory>

#include "cli/commands.h"
#include "cli/limit_flags.h"
#include "cli/usage.h"
#include "core/log.h"
#include "gateway/gateway.h"
#include "transport/tcp/tcp_settings.h"

namespace edgeserve::cli {

namespace {

std::atomic<gateway::Gateway*> g_gateway{nullptr};

extern "C" void on_gateway_stop_signal(int) {
  if (auto* g = g_gateway.load()) g->stop();  // async-signal-safe by contract
}

struct GatewayFlags {
  gateway::GatewayOptions options;
  double max_payload_mb = 64;
  int backend_timeout_ms = 10'000;
  int retry_ms = 1'000;
  ConnectionLimitFlags limits;
  std::string ready_file, curve_key, curve_clients;
};

int run_gateway(GatewayFlags& f) {
  auto log = core::logger("gateway");
  if (auto s = check_endpoints("--listen", f.options.listen, transport::EndpointUse::kListen); !s.ok())
    return usage_error("gateway", s.message());
  if (auto s = check_endpoints("--backend", f.options.backends, transport::EndpointUse::kConnect); !s.ok())
    return usage_error("gateway", s.message());
  if (auto s = check_ready_file(f.ready_file); !s.ok()) return usage_error("gateway", s.message());
  f.options.max_payload_bytes = static_cast<uint64_t>(f.max_payload_mb * (1 << 20));
  f.options.backend_timeout = std::chrono::milliseconds(f.backend_timeout_ms);
  f.options.retry_after = std::chrono::milliseconds(f.retry_ms);
  f.options.ready_file = f.ready_file;
  f.options.limits = f.limits.limits();
  if (!f.curve_key.empty()) {
    auto curve = transport::tcp::read_curve_server_config(f.curve_key, f.curve_clients);
    if (!curve.ok()) {
      return usage_error("gateway", user_text(curve.status()));
    }
    f.options.transports.set("tcp", std::make_shared<transport::tcp::TcpServerSettings>(std::move(curve.value())));
  }
  auto gw = gateway::Gateway::create(f.options);
  if (!gw.ok()) {
    log->error("{}", user_text(gw.status()));
    return kExitUsage;
  }
  g_gateway = gw->get();
  struct sigaction sa {};
  sa.sa_handler = on_gateway_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const core::Status s = (*gw)->run();
  g_gateway = nullptr;
  if (!s.ok()) {
    log->error("{}", user_text(s));
    return kExitUsage;
  }
  return kExitOk;
}

}  // namespace

Command add_gateway_command(CLI::App& app) {
  auto f = std::make_shared<GatewayFlags>();
  f->options.io_threads = default_io_threads();
  auto* cmd = add_described_subcommand(
      app, "gateway", "Forward clients' requests to edgeserve servers (the paper's proxied connections).",
      "Any front transport to any back transport: tcp:// or ucx:// on either side. With several --backend, each\n"
      "request goes to the one with the fewest requests in flight; a backend that fails (refused, timed out,\n"
      "gone) is left out for --retry-ms, then tried again, and the requests it failed get error replies. Replies\n"
      "keep the server's stage times and add the gateway's (gateway-time, backend-hop-time in `bench`).\n"
      "Runs until SIGINT/SIGTERM. Examples:\n"
      "  edgeserve gateway --listen tcp://0.0.0.0:5556 --backend ucx://10.0.0.2:6000\n"
      "  edgeserve gateway --listen ucx://0.0.0.0:6001 --backend tcp://gpu1:5555 --backend tcp://gpu2:5555");
  cmd->add_option("--listen", f->options.listen,
                  "Front address, repeatable: tcp://HOST:PORT or ucx://HOST:PORT (port 0 picks a free one)")
      ->capture_default_str();
  cmd->add_option("--backend", f->options.backends, "Backend server, repeatable: tcp://HOST:PORT or ucx://HOST:PORT")
      ->required();
  cmd->add_option("--workers", f->options.workers,
                  "Forwarding threads, each with its own connection to every backend: requests in flight at once")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--io-threads", f->options.io_threads,
                  "I/O threads per front listener (ZeroMQ I/O threads for tcp://, UCX workers for ucx://)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--backend-timeout-ms", f->backend_timeout_ms,
                  "A backend that has not replied within this is failed for that request (error reply)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--retry-ms", f->retry_ms, "How long a failed backend is left out before it is tried again")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-payload-mb", f->max_payload_mb, "Largest request payload accepted")
      ->check(payload_mb_check())
      ->capture_default_str();
  cmd->add_option("--max-queue", f->options.max_queue,
                  "Requests that may wait for a forwarding thread; beyond this, requests are answered 'overloaded'")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-queue-per-client", f->options.max_queue_per_client,
                  "Of those, requests one client may have waiting: a flooding client is answered 'overloaded' "
                  "while the others are forwarded. A client is its front connection, or its public key under "
                  "--curve-*; the client id in request headers does not count")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  add_connection_limit_flags(*cmd, f->limits);
  auto* key = cmd->add_option("--curve-key", f->curve_key,
                              "Require CURVE clients on the tcp:// fronts: this gateway's key pair file")
                  ->check(CLI::ExistingFile);
  auto* clients = cmd->add_option("--curve-clients", f->curve_clients,
                                  "With --curve-key: folder of the authorized clients' public keys (*.pub)")
                      ->check(CLI::ExistingDirectory);
  key->needs(clients);
  clients->needs(key);
  cmd->add_option("--ready-file", f->ready_file, "Write the bound front endpoints to this file once forwarding");
  return [f] { return run_gateway(*f); };
}

}  // namespace edgeserve::cli
